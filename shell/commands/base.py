"""What a subcommand is: the `Command` record each module of `shell.commands` declares.

A record is complete or it does not exist: every field is required, and the
checks below run when the module defining it is imported, so a subcommand that
forgets its runner, its help or its exit paths fails at import (and in the
tests), never at a user's command line. `shell.cli` builds the parser and
dispatches from these records alone; it names no subcommand.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pylockenv.core.errors import EXIT_CODES

# The options accepted before or after the subcommand (as uv accepts its own anywhere):
# the name each has in the namespace, and its flags.
GLOBAL_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "quiet": ("-q", "--quiet"),
    "verbose": ("-v", "--verbose"),
    "uv": ("--uv",),
}
# Their help in a subcommand that provisions an env (run, provision, apply).
PROVISIONING_OPTIONS: Mapping[str, str] = {
    "quiet": "print nothing but errors",
    "verbose": "show uv's full output while provisioning",
    "uv": "the uv executable (default: $PYLOCKENV_UV, else the uv installed with pylockenv)",
}

# What `--` means to a subcommand: the words after it are the command's arguments
# ("command arguments"), or would be but the subcommand runs nothing ("refused"), or
# `--` is argparse's own (ends the options: `gc -- HASH`).
DoubleDash = Literal["command arguments", "refused", "parsed"]

if TYPE_CHECKING:
    from ..progress import Progress

EXIT_CODE_NAMES = frozenset(code for code, _ in EXIT_CODES)


class IncompleteCommandError(TypeError):
    """A subcommand's record is missing something or contradicts the CLI's rules (a
    programming error, raised at import)."""


class Invocation:
    """One parsed command line, as a subcommand's runner receives it."""

    __slots__ = ("command_args", "ns", "parser")

    def __init__(
        self,
        *,
        ns: argparse.Namespace,
        command_args: Sequence[str],
        parser: argparse.ArgumentParser,
    ) -> None:
        self.ns = ns
        # The words after `--`, for a subcommand whose `double_dash` is "command arguments".
        self.command_args = tuple(command_args)
        # The subcommand's own parser: `parser.error(...)` is a usage error with its usage.
        self.parser = parser

    @property
    def quiet(self) -> bool:
        return bool(getattr(self.ns, "quiet", False))

    @property
    def verbose(self) -> bool:
        return bool(getattr(self.ns, "verbose", False))

    @property
    def uv(self) -> str | None:
        uv: str | None = getattr(self.ns, "uv", None)
        return uv


def _nonempty_text(what: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise IncompleteCommandError(f"{what}: give a sentence, not {value!r}")


def _subcommand_name(value: Any) -> None:
    if not isinstance(value, str) or not (value.isascii() and value.isalpha() and value.islower()):
        raise IncompleteCommandError(f"a subcommand is named by a lowercase word, not {value!r}")


def _known_exit_codes(value: Any) -> None:
    if not isinstance(value, tuple) or not value:
        raise IncompleteCommandError("exit_codes: list the exit paths, as in EXIT_CODES")
    unknown = set(value) - EXIT_CODE_NAMES
    if unknown:
        raise IncompleteCommandError(
            f"exit_codes: {sorted(unknown)} are not in core.errors.EXIT_CODES; add them there "
            "(the one table of exit codes) first"
        )
    if "2" not in value:
        raise IncompleteCommandError("exit_codes: every subcommand has usage errors (2)")


def _global_options(value: Any) -> None:
    if not isinstance(value, Mapping) or not set(value) <= set(GLOBAL_OPTIONS):
        raise IncompleteCommandError(
            f"options: a mapping of {sorted(GLOBAL_OPTIONS)} to their help, not {value!r}"
        )
    for name, help_text in value.items():
        _nonempty_text(f"options[{name!r}]", help_text)


def _callable(what: str, value: Any) -> None:
    if not callable(value):
        raise IncompleteCommandError(f"{what}: give a function, not {value!r}")


class Command:
    """One subcommand: its name, help, arguments, runner and exit paths.

    `add_arguments` adds the subcommand's own arguments to its parser; the global
    options it honours (`options`, with their help for it) are added by the CLI, and
    accepted before the subcommand too. `run` returns the exit code. `exit_codes` are
    the codes of `core.errors.EXIT_CODES` the subcommand can exit with besides 0 (its
    --help lists them). `prints_result` says whether its result goes to stdout, which
    must then be open. Every field is required and checked here, when the record is
    made (a plain class, not attrs: the CLI loads this before it knows it needs attrs).
    """

    __slots__ = (
        "add_arguments",
        "description",
        "double_dash",
        "exit_codes",
        "name",
        "options",
        "prints_result",
        "run",
        "summary",
    )

    def __init__(
        self,
        *,
        name: str,
        summary: str,
        description: str,
        add_arguments: Callable[[argparse.ArgumentParser], None],
        run: Callable[[Invocation], int],
        exit_codes: tuple[str, ...],
        options: Mapping[str, str],
        double_dash: DoubleDash,
        prints_result: Callable[[argparse.Namespace], bool],
    ) -> None:
        _subcommand_name(name)
        _nonempty_text("summary", summary)
        _nonempty_text("description", description)
        _callable("add_arguments", add_arguments)
        _callable("run", run)
        _known_exit_codes(exit_codes)
        _global_options(options)
        if double_dash not in ("command arguments", "refused", "parsed"):
            raise IncompleteCommandError(f"double_dash: not a meaning of '--': {double_dash!r}")
        _callable("prints_result", prints_result)
        self.name = name
        self.summary = summary
        self.description = description
        self.add_arguments = add_arguments
        self.run = run
        self.exit_codes = exit_codes
        self.options = dict(options)
        self.double_dash: DoubleDash = double_dash
        self.prints_result = prints_result

    def __repr__(self) -> str:
        return f"Command(name={self.name!r})"

    def epilog(self) -> str:
        """The exit codes of this subcommand with their meanings, from EXIT_CODES."""
        meanings = dict(EXIT_CODES)
        return "exit codes:\n" + "".join(
            f"  {code:<7} {meanings[code]}\n" for code in self.exit_codes
        )


def lock_timeout_argument(parser: argparse.ArgumentParser) -> None:
    """--lock-timeout SECONDS, for the subcommands that may wait for a provisioning."""
    parser.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        type=_lock_timeout,
        help="give up waiting for another process provisioning the same env (default: wait)",
    )


def _lock_timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, and finite: {text!r}")
    return seconds


def progress_of(invocation: Invocation) -> Progress:
    """The Progress reporter -q/-v ask for (imported here: only env commands need it)."""
    from ..progress import Progress, Verbosity

    verbosity: Verbosity = (
        "verbose" if invocation.verbose else "quiet" if invocation.quiet else "normal"
    )
    return Progress(verbosity=verbosity)
