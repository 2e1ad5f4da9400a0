"""The one gatherer: every fact a plan is made from, read from this machine into one record.

`gather_made_from` reads the record (`core.made_from.MadeFrom`) a plan is made
from; the full path builds the planner's `HostFacts` from it, and a plan file
and a kept plan store it as gathered. `gather_again` reads the facts a stored
record holds once more, with the same functions, so that the freshness rule
compares like with like. `file_record` is the one function that stats a path.

Light: the warm path loads this module, so it reads with `os` and `stat` only;
planning's modules load inside the functions of the full path.
"""

from __future__ import annotations

import errno
import os
import stat

from .uvbin import UV_ENV_VAR

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from pylockenv.core.facts import FileKind, HostFacts
    from pylockenv.core.made_from import FileRecord, HostRecord, MadeFrom, UvRecord
    from pylockenv.core.spec import Spec


def working_directory() -> str:
    """The working directory, or "" when it no longer exists (it was deleted): only a
    relative path needs it, and that one is refused with a sentence (`absolute`)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return ""


def home_directory() -> str:
    """This user's home: HOME when it is absolute (as `~` expands), else the password
    database's entry ("/" without one). A relative HOME is ignored, as a relative
    XDG_CACHE_HOME is: it would make a cache, and `~` paths, per working directory."""
    home = os.environ.get("HOME")
    if home is not None and home.startswith("/"):
        return os.path.expanduser("~")
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_dir or "/"
    except KeyError:
        return "/"


def absolute(path: str) -> str:
    """`os.path.abspath(path)`, or for a relative path when the working directory was
    deleted, a PlanError that says so (instead of a bare [Errno 2])."""
    if path.startswith("/"):
        return os.path.normpath(path)
    cwd = working_directory()
    if not cwd:
        from pylockenv.core.errors import PlanError
        from pylockenv.core.limits import shown_path

        raise PlanError(
            f"{shown_path(path)} is a relative path, but the working directory it is read "
            "from no longer exists (it was deleted); cd to an existing directory, or give "
            "the path in full."
        )
    return os.path.normpath(os.path.join(cwd, path))


def host_record() -> HostRecord:
    """The facts about this host and process that do not depend on a spec (`cwd` is ""
    when the working directory was deleted)."""
    return {
        # What socket.gethostname() returns (the uname node name), without loading socket.
        "hostname": os.uname().nodename,
        "home": home_directory(),
        "cwd": working_directory(),
        "xdg_cache_home": os.environ.get("XDG_CACHE_HOME"),
        "path": os.environ.get("PATH"),
    }


_KINDS: tuple[tuple[Callable[[int], bool], FileKind], ...] = (
    (stat.S_ISREG, "file"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
)


def stat_kind(mode: int) -> FileKind:
    """What a path with this `st_mode` is, as `core.facts.FileKind` names it."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "other"


def file_record(path: str, where: str | None = None) -> FileRecord:
    """What `stat` says of `path` (following links, as opening it would): kind, mtime, size.

    "missing" when it does not exist. Without `where`, "missing" for any other failure
    too; with `where` (the field naming the path: `app.yml: pylock`), PlanError for a
    failure that "does not exist" would misreport (permission denied on a directory
    on the way, a name too long, a symlink loop).
    """
    try:
        st = os.stat(path)
    except ValueError:
        return {"kind": "missing", "mtime": None, "size": None}
    except OSError as exc:
        if where is None or _does_not_exist(exc):
            return {"kind": "missing", "mtime": None, "size": None}
        from pylockenv.core.errors import PlanError
        from pylockenv.core.limits import shown_path

        raise PlanError(
            f"{where}: {shown_path(path)} {os_error_words(exc)}; check the path and the "
            "permissions of its directories."
        ) from None
    return {"kind": stat_kind(st.st_mode), "mtime": st.st_mtime, "size": st.st_size}


def _does_not_exist(exc: OSError) -> bool:
    return exc.errno in (errno.ENOENT, errno.ENOTDIR)


def os_error_words(exc: OSError) -> str:
    """What a failed `open` or `stat` says about its path, as a phrase: "does not exist"."""
    if _does_not_exist(exc):
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


def uv_record(path: str, *, given_by_flag: bool) -> UvRecord:
    """The uv executable a plan uses: its path and stat, and unless `--uv` named it, the
    PYLOCKENV_UV it was found by (unset: the bundled uv, then PATH, which is recorded)."""
    record: UvRecord = {"path": path, "file": file_record(path), "given_by_flag": given_by_flag}
    if not given_by_flag:
        record["from_environment"] = os.environ.get(UV_ENV_VAR)
    return record


