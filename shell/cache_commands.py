"""The cache subcommands (`list`, `show`, `gc`); registered on the CLI's subparsers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from pylockenv.core.cache_display import (
    by_last_use,
    env_to_dict,
    gc_report_to_dict,
    printable,
    render_env_table,
    render_gc_report,
    render_show,
    reuse_words,
    word_reach,
)
from pylockenv.core.duration import DurationError, parse_duration
from pylockenv.core.envstate import EnvObservation, reach_of, reuse_of
from pylockenv.core.gc import GcOutcome, GcPolicy, gc_exit_code, in_view, plan_gc
from pylockenv.core.layout import CacheLayout
from pylockenv.core.plan_format import plan_to_data
from pylockenv.core.provenance import provenance_to_dict
from pylockenv.core.render import render_shell

from .cache import apply_gc, dry_run_gc, find_env, observe_env, scan_cache, this_cache
from .errors import (
    EXIT_CACHE_FAILED,
    NotAnEnvNameError,
)
from .facts import file_record
from .provenance import staleness_warnings

DEFAULT_OLDER_THAN = "30d"
ALL_HOSTS = "all"


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def _host_filter(ns: argparse.Namespace, this_host: str) -> str | None:
    """The host `--host` names: None for every host."""
    host: str | None = ns.host
    if host is None:
        host = ns.default_host if ns.default_host != "this" else this_host
    return None if host == ALL_HOSTS else host


def run_list(ns: argparse.Namespace) -> int:
    """`pylockenv list`: one row (or JSON object) per env on disk, most recently used first."""
    cache, this_host = this_cache()
    found, others = scan_cache(cache, sizes=not ns.no_size)
    host = _host_filter(ns, this_host)
    envs = by_last_use(env for env in found if in_view(env, host=host, this_host=this_host))
    if ns.json:
        listing: dict[str, Any] = {
            "cache_root": cache.root,
            "host": this_host,
            "envs": [env_to_dict(env, this_host=this_host) for env in envs],
        }
        if ns.verbose:
            listing["not_envs"] = others
        _print_json(listing)
    else:
        sys.stdout.write(
            render_env_table(
                envs,
                now=time.time(),
                cache_root=cache.root,
                this_host=this_host,
                others=others if ns.verbose else (),
            )
        )
    return 0


def _no_env(cache: CacheLayout, name: str) -> int:
    print(
        f"pylockenv: error: no environment {printable(name)} in {printable(cache.root)}; "
        "'pylockenv list' names the environments there.",
        file=sys.stderr,
    )
    return EXIT_CACHE_FAILED


def run_show(ns: argparse.Namespace) -> int:
    """`pylockenv show HASH` or `show --spec SPEC [NAME]`: provenance, state and the plan."""
    cache, this_host = this_cache()
    names_env = cache.env_named(ns.target) is not None
    if names_env and not ns.spec:
        if ns.name is not None:
            raise NotAnEnvNameError(
                f"show {printable(ns.target)} names an environment, which takes no NAME; to "
                "show a command of a spec file with that name, give --spec."
            )
        env = find_env(cache, ns.target)
        if env is None:
            return _no_env(cache, ns.target)
        return _show_env(env, this_host=this_host, as_json=ns.json)
    return _show_spec(ns.target, ns.name, this_host=this_host, as_json=ns.json)


def _show_env(env: EnvObservation, *, this_host: str, as_json: bool) -> int:
    pylock = file_record(env.pylock) if env.pylock is not None else None
    reach = reach_of(
        env, this_host=this_host, pylock_mtime=None if pylock is None else pylock["mtime"]
    )
    if as_json:
        provenance = env.provenance
        _print_json(
            {
                "env": env_to_dict(env, this_host=this_host),
                "provenance": None if provenance is None else provenance_to_dict(provenance),
                "reachable": reach,
            }
        )
    else:
        sys.stdout.write(
            render_show(
                env,
                this_host=this_host,
                verdict=(
                    "reused by its spec's next run",
                    word_reach(reach, env, this_host=this_host),
                ),
            )
        )
    return 0


def _show_spec(path: str, name: str | None, *, this_host: str, as_json: bool) -> int:
    from .plan_files import plan_with_facts
    from .specfile import read_spec_file

    the_plan, _ = plan_with_facts(read_spec_file(path, name))
    env = None
    if the_plan.mode == "cached":
        found = observe_env(the_plan.env, sizes=True)
        env = found if found.entry == "directory" or os.path.lexists(the_plan.env_path) else None
    reuse = reuse_of(the_plan.mode, env, this_host=this_host)
    warnings = staleness_warnings(the_plan, env.marker) if env is not None else []
    if as_json:
        provenance = None if env is None else env.provenance
        _print_json(
            {
                "env": None if env is None else env_to_dict(env, this_host=this_host),
                "provenance": None if provenance is None else provenance_to_dict(provenance),
                "would_be_reused": reuse,
                "warnings": warnings,
                "plan": plan_to_data(the_plan),
            }
        )
    else:
        sys.stdout.write(
            render_show(
                env,
                this_host=this_host,
                verdict=("would be reused", reuse_words(reuse)),
                warnings=warnings,
                plan_text=render_shell(the_plan),
            )
        )
    return 0


def run_gc(ns: argparse.Namespace) -> int:
    """`pylockenv gc`: remove unused, partial, broken and orphaned envs; skip busy ones."""
    cache, this_host = this_cache()
    only = frozenset(ns.envs) if ns.envs else None
    if only is not None:
        for name in sorted(only):
            if cache.env_named(name) is None:
                raise NotAnEnvNameError(
                    f"{printable(name)!r} is not the name of an environment (16 hex digits, or "
                    "env_... for an ephemeral one); 'pylockenv list' names them."
                )
    policy = GcPolicy(
        now=time.time(),
        older_than=ns.older_than,
        this_host=this_host,
        host=_host_filter(ns, this_host),
        only=only,
    )
    envs, _ = scan_cache(cache, sizes=False)
    if only is not None:
        unknown = sorted(only - {env.name for env in envs})
        if unknown:
            return _no_env(cache, ", ".join(unknown))
    gc_plan = plan_gc(envs, policy)
    if ns.dry_run:
        outcomes = dry_run_gc(gc_plan)
    else:
        outcomes = apply_gc(cache, gc_plan, on_outcome=_progress_line(ns))
    if ns.json:
        _print_json(gc_report_to_dict(gc_plan, outcomes, cache_root=cache.root, dry_run=ns.dry_run))
    else:
        sys.stdout.write(render_gc_report(gc_plan, outcomes, dry_run=ns.dry_run))
    return gc_exit_code(outcomes)


def _progress_line(ns: argparse.Namespace) -> Callable[[GcOutcome], None]:
    """With -v, one line on stderr per env as gc finishes with it (a large gc takes a while)."""

    def report(outcome: GcOutcome) -> None:
        if ns.verbose:
            print(
                f"pylockenv: gc: {outcome.result} {printable(outcome.entry.env.name)}",
                file=sys.stderr,
            )

    return report


def _host_argument(parser: argparse.ArgumentParser, *, default: str) -> None:
    shown = "this host" if default == "this" else default
    parser.add_argument(
        "--host",
        metavar="NAME|all",
        help=(
            "only the envs made on host NAME, or 'all' hosts sharing this cache "
            f"(default: {shown}); an env whose host is unknown counts as this host's"
        ),
    )
    parser.set_defaults(default_host=default)


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the cache subcommands, each setting `handler` to a function of the namespace."""
    listing = subcommands.add_parser(
        "list",
        help="list the cached and ephemeral environments on disk",
        description=(
            "One row per environment in the cache, most recently used first: its hash, "
            "state, host, Python version, size on disk, creation and last use, and pylock."
        ),
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument(
        "--no-size", action="store_true", help="skip measuring sizes (fast on a large cache)"
    )
    listing.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list the entries of the cache that are not environments",
    )
    _host_argument(listing, default=ALL_HOSTS)
    listing.set_defaults(usage_parser=listing, handler=run_list)

    show = subcommands.add_parser(
        "show",
        help="show one environment: provenance, state, and the plan that would run",
        description=(
            "Show the environment HASH (as 'pylockenv list' names it), or the one the "
            "command in SPEC [NAME] uses: its provenance, whether the next run reuses it, "
            "and the plan that would run now. The argument's form decides which: an env's "
            "name is never read as a file (give --spec for that)."
        ),
    )
    show.add_argument(
        "target",
        metavar="HASH|SPEC",
        help=(
            "an env as 'pylockenv list' names it (16 hex digits, or env_...); anything else "
            "is read as a YAML spec file"
        ),
    )
    show.add_argument("name", nargs="?", metavar="NAME", help="command name in SPEC's commands:")
    show.add_argument(
        "--spec",
        action="store_true",
        help="read HASH|SPEC as a spec file even when it looks like an env's name",
    )
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(usage_parser=show, handler=run_show)

    gc = subcommands.add_parser(
        "gc",
        help="remove unused, partial, broken and orphaned environments",
        description=(
            "Remove cached environments not used for longer than --older-than, partial "
            "ones nobody is provisioning, broken ones, and orphaned ephemeral ones. An "
            "environment being provisioned or used by a running command is skipped with a "
            "note. With HASH arguments, remove exactly those environments. Exit status: 0 "
            "when everything due was removed, 1 when a removal failed (the others still "
            "went on), 3 when an env due was skipped because it is in use or provisioning."
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
    gc.add_argument(
        "-v", "--verbose", action="store_true", help="one line on stderr per env as gc goes"
    )
    _host_argument(gc, default="this")
    gc.set_defaults(usage_parser=gc, handler=run_gc)
