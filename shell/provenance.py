"""Recording how an env was made (after its last uv step), and noticing changes on reuse."""

from __future__ import annotations

import hashlib

from pylockenv.core import __version__
from pylockenv.core.planning import Plan
from pylockenv.core.provenance import Marker, Provenance
from pylockenv.core.provisioning import hashed_paths, provenance_of
from pylockenv.core.staleness import changed_extras, staleness_message

from .cachefiles import CacheFileError, read_cache_file

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
        data = read_cache_file(path, PYVENV_CFG_LIMIT, levels=2)  # <env>/pyvenv.cfg
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
    """The provenance of a freshly provisioned env (`core.provisioning.provenance_of`),
    with what only the disk knows: the env's actual interpreter version from its
    `pyvenv.cfg`, and the sha256 of the pylock and the file extras. Call it after the
    last uv step. `started` and `duration`: when provisioning began (seconds since the
    epoch) and how long it took; `uv_version`: what `uv --version` printed before."""
    return provenance_of(
        plan,
        started=started,
        duration=duration,
        uv_version=uv_version,
        python_version=read_pyvenv_cfg(plan.env.pyvenv_cfg).get("version_info"),
        sha256={path: file_sha256(path) for path in hashed_paths(plan)},
        pylockenv_version=__version__,
    )


def staleness_warnings(plan: Plan, marker: Marker | None) -> list[str]:
    """One warning per local extra dep file that changed since the reused env was provisioned."""
    provenance = None if marker is None else marker.provenance
    return [
        staleness_message(change, plan.env_hash)
        for change in changed_extras(plan.local_extra_deps, provenance)
    ]
