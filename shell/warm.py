"""The warm path: run a fresh plan's command in its ready env with light imports only.

Every `pylockenv run` whose env is cached keeps its plan under the cache root
(`plans/`), named by its command line: `run SPEC [NAME]` (with an app.yml's
--app-* flags) or `run --pylock P --command C ...` (every spec flag and its value),
and the working directory; `pylockenv apply PLAN [-- ARGS]` is given one. When
such a plan is fresh (every fact it was made from still holds: see
`core.made_from`; for a spec given by flags that includes the working directory),
places its env and starts its command as the layout and the console-script rule
say (`core.plan_rules.layout_problem`, what `apply` checks), its env is cached and
ready, and the in-use lock can be taken at once, this module execs the command
(started by `process_env.command_start`, as every path starts it) without loading
attrs, cattrs, PyYAML, filelock, subprocess, argparse or the provisioning code.
Anything else (a stale or missing plan, an env to provision, a lock to wait for, an
option WARM_FORMS does not name) returns, and the full path takes over and does it
all, messages included."""

from __future__ import annotations

import fcntl
import os
import sys

from pylockenv.core.errors import PylockenvError
from pylockenv.core.layout import LOCK_SUFFIX, PLANS_DIR, EnvLayout, cache_layout
from pylockenv.core.made_from import what_changed
from pylockenv.core.plan_format import (
    PLAN_FILE_SIZE_LIMIT,
    decode_kept_plan,
    kept_plan_key,
    kept_plan_words,
)
from pylockenv.core.plan_rules import layout_problem

from .cachefiles import CacheFileError, env_is_ready, open_cache_dir, open_lock, read_cache_file
from .envlocks import open_in_use, try_flock
from .errors import EXIT_SIGNAL_BASE
from .facts import gather_again, host_record
from .process_env import command_start

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Sequence

    from pylockenv.core.layout import CacheLayout
    from pylockenv.core.plan_format import LightPlan

QUIET = ("-q", "--quiet")
VERBOSE = ("-v", "--verbose")
ONCE, REPEATED = False, True

# The flags of a spec given on the command line that a warm run may carry, each with
# whether it may be given more than once; in this order they name the kept plan.
SPEC_FLAGS = {
    "--pylock": ONCE,
    "--command": ONCE,
    "--python-version": ONCE,
    "--local-extra-dep": REPEATED,
    "--env": REPEATED,
    "--prepend-path": REPEATED,
    "--app-version": ONCE,
    "--app-id": ONCE,
    "--app-name": ONCE,
}

# The subcommands a warm run can be: how many positionals each takes, and its flags
# (held to their parsers in `shell.commands` by tests/test_cli_arguments.py). `run`
# with no positional is a spec given by flags.
WARM_FORMS: dict[str, tuple[tuple[int, ...], dict[str, bool]]] = {
    "run": ((0, 1, 2), SPEC_FLAGS),
    "apply": ((1,), {}),
}
# The parsers' one-letter options: argparse reads a word starting with one as that
# option, never as a flag's value (held to the parsers by the same test).
SHORT_OPTIONS = ("-h", "-q", "-v", "-V")


def parse_warm_arguments(
    argv: Sequence[str],
) -> tuple[str, list[str], list[str], bool, list[str]] | None:
    """`run SPEC [NAME]`, `run --pylock P --command C ...` or `apply PLAN`, each with
    -q/-v (before or after the verb), the flags WARM_FORMS gives the verb (`--flag V` or
    `--flag=V`) and `-- ARGS` at most: (verb, positionals, the flags as `given_flags`
    spells them, quiet, ARGS). None for any other command line, and for any the full
    path's parser might read otherwise (the full path parses it: --uv, -qv, -q with -v,
    a flag given twice, a value that could be an option, any other option)."""
    start = 0
    while start < len(argv) and argv[start] in (*QUIET, *VERBOSE):
        start += 1
    if start == len(argv) or argv[start] not in WARM_FORMS:
        return None
    verb, own, extra = argv[start], [*argv[:start], *argv[start + 1 :]], []
    if "--" in own:
        cut = own.index("--")
        own, extra = own[:cut], own[cut + 1 :]
    counts, flags = WARM_FORMS[verb]
    quiet = verbose = False
    positionals: list[str] = []
    values: dict[str, list[str]] = {}
    words = iter(own)
    for word in words:
        if word in QUIET:
            quiet = True
        elif word in VERBOSE:
            verbose = True
        elif not word.startswith("-"):
            positionals.append(word)
        else:
            flag, equals, value = word.partition("=")
            if flag not in flags or (flag in values and flags[flag] is ONCE):
                return None
            if not equals:
                following = next(words, None)
                if following is None or not _read_as_a_value(following):
                    return None
                value = following
            elif value == "--":
                return None  # argparse drops a value "--" (--pylock=-- gives [])
            values.setdefault(flag, []).append(value)
    if (quiet and verbose) or len(positionals) not in counts or not (positionals or values):
        return None
    given = [word for flag in flags for value in values.get(flag, ()) for word in (flag, value)]
    return verb, positionals, given, quiet, extra


def _read_as_a_value(word: str) -> bool:
    """Whether argparse surely reads `word`, following an option, as its value: a word
    not starting with "-", or one with a space that names no option ("-m my_app")."""
    if not word.startswith("-"):
        return True
    return " " in word and not word.startswith("--") and word[:2] not in SHORT_OPTIONS


