"""The Python API: read a spec, plan it on this host, then `execute` or `provision` it.

from pylockenv.shell import load, plan, execute
exit_code = execute(plan(load("app.yml", "process")), args=["--verbose"])
"""

from __future__ import annotations

from pylockenv.core.planning import Plan
from pylockenv.core.spec import Spec

from .plan_files import plan_with_facts
from .run_plan import execute, provision
from .specfile import read_spec_file

__all__ = ["execute", "load", "plan", "provision"]


def load(path: str, name: str | None = None) -> Spec:
    """Read the command `name` (or the only one) from a YAML spec file."""
    return read_spec_file(path, name)


def plan(spec: Spec, *, uv: str | None = None) -> Plan:
    """Gather this host's facts and plan `spec` (no side effects).

    Raises a `PylockenvError` subclass with a user-facing message on bad input.
    """
    the_plan, _ = plan_with_facts(spec, uv=uv)
    return the_plan
