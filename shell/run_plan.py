"""Carrying out a plan: the env made ready and held, then the command started in it.

Two ways to start the command, one lock protocol:

- A cached CLI run (`exec_plan`) replaces pylockenv with the command, as env(1)
  and flock(1) do: the command keeps pylockenv's pid, gets every signal exactly
  once however it is sent (to the pid, the process group, or every process of a
  job), and its exit status is the process's own. The env's in-use lock is on a
  file descriptor the command inherits.
- Every other run waits beside its command (`wait_beside`; who relays which
  signal, and why none arrives twice, is `shell.signalrelay`'s to say): a refresh
  run, because its env must be removed after the command by the process the job
  waits for (a detached cleanup process would die with the job step), and
  `execute` (the Python API), which cannot replace its caller. The command
  inherits a hold of the env's lock, so the env stays while it lives even if the
  launcher is killed; the launcher removes a refresh env once the command has
  exited, unless something the command started still holds the lock. A CLI
  refresh run then ends as its command did: with its exit status, or killed by
  the same signal.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from pylockenv.core.errors import PlanError, PylockenvError
from pylockenv.core.plan_format import light_view
from pylockenv.core.plan_rules import not_found_message
from pylockenv.core.planning import Plan

from .envlocks import HeldLock
from .errors import EXIT_SIGNAL_BASE, CommandNotExecutableError, CommandNotFoundError
from .process_env import ChildStatusReadable, command_start
from .progress import Progress
from .provisioning import (
    ensure_cached,
    hold_cached_env,
    lock_for_command,
    make_ephemeral,
    remove_ephemeral,
)
from .signalrelay import SignalRelay, wait_beside


def command_start_of(plan: Plan, args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start the plan's command (`process_env.command_start`,
    as on the warm path). Raises CommandNotFoundError when no candidate holds (neither a
    console script nor a file for Python exists: Python would only fail with "can't
    open file")."""
    started = command_start(light_view(plan), args)
    if started is None:
        first = plan.run.words[0]
        raise CommandNotFoundError(
            not_found_message(plan.source, first, plan.env, _searched(first))
        )
    return started


def _searched(first: str) -> str:
    """Where Python would have looked for the file `first`: a relative one is read from
    the working directory (not the spec file's), which a person must be told."""
    if first.startswith("/"):
        return os.path.dirname(first) or "/"
    try:
        return f"the working directory {os.getcwd()}"
    except OSError:
        return "the working directory (which no longer exists)"


