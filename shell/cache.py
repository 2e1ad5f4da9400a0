"""Looking at the env cache on disk, and applying a gc plan to it one env at a time.

Looking changes nothing: locks are probed on the files that exist, never
created, so a scan leaves every env's "last used" time as it was; nothing is
followed through a link and no special file is opened in a way that blocks.
An env's size is measured in one walk that counts hard-linked files once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import math
import os
import stat
import sys
import time
from collections.abc import Callable

from attrs import evolve

from pylockenv.core.envstate import DiskUsage, EntryType, EnvObservation
from pylockenv.core.gc import (
    KEPT_ANSWERS,
    GcEntry,
    GcOutcome,
    GcPlan,
    GcPolicy,
    GcReason,
    decide,
    kept_answer_due,
    swept_by_a_run,
)
from pylockenv.core.layout import (
    EPHEMERAL_DIR,
    IN_USE_NAME,
    LOCK_SUFFIX,
    MARKER_NAME,
    PLANS_DIR,
    CacheLayout,
    EnvLayout,
    cache_layout,
    env_kind_of,
    ephemeral_maker,
    plans_entry_kind,
)
from pylockenv.core.plan_format import PLAN_FILE_SIZE_LIMIT, decode_kept_plan

from .cachefiles import (
    CacheFileError,
    denied_sentence,
    open_cache_dir,
    open_lock,
    read_regular,
    remove_entry,
)
from .envlocks import HeldLock, is_locked, try_flock
from .errors import CacheUnreadableError
from .facts import gather_host_facts
from .provenance import read_marker, read_pyvenv_cfg

BLOCK_BYTES = 512  # st_blocks is counted in 512-byte units on Linux and macOS


def disk_usage(root: str) -> DiskUsage:
    """Bytes on disk under `root` (symlinks not followed), each inode once.

    `freed` sums the inodes all of whose links were seen under `root`, so
    it is what removing `root` frees; files uv hard-linked from its cache are
    in `total` only. A directory that vanishes during the walk counts as empty.
    """
    seen: dict[tuple[int, int], list[int]] = {}  # inode -> [bytes, links, links seen]
    freed = 0
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
            st = os.lstat(directory)
        except OSError:
            continue
        freed += st.st_blocks * BLOCK_BYTES
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            record = seen.get(key)
            if record is None:
                seen[key] = [st.st_blocks * BLOCK_BYTES, st.st_nlink, 1]
            else:
                record[2] += 1
    total = freed  # directories so far: each is one inode, only linked here
    for size, links, links_seen in seen.values():
        total += size
        if links_seen >= links:
            freed += size
    return DiskUsage(total=total, freed=freed)


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
        provisioning = env.kind == "cached" and is_locked(env.lock)
        if env.kind == "ephemeral":
            # Its lock file; an older pylockenv locked the directory itself.
            in_use = is_locked(env.lock) or (
                entry == "directory" and is_locked(env.path, directory=True)
            )
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
        lock_host=_lock_host(env) if env.kind == "ephemeral" else None,
    )


# A host name is at most 255 bytes (HOST_NAME_MAX is 64 on Linux).
_LOCK_HOST_LIMIT = 256


def _lock_host(env: EnvLayout) -> str | None:
    """The host named in the ephemeral env's lock file (its run's), if it names one."""
    try:
        data = read_regular(env.lock, _LOCK_HOST_LIMIT)
    except (OSError, CacheFileError):
        return None
    if not data or len(data) > _LOCK_HOST_LIMIT:
        return None
    host = data.decode("utf-8", "surrogateescape").split("\n", 1)[0]
    return host or None


def _warn(message: str) -> None:
    print(f"pylockenv: warning: {message}", file=sys.stderr)


def scan_cache(
    cache: CacheLayout, *, sizes: bool = True, on_problem: Callable[[str], None] = _warn
) -> tuple[list[EnvObservation], list[str]]:
    """Every env under `cache` (cached and ephemeral), and the other entries found there.

    Only names that match the layout's env patterns are envs; the rest (a lock
    file is neither, and is not reported) is returned as paths for `list -v`. A
    link (or anything but a directory) where envs/ or ephemeral/ belongs is never
    followed: it is passed to `on_problem` as a sentence (stderr by default) and
    left alone. Raises CacheUnreadableError when the cache exists but cannot be read.
    """
    found: list[EnvObservation] = []
    others: list[str] = []
    for path, directory in cache.env_directories():
        try:
            fd = open_cache_dir(cache.root, directory)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except CacheFileError as exc:
            on_problem(f"{exc} Nothing under it is listed or removed.")
            others.append(path)
            continue
        except OSError as exc:
            raise CacheUnreadableError(
                denied_sentence(path, exc, "read the cache directory", needs="read and search"),
                source=path,
            ) from None
        try:
            names = sorted(os.listdir(fd))
        except OSError as exc:
            raise CacheUnreadableError(
                denied_sentence(path, exc, "read the cache directory", needs="read"),
                source=path,
            ) from None
        finally:
            os.close(fd)
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
    return stem != name and env_kind_of(directory, stem) is not None


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


def _take_provisioning_lock(env: EnvLayout, parent: int) -> HeldLock | None:
    """A cached env's provisioning lock, exclusively; an ephemeral env's own lock file,
    exclusively (its run holds it shared while the env lives)."""
    # A cached env's is created if missing: a provisioning about to start must find it
    # and wait for us. An ephemeral env without one (the reference's, an older
    # pylockenv's) gets none: nothing would remove it if the env is kept.
    fd = open_lock(env.lock, dir_fd=parent, create=env.kind == "cached")
    if fd is None:
        return None  # a cache this user cannot write (the removal will say so), or none
    if not try_flock(fd, fcntl.LOCK_EX):
        os.close(fd)
        raise _Busy("in provisioning" if env.kind == "cached" else "in use")
    return HeldLock(fd)


def _take_in_use_lock(env: EnvLayout, env_dir: int) -> HeldLock | None:
    """The env's in-use lock, exclusively, on the env directory open as `env_dir` (for
    an ephemeral env: the directory itself, which an older pylockenv's run locked)."""
    if env.kind == "ephemeral":
        fd = os.dup(env_dir)
    else:
        # Created if missing: a run that opens it next must wait until the marker is gone.
        opened = open_lock(env.in_use, dir_fd=env_dir)
        if opened is None:
            return None
        fd = opened
    if not try_flock(fd, fcntl.LOCK_EX):
        os.close(fd)
        raise _Busy("in use")
    return HeldLock(fd)


