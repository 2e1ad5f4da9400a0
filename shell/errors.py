"""Every exception pylockenv raises, importable from here: the shell's own failures of
carrying out a plan, defined here, and the core's (bad input), re-exported from
`core.errors`, where they and the exit codes live. Errors are defined in these two
modules only; `tests/test_validation.py` imports each one `execute` can raise from here.
"""

from __future__ import annotations

from pylockenv.core.errors import (
    EXIT_CACHE_FAILED,
    EXIT_CANNOT_EXECUTE,
    EXIT_GC_SKIPPED,
    EXIT_NOT_FOUND,
    EXIT_PYLOCKENV_FAILED,
    EXIT_SIGNAL_BASE,
    EXIT_USAGE,
    DurationError,
    PlanError,
    PlanFileError,
    PylockenvError,
    PylockError,
    SpecError,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing (the warm path loads us)
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "EXIT_CACHE_FAILED",
    "EXIT_CANNOT_EXECUTE",
    "EXIT_GC_SKIPPED",
    "EXIT_NOT_FOUND",
    "EXIT_PYLOCKENV_FAILED",
    "EXIT_SIGNAL_BASE",
    "EXIT_USAGE",
    "CacheFileError",
    "CacheLinkError",
    "CacheNotWritableError",
    "CacheUnreadableError",
    "ChildStatusError",
    "CommandNotExecutableError",
    "CommandNotFoundError",
    "DurationError",
    "EnvCheckError",
    "EnvVanishedError",
    "LockTimeoutError",
    "MarkerWriteError",
    "NotAnEnvNameError",
    "PlanError",
    "PlanFileError",
    "ProvisionError",
    "ProvisioningInterruptedError",
    "PylockError",
    "PylockenvError",
    "SpecError",
    "UvNotFoundError",
]


class UvNotFoundError(PylockenvError):
    """The uv executable does not exist, does not run, or is older than pylockenv needs."""


class CacheFileError(PylockenvError):
    """A file in the cache is not what the cache protocol expects (a link, a FIFO, ...).

    `source` is the path of that file."""


class CacheLinkError(CacheFileError):
    """A symbolic link where a directory of the cache (envs/, ephemeral/, plans/, an env)
    belongs; pylockenv never follows one. `source` is the link's path."""


class CacheNotWritableError(PylockenvError):
    """The cache directory, or a directory or file in it, cannot be created or written
    (`source`: its path)."""


class EnvVanishedError(PylockenvError):
    """The env was removed (by gc) each time it was made ready, or the moment it was made."""


class MarkerWriteError(PylockenvError):
    """The marker could not be written (a full disk, a quota, a vanished directory)."""


class CacheUnreadableError(PylockenvError):
    """A directory of the cache exists but cannot be listed (permissions, a loop)."""


class NotAnEnvNameError(PylockenvError):
    """`show` or `gc` was given a name that no env can have, or a NAME an env takes not."""


class ProvisionError(PylockenvError):
    """A uv step failed; carries the step's name and the last lines uv printed."""

    def __init__(self, *, step: str, env_path: str, returncode: int, tail: Sequence[str]) -> None:
        shown = "".join(f"\n    {line}" for line in tail) or " (uv printed nothing)"
        super().__init__(
            f"provisioning {env_path} failed at step {step!r} (uv exited with {returncode}); "
            f"the last lines uv printed:{shown}\n"
            "Fix the cause (run with -v to see uv's full output) and run again; the partial "
            "environment was removed.",
            source=env_path,
        )
        self.step = step
        self.returncode = returncode
        self.tail = tuple(tail)


class EnvCheckError(PylockenvError):
    """After the uv steps, the env does not hold what the plan asked for (or cannot be
    read); it was removed, never marked ready. `problem` says what it lacks."""

    def __init__(self, *, env_path: str, problem: str) -> None:
        super().__init__(
            f"provisioning {env_path} failed its check before being marked ready: {problem}. "
            "The environment was removed. Check the lock file (regenerate it for this "
            "platform) and the local extras, run with -v to see uv's output, and run again.",
            source=env_path,
        )
        self.problem = problem


class ChildStatusError(PylockenvError):
    """SIGCHLD is ignored by the caller outside the main thread: no child's exit status
    could be read (uv's, the command's)."""


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
