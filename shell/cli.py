"""The `pylockenv` command line: the parser and the dispatch, built from the registry.

Each subcommand is a module of `shell.commands` (its arguments, runner, help and
exit paths); this module names none of them. It adds the global options (-q, -v,
--uv, accepted before or after the subcommand, as uv does), -V, and the rules of
`--`, then hands the parsed command line to the subcommand's runner and turns a
PylockenvError into one sentence and its exit code (`core.errors.EXIT_CODES`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from pylockenv.core import __version__
from pylockenv.core.errors import EXIT_CODES, PylockenvError

from .commands import COMMANDS
from .commands.base import GLOBAL_OPTIONS, Command, Invocation
from .errors import EXIT_PYLOCKENV_FAILED, EXIT_SIGNAL_BASE, EXIT_USAGE

__all__ = ["EXIT_PYLOCKENV_FAILED", "EXIT_USAGE", "build_parser", "main"]

_GLOBAL_HELP = {
    "quiet": "print nothing but errors (run, provision, apply)",
    "verbose": "say more: uv's full output, or what the subcommand's -v says",
    "uv": "the uv executable for run and provision (default: $PYLOCKENV_UV, else bundled uv)",
}
# The words of a global option given before the subcommand: -q, -v, -qv, --uv=PATH.
_GLOBAL_FLAG = re.compile(r"-[qv]+|--quiet|--verbose|--uv=.*")


class _VersionAction(argparse.Action):
    """-V/--version: pylockenv's version and the uv it would use (path, version, why)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from .errors import UvNotFoundError
        from .uvbin import check_uv, chosen_uv

        flag = getattr(namespace, "uv", None)
        uv, how = (flag, "given by --uv") if flag is not None else chosen_uv()
        print(f"pylockenv {__version__}")
        try:
            version = check_uv(uv)
        except UvNotFoundError as exc:
            sys.stdout.flush()
            print(f"pylockenv: error: {exc}", file=sys.stderr)
            parser.exit(EXIT_PYLOCKENV_FAILED)
        print(f"{version} at {uv} ({how})")
        parser.exit(0)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions as written), its width found as
    shutil.get_terminal_size finds the columns ($COLUMNS, else the terminal of stdout,
    else 80) without importing shutil, which argparse does for every add_argument (and
    shutil loads bz2, lzma and fnmatch: 2 ms of each run)."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


