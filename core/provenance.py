"""The `.provisioned` marker's content: how an env was made, as a typed, versioned record.

The marker's presence alone means "provisioned" (the reference writes it
empty); pylockenv writes a `Provenance` into it as JSON. Reading is lenient:
an empty marker, an older format or one with fields we do not know still
reads, and only what cannot be read at all is reported as unreadable, never
mistaken for the reference's empty marker.

The record also tells when a reused env was built from a local extra that has
changed since: the env hash, like the reference's, covers only the extras' paths,
so a wheel rebuilt at the same path lands in the same env. Its size and mtime now
(from the plan) against the recorded ones say so; the env is not switched
silently, the user is told how to get a fresh one (`changed_extras`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from attrs import asdict, frozen

from .facts import FileKind

if TYPE_CHECKING:
    import cattrs

    from .planning import LocalDep

# 2: `interpreter` (the one the env was made from) and `installed` (the distributions the
# env held when it was marked ready). A format-1 marker reads as a format-2 one without
# them (every field has a default).
PROVENANCE_FORMAT = 2
READABLE_FORMATS = (1, 2)
# The fingerprint of each format's fields (`core.plan_format.schema_fingerprint` of
# Provenance): a test fails when the fields change and PROVENANCE_FORMAT does not.
PROVENANCE_SCHEMAS = {1: "e7f88ae6a0f78f12", 2: "afbe54b19839ecde"}
# A marker is a few kilobytes; anything far larger is not one of ours.
MARKER_SIZE_LIMIT = 1 << 20


@frozen(kw_only=True)
class PylockRecord:
    """The pylock as it was when the env was provisioned."""

    path: str
    mtime: float | None = None
    sha256: str | None = None


@frozen(kw_only=True)
class ExtraRecord:
    """One local extra dep as it was when the env was provisioned (size, mtime and hash
    for a file; a directory is recorded by its path alone)."""

    path: str
    kind: FileKind | None = None
    size: int | None = None
    mtime: float | None = None
    sha256: str | None = None


@frozen(kw_only=True)
class InstalledRecord:
    """One distribution the env held when it was checked and marked ready."""

    name: str
    version: str


@frozen(kw_only=True)
class Provenance:
    """What pylockenv records in the marker of an env it provisioned.

    Every field may be missing from an older or foreign marker, so every field
    has a default; `host` is the host name the env was made on (an env's
    interpreter may point to paths only that host has).
    """

    format: int = PROVENANCE_FORMAT
    env_hash: str | None = None
    hash_input: str | None = None
    mode: str | None = None
    host: str | None = None
    python_version_requested: str | None = None
    # The interpreter the venv was made from (resolved for the request when planning),
    # and the version the env's pyvenv.cfg says it has.
    interpreter: str | None = None
    python_version: str | None = None
    pylock: PylockRecord | None = None
    local_extra_deps: tuple[ExtraRecord, ...] = ()
    uv: str | None = None
    uv_version: str | None = None
    started: str | None = None
    duration_seconds: float | None = None
    pylockenv_version: str | None = None
    source: str | None = None
    installed: tuple[InstalledRecord, ...] = ()


MarkerKind = Literal["empty", "provenance", "unreadable"]


@frozen(kw_only=True)
class Marker:
    """A marker that exists: empty (as the reference writes it), with provenance, or
    unreadable (`problem` says why: not JSON, wrong shape, too large, not a file)."""

    kind: MarkerKind
    provenance: Provenance | None = None
    problem: str | None = None


def _reject_bool(value: object, type_: type) -> Any:
    # cattrs would turn true into 1 and 1.0; a boolean where a number belongs is damage.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return type_(value)


def _strict_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


_CONVERTERS: list[cattrs.Converter] = []


def _converter() -> cattrs.Converter:
    """The lenient, strict-typed converter for reading markers, made on first use.

    cattrs loads only when a marker is read (a reuse, list, show, gc): a cold
    provisioning writes its marker without it, and is 40 ms quicker to start.
    """
    if not _CONVERTERS:
        import cattrs

        converter = cattrs.Converter(forbid_extra_keys=False)
        converter.register_structure_hook(str, _strict_str)
        converter.register_structure_hook(int, _reject_bool)
        converter.register_structure_hook(float, _reject_bool)
        _CONVERTERS.append(converter)
    return _CONVERTERS[0]


def parse_marker(data: bytes) -> Marker:
    """The marker whose bytes are `data`: empty, a Provenance, or unreadable with a reason."""
    if len(data) > MARKER_SIZE_LIMIT:
        return Marker(kind="unreadable", problem=f"it is larger than {MARKER_SIZE_LIMIT} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Marker(kind="unreadable", problem="it is not UTF-8 text")
    if not text.strip():
        return Marker(kind="empty")
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return Marker(kind="unreadable", problem="it is neither empty nor JSON")
    if not isinstance(document, dict):
        return Marker(kind="unreadable", problem="its JSON is not an object")
    problem = format_problem(document.get("format", PROVENANCE_FORMAT))
    if problem is not None:
        return Marker(kind="unreadable", problem=problem)
    import cattrs

    try:
        provenance = _converter().structure(document, Provenance)
    except cattrs.BaseValidationError as exc:
        details = "; ".join(cattrs.transform_error(exc, path="marker"))
        return Marker(kind="unreadable", problem=f"its JSON is not provenance ({details})")
    return Marker(kind="provenance", provenance=provenance)


def format_problem(version: object) -> str | None:
    """Why a marker whose `format` is `version` cannot be read by this pylockenv (one
    sentence, what to do included); None for the format it writes. A marker without a
    `format` is read as this one (the fields are all optional)."""
    if type(version) is int and version in READABLE_FORMATS:
        return None
    if type(version) is int and version > PROVENANCE_FORMAT:
        return (
            f"its format is {version}, newer than the format {PROVENANCE_FORMAT} this "
            "pylockenv reads (a newer pylockenv made the env); upgrade pylockenv to read "
            "its provenance (the env is still used: its marker is present)"
        )
    return (
        f"its format is {str(version)[:20]!r}, which no pylockenv writes (this one writes "
        f"{PROVENANCE_FORMAT}); remove the env with 'pylockenv gc HASH' if it is damaged"
    )


def provenance_to_dict(provenance: Provenance) -> dict[str, Any]:
    """The plain-data form of `provenance`, as written into the marker and shown by `show`."""
    data: dict[str, Any] = asdict(provenance)
    data["local_extra_deps"] = list(data["local_extra_deps"])
    data["installed"] = list(data["installed"])
    return data


def render_marker(provenance: Provenance) -> str:
    """The marker's text: the provenance as JSON, keys sorted, with a trailing newline."""
    return json.dumps(provenance_to_dict(provenance), indent=2, sort_keys=True) + "\n"


