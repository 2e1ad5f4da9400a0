"""Who signals the command, and why no signal can reach it twice: said here, once.

A cached CLI run execs its command: from then on the command is the process and
gets every signal itself, once, however it is sent. Every other run waits beside
its command: a refresh run (its env must be removed after the command, by the
process the job waits for: a cleanup process the job does not wait for dies with
the job step), and `execute()` (the Python API cannot replace its caller). While
it waits, SIGINT, SIGTERM and SIGHUP are owned by the `SignalRelay`, and one
rule decides what happens to them:

- **Inside a Slurm job** (SLURM_JOB_ID is set), Slurm sends scancel's and the
  time limit's SIGTERM (and what srun passes on) itself, then SIGKILL after
  KillWait, and how far the SIGTERM reaches depends on how the cluster tracks a
  job's processes. Under proctrack/cgroup (what production clusters use; the
  job's cgroup, `job_<id>`, shows in /proc/self/cgroup) it reaches only the
  step's tasks, the processes slurmstepd started: pylockenv, never the command
  beside it, so pylockenv relays it to the command, once. Under the other
  trackings (linuxproc: every process descended from the task; pgid: the task's
  process group) it reaches the command directly, so nothing is relayed. Either
  way the command stays in pylockenv's process group (no terminal is handed
  over), and pylockenv goes on waiting, so that it outlives the command and
  removes a refresh env within KillWait.
- **Outside one**: the command runs in a process group of its own, so a signal
  to pylockenv's process group (a shell's `kill -TERM -PGID`) reaches pylockenv
  alone, and pylockenv relays it to the command's pid: once. A signal sent to
  the command's pid reaches it directly, and pylockenv gets none. When
  pylockenv has a controlling terminal and is in its foreground, the terminal's
  foreground is handed to the command's group (tcsetpgrp, with SIGTTOU blocked
  around it) and taken back after: Ctrl-C and Ctrl-\\ reach the command from the
  terminal and never pylockenv, so nothing is relayed for them. Ctrl-Z stops
  the command; pylockenv then takes the terminal back and stops itself the same
  way, so that the shell sees the job stopped, and on `fg` hands the terminal
  back and continues the command (on `bg` it only continues it).
- **Outside the main thread** no handler can be set: nothing is relayed and the
  command stays in the caller's process group, where a signal to the group
  reaches it directly (once).

While pylockenv provisions, the first such signal raises
`ProvisioningInterruptedError`, so that the code unwinding from it kills uv and
removes what it made; once the command has been started no signal raises any
more, so its clean-up cannot be cut short. The previous handlers are back when
the relay is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any, Literal

from .errors import ProvisioningInterruptedError

RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The signals a terminal stops a job with (Ctrl-Z, a background read or write).
TERMINAL_STOPS = (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)

Phase = Literal["interrupt", "forward", "hold"]


Delivery = Literal["relay, own group", "relay", "none"]


def delivery(environ: Mapping[str, str], cgroups: str | None) -> Delivery:
    """How signals sent to pylockenv reach the command it waits beside, for a process
    with `environ` in the cgroups `cgroups` (/proc/self/cgroup; None: unreadable):
    relayed to a command in a process group of its own (outside a Slurm job), relayed
    (a Slurm job tracked by cgroup, which signals only the step's tasks), or not at all
    (a Slurm job tracked otherwise, which signals the command itself)."""
    job = environ.get("SLURM_JOB_ID")
    if not job:
        return "relay, own group"
    for line in (cgroups or "").splitlines():
        if f"job_{job}" in line.rpartition(":")[2].split("/"):
            return "relay"
    return "none"


def _own_cgroups() -> str | None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8", errors="replace") as stream:
            return stream.read(1 << 16)
    except OSError:
        return None


class SignalRelay:
    """Context manager owning SIGINT/SIGTERM/SIGHUP while pylockenv provisions and waits."""

    def __init__(self) -> None:
        self.phase: Phase = "interrupt"
        self.doing = "provisioning the environment"
        self.received: list[int] = []
        self._child: subprocess.Popen[Any] | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self.owns_signals = False
        # Decided once per run: see the module's docstring.
        in_job = bool(os.environ.get("SLURM_JOB_ID"))
        self.delivery = delivery(os.environ, _own_cgroups() if in_job else None)
        self.relays = self.delivery != "none"

    def __enter__(self) -> SignalRelay:
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = {signum: signal.getsignal(signum) for signum in RELAYED}
        if any(handler is None for handler in previous.values()):
            return self  # set outside Python: we could not put it back
        # An ignored signal stays ignored, for us and (inherited) for the command: that is
        # how a shell marks background jobs, and what nohup-like wrappers ask for.
        self._previous = {s: h for s, h in previous.items() if h is not signal.SIG_IGN}
        for signum in self._previous:
            signal.signal(signum, self._handle)
        self.owns_signals = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        self.owns_signals = False

    @property
    def command_group_of_its_own(self) -> bool:
        """Whether the command gets a process group of its own (and the terminal)."""
        return self.owns_signals and self.delivery == "relay, own group"

    def start_forwarding(self) -> None:
        """From now on signals are meant for the command about to start."""
        self.phase = "forward"
        self.received = []

    def set_child(self, child: subprocess.Popen[Any]) -> None:
        """The started command: deliver what arrived while it was starting."""
        self._child = child
        for signum in self.received:
            self._forward(signum)

    def hold(self) -> None:
        """The command has exited: record signals, neither raise nor forward."""
        self.phase = "hold"
        self._child = None

    def _forward(self, signum: int) -> None:
        if not (self.relays and self.owns_signals) or self._child is None:
            return
        if self._child.returncode is not None:
            return
        # The child is reaped only by `wait_beside`, which clears `_child` first: its pid
        # is still ours here (at worst a zombie), never another process's.
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._child.pid, signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.phase == "forward":
            self._forward(signum)
        elif self.phase == "interrupt":
            self.phase = "hold"  # one exception is enough; the unwinding must not be cut short
            raise ProvisioningInterruptedError(signum, self.doing)


class _Terminal:
    """pylockenv's controlling terminal: its foreground handed to the command's process
    group while the command runs (when pylockenv had it), and taken back."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.command_group: int | None = None

    @staticmethod
    def controlling() -> _Terminal | None:
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError:
            return None  # no controlling terminal (a batch job, a daemon)
        return _Terminal(fd)

    def foreground(self) -> int | None:
        try:
            return os.tcgetpgrp(self.fd)
        except OSError:
            return None

    def give(self, group: int) -> None:
        """Make `group` the terminal's foreground (SIGTTOU blocked: we may be in the
        background by now, where tcsetpgrp would stop us)."""
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
        try:
            with contextlib.suppress(OSError):
                os.tcsetpgrp(self.fd, group)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def close(self) -> None:
        """Take the foreground back if the command's group still has it; close."""
        if self.command_group is not None and self.foreground() == self.command_group:
            self.give(os.getpgrp())
        os.close(self.fd)


def wait_beside(
    argv: Sequence[str],
    environ: Mapping[str, str],
    relay: SignalRelay,
    *,
    pass_fds: Sequence[int] = (),
) -> int:
    """Start `argv` as a child (its process group and the terminal as the relay's rule
    says), relay signals to it, wait for it to exit; return its wait status as
    `subprocess` gives it (negative: killed by that signal). Raises OSError when the
    system refuses to start it."""
    own_group = relay.command_group_of_its_own
    terminal = _Terminal.controlling() if own_group else None
    ours = terminal is not None and terminal.foreground() == os.getpgrp()
    relay.start_forwarding()
    try:
        child = subprocess.Popen(
            argv,
            env=dict(environ),
            pass_fds=tuple(pass_fds),
            process_group=0 if own_group else None,
        )
        if terminal is not None:
            terminal.command_group = child.pid
            if ours:
                terminal.give(child.pid)
        relay.set_child(child)
        return _wait(child, terminal)
    finally:
        relay.hold()
        if terminal is not None:
            terminal.close()


def _wait(child: subprocess.Popen[Any], terminal: _Terminal | None) -> int:
    while True:
        _, status = os.waitpid(child.pid, os.WUNTRACED)  # retried after our handlers run
        if os.WIFSTOPPED(status):
            _command_stopped(child.pid, os.WSTOPSIG(status), terminal)
            continue
        child.returncode = os.waitstatus_to_exitcode(status)
        return child.returncode


def _command_stopped(group: int, signum: int, terminal: _Terminal | None) -> None:
    """The command (leading `group`) stopped with `signum`: job control, when there is a
    terminal; otherwise someone stopped it on purpose (SIGSTOP), and we wait on."""
    if terminal is None or signum not in TERMINAL_STOPS:
        return
    if signum != signal.SIGTSTP and terminal.foreground() == group:
        # It read or wrote the terminal before we handed it over (the start's race).
        os.killpg(group, signal.SIGCONT)
        return
    # Ctrl-Z, or a background job using the terminal: stop as the command did, so that
    # the shell sees the job stopped (ignored by the kernel in an orphaned group).
    if terminal.foreground() == group:
        terminal.give(os.getpgrp())
    previous = signal.signal(signum, signal.SIG_DFL)
    try:
        os.kill(os.getpid(), signum)
    finally:
        signal.signal(signum, previous)
    if terminal.foreground() == os.getpgrp():  # `fg`; after `bg` we stay in the background
        terminal.give(group)
    os.killpg(group, signal.SIGCONT)
