"""The Python interpreter an env will be made from, found as uv finds it.

`uv venv -p REQUEST` picks an interpreter by uv's own discovery (managed
installations and PATH; an active virtualenv is not a candidate, as it is for
plain `uv python find`). pylockenv asks uv the same question first, `uv python
find --system REQUEST` in the environment the uv steps get, so that the
interpreter is a fact of the record (`core.made_from.InterpreterRecord`) before
anything is created: the venv is made from exactly that executable, and the
lock's requires-python is tested against its full version, not pylockenv's own.

Finding never downloads (`--no-python-downloads`): a download is a step of its
own (`download_interpreter`, uv's live progress on stderr), taken only where the
caller allows one (a run or a provisioning, never a printed plan) and uv may
download at all. When none is found, the versions the host has are gathered for
the message the core words.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pylockenv.core.errors import PylockenvError
from pylockenv.core.layout import kept_interpreter_name

from .facts import file_record, home_directory, working_directory
from .process_env import ChildStatusReadable, working_directory_for_children

if TYPE_CHECKING:
    from pylockenv.core.layout import CacheLayout
    from pylockenv.core.made_from import InterpreterRecord

# What the interpreter says of itself: its version as packaging reads it (3.13.0,
# 3.14.0rc1). -I -S: no user site, no site-packages, no PYTHON* variables: the
# answer is the interpreter's, not the caller's setup's.
_ASK_VERSION = (
    "import sys; v = sys.version_info; "
    "tag = {'alpha': 'a', 'beta': 'b', 'candidate': 'rc'}.get(v.releaselevel, ''); "
    "print(f'{v.major}.{v.minor}.{v.micro}' + (f'{tag}{v.serial}' if tag else ''))"
)
# uv answers from its interpreter cache in milliseconds; a PATH full of pyenv shims that
# each start a shell can take a second. Far beyond either is a hung uv.
_FIND_TIMEOUT = 60.0
_TRUE = ("1", "true", "yes", "on")


def find_interpreter(
    uv: str,
    request: str,
    environ: Mapping[str, str],
    *,
    may_download: bool = False,
    cache: CacheLayout | None = None,
) -> InterpreterRecord:
    """The interpreter uv would make an env from for `request` in `environ`: its path,
    full version and stat. None of these when none matches; then `installed` lists
    what the host has, and `no_download` says why none was downloaded. Downloads one
    (`download_interpreter`) only when `may_download` and uv may download in `environ`.

    With `cache`, an answer kept there by an earlier process is used while it holds
    (`read_kept_interpreter`), and a new answer is kept for the next one once a
    provisioning writes it (`keep_found_interpreters`).
    """
    found = _find(uv, request, environ, cache)
    if found is not None:
        return found
    # A uv that does not run, or is too old, is said as such, not as a missing Python.
    from .uvbin import check_uv

    check_uv(uv)
    why = download_refusal(environ)
    if why is None and not may_download:
        why = "a printed plan downloads nothing"
    if why is None:
        failure = download_interpreter(uv, request, environ)
        found = _find(uv, request, environ, cache) if failure is None else None
        if found is not None:
            return found
        why = f"uv could not download it ({failure or 'installed, yet not found'})"
    return {
        "path": None,
        "version": None,
        "file": None,
        "installed": installed_versions(uv, environ),
        "no_download": why,
    }


# What this process found, by uv, request and the environment uv was asked in: an app
# runner that plans many commands asks uv once per request (with pyenv shims on PATH a
# look-up costs a shell start per shim). A kept answer is used while the interpreter's
# stat is the one recorded; a process that outlives an interpreter's installation only
# misses a newer one that uv would now prefer, as the warm path does (README).
_FOUND: dict[tuple[str, str, frozenset[tuple[str, str]]], InterpreterRecord] = {}
# Answers uv gave this process that no cache keeps yet, by cache root and file name: they
# are written when a provisioning has passed its checks (`keep_found_interpreters`), so
# that input refused after the look-up leaves nothing in the cache.
_UNKEPT: dict[tuple[str, str], bytes] = {}


def _find(
    uv: str, request: str, environ: Mapping[str, str], cache: CacheLayout | None
) -> InterpreterRecord | None:
    key = (uv, request, frozenset(environ.items()))
    kept = _FOUND.get(key)
    if kept is not None and kept["path"] is not None and file_record(kept["path"]) == kept["file"]:
        return kept
    # Read before uv is asked: what changes during the look-up changes the next identity.
    identity = lookup_identity(uv, request, environ) if cache is not None else None
    if cache is not None and identity is not None:
        kept = read_kept_interpreter(cache, identity)
        if kept is not None:
            _FOUND[key] = kept
            return kept
    found = _look_up(uv, request, environ)
    if found is not None:
        _FOUND[key] = found
        if cache is not None and identity is not None:
            data = kept_interpreter_data(identity, found)
            if len(data) <= KEPT_INTERPRETER_LIMIT:
                _UNKEPT[(cache.root, kept_interpreter_name(_crc(identity)))] = data
    return found


# --- the answer kept across processes (plans/python-<id>.interpreter) ----------------------
#
# One look-up's answer, kept in the cache so that the next process (a cold provisioning of
# another lock, the first run in another directory) need not ask uv again. It is used only
# while everything that decides uv's answer is as it was: the user and host, the uv
# executable (path and stat), the request, the environment variables uv's discovery reads
# (and a pyenv shim's), and, so that an interpreter installed since is noticed, the stat of
# each directory uv searches (PATH's, uv's managed installations) and of pyenv's version
# files; and while the interpreter's own stat is the one recorded.

KEPT_INTERPRETER_LIMIT = 1 << 16  # one record is a few hundred bytes; more is not ours
# What `uv python find --system` reads of its environment besides PATH: where managed
# interpreters live, which kinds it prefers, an active environment (which --system skips,
# but conda's base counts as a system one), and what a pyenv shim reads to pick its version.
_DISCOVERY_NAMES = frozenset({"PATH", "HOME", "XDG_DATA_HOME", "VIRTUAL_ENV"})
_DISCOVERY_PREFIXES = (
    "UV_PYTHON",
    "UV_MANAGED_PYTHON",
    "UV_NO_MANAGED_PYTHON",
    "UV_SYSTEM_PYTHON",
    "CONDA_",
    "_CONDA_",
    "PYENV_",
)
_FOUND_KEYS = frozenset({"path", "version", "file"})


def lookup_identity(uv: str, request: str, environ: Mapping[str, str]) -> str | None:
    """One line that names everything `uv python find --system REQUEST` answers from, in
    `environ` (see above): equal lines, equal answers. None when uv is not a path that
    can be examined (a bare name: its answer is not kept)."""
    uv_stat = _stat_words(uv) if uv.startswith("/") else None
    if uv_stat is None:
        return None
    cwd = working_directory_for_children() or working_directory()
    path = environ.get("PATH", "")
    directories = list(dict.fromkeys(entry or "." for entry in path.split(os.pathsep)))
    searched = [*directories, _managed_directory(environ)]
    identity: dict[str, object] = {
        "user": os.getuid(),
        "host": os.uname().nodename,
        "uv": [uv, *uv_stat],
        "request": request,
        "environ": {
            name: value
            for name, value in sorted(environ.items())
            if name in _DISCOVERY_NAMES or name.startswith(_DISCOVERY_PREFIXES)
        },
        "searched": [[entry, _stat_words(os.path.join(cwd, entry))] for entry in searched],
        "pyenv": [[entry, _stat_words(entry)] for entry in _pyenv_version_files(environ, cwd)],
    }
    relative_request = "/" in request and not request.startswith("/")
    if relative_request or any(not entry.startswith("/") for entry in directories):
        identity["cwd"] = cwd  # what a relative PATH entry or path asked for is relative to
    return json.dumps(identity, sort_keys=True, separators=(",", ":")) + "\n"


def _stat_words(path: str) -> list[int] | None:
    """What tells a change of `path` (followed, as uv follows it): its inode, size and
    mtime in nanoseconds (a directory's changes when an entry is added or removed)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _managed_directory(environ: Mapping[str, str]) -> str:
    """Where uv keeps the interpreters it installs (`uv python dir`)."""
    chosen = environ.get("UV_PYTHON_INSTALL_DIR")
    if chosen:
        return chosen
    data = environ.get("XDG_DATA_HOME", "")
    if not data.startswith("/"):
        data = os.path.join(environ.get("HOME") or home_directory(), ".local", "share")
    return os.path.join(data, "uv", "python")


def _pyenv_version_files(environ: Mapping[str, str], cwd: str) -> list[str]:
    """The files a pyenv shim picks its version by: the nearest .python-version from its
    working directory up (none found: the directory names are not part of the answer, so
    any directory without one shares it), and the global version file."""
    files = []
    directory = environ.get("PYENV_DIR") or cwd
    while directory:
        candidate = os.path.join(directory, ".python-version")
        if os.path.lexists(candidate):
            files.append(candidate)
            break
        parent = os.path.dirname(directory)
        directory = "" if parent == directory else parent
    root = environ.get("PYENV_ROOT") or os.path.join(
        environ.get("HOME") or home_directory(), ".pyenv"
    )
    files.append(os.path.join(root, "version"))
    return files


def _crc(identity: str) -> int:
    import zlib

    return zlib.crc32(identity.encode("utf-8", "surrogateescape"))


def kept_interpreter_data(identity: str, found: InterpreterRecord) -> bytes:
    """The record kept for `found` under `identity`: that line, then the answer as JSON."""
    answer = {"path": found["path"], "version": found["version"], "file": found["file"]}
    text = identity + json.dumps(answer, sort_keys=True, separators=(",", ":")) + "\n"
    return text.encode("utf-8", "surrogateescape")


def read_kept_interpreter(cache: CacheLayout, identity: str) -> InterpreterRecord | None:
    """The interpreter kept in `cache` under `identity`, while its stat is the one recorded;
    None for anything else: no record, another identity's, one damaged in any way, larger
    than KEPT_INTERPRETER_LIMIT, a link or a special file in its place (read bounded and
    never blocking, never through a link at plans/)."""
    from pylockenv.core.layout import PLANS_DIR

    from .cachefiles import CacheFileError, open_cache_dir, read_regular

    crc = _crc(identity)
    try:
        plans = open_cache_dir(cache.root, PLANS_DIR)
        try:
            data = read_regular(cache.kept_interpreter(crc), KEPT_INTERPRETER_LIMIT, dir_fd=plans)
        finally:
            os.close(plans)
    except (OSError, CacheFileError):
        return None
    if data is None or len(data) > KEPT_INTERPRETER_LIMIT:
        return None
    text = data.decode("utf-8", "surrogateescape")
    if not text.startswith(identity) or not text.endswith("\n"):
        return None
    try:
        answer = json.loads(text[len(identity) :])
    except (ValueError, RecursionError):
        return None
    if not (isinstance(answer, dict) and answer.keys() == _FOUND_KEYS):
        return None
    path, version, file = answer["path"], answer["version"], answer["file"]
    if not (isinstance(path, str) and path.startswith("/") and "\0" not in path):
        return None
    if not (isinstance(version, str) and _is_version(version)):
        return None
    now = file_record(path)
    if now["kind"] != "file" or file != now:
        return None
    return {"path": path, "version": version, "file": now}


def _is_version(text: str) -> bool:
    """Whether `text` is what `_ASK_VERSION` prints: 3.13.0, 3.14.0rc1."""
    import re

    return re.fullmatch(r"[0-9]{1,4}(?:\.[0-9]{1,4}){2}(?:(?:a|b|rc)[0-9]{1,4})?", text) is not None


def keep_found_interpreters(cache: CacheLayout) -> None:
    """Write the answers uv gave this process for `cache` into its plans/ (one atomic write
    each), for the next process. A cache that cannot be written, or a link at plans/, only
    costs the next process its look-up. Called once a provisioning has passed its checks."""
    from pylockenv.core.layout import PLANS_DIR, staging_name

    from .cachefiles import CacheFileError, open_cache_dir, write_atomically

    names = [name for root, name in _UNKEPT if root == cache.root]
    if not names:
        return
    try:
        plans = open_cache_dir(cache.root, PLANS_DIR, create=True)
    except (OSError, CacheFileError):
        return
    try:
        for name in names:
            data = _UNKEPT.pop((cache.root, name))
            with contextlib.suppress(OSError, CacheFileError):
                write_atomically(
                    plans,
                    name,
                    data,
                    staging=staging_name(name, os.getpid()),
                    path=f"{cache.plans_dir}/{name}",
                    fsync=False,  # a lost answer only costs the next process one look-up
                )
    finally:
        os.close(plans)


def _look_up(uv: str, request: str, environ: Mapping[str, str]) -> InterpreterRecord | None:
    # `--system`: what `uv venv -p` considers (an active virtualenv is not a candidate).
    # A pyenv shim of a version pyenv has not selected fails uv's inspection (exit 2):
    # that is "not found" too.
    argv = [uv, "python", "find", "--system", "--no-python-downloads", "--no-config"]
    done = _run([*argv, "--", request], environ)
    path = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    if not path or "\n" in path:
        return None
    version = interpreter_version(path, environ)
    if version is None:
        return None
    return {"path": path, "version": version, "file": file_record(path)}


def interpreter_version(path: str, environ: Mapping[str, str]) -> str | None:
    """The full version `path` reports of itself, or None when it cannot be run."""
    done = _run([path, "-I", "-S", "-c", _ASK_VERSION], environ)
    version = done.stdout.strip() if done is not None and done.returncode == 0 else ""
    return version or None


def installed_versions(uv: str, environ: Mapping[str, str]) -> list[str]:
    """The versions of the interpreters uv finds on this host without a download, each
    once (uv lists an interpreter once per link to it), in version order."""
    argv = [uv, "python", "list", "--only-installed", "--output-format", "json", "--no-config"]
    done = _run(argv, environ)
    try:
        entries = json.loads(done.stdout) if done is not None and done.returncode == 0 else []
    except ValueError:
        return []
    versions = {
        entry["version"]
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("version"), str)
    }
    return sorted(versions, key=_version_key)


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(part), "") if part.isdigit() else (-1, part) for part in version.split("."))