def _terminal_columns() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage line can end in " [-- ARGS...]" (`takes_args`), made
    when a usage is first shown, not when the parser is built: formatting it loads
    shutil (for the terminal's width), which a run that shows no usage never needs."""

    takes_args = False

    def _add_args_to_usage(self) -> None:
        if self.takes_args and self.usage is None:
            self.usage = super().format_usage().removeprefix("usage: ").rstrip() + " [-- ARGS...]"

    def format_usage(self) -> str:
        self._add_args_to_usage()
        return super().format_usage()

    def format_help(self) -> str:
        self._add_args_to_usage()
        return super().format_help()


def _add_global_option(
    parser: argparse.ArgumentParser, name: str, help_text: str, *, default: object
) -> None:
    flags = GLOBAL_OPTIONS[name]
    if name == "uv":
        parser.add_argument(*flags, dest=name, metavar="PATH", default=default, help=help_text)
    else:
        parser.add_argument(*flags, dest=name, action="store_true", default=default, help=help_text)


def build_parser(
    commands: Mapping[str, Command] = COMMANDS,
) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command line of `commands` (all of them unless told), and each one's own parser
    (for its usage errors). A command line that names its subcommand needs only that one's
    parser, which saves building the others (1.5 ms of a cold run)."""
    parser = _Parser(
        prog="pylockenv",
        description=textwrap.fill(
            "Run a command inside a cached Python environment defined by a pylock.toml "
            "(PEP 751) lock file and provisioned with uv. The options below are accepted "
            "after the command too.",
            width=80,
        ),
        epilog="exit codes:\n"
        + "".join(f"  {code:<7} {meaning}\n" for code, meaning in EXIT_CODES),
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "-V", "--version", action=_VersionAction, help="print the version, and the uv used"
    )
    for name in GLOBAL_OPTIONS:
        _add_global_option(
            parser, name, _GLOBAL_HELP[name], default=None if name == "uv" else False
        )
    # prog given, as argparse would compute it (the top level has no positional), so that
    # no formatter is made until a usage is shown.
    subparsers = parser.add_subparsers(
        dest="subcommand", metavar="COMMAND", required=True, prog="pylockenv", parser_class=_Parser
    )
    parsers: dict[str, argparse.ArgumentParser] = {}
    for command in commands.values():
        sub = subparsers.add_parser(
            command.name,
            help=command.summary,
            description=textwrap.fill(command.description, width=80),
            epilog=command.epilog(),
            formatter_class=_Formatter,
        )
        command.add_arguments(sub)
        for name, help_text in command.options.items():
            # Left unset unless given here, so a value given before the subcommand stands.
            _add_global_option(sub, name, help_text, default=argparse.SUPPRESS)
        assert isinstance(sub, _Parser)
        sub.takes_args = command.double_dash == "command arguments"
        parsers[command.name] = sub
    return parser, parsers


def _command_position(argv: Sequence[str]) -> int | None:
    """Where the subcommand's name is in `argv` (after any global options), or None."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--uv":
            i += 2
        elif _GLOBAL_FLAG.fullmatch(word):
            i += 1
        else:
            return None if word.startswith("-") else i
    return None


def _split_command_args(argv: Sequence[str]) -> tuple[Command | None, list[str], list[str]]:
    """The subcommand `argv` names (None when it names none before an option such as
    --help), pylockenv's own words, and those after `--` when the subcommand gives them to
    the command (others keep `--` for argparse: `gc -- HASH` names HASH). A misspelt
    subcommand is a usage error that suggests the close ones."""
    argv = list(argv)
    position = _command_position(argv)
    if position is None:
        return None, argv, []
    command = COMMANDS.get(argv[position])
    if command is None:
        from pylockenv.core.hints import did_you_mean

        build_parser({})[0].error(
            f"argument COMMAND: invalid choice: {argv[position]!r}"
            f"{did_you_mean(argv[position], COMMANDS)}; choose from "
            + ", ".join(repr(name) for name in COMMANDS)
        )
    if command.double_dash != "parsed" and "--" in argv[position:]:
        cut = argv.index("--", position)
        return command, argv[:cut], argv[cut + 1 :]
    return command, argv, []


def _check_global_options(
    command: Command, ns: argparse.Namespace, usage: argparse.ArgumentParser
) -> None:
    """A global option the subcommand does not take, or -q with -v, is a usage error."""
    for name, flags in GLOBAL_OPTIONS.items():
        if getattr(ns, name, None) not in (None, False) and name not in command.options:
            usage.error(f"{command.name} takes no {'/'.join(flags)}")
    if getattr(ns, "quiet", False) and getattr(ns, "verbose", False):
        usage.error("argument -q/--quiet: not allowed with argument -v/--verbose")


def _unrecognized(command: Command, unknown: Sequence[str]) -> str:
    message = f"unrecognized arguments: {' '.join(unknown)}"
    if command.double_dash == "command arguments" and any(
        not word.startswith("-") for word in unknown
    ):
        message += (
            f"; put the command's arguments after '--', as in "
            f"'pylockenv {command.name} ... -- {' '.join(unknown)}'"
        )
    return message


def _occupy_closed_standard_fds() -> tuple[bool, bool]:
    """Put /dev/null (close-on-exec) on whichever of fds 0, 1, 2 is closed.

    Otherwise the first file pylockenv opens (a lock, say) would become a standard
    stream, and the command would write into it. The command still finds them
    closed, as its caller left them. Returns whether stdout and stderr are usable.
    """
    usable = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            usable.append(True)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            if null != fd:  # a lower fd was free after all: nothing to occupy
                os.close(null)
            usable.append(False)
    if sys.stderr is None or not usable[2]:
        # Errors must never go to stdout, where they would mix with the command's output.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 -- lives as long as the process
    return usable[1] and sys.stdout is not None, usable[2]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pylockenv` console script; returns the exit code."""
    stdout_ok, _ = _occupy_closed_standard_fds()
    named, own, command_args = _split_command_args(sys.argv[1:] if argv is None else argv)
    parser, parsers = build_parser(COMMANDS if named is None else {named.name: named})
    ns, unknown = parser.parse_known_args(own)
    command, usage = COMMANDS[ns.subcommand], parsers[ns.subcommand]
    if unknown:
        # Said by the subcommand's parser, so that its usage (not the top level's) is shown.
        usage.error(_unrecognized(command, unknown))
    _check_global_options(command, ns, usage)
    if command.double_dash == "refused" and command_args:
        usage.error(f"{command.name} runs nothing, so it takes no arguments after '--'")
    if not stdout_ok and command.prints_result(ns):
        print(
            "pylockenv: error: standard output is closed, so there is nowhere to print the "
            "result; run it with stdout open (redirect it to a file or /dev/null).",
            file=sys.stderr,
        )
        return EXIT_PYLOCKENV_FAILED
    try:
        return command.run(Invocation(ns=ns, command_args=tuple(command_args), parser=usage))
    except PylockenvError as exc:
        print(f"pylockenv: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # The disk or the system said no somewhere unforeseen: still a sentence, not a traceback.
        print(f"pylockenv: error: {exc}", file=sys.stderr)
        return EXIT_PYLOCKENV_FAILED
    except KeyboardInterrupt:
        # Ctrl-C outside the part where the signal relay owns the signals.
        print("pylockenv: interrupted", file=sys.stderr)
        return EXIT_SIGNAL_BASE + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
