"""The pure core of pylockenv: a spec and host facts in, an immutable plan out.

Nothing in this package reads the disk, the environment or the clock; every fact
about the machine arrives in a `HostFacts` value gathered by `pylockenv.shell`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.1.0"

from .errors import PlanError, PylockenvError, PylockError, SpecError
from .facts import FileFact, HostFacts
from .plan import EnvChanges, LocalDep, Plan, RunCommand, UvStep, plan
from .spec import PythonEnvCommand, Spec, command_from_flags, load_spec

if TYPE_CHECKING:
    from .render import render_json, render_shell

__all__ = [
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
    "load_spec",
    "plan",
    "render_json",
    "render_shell",
]


def __getattr__(name: str) -> Any:
    # The renderers load on first use: a run that prints no plan does not pay for them.
    if name in ("render_json", "render_shell"):
        from . import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
