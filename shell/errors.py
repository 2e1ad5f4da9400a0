"""Failures of carrying out a plan, and the exit codes the CLI reports them with.

Exit codes follow `env(1)` and `docker run`:

    N        the command's own status, unchanged
    128+N    the command was killed by signal N (as a shell reports it), or
             pylockenv itself was interrupted by signal N while provisioning
    125      pylockenv failed: bad spec or pylock, provisioning failed, lock
             timeout, uv missing or too old
    126      the command was found but cannot be executed
    127      the command was not found
    2        command-line usage error
"""

from __future__ import annotations

from collections.abc import Sequence

from pylockenv.core.errors import PylockenvError

EXIT_USAGE = 2
EXIT_PYLOCKENV_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_SIGNAL_BASE = 128


def exit_code_of(error: PylockenvError) -> int:
    """The exit code the CLI reports `error` with (125 unless the error says otherwise)."""
    code = getattr(error, "exit_code", EXIT_PYLOCKENV_FAILED)
    return code if isinstance(code, int) else EXIT_PYLOCKENV_FAILED


class UvNotFound(PylockenvError):
    """The uv executable does not exist, does not run, or is older than pylockenv needs."""


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


class LockTimeout(PylockenvError):
    """Another process kept provisioning the env for longer than the lock timeout."""


class Interrupted(PylockenvError):
    """SIGINT or SIGTERM arrived while pylockenv was provisioning (not while the command ran)."""

    def __init__(self, signum: int, what: str) -> None:
        self.signum = signum
        self.exit_code = EXIT_SIGNAL_BASE + signum
        super().__init__(f"interrupted by signal {signum} while {what}; nothing was left behind.")


class CommandNotFound(PylockenvError):
    """Neither a console script in the env nor a file for its Python to run has the name."""

    exit_code = EXIT_NOT_FOUND


class CommandNotExecutable(PylockenvError):
    """The command exists but the system refused to start it (permissions, format)."""

    exit_code = EXIT_CANNOT_EXECUTE