def given_flags(verb: str, ns: object) -> list[str]:
    """The spec's flags the full path's parsed command line `ns` holds, spelled as
    `parse_warm_arguments` reads them from the same line: each flag WARM_FORMS gives
    `verb` with its value, in the table's order (a repeated one in the order given)."""
    words: list[str] = []
    for flag, repeated in WARM_FORMS[verb][1].items():
        value = getattr(ns, flag[2:].replace("-", "_"))
        for item in value if repeated else () if value is None else (value,):
            words += [flag, item]
    return words


def _cache() -> CacheLayout:
    host = host_record()
    return cache_layout(xdg_cache_home=host["xdg_cache_home"], home=host["home"] or "/")


def stored_plan_path(words: Sequence[str]) -> str:
    """Where the plan of the command line `words` (`core.plan_format.kept_plan_words`) is
    kept."""
    return _cache().stored_plan(kept_plan_key(words))


def try_warm_path(argv: Sequence[str]) -> None:
    """Exec the command if `argv` asks for a fresh plan whose env is ready; else return.

    On a miss, the run holds the plan's lock (`CacheLayout.plan_lock`) until it starts
    the command, so that runs of the same command line meanwhile wait on it here, with
    light imports, and then find the plan it kept (the full path loads once, not once
    per run: eight cold runs at once provision and plan once)."""
    parsed = parse_warm_arguments(argv)
    if parsed is None or not _standard_streams_open():
        return
    verb, positionals, given, quiet, extra = parsed
    try:
        cwd = os.getcwd()
    except OSError:
        return  # a deleted working directory: the full path says what that means here
    source = os.path.join(cwd, positionals[0]) if positionals else None
    name = positionals[1] if len(positionals) > 1 else None
    words = kept_plan_words(verb, source, name, cwd, given, user=os.getuid())
    cache, key = _cache(), kept_plan_key(words)
    _run_kept_plan(cache.stored_plan(key), words, extra, quiet=quiet)
    if _hold_plan_lock(cache, key, quiet=quiet):
        _run_kept_plan(cache.stored_plan(key), words, extra, quiet=quiet)


def _run_kept_plan(path: str, words: Sequence[str], extra: Sequence[str], *, quiet: bool) -> None:
    """Exec the command of the plan kept at `path` for `words`, if it is fresh and its env
    ready; else return."""
    try:
        data = read_cache_file(path, PLAN_FILE_SIZE_LIMIT, levels=1)  # never through a link
    except (OSError, CacheFileError):
        return
    kept = None if data is None else decode_kept_plan(data, words)
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


# The plan lock this process holds (at most one descriptor, close-on-exec: the command
# does not inherit it, so starting the command releases it), and what taking it made
# (the lock file, plans/ and the cache's directories, deepest first) where nothing was.
_held_plan_lock: list[int] = []
_made_for_the_lock: list[str] = []


def _hold_plan_lock(cache: CacheLayout, key: str, *, quiet: bool) -> bool:
    """Take the lock of the plan `key` for this process, waiting for the run that holds
    it (saying so, unless `quiet`); whether it had to wait (that run may have kept the
    plan since). A cache where the lock cannot be made (read-only, a link at plans/)
    only costs the wait: the run goes on without it."""
    lock, missing = cache.plan_lock(key), []
    directory = cache.plans_dir
    while not os.path.lexists(directory) and directory != os.path.dirname(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    made = [lock] if missing or not os.path.lexists(lock) else []
    try:
        plans = open_cache_dir(cache.root, PLANS_DIR, create=True)
        try:
            fd = open_lock(lock, dir_fd=plans)  # never through a link
        finally:
            os.close(plans)
    except (OSError, PylockenvError):  # a cache that cannot be made: the full path says so
        _made_for_the_lock[:] = [*made, *missing]
        forget_plan_lock()
        return False
    if fd is None:
        return False
    _held_plan_lock.append(fd)
    _made_for_the_lock[:] = [*made, *missing]
    if try_flock(fd, fcntl.LOCK_EX):
        return False
    try:  # Ctrl-C from the moment the wait is said
        if not quiet:
            sys.stderr.write(
                "pylockenv: waiting for another pylockenv that runs the same command to make "
                f"its env ready ({cache.plan_lock(key)})\n"
            )
            sys.stderr.flush()
        fcntl.flock(fd, fcntl.LOCK_EX)
    except KeyboardInterrupt:
        import signal  # only here: a bare interpreter has not loaded it

        sys.stderr.write("pylockenv: interrupted\n")
        raise SystemExit(EXIT_SIGNAL_BASE + signal.SIGINT) from None
    except OSError:
        release_plan_lock()  # a file system that cannot lock: as without the lock
    return True


def release_plan_lock() -> None:
    """Let the runs waiting on this process's plan lock go on: for a plan that is not kept
    (an ephemeral env's), once it is made. Starting the command releases it anyway."""
    while _held_plan_lock:
        os.close(_held_plan_lock.pop())
    _made_for_the_lock.clear()  # the run goes on: what it made is the cache's now


def forget_plan_lock() -> None:
    """Release the plan lock of a run that failed, and remove what taking it made where
    nothing was (a run refused for its input leaves nothing on disk); a directory
    something else has been put in since stays. A run waiting on the removed file
    then holds a lock nobody else takes: that only costs a second planning."""
    while _held_plan_lock:
        os.close(_held_plan_lock.pop())
    for path in _made_for_the_lock:
        try:
            if path.endswith(LOCK_SUFFIX):
                os.unlink(path)
            else:
                os.rmdir(path)
        except OSError:
            break  # in use, or not ours any more: what lies above it is not empty either
    _made_for_the_lock.clear()


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
        if plan.shell_syntax_warning is not None:  # said as the full path says it
            sys.stderr.write(f"pylockenv: warning: {plan.shell_syntax_warning}\n")
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
