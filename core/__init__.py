"""The pure core of pylockenv: a spec and host facts in, an immutable plan out.

Nothing in this package reads the disk, the environment or the clock; every fact
about the machine arrives in a `HostFacts` value gathered by `pylockenv.shell`.
"""

from .errors import PlanError, PylockenvError, PylockError, SpecError
from .facts import FileFact, HostFacts
from .plan import EnvChanges, LocalDep, Plan, RunCommand, UvStep, plan
from .render import render_json, render_shell
from .spec import PythonEnvCommand, Spec, command_from_flags, load_spec

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
