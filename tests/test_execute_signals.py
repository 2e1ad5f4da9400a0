"""Signals reach the command; in-process, `execute` leaves the caller's process as it was.

That a signal sent to a run, however it is sent, reaches its command exactly once is
test_cache_protocol's.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import shlex
import signal
import subprocess
import sys
import threading
import time
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


# --- job control at an interactive shell: Ctrl-Z, then fg or bg -----------------------------


def _state(pid: int) -> str:
    """The one-letter state of process `pid` (/proc/PID/stat; T: stopped), "gone" if none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat.rpartition(")")[2].split()[0]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


class _Shell:
    """An interactive bash with job control on a pty of its own; what it prints is read
    all along (so that it never blocks on a full terminal) and kept."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.pid, self.terminal = pty.fork()
        if self.pid == 0:
            os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"], environ)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):  # EIO once the session is gone
            while chunk := os.read(self.terminal, 4096):
                self.output += chunk

    def type(self, text: bytes) -> None:
        os.write(self.terminal, text)

    def foreground(self) -> int:
        return os.tcgetpgrp(self.terminal)

    def end(self) -> int:
        """Exit the shell; its exit status. A shell that does not exit within 10 s (a job
        still stopped: a failed test) is killed with everything in its session."""
        self.type(b"exit\n")
        deadline = time.monotonic() + 10
        while (ended := os.waitpid(self.pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                for pid in _session(self.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                ended = os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        self._reader.join(timeout=10)
        os.close(self.terminal)
        return os.waitstatus_to_exitcode(ended[1])


def _session(leader: int) -> list[int]:
    """The processes of the session `leader` leads (field 6 of /proc/PID/stat)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[3]) == leader:
                    members.append(int(entry.name))
    return members


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash for job control")
@pytest.mark.parametrize("resume", ["fg", "bg"])
@pytest.mark.parametrize("how", ["cli", "api"])
def test_ctrl_z_stops_a_run_waiting_beside_its_command_and_fg_or_bg_resumes_it(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, how: str, resume: str
) -> None:
    """At an interactive shell, Ctrl-Z stops the command (the terminal's foreground) and
    then the run waiting beside it, so that the shell sees the job stopped and has the
    terminal back; `fg` hands the terminal to the command again and continues both, `bg`
    continues both in the background. Either way one SIGINT reaches the command once
    (from the terminal after `fg`, relayed from `kill -INT %1` after `bg`), and the
    refresh env is gone when the job ends."""
    record = tmp_path / "signals.txt"
    spec = make_app(tmp_path, command=f"probe count-signals {record}", refresh=True)
    argv = pylockenv_argv("run", "-q", str(spec)) if how == "cli" else execute_argv(spec)
    shell = _Shell({**environ, "PS1": "$ ", "HISTFILE": "/dev/null"})
    try:
        shell.type(shlex.join(argv).encode() + b"\n")
        ready = Path(f"{record}.ready")
        wait_for(lambda: ready.exists() and ready.read_text().strip() != "", what="the command")
        command = int(ready.read_text())
        runner = _parent(command)
        wait_for(lambda: shell.foreground() == command, what="the command to get the terminal")

        shell.type(b"\x1a")  # Ctrl-Z: the terminal sends SIGTSTP to its foreground group
        both_stopped = lambda: _state(command) == "T" and _state(runner) == "T"  # noqa: E731
        wait_for(both_stopped, what="the command and the run to stop")
        wait_for(lambda: shell.foreground() == shell.pid, what="the shell to get the terminal")

        shell.type(f"{resume}\n".encode())
        wait_for(lambda: "T" not in (_state(command), _state(runner)), what="both to continue")
        if resume == "fg":
            wait_for(lambda: shell.foreground() == command, what="the command's terminal")
            shell.type(b"\x03")  # Ctrl-C: to the command's group, the foreground again
        else:
            assert shell.foreground() == shell.pid  # in the background: the shell keeps it
            shell.type(b"kill -INT %1\n")  # to the job's group: the run, which relays it
        wait_for(lambda: _state(runner) == "gone", what="the run to end")
        shell.type(b"wait; echo status=$?\n")
        wait_for(lambda: b"status=" in shell.output, what="the shell to say the status")
    finally:
        code = shell.end()
    assert code == 0
    assert record.read_text() == f"{signal.SIGINT}\n"  # one SIGINT, once
    assert b"status=0" in shell.output  # the command exited 0 after it; so did the run
    assert b"Stopped" in shell.output  # the shell saw the job stop
    assert cache.ephemeral_dirs() == []
