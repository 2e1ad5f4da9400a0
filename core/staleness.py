"""Noticing that a reused env was built from a local extra dep that has changed since.

The env hash, like the reference's, covers only the extras' paths, so a wheel
rebuilt at the same path lands in the same env. Comparing its size and mtime
now (from the plan) with what the marker recorded at provisioning tells; the
env is not switched silently, the user is told how to get a fresh one.
"""

from __future__ import annotations

from attrs import frozen

from .planning import LocalDep
from .provenance import Provenance


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
