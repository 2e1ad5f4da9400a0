"""Progress while uv steps run: a live line on a terminal, plain lines anywhere else.

The terminal is a pty whose output is read byte for byte (output processing
off, so every carriage return in it is pylockenv's). uv is a stand-in script
that prints what uv prints and, when told, holds its step open until the test
has seen what it waits for: no assertion depends on how fast anything runs.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import pylockenv_argv, run_pylockenv

from pylockenv.shell.progress import live_line, status_of

FAKE_UV = f"""\
#!{sys.executable}
import os, sys, time

def say(text):
    print(text, file=sys.stderr, flush=True)

args = sys.argv[1:]
if args == ["--version"]:
    print("uv 0.13.9 (stand-in)")
elif args[:2] == ["python", "find"]:
    print(sys.executable)
elif args[0] == "venv":
    os.makedirs(os.path.join(args[-1], "bin"))
    os.symlink(sys.executable, os.path.join(args[-1], "bin", "python"))
    say("Creating virtual environment at: " + args[-1])
elif args[:2] == ["pip", "install"]:
    say("warning: The `pylock.toml` format is experimental")
    say(os.environ.get("FAKE_UV_SAYS", "Resolved 3 packages in 2ms"))
    go, deadline = os.environ.get("FAKE_UV_GO"), time.monotonic() + 60
    while go and not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.01)
    if os.environ.get("FAKE_UV_FAILS"):
        say("error: the stand-in refuses to install")
        sys.exit(2)
    say("Installed 3 packages in 1ms")
"""

# A live frame: the step's name and its elapsed time to a tenth, maybe uv's latest line.
LIVE = re.compile(r"pylockenv:   ([a-z-]+) \d+\.\ds(  .*)?$")
FINAL = re.compile(r"pylockenv:   ([a-z-]+) \d+\.\d\ds$")
WAIT_LIMIT = 30.0  # seconds; only reached when something is broken


@pytest.fixture
def uv(tmp_path: Path) -> Path:
    script = tmp_path / "uv"
    script.write_text(FAKE_UV)
    script.chmod(0o755)
    return script


@pytest.fixture
def xterm(environ: dict[str, str]) -> dict[str, str]:
    """The harness's environment, on a terminal that can go back to the start of a line."""
    return {**environ, "TERM": "xterm"}


def provision_args(tmp_path: Path, uv: Path, *flags: str) -> list[str]:
    pylock = tmp_path / "pylock.toml"
    pylock.write_text('lock-version = "1.0"\ncreated-by = "tests"\npackages = []\n')
    return ["provision", *flags, "--uv", str(uv), "--pylock", str(pylock), "--command", "-m app"]


