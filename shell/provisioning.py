"""Making the env a plan describes ready, and holding it for a command.

A cached env is ready by the layout's rule (marker present, bin/python
resolving); checking that opens nothing and starts nothing. Only otherwise are
the pylock read, uv checked and the provisioning lock taken; under the lock the
check is made again, whatever is in the env's place is removed (waiting, if a
command still runs in a broken env, until it is done), the steps run, and the
marker is written last. Whatever fails, the half-made directory is removed
before the lock is released, so the next run starts clean.

A run then holds the env's in-use lock shared (see `envlocks`) and checks
readiness once more, since gc may have removed it in between.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from pylockenv.core.errors import PylockenvError
from pylockenv.core.layout import CacheLayout, EnvLayout
from pylockenv.core.planning import Plan, UvStep

from .cachefiles import env_is_ready, open_regular
from .envlocks import HeldLock, open_directory, open_in_use, try_flock, wait_for_flock
from .errors import LockTimeoutError, ProvisionError, UvNotFoundError
from .marker import read_marker, write_marker
from .process_env import child_environ
from .progress import Progress
from .provenance import record_provenance, staleness_warnings
from .uvbin import UV_ENV_VAR

TAIL_LINES = 12
# gc removing an env between our check and our in-use lock is rare; three rounds is plenty.
IN_USE_ATTEMPTS = 3


class CacheNotWritableError(PylockenvError):
    """The cache directory, or a directory in it, cannot be created or written."""


class EnvVanishedError(PylockenvError):
    """The env was removed (by gc) each time it was made ready, or the moment it was made."""


def check_before_provisioning(plan: Plan) -> str:
    """Everything that can be checked before a directory or lock is created.

    Reads the pylock (the only time pylockenv opens it), checks it as TOML and
    against the plan's Python, and checks that uv runs and is recent enough.
    Returns what `uv --version` printed, for the provenance.
    """
    from pylockenv.core.pylock import check_pylock_text  # tomllib, packaging: only now

    from .specfile import read_pylock_file
    from .uvbin import known_uv_version

    text = read_pylock_file(plan.pylock, plan.source)  # bounded; refuses special files
    if plan.pylock_format == "pylock":
        check_pylock_text(
            text, path=plan.pylock, where=plan.source, check_version=plan.requires_python_check
        )
    return known_uv_version(plan.uv, CacheLayout(root=plan.cache_root).plans_dir)


def make_dirs(plan: Plan, path: str, *, leaf_mode: int | None = None) -> None:
    """`os.makedirs(path)`; with `leaf_mode`, the last directory must be new and gets that mode.

    Raises CacheNotWritableError, naming the cache location, when the disk says no.
    """
    try:
        if leaf_mode is None:
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkdir(path, leaf_mode)  # fails if it exists: never reuse someone else's directory
    except OSError as exc:
        raise CacheNotWritableError(
            f"cannot create {path} ({exc.strerror}); the env cache lives in {plan.cache_root}, "
            "so set XDG_CACHE_HOME to a directory this user can write to."
        ) from None


def run_step(step: UvStep, *, env: EnvLayout, progress: Progress) -> None:
    """Run one uv step, its output captured (or shown, verbose); raise ProvisionError if it fails.

    Any exception while it runs (an interrupt, say) kills uv before it propagates.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            step.argv,
            env=child_environ(step.env.path_value, step.env.set_env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        if exc.errno == errno.E2BIG:
            raise ProvisionError(
                step=step.name,
                env_path=env.path,
                returncode=-1,
                tail=[
                    "uv could not be started: its arguments and environment (the caller's "
                    "and the spec's env) exceed the system's limit (E2BIG); make them smaller"
                ],
            ) from None
        raise UvNotFoundError(
            f"cannot start uv at {step.argv[0]!r} ({exc.strerror}); set {UV_ENV_VAR} or --uv "
            "to a working uv executable."
        ) from None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert process.stdout is not None
        with process.stdout, progress.step(step.name) as shown:
            for line in shown.follow(process.stdout):
                progress.raw(line)
                # uv's warnings (the experimental-pylock notice) are not the cause; -v shows them.
                if line.strip() and not line.startswith("warning:"):
                    tail.append(line.rstrip())
        returncode = process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    if returncode != 0:
        raise ProvisionError(step=step.name, env_path=env.path, returncode=returncode, tail=tail)
    if step.name == "create-venv" and not os.path.isdir(env.bin_dir):
        raise ProvisionError(
            step=step.name,
            env_path=env.path,
            returncode=returncode,
            tail=[*tail, f"(uv exited with 0 but {env.bin_dir} does not exist)"],
        )
    progress.say(f"  {step.name} {time.monotonic() - started:.2f}s")


def remove_path(path: str) -> None:
    """Remove whatever is at `path`: a directory tree, or a file or link (never followed)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def remove_quietly(path: str, progress: Progress) -> bool:
    """Remove `path`; a failure is reported (never raised over another error).

    Returns whether it is gone.
    """
    try:
        remove_path(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        progress.say(f"warning: could not remove {path}: {exc}")
        return False
    return True


def _wait_until_unused(plan: Plan, progress: Progress, timeout: float | None) -> HeldLock | None:
    """Hold the in-use lock of the env in the plan's place exclusively, waiting for the
    commands that still run in it (a broken env whose command started before it broke)."""
    env = plan.env
    try:
        fd = os.open(env.in_use, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None  # no in-use lock file: no run has ever held this env

    def say_waiting() -> None:
        progress.say(
            f"env {plan.env_hash} must be provisioned again, but a command still runs in it; "
            "waiting for it to end"
        )

    if not wait_for_flock(fd, fcntl.LOCK_EX, timeout=timeout, on_wait=say_waiting):
        os.close(fd)
        raise LockTimeoutError(
            f"gave up after {timeout:g}s waiting for the commands still running in env "
            f"{plan.env_hash} ({env.path}) to end; run again later, or give a longer "
            "--lock-timeout."
        )
    return HeldLock(fd)


def _provision_cached(
    plan: Plan, progress: Progress, uv_version: str, lock_timeout: float | None
) -> None:
    """Under the provisioning lock: clear the env's place, run the steps, write the marker."""
    env = plan.env
    if os.path.lexists(env.path):
        if not os.path.isdir(env.path) or os.path.islink(env.path):
            reason = "it is not a directory"
        elif os.path.exists(env.marker):
            reason = "its bin/python no longer resolves (its base interpreter was removed)"
        else:
            reason = "it has no marker (an earlier provisioning was killed or failed)"
        with _wait_until_unused(plan, progress, lock_timeout) or HeldLock(-1):
            progress.say(f"removing {env.path}: {reason}; provisioning it again")
            try:
                remove_path(env.path)
            except OSError as exc:
                raise CacheNotWritableError(
                    f"cannot remove {env.path} ({exc.strerror}) to provision it again; "
                    "remove it by hand, or fix the permissions of the cache."
                ) from None
    progress.say(f"env {plan.env_hash}: provisioning {env.path}")
    started_wall, started = time.time(), time.monotonic()
    try:
        for step in plan.steps:
            run_step(step, env=env, progress=progress)
        duration = time.monotonic() - started
        write_marker(
            env,
            record_provenance(
                plan,
                started=started_wall,
                duration=duration,
                uv_version=uv_version,
            ),
        )
    except BaseException:
        remove_quietly(env.path, progress)
        raise
    progress.say(f"env {plan.env_hash}: ready in {duration:.2f}s")


@contextmanager
def _provisioning_lock(plan: Plan, progress: Progress, timeout: float | None) -> Iterator[None]:
    """Hold the env's provisioning lock (`envs/<hash>.lock`, an exclusive flock, as the
    reference takes it), waiting for another provisioning for at most `timeout` seconds."""
    lock_path = plan.env.lock
    assert lock_path is not None
    make_dirs(plan, os.path.dirname(lock_path))
    try:
        # 0o666 less the umask, as the reference's open(..., "a") makes it.
        fd = open_regular(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise CacheNotWritableError(
            f"cannot open the lock {lock_path} ({exc.strerror}); check that this user can "
            "write there, or set XDG_CACHE_HOME to a directory it can."
        ) from None

    def say_waiting() -> None:
        progress.say(
            f"waiting for another process to finish provisioning env {plan.env_hash} "
            f"({plan.env_path})"
        )

    try:
        taken = wait_for_flock(fd, fcntl.LOCK_EX, timeout=timeout, on_wait=say_waiting)
    except OSError as exc:  # ENOLCK: a file system that cannot lock (NFS mounted nolock)
        os.close(fd)
        raise CacheNotWritableError(
            f"cannot lock {lock_path} ({exc.strerror}); the cache's file system must support "
            "flock (on NFS: a mount without nolock), or set XDG_CACHE_HOME to one that does."
        ) from None
    if not taken:
        os.close(fd)
        raise LockTimeoutError(
            f"gave up after {timeout:g}s waiting for {lock_path}: another process is "
            f"still provisioning env {plan.env_hash}; run again later, or give a longer "
            "--lock-timeout."
        )
    try:
        yield
    finally:
        os.close(fd)


def ensure_cached(plan: Plan, progress: Progress, *, lock_timeout: float | None = None) -> None:
    """Make the cached env of `plan` ready, provisioning it under its lock only if needed."""
    env = plan.env
    if env_is_ready(env):
        progress.say(f"env {plan.env_hash}: reusing {env.path}")
        if any(dep.kind == "file" for dep in plan.local_extra_deps):  # else nothing can be stale
            for warning in staleness_warnings(plan, read_marker(env)):
                progress.say(f"warning: {warning}")
        return
    uv_version = check_before_provisioning(plan)
    with _provisioning_lock(plan, progress, lock_timeout):
        if env_is_ready(env):
            progress.say(f"env {plan.env_hash}: provisioned by another process, reusing it")
            return
        _provision_cached(plan, progress, uv_version, lock_timeout)


def hold_cached_env(
    plan: Plan, progress: Progress, *, lock_timeout: float | None = None
) -> HeldLock | None:
    """Make the cached env ready and hold its in-use lock shared; return the held lock.

    gc removes an env's marker while it holds the in-use lock exclusively, so a
    ready env once we hold the shared lock stays ready while we hold it. None:
    the cache is read-only, so the env is used without a lock (nothing can
    remove it there) and no last use is recorded.
    """
    env = plan.env
    for _ in range(IN_USE_ATTEMPTS):
        ensure_cached(plan, progress, lock_timeout=lock_timeout)
        try:
            fd = open_in_use(env)
        except FileNotFoundError:
            continue  # the whole directory went meanwhile
        if fd is None:
            if progress.shows_uv_output:
                progress.say(
                    f"env {plan.env_hash}: the cache is read-only here, so no in-use lock is "
                    "taken and no last use is recorded"
                )
            return None
        lock = HeldLock(fd)
        try:
            _take_in_use(plan, lock, progress, lock_timeout)
        except BaseException:
            lock.release()
            raise
        if env_is_ready(env):
            return lock
        lock.release()
    raise EnvVanishedError(
        f"env {plan.env_path} was removed (by 'pylockenv gc'?) each of the {IN_USE_ATTEMPTS} "
        "times it was made ready; run again once gc has finished."
    )


def _take_in_use(
    plan: Plan, lock: HeldLock, progress: Progress, lock_timeout: float | None
) -> None:
    def say_waiting() -> None:
        progress.say(f"env {plan.env_hash}: waiting for 'pylockenv gc' to finish with it")

    if not wait_for_flock(lock.fd, fcntl.LOCK_SH, timeout=lock_timeout, on_wait=say_waiting):
        raise LockTimeoutError(
            f"gave up after {lock_timeout:g}s waiting for the in-use lock {plan.env.in_use} "
            "(held exclusively by 'pylockenv gc'); run again later, or give a longer "
            "--lock-timeout."
        )
    try:
        os.utime(lock.fd)  # the last use, read by list and gc
    except OSError:
        if progress.shows_uv_output:
            progress.say(f"env {plan.env_hash}: cannot record its last use (read-only cache)")


def provision_ephemeral(plan: Plan, progress: Progress) -> HeldLock:
    """Create and provision a fresh private env; return its directory lock, held shared.

    The lock is held from creation on, so gc never takes a live run's env for an
    orphan. On any failure the env is removed and the error propagates.
    """
    check_before_provisioning(plan)
    env = plan.env
    make_dirs(plan, env.path, leaf_mode=0o700)
    progress.say(f"env {plan.env_hash}: provisioning ephemeral {env.path}")
    started = time.monotonic()
    lock = None
    try:
        lock = HeldLock(open_directory(env))
        # gc holds it exclusively only when it took the new directory for an orphan.
        try:
            taken = try_flock(lock.fd, fcntl.LOCK_SH)
        except OSError as exc:  # a file system that cannot lock a directory (some NFS)
            raise CacheNotWritableError(
                f"cannot lock the ephemeral env {env.path} ({exc.strerror}); its directory "
                "must take a flock (some NFS mounts refuse one on a directory): for "
                "refresh: true, set XDG_CACHE_HOME to a local disk."
            ) from None
        try:
            same = os.stat(env.path).st_ino == os.fstat(lock.fd).st_ino
        except FileNotFoundError:
            same = False
        if not (taken and same):
            raise EnvVanishedError(
                f"{env.path} was removed (by 'pylockenv gc'?) the moment it was created; run again."
            )
        for step in plan.steps:
            run_step(step, env=env, progress=progress)
    except BaseException:
        if remove_quietly(env.path, progress):
            progress.say(f"removed ephemeral env {env.path}")
        if lock is not None:
            lock.release()
        raise
    progress.say(f"env {plan.env_hash}: ready in {time.monotonic() - started:.2f}s")
    return lock


def remove_ephemeral(plan: Plan, lock: HeldLock, progress: Progress) -> bool:
    """Remove the ephemeral env after its command, if nothing else holds it; whether removed.

    The command's own children may have kept the directory lock (daemons); then
    the env is left for them, and gc removes it once they are gone.
    """
    if not try_flock(lock.fd, fcntl.LOCK_EX):
        progress.say(
            f"ephemeral env {plan.env_path} is still held by processes the command started; "
            "it is left for them ('pylockenv gc' removes it once they are gone)"
        )
        lock.release()
        return False
    removed = remove_quietly(plan.env_path, progress)
    lock.release()
    if removed:
        progress.say(f"removed ephemeral env {plan.env_path}")
    return removed
