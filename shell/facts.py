"""Gathering the host facts the core plans with."""

from __future__ import annotations

import os
import stat
import sys

from attrs import evolve
from pylockenv.core.facts import FileFact, FileKind, HostFacts
from pylockenv.core.planning import resolved_paths
from pylockenv.core.spec import Spec

from .uvbin import find_uv


def stat_path(path: str) -> FileFact:
    """The FileFact for `path` (following symlinks, as opening it would)."""
    try:
        st = os.stat(path)
    except OSError:
        return FileFact(kind="missing")
    kind: FileKind
    if stat.S_ISREG(st.st_mode):
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    else:
        kind = "other"
    return FileFact(kind=kind, mtime=st.st_mtime, size=st.st_size)


def gather_facts(spec: Spec, *, uv: str | None = None) -> HostFacts:
    """Read from this machine every fact `core.plan` needs for `spec`.

    `uv` overrides the uv executable (otherwise PYLOCKENV_UV, then the bundled uv).
    """
    facts = gather_host_facts(uv=uv)
    pylock, extras, prepend = resolved_paths(spec, home=facts.home, cwd=facts.cwd)
    files = {path: stat_path(path) for path in (pylock, *extras, *prepend)}
    return evolve(facts, files=files)


def gather_host_facts(*, uv: str | None = None) -> HostFacts:
    """The facts that do not depend on a spec (no `files`): enough to find the cache."""
    version = sys.version_info
    return HostFacts(
        # What socket.gethostname() returns (the uname node name), without loading socket.
        hostname=os.uname().nodename,
        home=os.path.expanduser("~"),
        cwd=os.getcwd(),
        xdg_cache_home=os.environ.get("XDG_CACHE_HOME"),
        path=os.environ.get("PATH"),
        default_python_version=f"{version.major}.{version.minor}",
        python_full_version=f"{version.major}.{version.minor}.{version.micro}",
        uv=uv or find_uv(),
        ephemeral_suffix=os.urandom(8).hex(),  # secrets.token_hex(8), without loading secrets
    )
