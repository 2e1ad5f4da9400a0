"""The `pylockenv` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pylockenv.core.errors import PylockenvError
from pylockenv.core.render import render_json, render_shell
from pylockenv.core.spec import Spec, command_from_flags

EXIT_USAGE = 2
EXIT_PYLOCKENV_FAILED = 125


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pylockenv",
        description=(
            "Run a command inside a cached Python environment defined by a pylock.toml "
            "(PEP 751) lock file and provisioned with uv."
        ),
    )
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run a python_env command (provisioning its environment if needed)",
        description=(
            "Run the python_env command in SPEC (a YAML file holding one command, or a "
            "'commands:' section picked by NAME), or the command given by --pylock and "
            "--command. Arguments after '--' are appended to the command."
        ),
    )
    run.add_argument("spec", nargs="?", metavar="SPEC", help="YAML spec file")
    run.add_argument("name", nargs="?", metavar="NAME", help="command name in SPEC's commands:")
    run.add_argument(
        "--print-plan",
        action="store_true",
        help="print the plan as a shell script and exit; creates nothing",
    )
    run.add_argument("--json", action="store_true", help="with --print-plan: print JSON")
    flags = run.add_argument_group("a spec given by flags instead of SPEC")
    flags.add_argument("--pylock", metavar="P", help="the pylock.toml file")
    flags.add_argument("--command", metavar="C", help="what to run, e.g. '-m my_app'")
    flags.add_argument("--python-version", metavar="V", help="e.g. 3.11 (default: this Python's)")
    flags.add_argument(
        "--local-extra-dep",
        metavar="W",
        action="append",
        default=[],
        help="a wheel or source tree installed with --no-deps (repeatable)",
    )
    flags.add_argument(
        "--env",
        metavar="K=V",
        action="append",
        default=[],
        help="an environment variable for the command (repeatable)",
    )
    flags.add_argument(
        "--prepend-path",
        metavar="D",
        action="append",
        default=[],
        help="a directory put on PATH after the env's bin/ (repeatable)",
    )
    flags.add_argument(
        "--refresh",
        action="store_true",
        help="use a fresh ephemeral environment, removed after the run",
    )
    from . import cachecmds

    cachecmds.register(commands)
    return parser


def _spec_from_args(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Spec:
    from . import load

    flag_form = ns.pylock is not None or ns.command is not None
    if ns.spec is not None and flag_form:
        parser.error("give either SPEC [NAME] or --pylock and --command, not both")
    if ns.spec is not None:
        return load(ns.spec, ns.name)
    if ns.pylock is None or ns.command is None:
        parser.error("give SPEC [NAME], or both --pylock and --command")
    return command_from_flags(
        pylock=ns.pylock,
        command=ns.command,
        python_version=ns.python_version,
        local_extra_deps=ns.local_extra_dep,
        env=ns.env,
        prepend_paths=ns.prepend_path,
        refresh=ns.refresh,
    )


def _split_extra_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pylockenv` console script; returns the exit code."""
    own, extra = _split_extra_args(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    ns = parser.parse_args(own)
    handler = getattr(ns, "handler", None)
    if handler is not None:
        code: int = handler(ns)
        return code
    from . import execute, plan

    try:
        spec = _spec_from_args(parser, ns)
        the_plan = plan(spec)
        if ns.print_plan:
            sys.stdout.write(render_json(the_plan) if ns.json else render_shell(the_plan))
            return 0
        return execute(the_plan, extra)
    except PylockenvError as exc:
        print(f"pylockenv: error: {exc}", file=sys.stderr)
        return EXIT_PYLOCKENV_FAILED


if __name__ == "__main__":
    sys.exit(main())
