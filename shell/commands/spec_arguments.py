"""SPEC [NAME], or the same command given by flags: the arguments `run` and `provision`
share, and the Spec they make. (A new spec argument goes here, once for both.)"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pylockenv.core.spec import Spec

    from .base import Invocation

# The flags that give a spec instead of SPEC, each with the keyword of
# `core.spec.command_from_flags` its value goes to (held to both by
# tests/test_cli_arguments.py, and to the warm path's `warm.SPEC_FLAGS`).
FLAG_FIELDS = {
    "--pylock": "pylock",
    "--command": "command",
    "--python-version": "python_version",
    "--local-extra-dep": "local_extra_deps",
    "--env": "env",
    "--prepend-path": "prepend_paths",
    "--refresh": "refresh",
}
FLAGS_GROUP = "a spec given by flags instead of SPEC"


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """--app-version, --app-id and --app-name: an app.yml's version and variables (read
    back by `specfile.app_flags`); `run`, `provision` and `show` take them."""
    app = parser.add_argument_group("an app.yml's version and template variables")
    app.add_argument(
        "--app-version", metavar="V", help="the version to run (needed when SPEC has several)"
    )
    app.add_argument("--app-id", metavar="N", help="the value of ${app.id} (a whole number)")
    app.add_argument("--app-name", metavar="NAME", help="the value of ${app.name}")


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """SPEC, NAME and the flags that give a spec instead of SPEC."""
    from pylockenv.core.planning import DEFAULT_PYTHON_VERSION

    parser.add_argument("spec", nargs="?", metavar="SPEC", help="YAML spec file")
    parser.add_argument("name", nargs="?", metavar="NAME", help="command name in SPEC's commands:")
    add_app_arguments(parser)
    flags = parser.add_argument_group(FLAGS_GROUP)
    flags.add_argument("--pylock", metavar="P", help="the pylock.toml file")
    flags.add_argument("--command", metavar="C", help="what to run, e.g. '-m my_app'")
    flags.add_argument(
        "--python-version",
        metavar="V",
        help=f"e.g. 3.12 (default: {DEFAULT_PYTHON_VERSION}, as the reference's)",
    )
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


def spec_from_arguments(invocation: Invocation) -> Spec:
    """The Spec SPEC [NAME] or the flags give; a usage error for a mix of both."""
    from pylockenv.core.spec import command_from_flags

    from ..specfile import app_flags, read_spec_file

    ns, parser = invocation.ns, invocation.parser
    flag_form = ns.pylock is not None or ns.command is not None
    if ns.spec is not None and flag_form:
        parser.error("give either SPEC [NAME] or --pylock and --command, not both")
    values = {field: getattr(ns, _dest(flag)) for flag, field in FLAG_FIELDS.items()}
    given = [flag for flag, field in FLAG_FIELDS.items() if values[field]]
    if ns.spec is not None and given:
        parser.error(
            f"{' and '.join(given)} describe{'s' if len(given) == 1 else ''} a command given "
            f"by --pylock and --command; with SPEC, write {'it' if len(given) == 1 else 'them'} "
            "in the spec file"
        )
    if ns.spec is not None:
        return read_spec_file(ns.spec, ns.name, app_flags(ns))
    if app_flags(ns) is not None:
        parser.error("--app-version, --app-id and --app-name go with an app.yml given as SPEC")
    if ns.pylock is None or ns.command is None:
        parser.error("give SPEC [NAME], or both --pylock and --command")
    return command_from_flags(**values)


def _dest(flag: str) -> str:
    """The namespace attribute argparse gives `flag`'s value."""
    return flag[2:].replace("-", "_")
