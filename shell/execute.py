"""Carrying out a plan: the environment made ready, the command run in it, its status returned."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Sequence

from pylockenv.core.plan import Plan

from .errors import EXIT_SIGNAL_BASE, CommandNotExecutable, CommandNotFound
from .procenv import child_environ
from .progress import Progress
from .provision import ensure_cached, using_cached_env, using_ephemeral_env
from .signalrelay import SignalRelay


def command_argv(plan: Plan, args: Sequence[str]) -> list[str]:
    """The argv that runs the plan's command, as the plan's RunCommand describes it.

    Raises CommandNotFound when neither a console script nor a file for Python
    exists (Python would only fail with "can't open file").
    """
    run = plan.run
    if run.script is not None and run.script_argv is not None and os.path.exists(run.script):
        return [*run.script_argv, *args]
    first = run.words[0]
    if not first.startswith("-") and not os.path.exists(first):
        raise CommandNotFound(
            f"{plan.source}: command: {first!r} is neither a console script in "
            f"{plan.env_path}/bin nor a file for Python to run; check the command's first word, "
            "and that the package providing it is in the pylock or the local extra deps."
        )
    return [*run.python_argv, *args]


def run_command(plan: Plan, args: Sequence[str], relay: SignalRelay) -> int:
    """Start the command, pass SIGINT/SIGTERM on to it, and return its exit status.

    A command killed by signal N gives 128+N, as a shell reports it.
    """
    argv = command_argv(plan, args)
    relay.start_forwarding()
    try:
        child = subprocess.Popen(argv, env=child_environ(plan.run.env))
    except FileNotFoundError:
        raise CommandNotFound(
            f"{plan.source}: command: {argv[0]} was not found; the environment may be broken, "
            "run again with refresh: true or remove it with 'pylockenv gc'."
        ) from None
    except OSError as exc:
        what = "not a program the system can start" if exc.errno == errno.ENOEXEC else exc.strerror
        raise CommandNotExecutable(
            f"{plan.source}: command: cannot execute {argv[0]} ({what}); check that it is an "
            "executable file (mode +x, with a '#!' line if it is a script)."
        ) from None
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
    them. SIGINT/SIGTERM while the command runs are passed on to it; while
    provisioning they raise `Interrupted` after uv is stopped and the partial env
    removed. Own failures raise `PylockenvError` subclasses (see `shell.errors`).
    `lock_timeout` bounds the wait for another process provisioning the same
    cached env, in seconds (None: wait as long as it takes).
    """
    progress = progress if progress is not None else Progress()
    with SignalRelay() as relay:
        if plan.mode == "ephemeral":
            with using_ephemeral_env(plan, progress):
                return run_command(plan, args, relay)
        with using_cached_env(plan, progress, lock_timeout=lock_timeout):
            return run_command(plan, args, relay)


def provision(
    plan: Plan, *, progress: Progress | None = None, lock_timeout: float | None = None
) -> str:
    """Make the plan's cached env ready without running anything; return its path."""
    from pylockenv.core.errors import PlanError

    if plan.mode != "cached":
        raise PlanError(
            f"{plan.source}: refresh is true, so its env is made for one run and removed after "
            "it; there is nothing to provision ahead. Set refresh: false to pre-warm a cached env."
        )
    progress = progress if progress is not None else Progress()
    with SignalRelay():
        ensure_cached(plan, progress, lock_timeout=lock_timeout)
    return plan.env_path
