"""What the `.provisioned` marker records about how an env was made, and reading it back.

The marker's presence alone means "ready" (an empty one, as the reference
writes, is accepted); its JSON content says what went into the env, so that
`list`, `show` and the staleness check on reuse can tell the operator.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pylockenv.core import __version__
from pylockenv.core.plan import Plan
from pylockenv.core.staleness import changed_extras, staleness_message

from .marker import read_marker

PROVENANCE_FORMAT = 1
HASH_CHUNK = 1 << 20


def file_sha256(path: str) -> str | None:
    """The hex SHA-256 of the file at `path`, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def read_pyvenv_cfg(env_path: str) -> dict[str, str]:
    """The `key = value` lines of `<env>/pyvenv.cfg` ({} when it is missing)."""
    try:
        with open(f"{env_path}/pyvenv.cfg", encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    pairs = (line.partition("=") for line in lines)
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def record_provenance(
    plan: Plan, *, started: float, duration: float, uv_version: str | None
) -> dict[str, Any]:
    """The provenance written into the marker of a freshly provisioned env.

    `started` is when provisioning began (seconds since the epoch) and
    `duration` how long it took. Call it after the last uv step: it reads the
    env's `pyvenv.cfg` for the actual interpreter version, hashes the pylock and
    the file extras. `uv_version` is what `uv --version` printed before provisioning.
    """
    from pylockenv.core.cacheview import iso_utc

    # A hostname cannot contain ":", so the hash input's first field is exactly it.
    host = plan.hash_input.split(":", 1)[0]
    extras = []
    for dep in plan.local_extra_deps:
        entry: dict[str, Any] = {"path": dep.path, "kind": dep.kind}
        if dep.kind == "file":
            entry |= {"size": dep.size, "mtime": dep.mtime, "sha256": file_sha256(dep.path)}
        extras.append(entry)
    return {
        "format": PROVENANCE_FORMAT,
        "env_hash": plan.env_hash,
        "hash_input": plan.hash_input,
        "mode": plan.mode,
        "host": host,
        "python_version_requested": plan.python_version,
        "python_version": read_pyvenv_cfg(plan.env_path).get("version_info"),
        "pylock": {
            "path": plan.pylock,
            "mtime": plan.pylock_mtime,
            "sha256": file_sha256(plan.pylock),
        },
        "local_extra_deps": extras,
        "uv": plan.uv,
        "uv_version": uv_version,
        "started": iso_utc(started),
        "duration_seconds": round(duration, 3),
        "pylockenv_version": __version__,
        "source": plan.source,
    }


def staleness_warnings(plan: Plan) -> list[str]:
    """One warning per local extra dep file that changed since the reused env was provisioned.

    Cheap: reads only the marker. An empty marker (the reference's) or a
    missing one gives no warnings.
    """
    provenance = read_marker(plan.marker_path)
    if not provenance:
        return []
    return [
        staleness_message(change, plan.env_hash)
        for change in changed_extras(plan.local_extra_deps, provenance)
    ]
