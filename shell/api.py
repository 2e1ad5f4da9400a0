"""The Python API: read a spec, plan it on this host, then `execute` or `provision` it.

from pylockenv.shell import load, plan, execute
exit_code = execute(plan(load("spec.yml", "process")), args=["--verbose"])

`load_app` reads an app runner's app.yml with its version and template variables.
"""

from __future__ import annotations

from pylockenv.core.appspec import AppVariables
from pylockenv.core.planning import Plan
from pylockenv.core.spec import Spec

from .plan_files import plan_with_facts
from .run_plan import execute, provision
from .specfile import read_spec_file

__all__ = ["execute", "load", "load_app", "plan", "provision"]


def load(path: str, name: str | None = None) -> Spec:
    """Read the command `name` (or the only one) from a YAML spec file."""
    return read_spec_file(path, name)


def load_app(
    path: str,
    name: str | None = None,
    *,
    version: str | None = None,
    app_id: str | int | None = None,
    app_name: str | None = None,
) -> Spec:
    """Read the python_env command `name` (or the only one) of an app runner's app.yml:
    of `version` (needed when the file defines several), with `app_id` and `app_name`
    as the values of `${app.id}` and `${app.name}`. Raises SpecError as `load` does."""
    variables = AppVariables(
        version=version,
        app_id=None if app_id is None else str(app_id),
        app_name=app_name,
    )
    return read_spec_file(path, name, variables)


def plan(spec: Spec, *, uv: str | None = None) -> Plan:
    """Gather this host's facts and plan `spec` (no side effects).

    Raises a `PylockenvError` subclass with a user-facing message on bad input.
    """
    the_plan, _ = plan_with_facts(spec, uv=uv)
    return the_plan
