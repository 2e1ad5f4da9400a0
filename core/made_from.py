"""What a plan was made from: the one record the shell gathers, and whether it still holds.

The shell gathers every fact a plan depends on into one `MadeFrom` record of
plain data (`shell.facts`); the full path builds the planner's `HostFacts` from
it (`core.facts.host_facts`), and a plan file and a kept plan store it as it
was gathered. Before a plan file or a kept plan is used, the shell gathers the
same record again and `what_changed` compares the two: any difference makes the
plan stale, as Terraform refuses a stale saved plan.

Adding a fact: one line in `HostRecord` below, then its gathering in
`shell.facts.host_record`. The freshness rule covers it at once (it reads the
record's declared fields), and so does the plan schema's fingerprint (a new
PLAN_FILE_VERSION). The planner reads it once `HostFacts` declares it (with a
name a person reads in `_WORDS`, if its field name is not one). A fact that
depends on a value of the spec is a mapping keyed by that value instead: `files`
(each path's stat) and `interpreters` (each Python request's interpreter).

Light: the warm path of a run loads this module, so it imports nothing at run
time (the record types are read by mypy only; at run time each is a plain dict
class whose annotations are kept as text, which the plan schema's fingerprint reads).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, NotRequired, TypedDict

    from .facts import FileKind
else:
    TypedDict = dict


class FileRecord(TypedDict):
    """What `stat` said of one path (following links, as opening it would)."""

    kind: FileKind
    mtime: float | None
    size: int | None


class HostRecord(TypedDict):
    """The facts about this host and process that do not depend on a spec."""

    hostname: str
    home: str
    cwd: str
    xdg_cache_home: str | None
    path: str | None


class InterpreterRecord(TypedDict):
    """The interpreter uv finds for one `python_version` request, as `uv venv -p` would
    (`shell.interpreters`): its path, the full version it reports, and its stat (what the
    freshness rule reads again: a rebuilt or removed interpreter changes it). `path` and
    `version` are None when none matches; `installed` then lists the versions the host
    has (gathered only for that case, for the message), and `no_download` why none was
    downloaded."""

    path: str | None
    version: str | None
    file: FileRecord | None
    installed: NotRequired[list[str]]
    no_download: NotRequired[str]


class UvRecord(TypedDict):
    """The uv executable a plan runs: its path and stat, whether `--uv` named it, and
    otherwise the PYLOCKENV_UV it was found by (None: the bundled uv, then PATH)."""

    path: str
    file: FileRecord
    given_by_flag: bool
    from_environment: NotRequired[str | None]


class SourceRecord(TypedDict):
    """The file a plan was read from: a spec file (with the command's name) or a plan file."""

    path: str
    name: NotRequired[str | None]
    file: FileRecord


class MadeFrom(TypedDict):
    """Every fact a plan depends on, as gathered: the host, the uv executable, the stat
    of each path the spec names, the interpreter each Python request resolves to, and the
    spec file (or, for a plan kept by `apply`, the plan file) the plan came from."""

    host: HostRecord
    uv: UvRecord
    files: dict[str, FileRecord]
    interpreters: dict[str, InterpreterRecord]
    spec: NotRequired[SourceRecord]
    plan_file: NotRequired[SourceRecord]


# The record's classes, for the plan schema's fingerprint (`core.plan_format`).
RECORD_CLASSES = (MadeFrom, HostRecord, InterpreterRecord, UvRecord, SourceRecord, FileRecord)

# HostRecord's facts, in declaration order (read at run time from the declaration).
HOST_FACTS = tuple(HostRecord.__annotations__)

# The words a person reads in "what changed" for a fact whose field name is not one.
_WORDS = {
    "hostname": "host name",
    "home": "home directory",
    "cwd": "working directory",
    "xdg_cache_home": "XDG_CACHE_HOME",
    "path": "PATH",
}


def what_changed(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the facts a plan was made from and the same facts now, one
    phrase per difference; empty when the plan is fresh. Both come from the shell, and
    `recorded` may be damaged data of any shape: it is read, never trusted.

    The freshness rule: every recorded fact must hold now, except the working
    directory of a plan made from a spec file, whose relative paths are the spec's.
    """
    changes: list[str] = []
    recorded_host, now_host = _mapping(recorded.get("host")), _mapping(now.get("host"))
    for key in HOST_FACTS:
        words = _WORDS.get(key, key)
        if key == "cwd" and "spec" in recorded:
            continue  # a plan of a spec file does not depend on the working directory
        if recorded_host.get(key) != now_host.get(key):
            changes.append(
                f"{words}: {_shown(recorded_host.get(key))} -> {_shown(now_host.get(key))}"
            )
    recorded_uv, now_uv = _mapping(recorded.get("uv")), _mapping(now.get("uv"))
    if recorded_uv != now_uv:
        changes.append(f"uv executable: {_shown(recorded_uv)} -> {_shown(now_uv)}")
    recorded_files, now_files = _mapping(recorded.get("files")), _mapping(now.get("files"))
    for path in sorted(set(recorded_files) | set(now_files), key=str):
        if recorded_files.get(path) != now_files.get(path):
            before, after = recorded_files.get(path), now_files.get(path)
            changes.append(f"{_shown(path)}: {_file_words(before)} -> {_file_words(after)}")
    recorded_python = _mapping(recorded.get("interpreters"))
    now_python = _mapping(now.get("interpreters"))
    for request in sorted(set(recorded_python) | set(now_python), key=str):
        before, after = _mapping(recorded_python.get(request)), _mapping(now_python.get(request))
        if before != after:
            changes.append(
                f"Python {_shown(request)}: {_shown(before.get('path'))} "
                f"({_file_words(before.get('file'))}) -> {_shown(after.get('path'))} "
                f"({_file_words(after.get('file'))})"
            )
    if recorded.get("plan_file") != now.get("plan_file"):
        before, after = _mapping(recorded.get("plan_file")), _mapping(now.get("plan_file"))
        was, now_is = _file_words(before.get("file")), _file_words(after.get("file"))
        changes.append(f"plan file {_shown(before.get('path'))}: {was} -> {now_is}")
    if recorded.get("spec") != now.get("spec"):
        before, after = _mapping(recorded.get("spec")), _mapping(now.get("spec"))
        if before.get("path") != after.get("path") or before.get("name") != after.get("name"):
            changes.append(f"spec: {_shown(before)} -> {_shown(after)}")
        else:
            was, now_is = _file_words(before.get("file")), _file_words(after.get("file"))
            changes.append(f"spec {_shown(before.get('path'))}: {was} -> {now_is}")
    return changes


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _file_words(fact: object) -> str:
    if not isinstance(fact, dict) or fact.get("kind") in (None, "missing"):
        return "missing"
    return f"{fact.get('kind')}, size {fact.get('size')}, mtime {fact.get('mtime')}"


def _shown(value: object) -> str:
    """`value` for a one-line message: repr, every control character escaped, at most 200."""
    text = ascii(value)
    return text if len(text) <= 200 else text[:197] + "..."
