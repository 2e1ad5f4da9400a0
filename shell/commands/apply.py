"""`pylockenv apply`: run a saved plan file, once every fact it was made from holds."""

from __future__ import annotations

import argparse

from .base import Command, Invocation, lock_timeout_argument, progress_of


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_file", metavar="PLAN", help="a plan file (JSON)")
    lock_timeout_argument(parser)


def _apply(invocation: Invocation) -> int:
    from pylockenv.core.plan_format import plan_is_kept

    from ..plan_files import load_plan_file, store_applied_plan
    from ..run_plan import exec_plan
    from ..warm import release_plan_lock
    from .run import warn_of_shell_syntax

    plan_file = invocation.ns.plan_file
    the_plan, document, recorded = load_plan_file(plan_file)
    if not plan_is_kept(the_plan.mode):
        release_plan_lock()  # no plan will be kept: the runs waiting for one need not wait
    warn_of_shell_syntax(the_plan, invocation)

    def keep_for_warm_runs() -> None:
        store_applied_plan(the_plan, document, recorded, plan_file)

    return exec_plan(
        the_plan,
        list(invocation.command_args),
        progress=progress_of(invocation),
        lock_timeout=invocation.ns.lock_timeout,
        when_ready=keep_for_warm_runs,
    )


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
    exit_codes=("N", "128+N", "125", "126", "127", "2"),
    # No --uv: the plan names its uv, which --uv would only contradict.
    options={
        "quiet": "print nothing but errors",
        "verbose": "show uv's full output while provisioning",
    },
    double_dash="command arguments",
    prints_result=lambda ns: False,
)
