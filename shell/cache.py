"""Looking at the env cache on disk, and applying a gc plan to it one env at a time.

Looking changes nothing: locks are probed on the files that exist, never
created, so a scan leaves every env's "last used" time as it was; nothing is
followed through a link and no special file is opened in a way that blocks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable

from attrs import evolve

from pylockenv.core.envstate import EntryType, EnvObservation
from pylockenv.core.gc import GcEntry, GcOutcome, GcPlan, GcPolicy, GcReason, decide
from pylockenv.core.layout import (
    LOCK_SUFFIX,
    CacheLayout,
    EnvLayout,
    cache_layout,
    env_kind_of,
    ephemeral_maker,
)
from pylockenv.core.plan_format import PLAN_FILE_SIZE_LIMIT, decode_kept_plan

from .cachefiles import CacheFileError, open_regular, read_regular
from .diskusage import disk_usage
from .envlocks import HeldLock, is_locked, open_directory, try_flock
from .errors import CacheUnreadableError
from .facts import gather_host_facts
from .marker import read_marker
from .provenance import read_pyvenv_cfg


def this_cache() -> tuple[CacheLayout, str]:
    """This user's cache (`$XDG_CACHE_HOME/bfabric_app_runner`) and this host's name."""
    facts = gather_host_facts()
    return cache_layout(xdg_cache_home=facts.xdg_cache_home, home=facts.home), facts.hostname


def _mtime(path: str) -> float | None:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return None


def observe_env(env: EnvLayout, *, sizes: bool, locks_held: bool = False) -> EnvObservation:
    """Look at `env` without changing it.

    `locks_held`: this process holds the env's provisioning and in-use locks
    itself (gc, about to remove it), so nobody else is provisioning or using it;
    probing them would only find our own locks. `sizes` walks the tree to measure it.
    """
    entry: EntryType = "directory"
    if not os.path.isdir(env.path) or os.path.islink(env.path):
        entry = "not a directory"
    marker = read_marker(env) if entry == "directory" else None
    provisioning = in_use = False
    if not locks_held:
        provisioning = env.lock is not None and is_locked(env.lock)
        if env.kind == "ephemeral":
            in_use = entry == "directory" and is_locked(env.path, directory=True)
        else:
            in_use = entry == "directory" and is_locked(env.in_use)
    provenance = None if marker is None else marker.provenance
    python_version = provenance.python_version if provenance is not None else None
    # Each run touches .in-use; an env no run has used yet was last "used" when made.
    last_used = _mtime(env.in_use) or (_mtime(env.marker) if marker is not None else None)
    return EnvObservation(
        name=env.name,
        kind=env.kind,
        path=env.path,
        entry=entry,
        maker=ephemeral_maker(env.name) if env.kind == "ephemeral" else None,
        marker=marker,
        interpreter_ok=entry == "directory" and os.path.exists(env.python),
        provisioning=provisioning,
        in_use=in_use,
        created=_mtime(env.pyvenv_cfg) or _mtime(env.path),
        last_used=last_used,
        python_version=python_version or read_pyvenv_cfg(env.pyvenv_cfg).get("version_info"),
        usage=disk_usage(env.path) if sizes and entry == "directory" else None,
    )


def scan_cache(cache: CacheLayout, *, sizes: bool = True) -> tuple[list[EnvObservation], list[str]]:
    """Every env under `cache` (cached and ephemeral), and the other entries found there.

    Only names that match the layout's env patterns are envs; the rest (a lock
    file is neither, and is not reported) is returned as paths for `list -v`.
    Raises CacheUnreadableError when the cache exists but cannot be read.
    """
    found: list[EnvObservation] = []
    others: list[str] = []
    for path, directory in cache.env_directories():
        try:
            names = sorted(os.listdir(path))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise CacheUnreadableError(
                f"cannot read the cache directory {path} ({exc.strerror}); "
                "check its permissions, or run as the user who owns the cache."
            ) from None
        for name in names:
            kind = env_kind_of(directory, name)
            if kind is not None:
                env = cache.env_named(name)
                assert env is not None
                found.append(observe_env(env, sizes=sizes))
            elif not _is_lock_of_an_env(directory, name):
                others.append(f"{path}/{name}")
    return found, others


def _is_lock_of_an_env(directory: str, name: str) -> bool:
    stem = name.removesuffix(LOCK_SUFFIX)
    return stem != name and env_kind_of(directory, stem) == "cached"


def find_env(cache: CacheLayout, name: str) -> EnvObservation | None:
    """The env called `name` (a hash, or `env_<suffix>` for an ephemeral one), if on disk."""
    env = cache.env_named(name)
    if env is None or not os.path.lexists(env.path):
        return None
    return observe_env(env, sizes=True)


class _Busy(Exception):
    """A lock gc needs is held by someone else."""

    def __init__(self, reason: GcReason) -> None:
        super().__init__(reason)
        self.reason: GcReason = reason


def _take_provisioning_lock(env: EnvLayout) -> HeldLock | None:
    if env.lock is None:
        return None
    # Created if missing: a provisioning about to start must find it and wait for us.
    fd = open_regular(env.lock, os.O_RDWR | os.O_CREAT, 0o644)
    if not try_flock(fd, fcntl.LOCK_EX):
        os.close(fd)
        raise _Busy("in provisioning")
    return HeldLock(fd)


def _take_in_use_lock(env: EnvLayout) -> HeldLock | None:
    if not os.path.isdir(env.path) or os.path.islink(env.path):
        return None  # nothing to lock: a file or link in an env's place
    if env.kind == "ephemeral":
        fd = open_directory(env)
    else:
        # Created if missing: a run that opens it next must wait until the marker is gone.
        fd = open_regular(env.in_use, os.O_RDWR | os.O_CREAT)
    if not try_flock(fd, fcntl.LOCK_EX):
        os.close(fd)
        raise _Busy("in use")
    return HeldLock(fd)


def _remove(env: EnvLayout) -> None:
    """Remove the marker first (a run waiting for the in-use lock then sees it gone),
    then the rest. An ephemeral env's own run may be removing it at the same moment."""
    if not os.path.isdir(env.path) or os.path.islink(env.path):
        os.unlink(env.path)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(env.marker)
    shutil.rmtree(env.path, onerror=_ignore_vanished)