def gather_made_from(
    spec: Spec,
    *,
    uv: str | None = None,
    spec_file: str | None = None,
    name: str | None = None,
    may_download: bool = False,
) -> MadeFrom:
    """Read from this machine every fact `core.plan` needs for `spec`, as one record.

    `uv` overrides the uv executable (otherwise PYLOCKENV_UV, then the bundled uv);
    `spec_file` (with the command's `name`) is the file the spec was read from, whose
    stat is recorded too. The interpreter the spec's Python request resolves to is
    found as the uv steps would find it (`shell.interpreters`), and downloaded, where
    uv may download, only when `may_download`. Raises SpecError for a path that the
    spec file's directory, the working directory or home made unusable
    (`resolved_paths` checks them), and PlanError for a path that cannot be examined.
    """
    from pylockenv.core.facts import MISSING, FileFact
    from pylockenv.core.layout import cache_layout
    from pylockenv.core.planning import (
        python_request,
        require_existing,
        resolved_paths,
        uv_environment,
    )
    from pylockenv.core.provisioning import uv_setting_kept

    from .interpreters import find_interpreter
    from .process_env import child_environ
    from .uvbin import find_uv

    host = host_record()
    pylock, extras, prepend = resolved_paths(spec, home=host["home"], cwd=host["cwd"])
    named = [
        ("pylock", pylock),
        *((f"local_extra_deps[{i}]", dep) for i, dep in enumerate(extras)),
        *((f"prepend_paths[{i}]", entry) for i, entry in enumerate(prepend)),
    ]
    files = {path: file_record(path, f"{spec.source}: {field}") for field, path in named}
    # A spec whose files are wrong is refused for that before uv is asked anything.
    facts = {path: FileFact(**fact) for path, fact in files.items()}
    require_existing(spec, lambda path: facts.get(path, MISSING), pylock, extras, prepend)
    uv_path = uv or find_uv()
    changes = uv_environment(spec, prepend, host["path"])
    # The environment the uv steps get (`shell.provisioning.uv_environ`), so uv finds the
    # interpreter its venv step will be given.
    environ = {
        key: value
        for key, value in child_environ(changes.path_value, changes.set_env).items()
        if uv_setting_kept(key)
    }
    request = python_request(spec)
    # The cache may keep an earlier process's answer (`interpreters.read_kept_interpreter`).
    cache = cache_layout(xdg_cache_home=host["xdg_cache_home"], home=host["home"])
    found = find_interpreter(uv_path, request, environ, may_download=may_download, cache=cache)
    record: MadeFrom = {
        "host": host,
        "uv": uv_record(uv_path, given_by_flag=uv is not None),
        "files": files,
        "interpreters": {request: found},
    }
    if spec_file is not None:
        path = absolute(spec_file)
        record["spec"] = {"path": path, "name": name, "file": file_record(path)}
    return record


def gather_facts(spec: Spec, *, uv: str | None = None) -> HostFacts:
    """The planner's facts for `spec` on this machine (see `gather_made_from`)."""
    from pylockenv.core.facts import host_facts

    return host_facts(gather_made_from(spec, uv=uv))


def gather_host_facts(*, uv: str | None = None) -> HostFacts:
    """The facts that do not depend on a spec (no `files`): enough to find the cache."""
    from pylockenv.core.facts import host_facts

    from .uvbin import find_uv

    record: MadeFrom = {
        "host": host_record(),
        "uv": uv_record(uv or find_uv(), given_by_flag=uv is not None),
        "files": {},
        "interpreters": {},
    }
    return host_facts(record)


def gather_again(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The facts `recorded` holds, read again now with the functions that gathered them:
    the host, the same uv executable, the same files and interpreters, and the same spec
    file (and for a plan kept by `apply`, the plan file). `recorded` may be damaged: it
    is only read."""
    now: dict[str, Any] = {"host": host_record()}
    uv = recorded.get("uv")
    if isinstance(uv, dict) and isinstance(uv.get("path"), str):
        now["uv"] = uv_record(uv["path"], given_by_flag=uv.get("given_by_flag") is True)
    files = recorded.get("files")
    if isinstance(files, dict):
        now["files"] = {path: file_record(path) for path in files if isinstance(path, str)}
    interpreters = recorded.get("interpreters")
    if isinstance(interpreters, dict):
        # No uv call: the interpreter's stat stands for it (a rebuilt or removed one
        # changes it); what uv would find anew is covered by PATH, a host fact.
        now["interpreters"] = {
            request: {**found, "file": file_record(found["path"])}
            if isinstance(found, dict) and isinstance(found.get("path"), str)
            else found
            for request, found in interpreters.items()
        }
    for source in ("spec", "plan_file"):
        fact = recorded.get(source)
        if isinstance(fact, dict) and isinstance(fact.get("path"), str):
            now[source] = {**fact, "file": file_record(fact["path"])}
    return now
