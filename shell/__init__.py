"""The imperative shell of pylockenv: gather facts, plan, execute. The Python API:

from pylockenv.shell import load, plan, execute
exit_code = execute(plan(load("app.yml", "process")), args=["--verbose"])

`load` reads a spec file, `load_app` an app runner's app.yml with its version and
template variables (`shell.specfile`); `plan` gathers this host's facts and plans
(`shell.plan_files`); `execute` and `provision` carry a plan out (`shell.run_plan`).
The names load on first use: the warm path of the `pylockenv` command imports this
package without paying for them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing

if TYPE_CHECKING:
    from typing import Any

    from .plan_files import plan
    from .run_plan import execute, provision
    from .specfile import load, load_app

__all__ = ["execute", "load", "load_app", "plan", "provision"]
# Where each public name is defined.
_HOMES = {
    "execute": "run_plan",
    "load": "specfile",
    "load_app": "specfile",
    "plan": "plan_files",
    "provision": "run_plan",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{home}"), name)