def _remove(env: EnvLayout, parent: int, env_dir: int | None, *, held_lock: bool) -> None:
    """Remove the marker first (a run waiting for the in-use lock then sees it gone),
    then the rest, all through descriptors (nothing followed); an ephemeral env's lock
    file last (held exclusively by us: its run is gone)."""
    try:
        if env_dir is not None:
            remove_entry(env_dir, MARKER_NAME)
        remove_entry(parent, env.name)
        if env.kind == "ephemeral" and held_lock:
            remove_entry(parent, env.lock_name)
    except OSError as exc:  # named by its path, not relative to a descriptor
        where = exc.filename if isinstance(exc.filename, str) else env.name
        if where == MARKER_NAME:
            where = env.marker
        elif not where.startswith("/"):
            where = f"{env.parent}/{where}"
        raise OSError(exc.errno, exc.strerror, where) from None


def _open_env_in(parent: int, env: EnvLayout) -> int | None:
    """A descriptor on the env's directory in `parent`; None when something else (a file,
    a link: never followed) is in its place. FileNotFoundError when nothing is."""
    mode = os.stat(env.name, dir_fd=parent, follow_symlinks=False).st_mode
    if not stat.S_ISDIR(mode):
        return None
    return os.open(env.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)


def apply_one(
    cache: CacheLayout, entry: GcEntry, policy: GcPolicy, *, sizes: bool = True
) -> GcOutcome:
    """Carry out one removal of a gc plan: take the env's locks without waiting, look
    again, and remove it if the same decision still stands (`sizes`: measuring what it
    frees first). Never raises for one env."""
    env = cache.env_named(entry.env.name)
    assert env is not None
    try:
        parent = open_cache_dir(env.root, env.directory)
    except FileNotFoundError:
        return GcOutcome(entry=entry, result="gone")
    except (OSError, CacheFileError) as exc:
        return GcOutcome(entry=entry, result="failed", error=_describe_failure(exc))
    env_dir: int | None = None
    try:
        with _take_provisioning_lock(env, parent) or HeldLock(-1) as beside:
            env_dir = _open_env_in(parent, env)
            had_in_use = env_dir is not None and _exists_in(env_dir, IN_USE_NAME)
            with (_take_in_use_lock(env, env_dir) if env_dir is not None else None) or HeldLock(
                -1
            ) as in_use:
                seen = observe_env(env, sizes=sizes, locks_held=True)
                if not had_in_use:
                    # The lock file is ours, just made: its time is no use of the env.
                    seen = evolve(seen, last_used=_mtime(env.marker) if seen.marker else None)
                fresh = decide(seen, policy)
                if fresh.action != "remove":
                    if not had_in_use and seen.last_used is not None and in_use.fd >= 0:
                        # Never unlinked (a run may be waiting on it): dated as the env's
                        # making, so it still reads "no use since".
                        os.utime(in_use.fd, (seen.last_used, seen.last_used))
                    return GcOutcome(entry=fresh, result="kept")
                usage = fresh.env.usage
                _remove(env, parent, env_dir, held_lock=beside.fd >= 0)
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
    finally:
        os.close(parent)
        if env_dir is not None:
            os.close(env_dir)


