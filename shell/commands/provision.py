"""`pylockenv provision`: make a command's cached env ready, run nothing, print its path."""

from __future__ import annotations

import argparse

from .base import (
    PROVISIONING_OPTIONS,
    Command,
    Invocation,
    lock_timeout_argument,
    progress_of,
)
from .spec_arguments import add_spec_arguments, spec_from_arguments


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    lock_timeout_argument(parser)


def _provision(invocation: Invocation) -> int:
    from ..plan_files import plan_with_facts
    from ..run_plan import provision

    spec = spec_from_arguments(invocation)
    the_plan, _ = plan_with_facts(spec, uv=invocation.uv, may_download=True)
    path = provision(
        the_plan, progress=progress_of(invocation), lock_timeout=invocation.ns.lock_timeout
    )
    print(path)
    return 0


COMMAND = Command(
    name="provision",
    summary="prepare a command's cached environment without running it; print its path",
    description=(
        "Provision the cached environment of the python_env command in SPEC (or given by "
        "flags), for example to pre-warm a node, and print the environment's path."
    ),
    add_arguments=_add_arguments,
    run=_provision,
    exit_codes=("128+N", "125", "2"),
    options={**PROVISIONING_OPTIONS, "quiet": "print nothing but errors (and the env's path)"},
    double_dash="refused",
    prints_result=lambda ns: True,
)
