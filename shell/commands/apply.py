"""`pylockenv apply`: run a saved plan file, once every fact it was made from holds."""

from __future__ import annotations

import argparse

from .base import PROVISIONING_OPTIONS, Command, Invocation, lock_timeout_argument
from .run import RUNS_EXIT_CODES, carry_out


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", metavar="PLAN", help="a plan file (JSON)")
    lock_timeout_argument(parser)


def _apply(invocation: Invocation) -> int:
    from ..plan_files import load_plan_file, store_applied_plan

    plan_file = invocation.ns.plan_file
    the_plan, document, recorded = load_plan_file(plan_file)

    def keep_for_warm_runs() -> None:
        store_applied_plan(the_plan, document, recorded, plan_file)

    return carry_out(the_plan, invocation, keep_for_warm_runs)


COMMAND = Command(
    name="apply",
    summary="run a saved plan (made by 'run ... --print-plan --json'), if it is still fresh",
    description=(
        "Run the plan saved in PLAN by 'pylockenv run SPEC [NAME] --print-plan --json > "
        "PLAN', with the arguments after '--' appended to its command. Before anything "
        "runs, every fact the plan was made from (host name, home, working directory "
        "for a spec given by flags, "
        "XDG_CACHE_HOME, PATH, this Python's version, the uv executable, the stat of "
        "the pylock and every local extra) is checked again; a stale plan is refused "
        "with what changed."
    ),
    add_arguments=_add_arguments,
    run=_apply,
    exit_codes=RUNS_EXIT_CODES,
    # No --uv: the plan names its uv, which --uv would only contradict.
    options={name: PROVISIONING_OPTIONS[name] for name in ("quiet", "verbose")},
    double_dash="command arguments",
    prints_result=lambda ns: False,
)
