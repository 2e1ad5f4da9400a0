"""The cache subcommands (`list`, `show`, `gc`); registered on the CLI's subparsers."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from pylockenv.core.cacheview import (
    by_last_use,
    env_to_dict,
    gc_report_to_dict,
    render_env_table,
    render_gc_report,
    render_show,
)
from pylockenv.core.duration import DurationError, parse_duration
from pylockenv.core.envstate import EnvObservation, reachability, reuse_verdict
from pylockenv.core.errors import PylockenvError, SpecError
from pylockenv.core.gc import GcDecision, GcPolicy, gc_decision
from pylockenv.core.render import plan_to_dict, render_shell

from .cache import cache_root, collect, find_env, observe_env, scan_cache
from .errors import EXIT_PYLOCKENV_FAILED, EXIT_SIGNAL_BASE
from .facts import gather_host_facts, stat_path
from .provenance import staleness_warnings

EXIT_FAILED = 1
DEFAULT_OLDER_THAN = "30d"
Handler = Callable[[argparse.Namespace], int]
_HASH = re.compile(r"[0-9a-f]{16}|env_[0-9a-zA-Z_]+")


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


def _reporting_errors(handler: Handler) -> Handler:
    """`handler`, with a PylockenvError or OSError printed as one line and exit code 125."""

    def run(ns: argparse.Namespace) -> int:
        try:
            return handler(ns)
        except (PylockenvError, OSError) as exc:
            # An OSError here is the disk saying no (a cache we may not read, say): a sentence too.
            print(f"pylockenv: error: {exc}", file=sys.stderr)
            return EXIT_PYLOCKENV_FAILED
        except KeyboardInterrupt:
            print("pylockenv: interrupted", file=sys.stderr)
            return EXIT_SIGNAL_BASE + signal.SIGINT

    return run


def run_list(ns: argparse.Namespace) -> int:
    """`pylockenv list`: one row (or JSON object) per env on disk, most recently used first."""
    root = cache_root()
    envs = by_last_use(scan_cache(root, sizes=not ns.no_size))
    if ns.json:
        _print_json({"cache_root": root, "envs": [env_to_dict(env) for env in envs]})
    else:
        sys.stdout.write(render_env_table(envs, now=time.time(), cache_root=root))
    return 0


def run_show(ns: argparse.Namespace) -> int:
    """`pylockenv show HASH` or `show SPEC [NAME]`: provenance, state and the plan."""
    root = cache_root()
    if ns.name is None and _HASH.fullmatch(ns.target) and not os.path.exists(ns.target):
        env = find_env(root, ns.target)
        if env is None:
            print(f"pylockenv: error: no environment {ns.target} in {root}", file=sys.stderr)
            return EXIT_FAILED
        pylock = stat_path(env.pylock) if env.pylock is not None else None
        verdict = reachability(
            env,
            hostname=gather_host_facts().hostname,
            pylock_mtime=None if pylock is None else pylock.mtime,
        )
        if ns.json:
            _print_json({"env": env_to_dict(env), "provenance": env.marker, "reachable": verdict})
        else:
            sys.stdout.write(render_show(env, verdict=("reused by its spec's next run", verdict)))
        return 0
    if not os.path.exists(ns.target):
        raise SpecError(
            f"{ns.target!r} is neither a spec file nor the hash of an environment in {root}; "
            "'pylockenv list' shows the hashes (16 hex digits, or env_... for an ephemeral env)."
        )
    from . import load, plan

    the_plan = plan(load(ns.target, ns.name))
    on_disk = os.path.isdir(the_plan.env_path) and the_plan.mode == "cached"
    env = observe_env(the_plan.env_path, "cached", sizes=True) if on_disk else None
    verdict = reuse_verdict(the_plan.mode, env)
    warnings = staleness_warnings(the_plan) if env is not None else []
    if ns.json:
        _print_json(
            {
                "env": None if env is None else env_to_dict(env),
                "provenance": None if env is None else env.marker,
                "would_be_reused": verdict,
                "warnings": warnings,
                "plan": plan_to_dict(the_plan),
            }
        )
    else:
        sys.stdout.write(
            render_show(
                env,
                verdict=("would be reused", verdict),
                warnings=warnings,
                plan_text=render_shell(the_plan),
            )
        )
    return 0


def run_gc(ns: argparse.Namespace) -> int:
    """`pylockenv gc`: remove unused, partial, broken and orphaned envs; skip busy ones."""
    root = cache_root()
    only = frozenset(ns.envs) if ns.envs else None
    policy = GcPolicy(now=time.time(), older_than=ns.older_than, only=only)
    envs = scan_cache(root, sizes=False)
    if only is not None:
        unknown = sorted(only - {env.name for env in envs})
        if unknown:
            print(
                f"pylockenv: error: no environment {', '.join(unknown)} in {root}", file=sys.stderr
            )
            return EXIT_FAILED
    outcomes: list[tuple[GcDecision, EnvObservation]] = []
    kept = 0
    for env in sorted(envs, key=lambda env: env.name):
        decision = gc_decision(env, policy)
        if decision.action == "keep":
            kept += 1
        elif decision.action == "skip":
            outcomes.append((decision, env))
        elif ns.dry_run:
            outcomes.append((decision, observe_env(env.path, env.kind, sizes=True)))
        else:
            outcomes.append(collect(env, policy))
    kept += sum(1 for decision, _ in outcomes if decision.action == "keep")
    outcomes = [outcome for outcome in outcomes if outcome[0].action != "keep"]
    if ns.json:
        _print_json(gc_report_to_dict(outcomes, cache_root=root, dry_run=ns.dry_run, kept=kept))
    else:
        sys.stdout.write(render_gc_report(outcomes, dry_run=ns.dry_run, kept=kept))
    return EXIT_FAILED if any(decision.action == "failed" for decision, _ in outcomes) else 0


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the cache subcommands, each setting `handler` to a function of the namespace."""
    listing = subcommands.add_parser(
        "list",
        help="list the cached and ephemeral environments on disk",
        description=(
            "One row per environment in the cache, most recently used first: its hash, "
            "state, Python version, size on disk, creation and last use, and pylock."
        ),
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument(
        "--no-size", action="store_true", help="skip measuring sizes (fast on a large cache)"
    )
    listing.set_defaults(handler=_reporting_errors(run_list))

    show = subcommands.add_parser(
        "show",
        help="show one environment: provenance, state, and the plan that would run",
        description=(
            "Show the environment HASH (as 'pylockenv list' names it), or the one the "
            "command in SPEC [NAME] uses: its provenance, whether the next run reuses "
            "it, and the plan that would run now."
        ),
    )
    show.add_argument("target", metavar="HASH|SPEC", help="an env hash or a YAML spec file")
    show.add_argument("name", nargs="?", metavar="NAME", help="command name in SPEC's commands:")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=_reporting_errors(run_show))

    gc = subcommands.add_parser(
        "gc",
        help="remove unused, partial, broken and orphaned environments",
        description=(
            "Remove cached environments not used for longer than --older-than, partial "
            "ones nobody is provisioning, broken ones, and orphaned ephemeral ones. An "
            "environment being provisioned or used by a running command is skipped with a "
            "note. With HASH arguments, remove exactly those environments."
        ),
    )
    gc.add_argument("envs", nargs="*", metavar="HASH", help="remove only these environments")
    gc.add_argument(
        "--older-than",
        type=_duration,
        default=parse_duration(DEFAULT_OLDER_THAN),
        metavar="AGE",
        help=f"remove ready envs unused this long, e.g. 12h or 0s (default {DEFAULT_OLDER_THAN})",
    )
    gc.add_argument("--dry-run", action="store_true", help="print what would go; remove nothing")
    gc.add_argument("--json", action="store_true", help="print JSON")
    gc.set_defaults(handler=_reporting_errors(run_gc))
