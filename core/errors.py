"""Exceptions the core raises for input a person has to fix, and the CLI's exit codes.

Exit codes follow `env(1)` and `docker run` (this table is the one place they are
written; README and `--help` render it):

    N        `run`: the command's own status, unchanged
    128+N    the command was killed by signal N (as a shell reports it), or
             pylockenv itself was interrupted by signal N while provisioning
    125      pylockenv failed: bad spec or pylock, provisioning failed, lock
             timeout, uv missing or too old
    126      the command was found but cannot be executed
    127      the command was not found
    2        command-line usage error
    1        `show`, `gc`: a named env is not in the cache, or a removal failed
    3        `gc`: an env due was skipped because it is in use or provisioning
"""

from __future__ import annotations

EXIT_CACHE_FAILED = 1
EXIT_USAGE = 2
EXIT_GC_SKIPPED = 3
EXIT_PYLOCKENV_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
EXIT_SIGNAL_BASE = 128


class PylockenvError(Exception):
    """Base of every error pylockenv reports as a sentence instead of a traceback.

    `exit_code` is what the CLI exits with when it reports the error.
    """

    exit_code: int = EXIT_PYLOCKENV_FAILED


class SpecError(PylockenvError):
    """A command spec is malformed: the message names the file, the field and what to write."""


class PlanError(PylockenvError):
    """A well-formed spec cannot be planned on this host (a file it names is missing, say)."""


class PylockError(PylockenvError):
    """The pylock file itself cannot be used: wrong name, invalid TOML, or Python mismatch."""