def _exists_in(directory: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _describe_failure(exc: Exception) -> str:
    if isinstance(exc, OSError):
        if exc.errno in (errno.EACCES, errno.EPERM):
            where = exc.filename if isinstance(exc.filename, str) else "a file of the env"
            return denied_sentence(where, exc, "remove") + " Then run gc again."
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
    forget_stored_plans(cache, plan.policy)
    forget_stray_ephemeral_locks(cache, plan.policy.this_host)
    return outcomes


def forget_stray_ephemeral_locks(cache: CacheLayout, this_host: str) -> None:
    """Remove the lock files in ephemeral/ with no env beside them that nobody holds
    (`_forget_stray_lock`)."""
    try:
        fd = open_cache_dir(cache.root, EPHEMERAL_DIR)
    except (OSError, CacheFileError):
        return
    try:
        names = set(os.listdir(fd))
    except OSError:
        return
    finally:
        os.close(fd)
    for name in sorted(names):
        stem = name.removesuffix(LOCK_SUFFIX)
        if stem != name and stem not in names and ephemeral_maker(stem) == "pylockenv":
            env = cache.env_named(stem)
            assert env is not None
            _forget_stray_lock(env, this_host)


# The safety net's budget: a cold run spends at most this long, and removes at most this
# many orphaned envs, before it provisions (the rest wait for the next runs, or gc).
SWEEP_SECONDS = 0.25
SWEEP_REMOVALS = 4


def sweep_orphaned_ephemeral(
    cache: CacheLayout,
    this_host: str,
    *,
    seconds: float = SWEEP_SECONDS,
    removals: int = SWEEP_REMOVALS,
) -> list[GcOutcome]:
    """Remove this host's orphaned ephemeral envs (`core.gc.swept_by_a_run`) as gc would,
    env by env under its lock, until `seconds` have passed or `removals` were made; then
    this host's stray lock files (a run killed between making its lock file and its
    env). Returns the outcomes of the removals tried. Never raises for one env."""
    deadline = time.monotonic() + seconds
    try:
        fd = open_cache_dir(cache.root, EPHEMERAL_DIR)
    except (OSError, CacheFileError):
        return []
    try:
        names = os.listdir(fd)
    except OSError:
        return []
    finally:
        os.close(fd)
    policy = GcPolicy(now=time.time(), older_than=math.inf, this_host=this_host, host=this_host)
    outcomes: list[GcOutcome] = []
    present = set(names)
    for name in names:
        if time.monotonic() > deadline or len(outcomes) >= removals:
            return outcomes
        if ephemeral_maker(name) != "pylockenv":
            continue
        env = cache.env_named(name)
        assert env is not None
        entry = decide(observe_env(env, sizes=False), policy)
        if swept_by_a_run(entry, this_host=this_host):
            outcomes.append(apply_one(cache, entry, policy, sizes=False))
    for name in names:
        if time.monotonic() > deadline:
            break
        stem = name.removesuffix(LOCK_SUFFIX)
        if stem != name and stem not in present and ephemeral_maker(stem) == "pylockenv":
            env = cache.env_named(stem)
            assert env is not None
            _forget_stray_lock(env, this_host)
    return outcomes


def _forget_stray_lock(env: EnvLayout, this_host: str) -> None:
    """Remove the lock file of the ephemeral `env` when no env is beside it, nobody holds
    it and it names this host or none (a run about to make its env holds it)."""
    with contextlib.suppress(OSError, CacheFileError):
        parent = open_cache_dir(env.root, env.directory)
        try:
            fd = open_lock(env.lock, dir_fd=parent, create=False)
            if fd is None:
                return
            lock = HeldLock(fd)
            with lock:
                # Empty: a run lost it the moment it was made, before writing its host.
                if not try_flock(fd, fcntl.LOCK_EX) or _lock_host(env) not in (None, this_host):
                    return
                here = os.stat(env.lock_name, dir_fd=parent, follow_symlinks=False)
                held = os.fstat(fd)
                if (here.st_dev, here.st_ino) != (held.st_dev, held.st_ino):
                    return
                if not _exists_in(parent, env.name):
                    os.unlink(env.lock_name, dir_fd=parent)
        finally:
            os.close(parent)


def forget_stored_plans(cache: CacheLayout, policy: GcPolicy) -> int:
    """Remove the stored plans (kept for warm runs) whose env is no longer on disk, and the
    kept answers (uv versions, interpreters) `policy` says are due (`kept_answer_due`);
    how many.

    Only the names of the layout (`plans_entry_kind`) are candidates: a file being
    written and anything that is not pylockenv's stay. plans/ is never followed through
    a link. A stored plan or answer is only a shortcut: one removed while a run reads it
    costs that run its warm path or one question to uv, nothing else.
    """
    try:
        plans = open_cache_dir(cache.root, PLANS_DIR)
    except (OSError, CacheFileError):
        return 0
    forgotten = 0
    try:
        names = os.listdir(plans)
        for name in names:
            kind = plans_entry_kind(name)
            if kind in KEPT_ANSWERS:
                with contextlib.suppress(OSError):
                    written = os.stat(name, dir_fd=plans, follow_symlinks=False).st_mtime
                    if kept_answer_due(kind, written, policy):
                        remove_entry(plans, name)
                        forgotten += 1
                continue
            if kind != "plan":
                continue
            path = f"{cache.plans_dir}/{name}"
            try:
                data = read_regular(path, PLAN_FILE_SIZE_LIMIT, dir_fd=plans)
                kept = None if data is None else decode_kept_plan(data)
            except (OSError, CacheFileError):
                kept = None
            if kept is not None and os.path.lexists(kept[0].env_path):
                continue
            with contextlib.suppress(OSError):
                remove_entry(plans, name)
                forgotten += 1
    except OSError:
        pass
    finally:
        os.close(plans)
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