def _ignore_vanished(
    function: object, path: str, exc_info: tuple[type, BaseException, object]
) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def apply_one(cache: CacheLayout, entry: GcEntry, policy: GcPolicy) -> GcOutcome:
    """Carry out one removal of a gc plan: take the env's locks without waiting, look
    again, and remove it if the same decision still stands. Never raises for one env."""
    env = cache.env_named(entry.env.name)
    assert env is not None
    try:
        with _take_provisioning_lock(env) or HeldLock(-1):
            if not os.path.lexists(env.path):
                return GcOutcome(entry=entry, result="gone")
            had_in_use = os.path.lexists(env.in_use)
            with _take_in_use_lock(env) or HeldLock(-1):
                seen = observe_env(env, sizes=True, locks_held=True)
                if not had_in_use:
                    # The lock file is ours, just made: its time is no use of the env.
                    seen = evolve(seen, last_used=_mtime(env.marker) if seen.marker else None)
                fresh = decide(seen, policy)
                if fresh.action != "remove":
                    if not had_in_use and seen.last_used is not None:
                        # Never unlinked (a run may be waiting on it): dated as the env's
                        # making, so it still reads "no use since".
                        os.utime(env.in_use, (seen.last_used, seen.last_used))
                    return GcOutcome(entry=fresh, result="kept")
                usage = fresh.env.usage
                _remove(env)
                return GcOutcome(
                    entry=fresh, result="removed", freed=None if usage is None else usage.freed
                )
    except _Busy as busy:
        skipped = GcEntry(env=entry.env, action="skip", reason=busy.reason)
        return GcOutcome(entry=skipped, result="skipped")
    except FileNotFoundError:
        return GcOutcome(entry=entry, result="gone")
    except (OSError, CacheFileError) as exc:
        return GcOutcome(entry=entry, result="failed", error=_describe_failure(exc))


def _describe_failure(exc: Exception) -> str:
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}; fix it by hand, then run gc again"
    return str(exc)


def apply_gc(
    cache: CacheLayout, plan: GcPlan, *, on_outcome: Callable[[GcOutcome], None]
) -> list[GcOutcome]:
    """Apply `plan`: each removal in turn (one failure does not stop the rest); skips as planned."""
    outcomes = []
    for entry in plan.entries:
        if entry.action == "remove":
            outcome = apply_one(cache, entry, plan.policy)
        elif entry.action == "skip":
            outcome = GcOutcome(entry=entry, result="skipped")
        else:
            continue
        on_outcome(outcome)
        outcomes.append(outcome)
    forget_stored_plans(cache)
    return outcomes


def forget_stored_plans(cache: CacheLayout) -> int:
    """Remove the stored plans (kept for warm runs) whose env is no longer on disk; how many.

    A stored plan is only a shortcut: one removed while a run reads it costs that
    run its warm path, nothing else.
    """
    try:
        names = os.listdir(cache.plans_dir)
    except OSError:
        return 0
    forgotten = 0
    for name in names:
        path = f"{cache.plans_dir}/{name}"
        try:
            kept = decode_kept_plan(read_regular(path, PLAN_FILE_SIZE_LIMIT) or b"")
        except (OSError, CacheFileError):
            kept = None
        if kept is not None and os.path.lexists(kept[0].env_path):
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)
            forgotten += 1
    return forgotten


def dry_run_gc(plan: GcPlan) -> list[GcOutcome]:
    """What applying `plan` would do, from the scan alone (sizes measured for removals)."""
    outcomes = []
    for entry in plan.entries:
        if entry.action == "remove":
            usage = entry.env.usage
            if usage is None and entry.env.entry == "directory":
                usage = disk_usage(entry.env.path)
            freed = None if usage is None else usage.freed
            outcomes.append(GcOutcome(entry=entry, result="would remove", freed=freed))
        elif entry.action == "skip":
            outcomes.append(GcOutcome(entry=entry, result="skipped"))
    return outcomes
