"""Recording how an env was made (after its last uv step), and noticing changes on reuse."""

from __future__ import annotations

import hashlib

from pylockenv.core import __version__
from pylockenv.core.cache_display import iso_utc
from pylockenv.core.planning import Plan
from pylockenv.core.provenance import ExtraRecord, Marker, Provenance, PylockRecord
from pylockenv.core.staleness import changed_extras, staleness_message

from .cachefiles import CacheFileError, read_regular

HASH_CHUNK = 1 << 20
PYVENV_CFG_LIMIT = 1 << 16


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


def read_pyvenv_cfg(path: str) -> dict[str, str]:
    """The `key = value` lines of a `pyvenv.cfg` ({} when it is missing or not a plain file)."""
    try:
        data = read_regular(path, PYVENV_CFG_LIMIT)
    except (OSError, CacheFileError):
        return {}
    if data is None:
        return {}
    lines = data.decode("utf-8", errors="replace").splitlines()
    pairs = (line.partition("=") for line in lines)
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def record_provenance(
    plan: Plan, *, started: float, duration: float, uv_version: str | None
) -> Provenance:
    """The provenance written into the marker of a freshly provisioned env.

    `started` is when provisioning began (seconds since the epoch) and
    `duration` how long it took. Call it after the last uv step: it reads the
    env's `pyvenv.cfg` for the actual interpreter version, hashes the pylock and
    the file extras. `uv_version` is what `uv --version` printed before provisioning.
    """
    return Provenance(
        env_hash=plan.env_hash,
        hash_input=plan.hash_input,
        mode=plan.mode,
        host=plan.host,
        python_version_requested=plan.python_version,
        python_version=read_pyvenv_cfg(plan.env.pyvenv_cfg).get("version_info"),
        pylock=PylockRecord(
            path=plan.pylock, mtime=plan.pylock_mtime, sha256=file_sha256(plan.pylock)
        ),
        local_extra_deps=tuple(
            ExtraRecord(
                path=dep.path,
                kind=dep.kind,
                size=dep.size if dep.kind == "file" else None,
                mtime=dep.mtime if dep.kind == "file" else None,
                sha256=file_sha256(dep.path) if dep.kind == "file" else None,
            )
            for dep in plan.local_extra_deps
        ),
        uv=plan.uv,
        uv_version=uv_version,
        started=iso_utc(started),
        duration_seconds=round(duration, 3),
        pylockenv_version=__version__,
        source=plan.source,
    )


def staleness_warnings(plan: Plan, marker: Marker | None) -> list[str]:
    """One warning per local extra dep file that changed since the reused env was provisioned."""
    provenance = None if marker is None else marker.provenance
    return [
        staleness_message(change, plan.env_hash)
        for change in changed_extras(plan.local_extra_deps, provenance)
    ]
