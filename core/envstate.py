"""What one environment directory in the cache is, from what the shell saw of it.

The shell looks (marker, interpreter, locks, times, size) without changing
anything and hands the result over as an `EnvObservation`; `env_state` names
the state that `list`, `show` and `gc` report.
"""

from __future__ import annotations

from typing import Any, Literal

from attrs import field, frozen

from .layout import EnvKind

EnvState = Literal[
    "ready",
    "partial",
    "broken",
    "in provisioning",
    "ephemeral in use",
    "orphaned ephemeral",
]


@frozen(kw_only=True)
class DiskUsage:
    """Bytes on disk of an env, each inode counted once.

    `exclusive` counts only the inodes whose every hard link lies inside the env:
    what removing it frees. uv hard-links installed files from its own cache, so
    `exclusive` is usually far below `total`.
    """

    total: int
    exclusive: int


def _optional_dict_copy(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@frozen(kw_only=True)
class EnvObservation:
    """One env directory as the shell found it.

    `marker` is the parsed provenance ({} for the reference's empty marker) or
    None when there is no marker. `provisioning` says the env's provisioning lock
    is held by someone; `in_use` says a running command holds its in-use lock.
    Times are seconds
    since the epoch; None when there was nothing to read them from.
    """

    name: str
    kind: EnvKind
    path: str
    # Excluded from hashing only because a dict is unhashable; equality still compares it.
    marker: dict[str, Any] | None = field(converter=_optional_dict_copy, hash=False)
    interpreter_ok: bool
    provisioning: bool
    in_use: bool
    created: float | None
    last_used: float | None
    python_version: str | None
    usage: DiskUsage | None

    @property
    def pylock(self) -> str | None:
        """The pylock path the provenance records (None for the reference's empty marker)."""
        pylock = (self.marker or {}).get("pylock")
        path = pylock.get("path") if isinstance(pylock, dict) else None
        return path if isinstance(path, str) else None


def env_state(env: EnvObservation) -> EnvState:
    """The state `list` shows for `env`.

    An ephemeral env's run holds its lock from creating the directory until it
    has removed it, so one nobody holds is orphaned. A cached env
    whose provisioning lock is held is "in provisioning" whatever its directory
    holds; otherwise the marker decides between ready and partial, and a marker
    whose interpreter does not resolve (the base Python was removed) is broken.
    """
    if env.kind == "ephemeral":
        if env.in_use:
            return "ephemeral in use"
        return "orphaned ephemeral"
    if env.provisioning:
        return "in provisioning"
    if env.marker is None:
        return "partial"
    return "ready" if env.interpreter_ok else "broken"


def reuse_verdict(mode: EnvKind, env: EnvObservation | None) -> str:
    """Whether the next run of a plan in `mode` reuses `env` (its env on disk, or None), and why.

    The answer starts with "yes" or "no".
    """
    if mode == "ephemeral":
        return "no: refresh is true, so every run provisions a fresh ephemeral env"
    if env is None:
        return "no: there is no env yet; the next run provisions it"
    state = env_state(env)
    if state == "ready":
        return "yes: its marker is present and its interpreter bin/python resolves"
    if state == "partial":
        return "no: it has no marker; the next run removes it and provisions again"
    if state == "broken":
        return (
            "no: its interpreter bin/python does not resolve (its base Python is gone); "
            "the next run removes it and provisions again"
        )
    return "no: it is being provisioned now; the next run waits for that and then reuses it"


def reachability(env: EnvObservation, *, hostname: str, pylock_mtime: float | None) -> str:
    """Whether a run of the spec that made `env` would still land in it, and why.

    The env hash covers the host and the pylock's mtime, so a pylock edited since
    (or an env made on another host sharing this cache) leaves the env unreachable:
    nothing reuses it any more, and gc removes it once unused long enough.
    `pylock_mtime` is the recorded pylock's mtime now (None if it is gone).
    """
    provenance = env.marker
    if not provenance:
        return "unknown: no provenance recorded (an env made by bfabric-app-runner)"
    pylock = provenance.get("pylock")
    recorded = pylock.get("mtime") if isinstance(pylock, dict) else None
    if provenance.get("host") != hostname:
        return f"no: it was made on host {provenance.get('host')}, this is {hostname}"
    if pylock_mtime is None:
        return f"no: its pylock {env.pylock} is gone"
    if recorded != pylock_mtime:
        return (
            f"no: its pylock {env.pylock} changed since (mtime {recorded}, now "
            f"{pylock_mtime}), so runs of its spec use a new env"
        )
    return "yes, if its spec is unchanged: same host, and its pylock is as it was"
