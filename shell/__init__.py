"""The imperative shell of pylockenv: gather facts, plan, execute.

from pylockenv.shell import load, plan, execute
exit_code = execute(plan(load("app.yml", "process")), args=["--verbose"])
"""

from __future__ import annotations

from pylockenv.core.plan import Plan
from pylockenv.core.plan import plan as _core_plan
from pylockenv.core.spec import Spec

from .execute import execute, provision
from .facts import gather_facts
from .specfile import read_spec_file

__all__ = ["execute", "load", "plan", "provision"]


def load(path: str, name: str | None = None) -> Spec:
    """Read the command `name` (or the only one) from a YAML spec file."""
    return read_spec_file(path, name)


def plan(spec: Spec, *, uv: str | None = None) -> Plan:
    """Gather this host's facts and plan `spec` (no side effects).

    Raises a `PylockenvError` subclass with a user-facing message on bad input.
    """
    return _core_plan(spec, gather_facts(spec, uv=uv))
