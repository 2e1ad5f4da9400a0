"""Exceptions the core raises for input a person has to fix, and the CLI's exit codes.

Exit codes follow `env(1)` and `docker run`. `EXIT_CODES` is the one place their
meanings are written: `--help` prints it, README shows the same table.
"""

from __future__ import annotations

EXIT_CACHE_FAILED = 1
EXIT_USAGE = 2
EXIT_GC_SKIPPED = 3
EXIT_PYLOCKENV_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_SIGNAL_BASE = 128

EXIT_CODES = (
    ("N", "run, apply: the command's own status, unchanged"),
    (
        f"{EXIT_SIGNAL_BASE}+N",
        "the command was killed by signal N (as a shell reports it), or pylockenv was "
        "interrupted by signal N while provisioning",
    ),
    (
        str(EXIT_PYLOCKENV_FAILED),
        "pylockenv failed: a bad spec, pylock or plan file, a failed provisioning, a lock "
        "timeout, uv missing or too old, a cache it cannot use",
    ),
    (str(EXIT_CANNOT_EXECUTE), "the command was found but cannot be executed"),
    (str(EXIT_NOT_FOUND), "the command was not found"),
    (str(EXIT_USAGE), "a command-line usage error"),
    (str(EXIT_CACHE_FAILED), "show, gc: a named env is not in the cache, or a removal failed"),
    (str(EXIT_GC_SKIPPED), "gc: an env due was skipped: in use or being provisioned"),
)


class PylockenvError(Exception):
    """Base of every error pylockenv reports as a sentence instead of a traceback.

    `exit_code` is what the CLI exits with when it reports the error. Where they
    apply, the context is data too (as packaging's PylockValidationError carries
    it), for a caller such as an app runner: `source` is the spec file (or plan
    file, or cache path) the error is about, `field` the field in it (for example
    `commands.process.pylock`); None where the error has none.
    """

    exit_code: int = EXIT_PYLOCKENV_FAILED

    def __init__(self, message: str = "", *, source: str | None = None, field: str | None = None):
        super().__init__(message)
        self.source = source
        self.field = field


class SpecError(PylockenvError):
    """A command spec is malformed: the message names the file, the field and what to write."""


class PlanError(PylockenvError):
    """A well-formed spec cannot be planned on this host (a file it names is missing, say)."""


class PylockError(PylockenvError):
    """The pylock file itself cannot be used: wrong name, invalid TOML, or Python mismatch."""


class PlanFileError(PylockenvError):
    """A plan file cannot be used: not one, of an unknown version, or stale."""


class DurationError(PylockenvError):
    """A duration is not a whole number followed by one unit letter."""
