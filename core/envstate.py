"""What one env in the cache is, from what the shell saw of it.

The shell looks (marker, interpreter, locks, times, size) without changing
anything and hands the result over as an `EnvObservation`; `env_state` names
the state that `list`, `show` and `gc` report. Whether an env is ready is the
layout's rule (`layout.is_ready`), the same one a run applies.
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen

from .layout import is_ready
from .provenance import Marker, Provenance

EnvKind = Literal["cached", "ephemeral"]
# Who made an ephemeral env, told by its name: pylockenv's runs lock their env's
# directory; the reference (`tempfile.mkdtemp(prefix="env_")`) takes no lock.
EphemeralMaker = Literal["pylockenv", "reference"]

EnvState = Literal[
    "ready",
    "partial",
    "broken",
    "not a directory",
    "in provisioning",
    "ephemeral in use",
    "orphaned ephemeral",
    "unlocked ephemeral",
]
# An env path holds a directory, or something else (a file, a symlink) that blocks it.
EntryType = Literal["directory", "not a directory"]


@frozen(kw_only=True)
class DiskUsage:
    """Bytes on disk of an env, each inode counted once.

    `freed` counts only the inodes whose every hard link lies inside the env:
    what removing it frees. uv hard-links installed files from its own cache,
    so `freed` is usually far below `total`.
    """

    total: int
    freed: int


@frozen(kw_only=True)
class EnvObservation:
    """One env as the shell found it.

    `marker` is None when there is no marker. `provisioning` says someone holds
    the env's provisioning lock; `in_use` says a running command holds its in-use
    lock (for an ephemeral env made by pylockenv: the lock file beside it, or the
    directory itself for one made by an older pylockenv). `maker` says who made an
    ephemeral env (the reference takes no lock, so an unlocked one of its envs may
    still be running). `lock_host` is the host an ephemeral env's lock file names
    (its run's). Times are seconds since the epoch, None when there was nothing to
    read them from.
    """

    name: str
    kind: EnvKind
    path: str
    entry: EntryType = "directory"
    maker: EphemeralMaker | None = None
    marker: Marker | None
    interpreter_ok: bool
    provisioning: bool
    in_use: bool
    created: float | None
    last_used: float | None
    python_version: str | None
    usage: DiskUsage | None
    lock_host: str | None = None

    @property
    def provenance(self) -> Provenance | None:
        """The recorded provenance; None for no marker, an empty or an unreadable one."""
        return None if self.marker is None else self.marker.provenance

    @property
    def host(self) -> str | None:
        """The host the env was made on, when its provenance (or, for an ephemeral env,
        its lock file) says; None: unknown."""
        provenance = self.provenance
        return self.lock_host if provenance is None else provenance.host

    @property
    def pylock(self) -> str | None:
        """The pylock path the provenance records (None when there is none)."""
        provenance = self.provenance
        return None if provenance is None or provenance.pylock is None else provenance.pylock.path


def judged_here(env: EnvObservation, this_host: str) -> bool:
    """Whether this host can judge the env's interpreter: only an env it made itself.

    An env of another host, or one whose host is unknown (the reference's empty
    marker), may have a bin/python that points to a path only its own host has.
    """
    return env.host == this_host


def env_state(env: EnvObservation, *, this_host: str) -> EnvState:
    """The state `list` shows for `env`, as seen from `this_host`.

    A run of an ephemeral env made by pylockenv holds its lock from before creating
    it until it has removed it, so one nobody holds is orphaned; one made
    by the reference is never locked, so it is only "unlocked". A cached env whose
    provisioning lock is held is "in provisioning" whatever its directory holds;
    otherwise the readiness rule decides between ready, partial and broken, and
    "broken" (the interpreter does not resolve) is said only of this host's envs.
    """
    if env.entry == "not a directory":
        return "not a directory"
    if env.kind == "ephemeral":
        if env.in_use:
            return "ephemeral in use"
        return "orphaned ephemeral" if env.maker == "pylockenv" else "unlocked ephemeral"
    if env.provisioning:
        return "in provisioning"
    if env.marker is None:
        return "partial"
    interpreter_ok = env.interpreter_ok or not judged_here(env, this_host)
    return (
        "ready" if is_ready(marker_present=True, interpreter_resolves=interpreter_ok) else "broken"
    )


Reuse = Literal["ready", "refresh", "absent", "partial", "broken", "not a directory", "busy"]


def reuse_of(mode: EnvKind, env: EnvObservation | None, *, this_host: str) -> Reuse:
    """What the next run of a plan in `mode` does with `env` (its env on disk, or None):
    "ready" reuses it; every other value says why it does not."""
    if mode == "ephemeral":
        return "refresh"
    if env is None:
        return "absent"
    state = env_state(env, this_host=this_host)
    if state == "ready":
        return "ready"
    if state == "partial":
        return "partial"
    if state == "broken":
        return "broken"
    if state == "not a directory":
        return "not a directory"
    return "busy"


Reach = Literal["reachable", "unknown", "other host", "pylock gone", "pylock changed"]


def reach_of(env: EnvObservation, *, this_host: str, pylock_mtime: float | None) -> Reach:
    """Whether a run of the spec that made `env` would still land in it.

    The env hash covers the host and the pylock's mtime, so a pylock edited since
    (or an env made on another host sharing this cache) leaves the env unreachable:
    nothing reuses it any more, and gc removes it once unused long enough.
    `pylock_mtime` is the recorded pylock's mtime now (None if it is gone).
    """
    provenance = env.provenance
    if provenance is None or provenance.pylock is None:
        return "unknown"
    if provenance.host != this_host:
        return "other host"
    if pylock_mtime is None:
        return "pylock gone"
    if provenance.pylock.mtime != pylock_mtime:
        return "pylock changed"
    return "reachable"
