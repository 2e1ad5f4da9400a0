"""`pylockenv gc`: remove unused, partial, broken and orphaned envs; skip busy ones."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pylockenv.core.errors import DurationError
from pylockenv.core.gc import parse_duration

from .base import Command, Invocation
from .cache_options import env_names_like, host_argument, host_filter, no_env_error, print_json

if TYPE_CHECKING:
    from pylockenv.core.gc import GcOutcome

DEFAULT_OLDER_THAN = "30d"


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("envs", nargs="*", metavar="HASH", help="remove only these environments")
    parser.add_argument(
        "--older-than",
        type=_duration,
        default=parse_duration(DEFAULT_OLDER_THAN),
        metavar="AGE",
        help=f"remove ready envs unused this long, e.g. 12h or 0s (default {DEFAULT_OLDER_THAN})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would go; remove nothing"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    host_argument(parser, default="this")


def _gc(invocation: Invocation) -> int:
    from pylockenv.core.cache_display import gc_report_to_dict, printable, render_gc_report
    from pylockenv.core.gc import GcPolicy, gc_exit_code, plan_gc

    from ..cache import apply_gc, dry_run_gc, scan_cache, this_cache
    from ..errors import NotAnEnvNameError

    ns = invocation.ns
    cache, this_host = this_cache()
    only = frozenset(ns.envs) if ns.envs else None
    if only is not None:
        for name in sorted(only):
            if cache.env_named(name) is None:
                names = [env.name for env in scan_cache(cache, sizes=False)[0]]
                raise NotAnEnvNameError(
                    f"{printable(name)!r}{env_names_like(name, names)} is not the name of an "
                    "environment (16 hex digits, or env_... for an ephemeral one); "
                    "'pylockenv list' names them."
                )
    envs, _ = scan_cache(cache, sizes=False)
    names = [env.name for env in envs]
    if only is not None:
        unknown = sorted(only - set(names))
        if unknown:
            return no_env_error(cache.root, unknown, names)
    policy = GcPolicy(
        now=time.time(),
        older_than=ns.older_than,
        this_host=this_host,
        host=host_filter(ns, this_host),
        only=only,
    )
    gc_plan = plan_gc(envs, policy)
    if ns.dry_run:
        outcomes = dry_run_gc(gc_plan)
    else:
        outcomes = apply_gc(cache, gc_plan, on_outcome=_progress_line(invocation))
    if ns.json:
        print_json(gc_report_to_dict(gc_plan, outcomes, cache_root=cache.root, dry_run=ns.dry_run))
    else:
        sys.stdout.write(render_gc_report(gc_plan, outcomes, dry_run=ns.dry_run))
    return gc_exit_code(outcomes)


def _progress_line(invocation: Invocation) -> Callable[[GcOutcome], None]:
    """With -v, one line on stderr per env as gc finishes with it (a large gc takes a while)."""
    from pylockenv.core.cache_display import printable

    def report(outcome: GcOutcome) -> None:
        if invocation.verbose:
            print(
                f"pylockenv: gc: {outcome.result} {printable(outcome.entry.env.name)}",
                file=sys.stderr,
            )

    return report


COMMAND = Command(
    name="gc",
    summary="remove unused, partial, broken and orphaned environments",
    description=(
        "Remove cached environments not used for longer than --older-than, partial "
        "ones nobody is provisioning, broken ones, and orphaned ephemeral ones. An "
        "environment being provisioned or used by a running command is skipped with a "
        "note. With HASH arguments, remove exactly those environments (whole names: a "
        "short hash is not taken, but the envs it may mean are suggested). Exit status: 0 "
        "when everything due was removed, 1 when a removal failed (the others still "
        "went on), 3 when an env due was skipped because it is in use or provisioning."
    ),
    add_arguments=_add_arguments,
    run=_gc,
    exit_codes=("1", "3", "125", "2"),
    options={"verbose": "one line on stderr per env as gc goes"},
    double_dash="parsed",
    prints_result=lambda ns: True,
)
