"""The warm path: run a fresh plan's command in its ready env with light imports only.

`pylockenv run SPEC [NAME] [-- ARGS]` keeps the plan of each spec it runs under
the cache root (`plans/`); `pylockenv apply PLAN [-- ARGS]` is given one. When
such a plan is fresh (every fact it was made from still holds: see
`core.made_from`), places its env and starts its command as the layout and the
console-script rule say (`core.plan_rules.layout_problem`, what `apply` checks),
its env is cached and ready, and the in-use lock can be taken at once, this
module execs the command (started by `process_env.command_start`, as every path
starts it) without loading attrs, cattrs, PyYAML, filelock, subprocess, argparse or
the provisioning code. Anything else (a stale
or missing plan, an env to provision, a lock to wait for, any option but -q and
-v) returns, and the full path takes over and does it all, messages included.
"""

from __future__ import annotations

import fcntl
import os
import sys

from pylockenv.core.layout import EnvLayout, cache_layout
from pylockenv.core.made_from import what_changed
from pylockenv.core.plan_format import PLAN_FILE_SIZE_LIMIT, decode_kept_plan, kept_plan_key
from pylockenv.core.plan_rules import layout_problem

from .cachefiles import CacheFileError, env_is_ready, read_cache_file
from .envlocks import open_in_use, try_flock
from .facts import gather_again, host_record
from .process_env import command_start

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Sequence

    from pylockenv.core.plan_format import LightPlan

QUIET = ("-q", "--quiet")
VERBOSE = ("-v", "--verbose")


# The subcommands a warm run can be, with how many positionals each takes (held to
# their parsers in `shell.commands` by tests/test_cli_arguments.py).
WARM_FORMS = {"run": (1, 2), "apply": (1,)}


def parse_warm_arguments(argv: Sequence[str]) -> tuple[str, list[str], bool, list[str]] | None:
    """`run SPEC [NAME]` or `apply PLAN`, each with -q/-v (before or after the verb) and
    `-- ARGS` at most: (verb, positionals, quiet, ARGS). None for any other command line
    (the full path parses it: --uv, -qv, -q with -v, any other option)."""
    start = 0
    while start < len(argv) and argv[start] in (*QUIET, *VERBOSE):
        start += 1
    if start == len(argv) or argv[start] not in WARM_FORMS:
        return None
    verb, own, extra = argv[start], [*argv[:start], *argv[start + 1 :]], []
    if "--" in own:
        cut = own.index("--")
        own, extra = own[:cut], own[cut + 1 :]
    quiet = any(word in QUIET for word in own)
    positionals = [word for word in own if word not in QUIET and word not in VERBOSE]
    if any(word.startswith("-") for word in positionals) or (
        quiet and any(w in VERBOSE for w in own)
    ):
        return None
    if len(positionals) not in WARM_FORMS[verb]:
        return None
    return verb, positionals, quiet, extra


def stored_plan_path(verb: str, source: str, name: str | None) -> str:
    """Where `run SPEC [NAME]` or `apply PLAN` from the working directory keeps its plan."""
    host = host_record()
    cache = cache_layout(xdg_cache_home=host["xdg_cache_home"], home=host["home"] or "/")
    if not (source.startswith("/") or host["cwd"]):
        # A relative path in a deleted working directory: the full path says so.
        raise FileNotFoundError(source)
    key = kept_plan_key(verb, os.path.abspath(source), name, host["cwd"])
    return cache.stored_plan(key)


def try_warm_path(argv: Sequence[str]) -> None:
    """Exec the command if `argv` asks for a fresh plan whose env is ready; else return."""
    parsed = parse_warm_arguments(argv)
    if parsed is None or not _standard_streams_open():
        return
    verb, positionals, quiet, extra = parsed
    name = positionals[1] if len(positionals) > 1 else None
    try:
        data = read_cache_file(  # never through a link at plans/
            stored_plan_path(verb, positionals[0], name), PLAN_FILE_SIZE_LIMIT, levels=1
        )
    except (OSError, CacheFileError):
        return
    kept = None if data is None else decode_kept_plan(data)
    if kept is None:
        return  # none kept yet (or damaged, of any shape): the full path makes and keeps one
    plan, made_from = kept
    if what_changed(made_from, gather_again(made_from)):
        return
    host = made_from["host"]
    if layout_problem(plan, xdg_cache_home=host["xdg_cache_home"], home=host["home"]):
        return  # not what pylockenv would have planned: the full path plans it again
    try:
        exec_if_ready(plan, extra, quiet=quiet)
    except (ValueError, OSError, CacheFileError):
        return  # a value exec refuses, or a disk that said no: the full path reports it


def _standard_streams_open() -> bool:
    """Whether fds 0, 1 and 2 are open (else the lock could land on one of them, and the
    full path, which puts /dev/null there first, takes over)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            return False
    return sys.stderr is not None


def exec_if_ready(plan: LightPlan, extra: Sequence[str], *, quiet: bool) -> None:
    """If the plan's cached env is ready and its in-use lock free to share, exec the
    command holding that lock (the command inherits it); otherwise return."""
    if plan.mode != "cached":
        return
    env = EnvLayout(path=plan.env_path, kind="cached")
    if not env_is_ready(env):
        return
    fd = open_in_use(env)
    if fd is not None:
        if not try_flock(fd, fcntl.LOCK_SH):
            os.close(fd)
            return  # gc holds it: the full path waits and says so
        try:  # noqa: SIM105 (contextlib would cost the warm path 4 ms of imports)
            os.utime(fd)  # the last use, read by list and gc
        except OSError:
            pass  # a read-only cache records no use
    started = command_start(plan, extra) if env_is_ready(env) else None
    if started is None:  # gc removed the marker before we had the lock, or no command
        if fd is not None:
            os.close(fd)
        return  # the full path explains a command it cannot find
    argv, environ = started
    if not quiet:
        sys.stderr.write(f"pylockenv: env {plan.env_hash}: reusing {env.path}\n")
        sys.stderr.flush()
    if fd is not None:
        os.set_inheritable(fd, True)
    try:
        os.execve(argv[0], argv, environ)
    except OSError:
        if fd is not None:
            os.close(fd)
        raise
