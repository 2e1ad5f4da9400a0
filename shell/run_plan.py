"""Carrying out a plan: the env made ready and held, then the command started in it.

Two ways to start the command, one lock protocol:

- `exec_plan` (the CLI) replaces pylockenv with the command, as env(1) and
  flock(1) do: the command keeps pylockenv's pid, gets every signal exactly
  once however it is sent (to the pid, the process group, or every process of a
  job), and its exit status is the process's own. The env's lock is on a file
  descriptor the command inherits. An ephemeral env, which must be removed
  after the command, is removed by a small detached cleanup process that waits
  for the env's directory lock to be free, that is for the command and
  everything it started that still holds the lock.
- `execute` (the Python API) cannot replace the caller: it starts the command
  as a child that inherits the lock, passes signals on to it, waits, and cleans
  up, leaving the calling process as it found it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from pylockenv.core.errors import PlanError, PylockenvError
from pylockenv.core.layout import EnvLayout
from pylockenv.core.plan_format import light_view
from pylockenv.core.plan_rules import not_found_message
from pylockenv.core.planning import Plan

from .envlocks import HeldLock, open_directory
from .errors import EXIT_SIGNAL_BASE, CommandNotExecutableError, CommandNotFoundError
from .process_env import ChildStatusReadable, command_start
from .progress import Progress
from .provisioning import (
    ensure_cached,
    hold_cached_env,
    provision_ephemeral,
    remove_ephemeral,
    remove_quietly,
)
from .signalrelay import SignalRelay


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
    """Make the plan's env ready, then replace this process with its command.

    `when_ready` is called once the env is ready and held, just before the exec (the
    CLI stores the plan for warm runs then). Returns only by raising: a PylockenvError
    for pylockenv's own failures (nothing is left behind), CommandNotFoundError or
    CommandNotExecutableError when the system refuses to start the command.
    """
    progress = progress if progress is not None else Progress()
    with SignalRelay():
        if plan.mode == "ephemeral":
            lock: HeldLock | None = provision_ephemeral(plan, progress)
        else:
            lock = hold_cached_env(plan, progress, lock_timeout=lock_timeout)
    try:
        argv, environ = command_start_of(plan, args)
    except PylockenvError:
        if plan.mode == "ephemeral" and lock is not None:
            remove_ephemeral(plan, lock, progress)
        raise
    if lock is not None:
        if plan.mode == "ephemeral":
            start_cleanup_process(plan.env, lock)
        lock.pass_on()
    if when_ready is not None:
        when_ready()
    _flush_standard_streams()
    try:
        os.execve(argv[0], argv, environ)
    except OSError as exc:
        # Our copy of the lock closes when we exit: the cleanup process then removes the env.
        raise start_error(plan, argv, exc) from None


def start_cleanup_process(env: EnvLayout, lock: HeldLock) -> None:
    """Start a detached process that removes the ephemeral `env` once nobody holds `lock`.

    It is a grandchild (so the command never has to reap it), in a session of its
    own, with signals that stop jobs ignored and the standard streams on
    /dev/null (it holds no pipe of the caller open). It takes the directory lock
    exclusively, which it gets when the command and every process that inherited
    the lock are gone, then removes the env. A SIGKILL of it (a batch scheduler's
    last word) leaves an orphan that `pylockenv gc` removes.
    """
    inode = os.fstat(lock.fd).st_ino
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_IGN)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        # Nothing inherited stays open: not our copy of the lock, not a pipe of the caller's.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        fd = open_directory(env)
        if os.fstat(fd).st_ino == inode:
            fcntl.flock(fd, fcntl.LOCK_EX)
            remove_quietly(env.path, Progress(verbosity="quiet"))
    finally:
        os._exit(0)


def run_command(plan: Plan, args: Sequence[str], relay: SignalRelay, lock: HeldLock | None) -> int:
    """Start the command as a child holding `lock`, pass signals on, return its exit status.

    A command killed by signal N gives 128+N, as a shell reports it.
    """
    argv, environ = command_start_of(plan, args)
    relay.start_forwarding()
    try:
        child = subprocess.Popen(
            argv,
            env=environ,
            pass_fds=() if lock is None else (lock.fd,),
        )
    except OSError as exc:
        raise start_error(plan, argv, exc) from None
    relay.set_child(child)
    try:
        returncode = child.wait()
    finally:
        relay.hold()
    return EXIT_SIGNAL_BASE - returncode if returncode < 0 else returncode


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
    that uv's and the command's exit status can be read). SIGINT/SIGTERM/SIGHUP while
    the command runs are passed on to it; while provisioning they raise
    `ProvisioningInterruptedError` after uv is stopped and the partial env
    removed. Own failures raise `PylockenvError` subclasses (see `shell.errors`).
    `lock_timeout` bounds the waits for another process's lock on the same env,
    in seconds (None: wait as long as it takes). The command inherits the env's
    lock, so the env stays even if the calling process dies before the command.
    """
    progress = progress if progress is not None else Progress()
    with ChildStatusReadable(), SignalRelay() as relay:
        if plan.mode == "ephemeral":
            ephemeral_lock = provision_ephemeral(plan, progress)
            try:
                return run_command(plan, args, relay, ephemeral_lock)
            finally:
                remove_ephemeral(plan, ephemeral_lock, progress)
        lock = hold_cached_env(plan, progress, lock_timeout=lock_timeout)
        try:
            return run_command(plan, args, relay, lock)
        finally:
            if lock is not None:
                lock.release()


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
