"""Signals reach the command; in-process, `execute` leaves the caller's process as it was.

That a signal sent to a run, however it is sent, reaches its command exactly once is
test_cache_protocol's.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import pytest
from builders import make_app
from harness import CacheDir, execute_argv, pylockenv_argv, wait_for, write_uv_wrapper

from pylockenv.shell import execute, load, plan
from pylockenv.shell.errors import CommandNotFoundError, ProvisionError
from pylockenv.shell.progress import Progress
from pylockenv.shell.signalrelay import delivery


def quiet() -> Progress:
    return Progress(verbosity="normal", stream=io.StringIO())


def caller_handler(signum: int, frame: FrameType | None) -> None:
    raise AssertionError("the caller's handler must not run in these tests")


@pytest.mark.usefixtures("in_process")
def test_execute_leaves_environ_cwd_and_signal_handlers_as_they_were(tmp_path: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 4", extra_spec="env:\n  ONLY_IN_CHILD: x\n")
    environ, cwd = dict(os.environ), os.getcwd()
    previous = {s: signal.signal(s, caller_handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = execute(plan(load(str(spec))), progress=quiet())
        assert code == 4
        assert dict(os.environ) == environ
        assert os.getcwd() == cwd
        assert signal.getsignal(signal.SIGINT) is caller_handler
        assert signal.getsignal(signal.SIGTERM) is caller_handler
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@pytest.mark.usefixtures("in_process")
def test_execute_raises_command_not_found_and_restores_handlers(tmp_path: Path) -> None:
    spec = make_app(tmp_path, command="missing-tool")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(CommandNotFoundError) as raised:
        execute(plan(load(str(spec))), progress=quiet())
    assert raised.value.exit_code == 127
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.usefixtures("in_process")
def test_execute_raises_provision_error_naming_the_step(tmp_path: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    failing = write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log", fail_on="venv")
    with pytest.raises(ProvisionError) as raised:
        execute(plan(load(str(spec)), uv=str(failing)), progress=quiet())
    assert raised.value.step == "create-venv"
    assert raised.value.tail == ("error: wrapper refuses venv",)


@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "refresh"])
@pytest.mark.parametrize("how", ["cli", "api"])
def test_ctrl_c_at_a_terminal_reaches_the_command_once(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, how: str, refresh: bool
) -> None:
    """A cached CLI run is the command; the others wait beside it, with the terminal's
    foreground handed to the command's process group: Ctrl-C reaches the command alone,
    from the terminal, and pylockenv (not signalled) takes the terminal back after."""
    record = tmp_path / "sigints.txt"
    spec = make_app(tmp_path, command=f"probe count-sigint {record}", refresh=refresh)
    argv = pylockenv_argv("run", "-q", str(spec)) if how == "cli" else execute_argv(spec)
    pid, terminal = pty.fork()  # the child leads a session whose terminal is the pty
    if pid == 0:
        os.execve(sys.executable, argv, environ)
    try:
        wait_for(lambda: Path(f"{record}.ready").exists(), what="the command to start")
        foreground = os.tcgetpgrp(terminal)
        os.write(terminal, b"\x03")  # the terminal sends SIGINT to its foreground group
        with contextlib.suppress(OSError):  # EIO once the session is gone
            while os.read(terminal, 4096):
                pass
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
    assert record.read_text() == "SIGINT\n"
    assert os.waitstatus_to_exitcode(status) == 0
    assert cache.ephemeral_dirs() == []
    execs = how == "cli" and not refresh
    assert (foreground == pid) is execs  # the command's own group has the terminal, or is pid


def test_a_refresh_run_ends_as_its_command_ended_killed_by_the_same_signal(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(
        tmp_path, command="-c 'import os, signal; os.kill(os.getpid(), 15)'", refresh=True
    )
    done = subprocess.run(
        pylockenv_argv("run", "-q", str(spec)), env=environ, capture_output=True, timeout=120
    )
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert cache.ephemeral_dirs() == []


def test_an_ignored_signal_stays_ignored_for_the_command(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(
        tmp_path,
        command="-c 'import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)'",
    )
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = subprocess.run(
            execute_argv(spec), env=environ, capture_output=True, text=True, timeout=120
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"


JOB_CGROUPS = "6:freezer:/slurm_vm/uid_0/job_59/step_batch\n4:memory:/\n0::/\n"
V2_CGROUPS = "0::/system.slice/slurmstepd.scope/job_59/step_0/user/task_0\n"


@pytest.mark.parametrize(
    ("environ", "cgroups", "expected"),
    [
        ({}, None, "relay, own group"),  # no job: the command gets a process group of its own
        ({"SLURM_JOB_ID": ""}, JOB_CGROUPS, "relay, own group"),
        ({"SLURM_JOB_ID": "59"}, JOB_CGROUPS, "relay"),  # cgroup tracking signals tasks only
        ({"SLURM_JOB_ID": "59"}, V2_CGROUPS, "relay"),
        ({"SLURM_JOB_ID": "59"}, "0::/\n", "none"),  # linuxproc, pgid: Slurm signals it
        ({"SLURM_JOB_ID": "5"}, JOB_CGROUPS, "none"),  # another job's cgroup is not ours
        ({"SLURM_JOB_ID": "59"}, None, "none"),
    ],
)
def test_who_delivers_a_signal_to_a_command_run_beside_pylockenv(
    environ: dict[str, str], cgroups: str | None, expected: str
) -> None:
    assert delivery(environ, cgroups) == expected
