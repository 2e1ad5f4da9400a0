"""`pylockenv show HASH` or `show SPEC [NAME]`: one env's provenance, state and plan."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import TYPE_CHECKING

from .base import Command, Invocation
from .cache_options import env_names_like, no_env_error, print_json
from .spec_arguments import add_app_arguments

if TYPE_CHECKING:
    from pylockenv.core.appspec import AppVariables
    from pylockenv.core.envstate import EnvObservation

# A word that can only be (part of) an env's name: a short hash, say. Neither a spec
# file (when no file has that name) nor a name to read as one.
_ENV_NAME_LIKE = re.compile(r"[0-9a-f]{4,16}|env_[0-9A-Za-z_]*")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="HASH|SPEC",
        help=(
            "an env as 'pylockenv list' names it (16 hex digits, or env_...); anything else "
            "is read as a YAML spec file"
        ),
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="command name in SPEC's commands:")
    parser.add_argument(
        "--spec",
        action="store_true",
        help="read HASH|SPEC as a spec file even when it looks like an env's name",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_app_arguments(parser)


def _show(invocation: Invocation) -> int:
    from pylockenv.core.cache_display import printable

    from ..cache import find_env, scan_cache, this_cache
    from ..errors import NotAnEnvNameError

    ns = invocation.ns
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
            names = [env.name for env in scan_cache(cache, sizes=False)[0]]
            return no_env_error(cache.root, [ns.target], names)
        return _show_env(env, this_host=this_host, as_json=ns.json)
    if not ns.spec and not os.path.lexists(ns.target) and _ENV_NAME_LIKE.fullmatch(ns.target):
        # No such file, but the start of (or a slip in) an env's name, as `list` shows them.
        names = [env.name for env in scan_cache(cache, sizes=False)[0]]
        if env_names_like(ns.target, names):
            return no_env_error(cache.root, [ns.target], names)
    from ..specfile import app_flags

    return _show_spec(ns.target, ns.name, app_flags(ns), this_host=this_host, as_json=ns.json)


def _show_env(env: EnvObservation, *, this_host: str, as_json: bool) -> int:
    from pylockenv.core.cache_display import env_to_dict, render_show, word_reach
    from pylockenv.core.envstate import reach_of
    from pylockenv.core.provenance import provenance_to_dict

    from ..facts import file_record

    pylock = file_record(env.pylock) if env.pylock is not None else None
    reach = reach_of(
        env, this_host=this_host, pylock_mtime=None if pylock is None else pylock["mtime"]
    )
    if as_json:
        provenance = env.provenance
        print_json(
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


def _show_spec(
    path: str, name: str | None, app: AppVariables | None, *, this_host: str, as_json: bool
) -> int:
    from pylockenv.core.cache_display import env_to_dict, render_show, reuse_words
    from pylockenv.core.envstate import reuse_of
    from pylockenv.core.plan_format import plan_to_data
    from pylockenv.core.provenance import provenance_to_dict
    from pylockenv.core.render import render_shell

    from ..cache import observe_env
    from ..plan_files import plan_with_facts
    from ..provenance import staleness_warnings
    from ..specfile import read_spec_file

    the_plan, _ = plan_with_facts(read_spec_file(path, name, app))
    env = None
    if the_plan.mode == "cached":
        found = observe_env(the_plan.env, sizes=True)
        env = found if found.entry == "directory" or os.path.lexists(the_plan.env_path) else None
    reuse = reuse_of(the_plan.mode, env, this_host=this_host)
    warnings = staleness_warnings(the_plan, env.marker) if env is not None else []
    if as_json:
        provenance = None if env is None else env.provenance
        print_json(
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


COMMAND = Command(
    name="show",
    summary="show one environment: provenance, state, and the plan that would run",
    description=(
        "Show the environment HASH (as 'pylockenv list' names it), or the one the "
        "command in SPEC [NAME] uses: its provenance, whether the next run reuses it, "
        "and the plan that would run now. The argument's form decides which: an env's "
        "name is never read as a file (give --spec for that). A short or mistyped hash "
        "is not taken, but the envs it may mean are suggested."
    ),
    add_arguments=_add_arguments,
    run=_show,
    exit_codes=("1", "125", "2"),
    options={},
    double_dash="parsed",
    prints_result=lambda ns: True,
)