def _interpreter_of(path: str) -> str | None:
    """The interpreter named on the `#!` line of the script at `path`, if it has one."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    return os.fsdecode(words[0]) if words else None


def start_error(plan: Plan, argv: Sequence[str], exc: OSError) -> PylockenvError:
    """The error to report when the system refused to start `argv` with `exc`."""
    program = argv[0]
    where = f"{plan.source}: command"
    if exc.errno == errno.E2BIG:
        return CommandNotExecutableError(
            f"{where}: cannot execute {program}: its arguments and environment are larger than "
            "the system allows (E2BIG); shorten the spec's env values or the arguments."
        )
    if exc.errno == errno.ENOENT and os.path.lexists(program):
        interpreter = _interpreter_of(program)
        if interpreter is not None and not os.path.exists(interpreter):
            return CommandNotFoundError(
                f"{where}: cannot execute {program}: its '#!' interpreter {interpreter} does "
                "not exist; reinstall the script's package, or fix its first line."
            )
        return CommandNotFoundError(
            f"{where}: {program} was not found when it was started (a link to nothing?); the "
            "environment may be broken: run again with refresh: true or remove it with "
            "'pylockenv gc'."
        )
    if exc.errno == errno.ENOENT:
        return CommandNotFoundError(
            f"{where}: {program} was not found; the environment may be broken: run again "
            "with refresh: true or remove it with 'pylockenv gc'."
        )
    what = "not a program the system can start" if exc.errno == errno.ENOEXEC else exc.strerror
    return CommandNotExecutableError(
        f"{where}: cannot execute {program} ({what}); check that it is an executable file "
        "(mode +x, with a '#!' line if it is a script)."
    )


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def exec_plan(
    plan: Plan,
    args: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    lock_timeout: float | None = None,
    when_ready: Callable[[], None] | None = None,
) -> NoReturn:
    """Make the plan's env ready, then run its command: a cached env's by replacing this
    process with it; a refresh env's beside it, removing the env after it and ending as
    the command ended (its status, or its signal).

    `when_ready` is called once the env is ready and held, just before the command
    starts (the CLI stores the plan for warm runs then). Returns only by raising: a
    PylockenvError for pylockenv's own failures (nothing is left behind),
    CommandNotFoundError or CommandNotExecutableError when the system refuses to
    start the command, SystemExit with a refresh run's status.
    """
    progress = progress if progress is not None else Progress()
    if plan.mode == "ephemeral":
        with SignalRelay() as relay:
            placed, lock = make_ephemeral(plan, progress)
            if when_ready is not None:
                when_ready()
            returncode = run_ephemeral(placed, args, relay, lock, progress)
        _flush_standard_streams()
        end_as(returncode)
    with SignalRelay():
        held = hold_cached_env(plan, progress, lock_timeout=lock_timeout)
    argv, environ = command_start_of(plan, args)
    if held is not None:
        held.pass_on()
    if when_ready is not None:
        when_ready()
    _flush_standard_streams()
    try:
        os.execve(argv[0], argv, environ)
    except OSError as exc:
        raise start_error(plan, argv, exc) from None


def end_as(returncode: int) -> NoReturn:
    """End this process as a command with `returncode` (`subprocess`'s: negative for a
    death by that signal) ended: exit with the status, or die of the same signal (so a
    shell running pylockenv sees an interrupted command as interrupted), without a core."""
    if returncode >= 0:
        sys.exit(returncode)
    signum = -returncode
    with contextlib.suppress(ValueError, OSError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    sys.exit(EXIT_SIGNAL_BASE + signum)  # a signal whose default is not to end the process


def run_command(plan: Plan, args: Sequence[str], relay: SignalRelay, lock: HeldLock | None) -> int:
    """Start the command beside us holding `lock` (`signalrelay.wait_beside`), return its
    status as `subprocess` gives it (negative: killed by that signal)."""
    argv, environ = command_start_of(plan, args)
    try:
        return wait_beside(argv, environ, relay, pass_fds=() if lock is None else (lock.fd,))
    except OSError as exc:
        raise start_error(plan, argv, exc) from None


def run_ephemeral(
    placed: Plan, args: Sequence[str], relay: SignalRelay, lock: HeldLock, progress: Progress
) -> int:
    """Run the command in the ephemeral env `placed` (made, its lock `lock` held), then
    remove the env whatever happens; return the command's status as `run_command` does."""
    try:
        with lock_for_command(placed, lock) as for_command:
            return run_command(placed, args, relay, for_command)
    finally:
        remove_ephemeral(placed, lock, progress)


def execute(
    plan: Plan,
    args: Sequence[str] = (),
    *,
    progress: Progress | None = None,
    lock_timeout: float | None = None,
) -> int:
    """Provision the plan's env if needed, run its command with `args`, return the exit status.

    Leaves os.environ, the working directory and the signal handlers as it found
    them (SIGCHLD included: one the caller ignores is set to its default meanwhile, so
    that uv's and the command's exit status can be read). Signals while the command
    runs follow `shell.signalrelay`'s rule (inside a Slurm job nothing is relayed;
    outside one the command has a process group of its own and gets what is sent to
    the caller); while provisioning they raise
    `ProvisioningInterruptedError` after uv is stopped and the partial env removed.
    A command killed by signal N gives 128+N, as a shell reports it. Own failures
    raise `PylockenvError` subclasses (see `shell.errors`). `lock_timeout` bounds
    the waits for another process's lock on the same env, in seconds (None: wait as
    long as it takes). The command inherits the env's lock, so the env stays even if
    the calling process dies before the command.
    """
    progress = progress if progress is not None else Progress()
    with ChildStatusReadable(), SignalRelay() as relay:
        if plan.mode == "ephemeral":
            placed, ephemeral_lock = make_ephemeral(plan, progress)
            returncode = run_ephemeral(placed, args, relay, ephemeral_lock, progress)
        else:
            lock = hold_cached_env(plan, progress, lock_timeout=lock_timeout)
            try:
                returncode = run_command(plan, args, relay, lock)
            finally:
                if lock is not None:
                    lock.release()
    return EXIT_SIGNAL_BASE - returncode if returncode < 0 else returncode


def provision(
    plan: Plan, *, progress: Progress | None = None, lock_timeout: float | None = None
) -> str:
    """Make the plan's cached env ready without running anything; return its path."""
    if plan.mode != "cached":
        raise PlanError(
            f"{plan.source}: refresh is true, so its env is made for one run and removed after "
            "it; there is nothing to provision ahead. Set refresh: false to pre-warm a cached env."
        )
    progress = progress if progress is not None else Progress()
    with SignalRelay():
        ensure_cached(plan, progress, lock_timeout=lock_timeout)
    return plan.env_path
