"""The imperative shell of pylockenv: gather facts, plan, execute.

from pylockenv.shell import load, plan, execute
exit_code = execute(plan(load("app.yml", "process")), args=["--verbose"])

The names load on first use (from `shell.api`): the warm path of the
`pylockenv` command imports this package without paying for them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing

if TYPE_CHECKING:
    from typing import Any

    from .api import execute, load, load_app, plan, provision

__all__ = ["execute", "load", "load_app", "plan", "provision"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
