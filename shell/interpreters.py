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

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pylockenv.core.errors import PylockenvError

from .facts import file_record
from .process_env import ChildStatusReadable, working_directory_for_children

if TYPE_CHECKING:
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
    uv: str, request: str, environ: Mapping[str, str], *, may_download: bool = False
) -> InterpreterRecord:
    """The interpreter uv would make an env from for `request` in `environ`: its path,
    full version and stat. None of these when none matches; then `installed` lists
    what the host has, and `no_download` says why none was downloaded. Downloads one
    (`download_interpreter`) only when `may_download` and uv may download in `environ`.
    """
    found = _find(uv, request, environ)
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
        found = _find(uv, request, environ) if failure is None else None
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


def _find(uv: str, request: str, environ: Mapping[str, str]) -> InterpreterRecord | None:
    key = (uv, request, frozenset(environ.items()))
    kept = _FOUND.get(key)
    if kept is not None and kept["path"] is not None and file_record(kept["path"]) == kept["file"]:
        return kept
    found = _look_up(uv, request, environ)
    if found is not None:
        _FOUND[key] = found
    return found


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