def download_refusal(environ: Mapping[str, str]) -> str | None:
    """Why uv may not download an interpreter in `environ` (None: it may): offline, or
    UV_PYTHON_DOWNLOADS never/manual. uv's own switches, as uv reads them; pylockenv
    runs uv without configuration files, so a uv.toml does not count."""
    if environ.get("UV_OFFLINE", "").strip().lower() in _TRUE:
        return "uv is offline here (UV_OFFLINE)"
    downloads = environ.get("UV_PYTHON_DOWNLOADS", "").strip().lower()
    if downloads in ("never", "manual", "false", "0"):
        return f"Python downloads are disabled here (UV_PYTHON_DOWNLOADS={downloads})"
    return None


def download_interpreter(uv: str, request: str, environ: Mapping[str, str]) -> str | None:
    """Download `request` with `uv python install`, uv's progress shown live (its output
    goes where pylockenv's goes); None when it worked, else what failed."""
    print(
        f"pylockenv: no Python matching {request!r} is installed; uv downloads one "
        f"('uv python install {request}')",
        file=sys.stderr,
        flush=True,
    )
    argv = [uv, "python", "install", "--no-config", "--", request]
    try:
        done = subprocess.run(
            argv,
            env=dict(environ),
            cwd=working_directory_for_children(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    return f"'uv python install' exited with {done.returncode}; its reason is above"


def _run(argv: list[str], environ: Mapping[str, str]) -> subprocess.CompletedProcess[str] | None:
    # An app runner that ignores SIGCHLD would make every status read 0 (see
    # process_env.ChildStatusReadable), and a failed look-up pass for a found one.
    try:
        with ChildStatusReadable():
            return _run_readable(argv, environ)
    except PylockenvError:
        return None


def _run_readable(
    argv: list[str], environ: Mapping[str, str]
) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            argv,
            env=dict(environ),
            cwd=working_directory_for_children(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_FIND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