def on_terminal(
    args: list[str],
    environ: dict[str, str],
    *,
    columns: int = 120,
    when: Callable[[str], bool] | None = None,
    then: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> tuple[int, str]:
    """Run `pylockenv ARGS` with a pty as stderr; return its exit status and all it wrote there.

    Once what it wrote satisfies `when`, `then` is called once with the process.
    """
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    modes = termios.tcgetattr(terminal)
    modes[1] &= ~termios.OPOST  # no \n -> \r\n: every \r read is the program's
    termios.tcsetattr(terminal, termios.TCSANOW, modes)
    process = subprocess.Popen(
        pylockenv_argv(*args),
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
    )
    os.close(terminal)
    output, deadline, acted = b"", time.monotonic() + WAIT_LIMIT, when is None
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the program closed its end
                break
            if not chunk:
                break
            output += chunk
            if not acted and when is not None and when(output.decode()):
                acted = True
                assert then is not None
                then(process)
        else:
            process.kill()
            pytest.fail(f"gave up after {WAIT_LIMIT}s; the terminal showed {output!r}")
    finally:
        os.close(controller)
    assert acted, f"never saw what the test waits for; the terminal showed {output!r}"
    return process.wait(), output.decode()


def frames(output: str) -> list[str]:
    """Every state of a line the terminal showed: the text between two \\r or \\n."""
    return [frame.rstrip() for frame in re.split(r"[\r\n]", output) if frame.strip()]


def live_frames(output: str, step: str) -> list[str]:
    return [f for f in frames(output) if (m := LIVE.match(f)) and m.group(1) == step]


def screen(output: str) -> list[str]:
    """The rows left on the terminal: a carriage return goes back to the row's start."""
    rows = []
    for written in output.split("\n"):
        cells: list[str] = []
        column = 0
        for char in written:
            if char == "\r":
                column = 0
                continue
            cells[column : column + 1] = [char]
            column += 1
        rows.append("".join(cells).rstrip())
    return rows[:-1] if rows and not rows[-1] else rows


def status_shown(step: str, status: str, *, times: int = 1) -> Callable[[str], bool]:
    """Whether `times` different live frames of `step` showed uv's line `status`."""
    return lambda output: (
        len({f for f in live_frames(output, step) if f.endswith(f"  {status}")}) >= times
    )


def release(go: Path) -> Callable[[subprocess.Popen[bytes]], None]:
    return lambda _: go.touch()


def test_a_terminal_shows_a_live_line_with_uv_s_latest_line_and_ticking_time(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    go = tmp_path / "go"
    status, output = on_terminal(
        provision_args(tmp_path, uv),
        {**xterm, "FAKE_UV_GO": str(go)},
        when=status_shown("install-pylock", "Resolved 3 packages in 2ms", times=2),
        then=release(go),
    )
    assert status == 0, output
    assert "\x1b" not in output
    assert not any("warning" in frame for frame in live_frames(output, "install-pylock"))


def test_each_live_line_ends_as_a_plain_line_with_the_step_s_duration(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    go = tmp_path / "go"
    status, output = on_terminal(
        provision_args(tmp_path, uv),
        {**xterm, "FAKE_UV_GO": str(go)},
        when=status_shown("install-pylock", "Resolved 3 packages in 2ms"),
        then=release(go),
    )
    assert status == 0, output
    rows = screen(output)
    assert [m.group(1) for row in rows if (m := FINAL.match(row))] == [
        "create-venv",
        "install-pylock",
    ]
    assert rows[0].startswith("pylockenv: env ")
    assert rows[-1].startswith("pylockenv: env ")
    assert " ready in " in rows[-1]
    assert len(rows) == 4


def test_the_live_line_is_cut_to_the_terminal_width(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    go, says = tmp_path / "go", "Prepared 3 packages from " + "a-long-name/" * 20
    status, output = on_terminal(
        provision_args(tmp_path, uv),
        {**xterm, "FAKE_UV_GO": str(go), "FAKE_UV_SAYS": says},
        columns=50,
        when=lambda output: any(f.endswith("...") for f in live_frames(output, "install-pylock")),
        then=release(go),
    )
    assert status == 0, output
    drawn = re.findall(r"\r([^\r\n]*)", output)
    assert drawn
    assert max(len(text) for text in drawn) <= 49


def test_a_failed_step_leaves_no_live_line_and_keeps_uv_s_output_for_the_error(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    go = tmp_path / "go"
    status, output = on_terminal(
        provision_args(tmp_path, uv),
        {**xterm, "FAKE_UV_GO": str(go), "FAKE_UV_FAILS": "1"},
        when=status_shown("install-pylock", "Resolved 3 packages in 2ms"),
        then=release(go),
    )
    assert status == 125, output
    rows = screen(output)
    assert not any(LIVE.match(row) for row in rows), rows
    assert any("failed at step 'install-pylock'" in row for row in rows), rows
    assert any("error: the stand-in refuses to install" in row for row in rows), rows


def test_an_interrupted_step_leaves_no_live_line(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    status, output = on_terminal(
        provision_args(tmp_path, uv),
        {**xterm, "FAKE_UV_GO": str(tmp_path / "never")},
        when=status_shown("install-pylock", "Resolved 3 packages in 2ms"),
        then=lambda process: process.send_signal(signal.SIGINT),
    )
    assert status == 128 + signal.SIGINT, output
    rows = screen(output)
    assert not any(LIVE.match(row) for row in rows), rows
    assert "interrupted" in rows[-1]


def test_a_pipe_gets_plain_lines_only(tmp_path: Path, uv: Path, xterm: dict[str, str]) -> None:
    result = run_pylockenv(xterm, *provision_args(tmp_path, uv))
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr
    assert "\x1b" not in result.stderr
    lines = result.stderr.splitlines()
    assert [m.group(1) for line in lines if (m := FINAL.match(line))] == [
        "create-venv",
        "install-pylock",
    ]
    assert len(lines) == 4


def test_a_dumb_terminal_gets_plain_lines_only(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    status, output = on_terminal(provision_args(tmp_path, uv), {**xterm, "TERM": "dumb"})
    assert status == 0, output
    assert "\r" not in output
    assert [m.group(1) for line in output.splitlines() if (m := FINAL.match(line))] == [
        "create-venv",
        "install-pylock",
    ]


def test_verbose_on_a_terminal_shows_uv_s_output_and_no_live_line(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    status, output = on_terminal(provision_args(tmp_path, uv, "-v"), xterm)
    assert status == 0, output
    assert "\r" not in output
    lines = output.splitlines()
    assert "warning: The `pylock.toml` format is experimental" in lines
    assert "Resolved 3 packages in 2ms" in lines
    assert "Installed 3 packages in 1ms" in lines


def test_quiet_on_a_terminal_prints_nothing(
    tmp_path: Path, uv: Path, xterm: dict[str, str]
) -> None:
    status, output = on_terminal(provision_args(tmp_path, uv, "-q"), xterm)
    assert status == 0, output
    assert output == ""


def test_a_live_line_leaves_the_last_column_free() -> None:
    text = live_line("install-pylock", 12.34, "Prepared 3 packages " + "x" * 100, columns=60)
    assert text.startswith("pylockenv:   install-pylock 12.3s  Prepared")
    assert text.endswith("...")
    assert len(text) == 59


def test_a_live_line_counts_wide_characters_as_two_cells() -> None:
    text = live_line("create-venv", 0.0, "/home/" + "用" * 40, columns=60)
    assert "/home/用" in text
    assert len(text) + text.count("用") <= 59


def test_uv_s_warnings_and_blank_lines_are_no_status() -> None:
    assert status_of("warning: The `pylock.toml` format is experimental\n") is None
    assert status_of("   \r\n") is None


def test_a_status_is_printable_text_only() -> None:
    shown = status_of("\x1b[1mResolved\x1b[0m 3 packages\tin 2ms\x07\r\n")
    assert shown == "Resolved 3 packages in 2ms"
