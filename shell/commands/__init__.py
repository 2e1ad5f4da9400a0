"""The subcommands of `pylockenv`, one module each, registered here once.

A new subcommand is a module of this package that defines `COMMAND` (a
`base.Command`, checked when it is made) and one line in `register(...)` below;
`shell.cli` builds its parser, help, usage and dispatch from the registry alone.
`tests/test_cli_arguments.py` fails when a module defines a COMMAND that is not
registered. The warm path (`shell.warm`) reads its own small table of the forms it
can take without loading this package; the same test holds that table to the
registry.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import apply, gc, list_envs, provision, run, show
from .base import Command, IncompleteCommandError


def register(*commands: Command) -> Mapping[str, Command]:
    """The registry: each command by name, in the order `--help` lists them."""
    registry: dict[str, Command] = {}
    for command in commands:
        if not isinstance(command, Command):
            raise IncompleteCommandError(f"not a Command: {command!r}")
        if command.name in registry:
            raise IncompleteCommandError(f"two subcommands are named {command.name!r}")
        registry[command.name] = command
    return registry


COMMANDS = register(
    run.COMMAND,
    provision.COMMAND,
    apply.COMMAND,
    list_envs.COMMAND,
    show.COMMAND,
    gc.COMMAND,
)
