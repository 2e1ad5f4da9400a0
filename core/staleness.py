"""Noticing that a reused env was built from a local extra dep that has changed since.

The env hash, like the reference's, covers only the extras' paths, so a wheel
rebuilt at the same path lands in the same env. Comparing its size and mtime
now (from the plan) with what the marker recorded at provisioning tells; the
env is not switched silently, the user is told how to get a fresh one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from .plan import LocalDep


@frozen(kw_only=True)
class ChangedExtra:
    """A file extra whose size or mtime differs from the provenance's record."""

    path: str
    recorded_size: int | None
    recorded_mtime: float | None
    size: int | None
    mtime: float | None


def _recorded_extras(provenance: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    entries = provenance.get("local_extra_deps")
    if not isinstance(entries, list):
        return {}
    return {
        entry["path"]: entry
        for entry in entries
        if isinstance(entry, Mapping) and isinstance(entry.get("path"), str)
    }


def changed_extras(
    deps: tuple[LocalDep, ...], provenance: Mapping[str, Any]
) -> tuple[ChangedExtra, ...]:
    """The file extras among `deps` whose size or mtime differ from `provenance`.

    Directories are not compared (only their path is recorded), nor is an extra
    the provenance does not mention: an empty marker, as the reference writes,
    yields nothing.
    """
    recorded = _recorded_extras(provenance)
    changed = []
    for dep in deps:
        entry = recorded.get(dep.path)
        if entry is None or entry.get("kind") != "file":
            continue
        if dep.kind == "file" and (entry.get("size"), entry.get("mtime")) == (dep.size, dep.mtime):
            continue
        changed.append(
            ChangedExtra(
                path=dep.path,
                recorded_size=entry.get("size"),
                recorded_mtime=entry.get("mtime"),
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
