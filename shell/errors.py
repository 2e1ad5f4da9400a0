"""Failures of carrying out a plan (the exit codes live in `core.errors`)."""

from __future__ import annotations

from collections.abc import Sequence

from pylockenv.core.errors import (
    EXIT_CACHE_FAILED,
    EXIT_CANNOT_EXECUTE,
    EXIT_GC_SKIPPED,
    EXIT_NOT_FOUND,
    EXIT_PYLOCKENV_FAILED,
    EXIT_SIGNAL_BASE,
    EXIT_USAGE,
    PylockenvError,
)

__all__ = [
    "EXIT_CACHE_FAILED",
    "EXIT_CANNOT_EXECUTE",
    "EXIT_GC_SKIPPED",
    "EXIT_NOT_FOUND",
    "EXIT_PYLOCKENV_FAILED",
    "EXIT_SIGNAL_BASE",
    "EXIT_USAGE",
]


class UvNotFoundError(PylockenvError):
    """The uv executable does not exist, does not run, or is older than pylockenv needs."""


class CacheUnreadableError(PylockenvError):
    """A directory of the cache exists but cannot be listed (permissions, a loop)."""


class NotAnEnvNameError(PylockenvError):
    """`show` or `gc` was given a name that no env can have, or a NAME an env takes not."""


class ProvisionError(PylockenvError):
    """A uv step failed; carries the step's name and the last lines uv printed."""

    def __init__(self, *, step: str, env_path: str, returncode: int, tail: Sequence[str]) -> None:
        self.step = step
        self.returncode = returncode
        self.tail = tuple(tail)
        shown = "".join(f"\n    {line}" for line in self.tail) or " (uv printed nothing)"
        super().__init__(
            f"provisioning {env_path} failed at step {step!r} (uv exited with {returncode}); "
            f"the last lines uv printed:{shown}\n"
            "Fix the cause (run with -v to see uv's full output) and run again; the partial "
            "environment was removed."
        )


class LockTimeoutError(PylockenvError):
    """Another process kept provisioning the env for longer than the lock timeout."""


class ProvisioningInterruptedError(PylockenvError):
    """SIGINT or SIGTERM arrived while pylockenv was provisioning (not while the command ran)."""

    def __init__(self, signum: int, what: str) -> None:
        self.signum = signum
        self.exit_code = EXIT_SIGNAL_BASE + signum
        super().__init__(f"interrupted by signal {signum} while {what}; nothing was left behind.")


class CommandNotFoundError(PylockenvError):
    """Neither a console script in the env nor a file for its Python to run has the name."""

    exit_code = EXIT_NOT_FOUND


class CommandNotExecutableError(PylockenvError):
    """The command exists but the system refused to start it (permissions, format)."""

    exit_code = EXIT_CANNOT_EXECUTE