def iso_utc(timestamp: float) -> str:
    """`timestamp` as ISO 8601 in UTC, to the second: 2026-11-24T14:20:39Z."""
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


@frozen(kw_only=True)
class ChangedExtra:
    """A file extra whose size or mtime differs from the provenance's record."""

    path: str
    recorded_size: int | None
    recorded_mtime: float | None
    size: int | None
    mtime: float | None


def changed_extras(
    deps: tuple[LocalDep, ...], provenance: Provenance | None
) -> tuple[ChangedExtra, ...]:
    """The file extras among `deps` whose size or mtime differ from `provenance`.

    Directories are not compared (only their path is recorded), nor is an extra
    the provenance does not mention: no provenance (the reference's empty
    marker) yields nothing.
    """
    if provenance is None:
        return ()
    recorded = {entry.path: entry for entry in provenance.local_extra_deps}
    changed = []
    for dep in deps:
        entry = recorded.get(dep.path)
        if entry is None or entry.kind != "file":
            continue
        if dep.kind == "file" and (entry.size, entry.mtime) == (dep.size, dep.mtime):
            continue
        changed.append(
            ChangedExtra(
                path=dep.path,
                recorded_size=entry.size,
                recorded_mtime=entry.mtime,
                size=dep.size,
                mtime=dep.mtime,
            )
        )
    return tuple(changed)


def staleness_message(change: ChangedExtra, env_hash: str) -> str:
    """The one-paragraph warning printed for `change` when env `env_hash` is reused."""
    return (
        f"local extra dep {change.path} has changed since env {env_hash} was provisioned "
        f"(size {change.recorded_size} -> {change.size}, "
        f"mtime {change.recorded_mtime} -> {change.mtime}); the env still holds the old "
        "build. For a fresh env set 'refresh: true' on the command, remove this one with "
        f"'pylockenv gc {env_hash}', or build the new version under a new path."
    )
