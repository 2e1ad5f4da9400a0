"""Helpers for the shell's execution tests: a probe app, its spec, uv wrappers, CLI runs.

Every run is offline with a caller-chosen UV_CACHE_DIR and XDG_CACHE_HOME under
the test's tmp dir, so nothing touches ~/.cache.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from builders import build_wheel, write_pylock

from pylockenv.shell.uvbin import find_uv

REAL_UV = os.environ.get("PYLOCKENV_TEST_REAL_UV") or find_uv()

# The probe app: one console script, `probe`, also runnable as `python -m probe_app`.
# `probe env` prints what the process sees as JSON; `probe exit N` exits with N;
# `probe kill-self N` dies of signal N; `probe wait-signal FILE` writes FILE.ready,
# then waits until SIGTERM or SIGINT, writes the signal's number to FILE and exits 0;
# `probe count-sigint FILE` writes FILE.ready, appends a line to FILE per SIGINT, and
# exits 0.5 s after the first. `probe count-signals FILE` writes its pid to FILE.ready,
# appends a line to FILE per SIGTERM, SIGHUP or SIGINT (the signal's number), and exits 0
# 0.5 s after the first; `probe count-signals FILE GO` also exits once GO exists.
PROBE_SOURCE = """\
import json
import os
import signal
import sys
import time


def main():
    what, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("env", [])
    if what == "env":
        extra = None
        try:
            import extra_app
            extra = extra_app.VERSION
        except ImportError:
            pass
        print(json.dumps({"argv0": sys.argv[0], "args": rest, "environ": dict(os.environ),
                          "prefix": sys.prefix, "extra": extra,
                          "prefix_mode": os.stat(sys.prefix).st_mode & 0o777}))
    elif what == "exit":
        sys.exit(int(rest[0]))
    elif what == "kill-self":
        os.kill(os.getpid(), int(rest[0]))
        time.sleep(60)
    elif what == "count-sigint":
        def count(signum, frame):
            with open(rest[0], "a") as stream:
                stream.write("SIGINT\\n")
        signal.signal(signal.SIGINT, count)
        open(rest[0] + ".ready", "w").close()
        while not os.path.exists(rest[0]):
            time.sleep(0.01)
        time.sleep(0.5)  # long enough for a second SIGINT to arrive, if one is coming
    elif what == "count-signals":
        def note(signum, frame):
            with open(rest[0], "a") as stream:
                stream.write(f"{signum}\\n")
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, note)
        with open(rest[0] + ".tmp", "w") as stream:
            stream.write(str(os.getpid()))
        os.rename(rest[0] + ".tmp", rest[0] + ".ready")
        deadline = time.monotonic() + 60
        while not os.path.exists(rest[0]) and time.monotonic() < deadline:
            if rest[1:] and os.path.exists(rest[1]):
                return
            time.sleep(0.01)
        time.sleep(0.5)  # long enough for a second copy to arrive, if one is coming
    elif what == "wait-signal":
        def record(signum, frame):
            with open(rest[0], "w") as stream:
                stream.write(str(signum))
            sys.exit(0)
        signal.signal(signal.SIGTERM, record)
        signal.signal(signal.SIGINT, record)
        open(rest[0] + ".ready", "w").close()
        time.sleep(60)
        sys.exit(9)


if __name__ == "__main__":
    main()
"""


def make_app(
    root: Path,
    *,
    command: str = "probe env",
    extra_spec: str = "",
    local_extra: bool = False,
    refresh: bool = False,
) -> Path:
    """Write the probe wheel, its pylock and a spec file under `root`; return the spec's path."""
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    probe = build_wheel(
        wheels,
        "probe-app",
        modules={"probe_app.py": PROBE_SOURCE},
        console_scripts={"probe": "probe_app:main"},
    )
    write_pylock(root / "pylock.toml", [probe])
    lines = [f"command: {command}", "pylock: pylock.toml"]
    if local_extra:
        extra = build_wheel(wheels, "extra-app", "2.5")
        lines += ["local_extra_deps:", f"  - {extra.relative_to(root)}"]
    if refresh:
        lines.append("refresh: true")
    spec = root / "spec.yml"
    spec.write_text("\n".join(lines) + "\n" + extra_spec)
    return spec


def run_env(
    tmp_path: Path, uv_cache: Path, *, uv: str | None = None, **more: str
) -> dict[str, str]:
    """Environment for a pylockenv process: offline uv, private caches, chosen uv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PYLOCKENV_"))}
    env.update(
        UV_OFFLINE="1",
        UV_CACHE_DIR=str(uv_cache),
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
        PYLOCKENV_UV=uv or REAL_UV,
        UV_PYTHON_DOWNLOADS="never",
    )
    env.update(more)
    return env


def cache_root(tmp_path: Path) -> Path:
    """Where pylockenv keeps envs for a process run with `run_env(tmp_path, ...)`."""
    return tmp_path / "xdg" / "bfabric_app_runner"


def env_dirs(tmp_path: Path) -> list[Path]:
    """The cached env directories that exist (lock files excluded)."""
    envs = cache_root(tmp_path) / "envs"
    return sorted(p for p in envs.iterdir() if p.is_dir()) if envs.exists() else []


def ephemeral_dirs(tmp_path: Path) -> list[Path]:
    """Whatever is left in the ephemeral directory."""
    eph = cache_root(tmp_path) / "ephemeral"
    return sorted(eph.iterdir()) if eph.exists() else []


def pylockenv_argv(*args: str) -> list[str]:
    """The argv of a `pylockenv` process run with this interpreter."""
    return [sys.executable, "-m", "pylockenv.shell", *args]


def cli(
    env: Mapping[str, str], *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `pylockenv ARGS` to completion and capture its output."""
    return subprocess.run(
        pylockenv_argv(*args),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(env: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    """Start `pylockenv ARGS` in its own session (so a test can kill its whole group)."""
    return subprocess.Popen(
        pylockenv_argv(*args),
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def write_uv_wrapper(
    directory: Path, *, log: Path, hang_on: str | None = None, fail_on: str | None = None
) -> Path:
    """A uv stand-in that appends its arguments to `log`, then runs the real uv.

    `hang_on` ("pip install", say): when the arguments start with it, the wrapper
    writes `<log>.hang` and sleeps instead of running uv (the venv already exists
    by then). `fail_on`: when the arguments start with it, print an error and exit 2.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "uv-wrapper"
    lines = ["#!/bin/sh", f'printf "%s\\n" "$*" >> "{log}"']
    if hang_on is not None:
        lines += [
            f'case "$*" in "{hang_on}"*) : > "{log}.hang"; exec sleep 600;; esac',
        ]
    if fail_on is not None:
        lines += [
            f'case "$*" in "{fail_on}"*) echo "error: wrapper refuses {fail_on}" >&2; '
            "exit 2;; esac",
        ]
    lines.append(f'exec "{REAL_UV}" "$@"')
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o755)
    return wrapper


def uv_calls(log: Path, subcommand: str | None = None) -> list[str]:
    """The logged uv invocations, optionally only those starting with `subcommand`."""
    if not log.exists():
        return []
    calls = log.read_text().splitlines()
    return [c for c in calls if subcommand is None or c.startswith(subcommand)]


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60, what: str = "") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def kill_group(process: subprocess.Popen[str], signum: int = signal.SIGKILL) -> None:
    """Send `signum` to the process's whole session group (started by `start_cli`)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
    process.communicate(timeout=60)


def files_under(path: Path) -> Sequence[Path]:
    """Every file and directory under `path` (empty if it does not exist)."""
    return sorted(path.rglob("*")) if path.exists() else []
