"""`pylockenv run`: provision the command's env if needed, then run the command in it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..facts import absolute
from .base import (
    PROVISIONING_OPTIONS,
    Command,
    Invocation,
    lock_timeout_argument,
    progress_of,
)
from .spec_arguments import add_spec_arguments, spec_from_arguments

if TYPE_CHECKING:
    from collections.abc import Callable

    from pylockenv.core.planning import Plan


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser)
    lock_timeout_argument(parser)
    parser.add_argument(
        "--print-plan",
        action="store_true",
        help="print the plan as a shell script and exit; creates nothing",
    )
    parser.add_argument("--json", action="store_true", help="with --print-plan: print JSON")


def warn_of_shell_syntax(plan: Plan, invocation: Invocation) -> None:
    """Say once (unless -q) that the command's shell syntax reaches the program as words
    (the plan's warning, which the warm path says too)."""
    warning = plan.run.shell_syntax_warning
    if warning is not None and not invocation.quiet:
        print(f"pylockenv: warning: {warning}", file=sys.stderr)


def _run(invocation: Invocation) -> int:
    from ..plan_files import plan_document, plan_with_facts, store_plan
    from ..warm import given_flags

    ns = invocation.ns
    if ns.json and not ns.print_plan:
        invocation.parser.error("--json goes with --print-plan")
    spec = spec_from_arguments(invocation)
    spec_path = None if ns.spec is None else absolute(ns.spec)
    the_plan, facts = plan_with_facts(
        spec, uv=invocation.uv, spec_path=spec_path, name=ns.name, may_download=not ns.print_plan
    )
    if ns.print_plan:
        warn_of_shell_syntax(the_plan, invocation)
        from pylockenv.core.render import render_shell

        if ns.json:
            sys.stdout.write(plan_document(the_plan, facts))
        else:
            sys.stdout.write(render_shell(the_plan))
        return 0

    def keep_for_warm_runs() -> None:
        # Named by the whole command line the warm path reads: SPEC and NAME, or none, and
        # every spec flag with its value (--app-* included, which pick another version).
        given = given_flags("run", ns)
        store_plan(the_plan, facts, spec_path=spec_path, name=ns.name, given=given)

    return carry_out(the_plan, invocation, keep_for_warm_runs)


def carry_out(plan: Plan, invocation: Invocation, keep_for_warm_runs: Callable[[], None]) -> int:
    """Run `plan` with the invocation's arguments after `--` (run and apply): provision its
    env if needed, keep the plan for warm runs once the env is ready, then hand the process
    over to the command. Returns only by raising."""
    from pylockenv.core.plan_format import plan_is_kept

    from ..run_plan import exec_plan
    from ..warm import release_plan_lock

    if not plan_is_kept(plan.mode):
        release_plan_lock()  # no plan will be kept: the runs waiting for one need not wait
    warn_of_shell_syntax(plan, invocation)
    return exec_plan(
        plan,
        list(invocation.command_args),
        progress=progress_of(invocation),
        lock_timeout=invocation.ns.lock_timeout,
        when_ready=keep_for_warm_runs,
    )


# The exit paths of a subcommand that runs the command (run, apply).
RUNS_EXIT_CODES = ("N", "128+N", "125", "126", "127", "2")

COMMAND = Command(
    name="run",
    summary="run a python_env command (provisioning its environment if needed)",
    description=(
        "Run the python_env command in SPEC (a YAML file holding one command, or a "
        "'commands:' section picked by NAME), or the command given by --pylock and "
        "--command. Arguments after '--' are appended to the command."
    ),
    add_arguments=_add_arguments,
    run=_run,
    exit_codes=RUNS_EXIT_CODES,
    options=PROVISIONING_OPTIONS,
    double_dash="command arguments",
    prints_result=lambda ns: bool(ns.print_plan),
)
