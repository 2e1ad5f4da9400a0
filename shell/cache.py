"""Looking at the env cache on disk, and removing one env safely.

Looking changes nothing: locks are probed on the files that exist, never
created, so a scan leaves every env's "last used" time as it was.
"""

from __future__ import annotations

import fcntl
import os
import shutil

from filelock import FileLock, Timeout
from pylockenv.core.envstate import EnvObservation
from pylockenv.core.errors import PylockenvError
from pylockenv.core.gc import GcDecision, GcPolicy, gc_decision
from pylockenv.core.layout import MARKER_NAME, EnvKind, cache_layout

from .diskusage import disk_usage
from .facts import gather_host_facts
from .inuse import in_use_path, try_exclusive
from .marker import read_marker
from .provenance import read_pyvenv_cfg

ENVS_DIR = "envs"
EPHEMERAL_DIR = "ephemeral"
_KINDS: tuple[tuple[str, EnvKind], ...] = ((ENVS_DIR, "cached"), (EPHEMERAL_DIR, "ephemeral"))


def cache_root() -> str:
    """This user's pylockenv cache directory (`$XDG_CACHE_HOME/bfabric_app_runner`)."""
    facts = gather_host_facts()
    return cache_layout(xdg_cache_home=facts.xdg_cache_home, home=facts.home).root


def lock_path_of(env: EnvObservation) -> str | None:
    """The provisioning lock of a cached env; ephemeral envs have none."""
    return f"{env.path}.lock" if env.kind == "cached" else None


def _held_by_someone(path: str) -> bool:
    """Whether some process holds a flock on the existing file `path` (without creating it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def observe_env(
    path: str, kind: EnvKind, *, sizes: bool, provisioning: bool | None = None
) -> EnvObservation:
    """Look at the env directory `path` without changing it.

    `provisioning` overrides the probe of the provisioning lock (gc passes False
    while it holds that lock itself). `sizes` walks the tree to measure it.
    """
    marker_path = f"{path}/{MARKER_NAME}"
    marker = read_marker(marker_path)
    if provisioning is None:
        provisioning = kind == "cached" and _held_by_someone(f"{path}.lock")
    in_use_file = in_use_path(path)
    # An ephemeral env's run holds a lock on the directory itself (see shell.inuse).
    in_use = _held_by_someone(path if kind == "ephemeral" else in_use_file)
    return EnvObservation(
        name=os.path.basename(path),
        kind=kind,
        path=path,
        marker=marker,
        interpreter_ok=os.path.exists(f"{path}/bin/python"),
        provisioning=provisioning,
        in_use=in_use,
        created=_mtime(f"{path}/pyvenv.cfg") or _mtime(path),
        # Each run touches .in-use; an env no run has used yet was last "used" when made.
        last_used=_mtime(in_use_file) or (_mtime(marker_path) if marker is not None else None),
        python_version=(marker or {}).get("python_version")
        or read_pyvenv_cfg(path).get("version_info"),
        usage=disk_usage(path) if sizes else None,
    )


def scan_cache(root: str, *, sizes: bool = True) -> list[EnvObservation]:
    """Every env directory under `root` (cached and ephemeral); [] for a missing cache.

    Raises PylockenvError when the cache exists but cannot be read.
    """
    found = []
    for sub, kind in _KINDS:
        try:
            entries = list(os.scandir(f"{root}/{sub}"))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise PylockenvError(
                f"cannot read the cache directory {root}/{sub} ({exc.strerror}); "
                "check its permissions, or run as the user who owns the cache."
            ) from None
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                found.append(observe_env(entry.path, kind, sizes=sizes))
    return found


def find_env(root: str, name: str) -> EnvObservation | None:
    """The env called `name` (a hash, or `env_<suffix>` for an ephemeral one), if on disk."""
    if not name or "/" in name or name.startswith("."):
        return None
    for sub, kind in _KINDS:
        path = f"{root}/{sub}/{name}"
        if os.path.isdir(path) and not os.path.islink(path):
            return observe_env(path, kind, sizes=True)
    return None


def _remove_tree(env: EnvObservation) -> str | None:
    """Remove the marker first, then the directory; None on success, else the error."""
    try:
        os.unlink(f"{env.path}/{MARKER_NAME}")
    except FileNotFoundError:
        pass
    except OSError as exc:
        return f"could not remove its marker ({exc})"
    try:
        shutil.rmtree(env.path, onerror=_ignore_vanished)
    except OSError as exc:
        return f"could not remove the directory ({exc}); remove it by hand"
    return None


def _ignore_vanished(
    function: object, path: str, exc_info: tuple[type, BaseException, object]
) -> None:
    # An ephemeral env's own run may be removing it at the same moment.
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


def _collect_unlocked(env: EnvObservation, policy: GcPolicy) -> tuple[GcDecision, EnvObservation]:
    """Decide again from a fresh look and, if still due, remove `env` under its in-use lock."""
    fresh = observe_env(env.path, env.kind, sizes=True, provisioning=False)
    decision = gc_decision(fresh, policy)
    if decision.action != "remove":
        return decision, fresh
    with try_exclusive(env.path, ephemeral=env.kind == "ephemeral") as free:
        if not free:
            return GcDecision(
                name=env.name, action="skip", reason="in use by a running command"
            ), fresh
        error = _remove_tree(fresh)
    if error is not None:
        return GcDecision(name=env.name, action="failed", reason=error), fresh
    return decision, fresh


def collect(env: EnvObservation, policy: GcPolicy) -> tuple[GcDecision, EnvObservation]:
    """Remove `env` if it is (still) due, holding its provisioning lock, then its in-use lock.

    Returns the decision as carried out (a removal that could not take a lock
    becomes a skip) and the env as seen just before, with its size.
    """
    lock_path = lock_path_of(env)
    if lock_path is None:
        return _collect_unlocked(env, policy)
    lock = FileLock(lock_path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        reason = "in provisioning: its lock is held; try again later"
        return GcDecision(name=env.name, action="skip", reason=reason), env
    try:
        return _collect_unlocked(env, policy)
    finally:
        lock.release()
