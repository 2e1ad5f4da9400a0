"""The pure core of pylockenv: a spec and host facts in, an immutable plan out.

Nothing in this package reads the disk, the environment or the clock; every fact
about the machine arrives in a `HostFacts` value gathered by `pylockenv.shell`.
"""

from __future__ import annotations

# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.1.0"

from .errors import PlanError, PylockenvError, PylockError, SpecError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing

if TYPE_CHECKING:
    from typing import Any

    from .appspec import AppVariables, load_app_spec
    from .facts import FileFact, HostFacts
    from .planning import EnvChanges, LocalDep, Plan, RunCommand, UvStep, plan
    from .render import render_json, render_shell
    from .spec import PythonEnvCommand, Spec, command_from_flags, load_spec

# Where each public name lives; they load on first use, so that the warm path of the
# `pylockenv` command (which reads only `core.layout`, `core.made_from`,
# `core.plan_format` and `core.plan_rules`) loads no attrs.
_HOMES = {
    "AppVariables": "appspec",
    "load_app_spec": "appspec",
    "FileFact": "facts",
    "HostFacts": "facts",
    "EnvChanges": "planning",
    "LocalDep": "planning",
    "Plan": "planning",
    "RunCommand": "planning",
    "UvStep": "planning",
    "plan": "planning",
    "render_json": "render",
    "render_shell": "render",
    "PythonEnvCommand": "spec",
    "Spec": "spec",
    "command_from_flags": "spec",
    "load_spec": "spec",
}

__all__ = [
    "AppVariables",
    "EnvChanges",
    "FileFact",
    "HostFacts",
    "LocalDep",
    "Plan",
    "PlanError",
    "PylockError",
    "PylockenvError",
    "PythonEnvCommand",
    "RunCommand",
    "Spec",
    "SpecError",
    "UvStep",
    "command_from_flags",
    "load_app_spec",
    "load_spec",
    "plan",
    "render_json",
    "render_shell",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home == "appspec":
        from . import appspec

        return getattr(appspec, name)
    if home == "facts":
        from . import facts

        return getattr(facts, name)
    if home == "planning":
        from . import planning

        return getattr(planning, name)
    if home == "render":
        from . import render

        return getattr(render, name)
    if home == "spec":
        from . import spec

        return getattr(spec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
