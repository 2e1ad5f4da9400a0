"""Plans as files: a plan, the facts it was made from, and whether those facts still hold.

A plan file is what `pylockenv run ... --print-plan --json` prints and
`pylockenv apply` runs; the warm path of `run` keeps one per spec under the cache
root and reuses it while it is fresh. Before a plan file is used, the facts it
records (host name, home, working directory, cache home, PATH, this Python's
version, the uv executable, the stat of every file the spec names, and for a
stored plan the spec file itself) are gathered again and compared: any
difference makes the plan stale, and `what_changed` says what differs, as
Terraform refuses a stale saved plan.

Pure, and light: the warm path decides with `marshal` and `zlib` only (the plans
it keeps are marshal data); `json`, which a user's plan file needs, loads when
one is read or written, never on a warm run.
"""

from __future__ import annotations

import marshal
import zlib

from .errors import PlanFileError as PlanFileError  # its home is core.errors

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PLAN_FILE_VERSION = 1
VERSION_KEY = "plan_file_version"
MADE_FROM_KEY = "made_from"
# A plan is a few kilobytes; a file far larger than this is no plan file.
PLAN_FILE_SIZE_LIMIT = 1 << 20

# The host facts a plan depends on, as `made_from["host"]` records them, with their names.
HOST_FACTS = {
    "hostname": "host name",
    "home": "home directory",
    "cwd": "working directory",
    "xdg_cache_home": "XDG_CACHE_HOME",
    "path": "PATH",
    "default_python_version": "Python version of pylockenv",
    "python_full_version": "Python version of pylockenv",
}


def plan_file(plan: Mapping[str, Any], made_from: Mapping[str, Any]) -> dict[str, Any]:
    """The plan file for `plan` (its plain-data form): the plan's fields, its format
    version, and the facts it was made from."""
    return {**plan, VERSION_KEY: PLAN_FILE_VERSION, MADE_FROM_KEY: dict(made_from)}


def render_plan_file(document: Mapping[str, Any]) -> str:
    """The plan file as JSON text with a trailing newline."""
    import json

    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def parse_plan_file(data: bytes, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan (its plain-data form) and the facts it was made from, read from `data`.

    Raises PlanFileError naming `where` when `data` is not a plan file or one of a
    version this pylockenv does not know.
    """
    import json

    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise PlanFileError(
            f"{where} is not a plan file (not JSON); make one with "
            "'pylockenv run SPEC [NAME] --print-plan --json > plan.json'."
        ) from None
    if not isinstance(document, dict) or VERSION_KEY not in document:
        raise PlanFileError(
            f"{where} is not a plan file (no {VERSION_KEY}); make one with "
            "'pylockenv run SPEC [NAME] --print-plan --json > plan.json'."
        )
    version = document.pop(VERSION_KEY)
    if version != PLAN_FILE_VERSION:
        raise PlanFileError(
            f"{where} is a plan file of version {version!r}, and this pylockenv reads version "
            f"{PLAN_FILE_VERSION} only; make the plan again with this pylockenv."
        )
    made_from = document.pop(MADE_FROM_KEY, None)
    if not isinstance(made_from, dict):
        raise PlanFileError(f"{where} is a plan file without the facts it was made from.")
    return document, made_from


def stored_plan_key(verb: str, source: str, name: str | None, cwd: str) -> str:
    """The name under which the warm path keeps the plan of `run SPEC [NAME]` or of
    `apply PLAN` (`verb`, the absolute path of SPEC or PLAN as `source`) made in `cwd`.

    Two 32-bit checksums (zlib loads in a fraction of hashlib's time): a collision
    only costs speed, since the stored plan records the file, name and working
    directory it belongs to and is stale for any other.
    """
    words = "\0".join([verb, source, "" if name is None else f"={name}", cwd])
    data = words.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def encode_stored_plan(plan: Mapping[str, Any], made_from: Mapping[str, Any]) -> bytes:
    """A plan kept for warm runs: marshal data, which the warm path reads without json."""
    return marshal.dumps(
        {VERSION_KEY: PLAN_FILE_VERSION, "plan": dict(plan), MADE_FROM_KEY: dict(made_from)}
    )


def decode_stored_plan(data: bytes) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The plan and its facts from a kept plan; None when `data` is not one of this version."""
    try:
        document = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(document, dict) or document.get(VERSION_KEY) != PLAN_FILE_VERSION:
        return None
    plan, made_from = document.get("plan"), document.get(MADE_FROM_KEY)
    if not isinstance(plan, dict) or not isinstance(made_from, dict):
        return None
    return plan, made_from


def what_changed(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between the facts a plan was made from and the same facts now, one
    phrase per difference; empty when the plan is fresh. Both come from the shell."""
    changes: list[str] = []
    recorded_host, now_host = _mapping(recorded.get("host")), _mapping(now.get("host"))
    for key, words in HOST_FACTS.items():
        if key == "cwd" and key not in recorded_host:
            continue  # a plan of a spec file does not depend on the working directory
        if recorded_host.get(key) != now_host.get(key):
            changes.append(
                f"{words}: {_shown(recorded_host.get(key))} -> {_shown(now_host.get(key))}"
            )
    recorded_uv, now_uv = _mapping(recorded.get("uv")), _mapping(now.get("uv"))
    if recorded_uv != now_uv:
        changes.append(f"uv executable: {_shown(recorded_uv)} -> {_shown(now_uv)}")
    recorded_files, now_files = _mapping(recorded.get("files")), _mapping(now.get("files"))
    for path in sorted(set(recorded_files) | set(now_files)):
        if recorded_files.get(path) != now_files.get(path):
            before, after = recorded_files.get(path), now_files.get(path)
            changes.append(f"{_shown(path)}: {_file_words(before)} -> {_file_words(after)}")
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
