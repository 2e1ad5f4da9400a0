"""Gathering the host facts the core plans with."""

from __future__ import annotations

import errno
import os
from typing import cast

from attrs import evolve

from pylockenv.core.errors import PlanError
from pylockenv.core.facts import MISSING, FileFact, FileKind, HostFacts
from pylockenv.core.limits import shown_path
from pylockenv.core.planning import resolved_paths
from pylockenv.core.spec import Spec

from .hostfacts import host_values, stat_kind
from .uvbin import find_uv


def os_error_words(exc: OSError) -> str:
    """What a failed `open` or `stat` says about its path, as a phrase: "does not exist"."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "does not exist"
    if exc.errno == errno.EACCES:
        return (
            "cannot be read: permission denied (this user may not read it, or may not "
            "search a directory on its way)"
        )
    if exc.errno == errno.ENAMETOOLONG:
        return (
            "is too long a path for this system (ENAMETOOLONG: a name is at most 255 bytes, "
            "a path 4096)"
        )
    if exc.errno == errno.ELOOP:
        return "is a loop of symbolic links (ELOOP)"
    return f"cannot be examined ({exc.strerror or exc})"


def stat_path(path: str) -> FileFact:
    """The FileFact for `path` (following symlinks, as opening it would); "missing" when
    `stat` fails for any reason (see `stat_named` for the reasons)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return MISSING
    return _fact(st)


def _fact(st: os.stat_result) -> FileFact:
    kind = cast("FileKind", stat_kind(st.st_mode))
    return FileFact(kind=kind, mtime=st.st_mtime, size=st.st_size)


def stat_named(path: str, where: str) -> FileFact:
    """The FileFact for a path the spec names; "missing" only when it does not exist.

    Raises PlanError when `stat` fails otherwise (permission denied on a directory on
    the way, a name too long, a symlink loop), which "does not exist" would misreport.
    `where` names the field (`app.yml: pylock`).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        words = os_error_words(exc)
        if words == "does not exist":
            return MISSING
        raise PlanError(
            f"{where}: {shown_path(path)} {words}; check the path and the permissions of "
            "its directories."
        ) from None
    return _fact(st)


def gather_facts(spec: Spec, *, uv: str | None = None) -> HostFacts:
    """Read from this machine every fact `core.plan` needs for `spec`.

    `uv` overrides the uv executable (otherwise PYLOCKENV_UV, then the bundled uv).
    Raises SpecError for a path that the spec file's directory, the working directory
    or home made unusable (`resolved_paths` checks them), and PlanError for a path
    that cannot be examined.
    """
    facts = gather_host_facts(uv=uv)
    pylock, extras, prepend = resolved_paths(spec, home=facts.home, cwd=facts.cwd)
    named = [
        ("pylock", pylock),
        *((f"local_extra_deps[{i}]", dep) for i, dep in enumerate(extras)),
        *((f"prepend_paths[{i}]", entry) for i, entry in enumerate(prepend)),
    ]
    files = {path: stat_named(path, f"{spec.source}: {name}") for name, path in named}
    return evolve(facts, files=files)


def gather_host_facts(*, uv: str | None = None) -> HostFacts:
    """The facts that do not depend on a spec (no `files`): enough to find the cache.

    Read by `hostfacts.host_values`, as the warm path reads them again to judge a kept plan.
    """
    return HostFacts(
        **host_values(),
        uv=uv or find_uv(),
        ephemeral_suffix=os.urandom(8).hex(),  # secrets.token_hex(8), without loading secrets
    )
