"""The facts a plan is made from, read with the standard library's light modules only.

`shell.facts` builds the core's `HostFacts` from these; the warm path of a run
reads them again to decide whether a stored plan is still fresh, without
loading attrs. Both must see the same values, so both read them here.
"""

from __future__ import annotations

import os
import stat
import sys

from pylockenv.core.planfile import HOST_FACTS

from .uvbin import UV_ENV_VAR

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypedDict

    class HostValues(TypedDict):
        """The host facts by `HostFacts` field name (see `core.planfile.HOST_FACTS`)."""

        hostname: str
        home: str
        cwd: str
        xdg_cache_home: str | None
        path: str | None
        default_python_version: str
        python_full_version: str

    # {"kind": "file"|"directory"|"other"|"missing", "mtime": ..., "size": ...}
    FileFactDict = dict[str, Any]

HOST_FACT_NAMES = tuple(HOST_FACTS)


def host_values() -> HostValues:
    """The host facts that do not depend on a spec, by `HostFacts` field name."""
    version = sys.version_info
    return {
        # What socket.gethostname() returns (the uname node name), without loading socket.
        "hostname": os.uname().nodename,
        "home": os.path.expanduser("~"),
        "cwd": os.getcwd(),
        "xdg_cache_home": os.environ.get("XDG_CACHE_HOME"),
        "path": os.environ.get("PATH"),
        "default_python_version": f"{version.major}.{version.minor}",
        "python_full_version": f"{version.major}.{version.minor}.{version.micro}",
    }


def stat_kind(mode: int) -> str:
    """What a path with this `st_mode` is, as `core.facts.FileKind` names it."""
    for test, kind in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return kind
    return "other"


def file_fact(path: str) -> FileFactDict:
    """What `stat` says of `path` (following links, as opening it would): kind, mtime, size."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return {"kind": "missing", "mtime": None, "size": None}
    return {"kind": stat_kind(st.st_mode), "mtime": st.st_mtime, "size": st.st_size}


def uv_fact(path: str, *, given_by_flag: bool) -> dict[str, Any]:
    """The uv executable a plan uses: its path and stat, and unless `--uv` named it, the
    PYLOCKENV_UV it was found by (unset: the bundled uv, then PATH, which is recorded)."""
    fact: dict[str, Any] = {"path": path, "file": file_fact(path), "given_by_flag": given_by_flag}
    if not given_by_flag:
        fact["from_environment"] = os.environ.get(UV_ENV_VAR)
    return fact


def facts_now(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The facts `recorded` holds, read again now: the same host facts, the same uv
    executable's stat, the same files' stat, and the same spec file's (and for a plan
    kept by `apply`, the plan file's) stat."""
    now: dict[str, Any] = {"host": host_values()}
    uv = recorded.get("uv")
    if isinstance(uv, dict) and isinstance(uv.get("path"), str):
        now["uv"] = uv_fact(uv["path"], given_by_flag=uv.get("given_by_flag") is True)
    files = recorded.get("files")
    if isinstance(files, dict):
        now["files"] = {path: file_fact(path) for path in files if isinstance(path, str)}
    for source in ("spec", "plan_file"):
        fact = recorded.get(source)
        if isinstance(fact, dict) and isinstance(fact.get("path"), str):
            now[source] = {**fact, "file": file_fact(fact["path"])}
    return now
