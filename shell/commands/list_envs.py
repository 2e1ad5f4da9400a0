"""`pylockenv list`: one row (or JSON object) per env on disk, most recently used first."""

from __future__ import annotations

import argparse
import time
from typing import Any

from .base import Command, Invocation
from .cache_options import ALL_HOSTS, host_argument, host_filter, print_json


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--no-size", action="store_true", help="skip measuring sizes (fast on a large cache)"
    )
    host_argument(parser, default=ALL_HOSTS)


def _list(invocation: Invocation) -> int:
    import sys

    from pylockenv.core.cache_display import by_last_use, env_to_dict, render_env_table
    from pylockenv.core.gc import in_view

    from ..cache import scan_cache, this_cache

    ns = invocation.ns
    cache, this_host = this_cache()
    found, others = scan_cache(cache, sizes=not ns.no_size)
    host = host_filter(ns, this_host)
    envs = by_last_use(env for env in found if in_view(env, host=host, this_host=this_host))
    if ns.json:
        listing: dict[str, Any] = {
            "cache_root": cache.root,
            "host": this_host,
            "envs": [env_to_dict(env, this_host=this_host) for env in envs],
        }
        if invocation.verbose:
            listing["not_envs"] = others
        print_json(listing)
    else:
        sys.stdout.write(
            render_env_table(
                envs,
                now=time.time(),
                cache_root=cache.root,
                this_host=this_host,
                others=others if invocation.verbose else (),
            )
        )
    return 0


COMMAND = Command(
    name="list",
    summary="list the cached and ephemeral environments on disk",
    description=(
        "One row per environment in the cache, most recently used first: its hash, "
        "state, host, Python version, size on disk, creation and last use, and pylock."
    ),
    add_arguments=_add_arguments,
    run=_list,
    exit_codes=("125", "2"),
    options={"verbose": "also list the entries of the cache that are not environments"},
    double_dash="parsed",
    prints_result=lambda ns: True,
)
