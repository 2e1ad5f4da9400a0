"""Making the environment a plan describes: checks first, then uv's steps, under a lock if cached.

A cached env is ready when its marker exists and its `bin/python` resolves;
checking that opens nothing and starts nothing. Only otherwise are the pylock
read, uv checked and the lock taken; under the lock the check is made again,
a leftover or broken directory is removed, the steps run, and the marker is
written last. Whatever fails, the half-made directory is removed before the
lock is released, so the next run starts clean.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from pylockenv.core.errors import PylockenvError, PylockError
from pylockenv.core.plan import Plan, UvStep

from .errors import LockTimeout, ProvisionError, UvNotFound
from .inuse import holding_directory, holding_in_use
from .procenv import child_environ
from .progress import Progress
from .uvbin import UV_ENV_VAR

# A warm run only checks the marker, so what provisioning alone needs (the pylock
# checks, uv, filelock, provenance, shutil) is imported where it is used.

TAIL_LINES = 12
# gc removing an env between our check and our in-use lock is rare; three rounds is plenty.
IN_USE_ATTEMPTS = 3
LOCK_POLL = 0.005  # seconds between attempts to take a provisioning lock held by another run


def python_path(plan: Plan) -> str:
    """The env's interpreter, the symlink whose target can vanish with its base Python."""
    return f"{plan.env_path}/bin/python"


def is_ready(plan: Plan) -> bool:
    """Marker present and interpreter resolving: the env can be used as it is."""
    return os.path.exists(plan.marker_path) and os.path.exists(python_path(plan))


def check_before_provisioning(plan: Plan) -> str:
    """Everything that can be checked before a directory or lock is created.

    Reads the pylock (the only time pylockenv opens it), checks it as TOML and
    against the plan's Python, and checks that uv runs and is recent enough.
    Returns what `uv --version` printed, for the provenance.
    """
    from pylockenv.core.pylock import check_pylock_text

    from .uvbin import check_uv

    try:
        with open(plan.pylock, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise PylockError(
            f"{plan.source}: pylock: cannot read {plan.pylock} ({exc.strerror}); "
            "check that the file is readable by this user."
        ) from None
    except UnicodeDecodeError:
        raise PylockError(
            f"{plan.source}: pylock: {plan.pylock} is not UTF-8 text; regenerate the lock file."
        ) from None
    if plan.pylock_format == "pylock":
        check_pylock_text(
            text, path=plan.pylock, where=plan.source, check_version=plan.requires_python_check
        )
    return check_uv(plan.uv)


def make_dirs(plan: Plan, path: str, *, leaf_mode: int | None = None) -> None:
    """`os.makedirs(path)`; with `leaf_mode`, the last directory must be new and gets that mode.

    Raises a PylockenvError that names the cache location when the disk says no.
    """
    try:
        if leaf_mode is None:
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkdir(path, leaf_mode)  # fails if it exists: never reuse someone else's directory
    except OSError as exc:
        raise PylockenvError(
            f"cannot create {path} ({exc.strerror}); the env cache lives in {plan.cache_root}, "
            "so set XDG_CACHE_HOME to a directory this user can write to."
        ) from None


def run_step(step: UvStep, *, env_path: str, progress: Progress) -> None:
    """Run one uv step, its output captured (or shown, verbose); raise ProvisionError if it fails.

    Any exception while it runs (an interrupt, say) kills uv before it propagates.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            step.argv,
            env=child_environ(step.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise UvNotFound(
            f"cannot start uv at {step.argv[0]!r} ({exc.strerror}); set {UV_ENV_VAR} or --uv "
            "to a working uv executable."
        ) from None
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
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
        raise ProvisionError(step=step.name, env_path=env_path, returncode=returncode, tail=tail)
    progress.say(f"  {step.name} {time.monotonic() - started:.2f}s")


def remove_env_dir(path: str, progress: Progress) -> bool:
    """Remove an env directory; a failure is reported (never raised over another error).

    Returns whether the directory is gone.
    """
    import shutil

    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        progress.say(f"warning: could not remove {path}: {exc}")
        return False
    return True


def _provision_cached(plan: Plan, progress: Progress, uv_version: str) -> None:
    """Under the lock: clear what is there, run the steps, write the marker last."""
    import shutil

    from .marker import write_marker
    from .provenance import record_provenance

    if os.path.lexists(plan.env_path):
        reason = (
            "its bin/python no longer resolves (its base interpreter was removed or upgraded)"
            if os.path.exists(plan.marker_path)
            else "it has no marker (an earlier provisioning was killed or failed)"
        )
        progress.say(f"removing {plan.env_path}: {reason}; provisioning it again")
        shutil.rmtree(plan.env_path)
    progress.say(f"env {plan.env_hash}: provisioning {plan.env_path}")
    started_wall, started = time.time(), time.monotonic()
    try:
        for step in plan.steps:
            run_step(step, env_path=plan.env_path, progress=progress)
        duration = time.monotonic() - started
        write_marker(
            plan.marker_path,
            record_provenance(plan, started=started_wall, duration=duration, uv_version=uv_version),
        )
    except BaseException:
        remove_env_dir(plan.env_path, progress)
        raise
    progress.say(f"env {plan.env_hash}: ready in {duration:.2f}s")


@contextmanager
def _provisioning_lock(plan: Plan, progress: Progress, timeout: float | None) -> Iterator[None]:
    # Imported here: a warm run takes no lock and must not pay for the import.
    from filelock import FileLock, Timeout

    assert plan.lock_path is not None
    make_dirs(plan, os.path.dirname(plan.lock_path))
    lock = FileLock(plan.lock_path)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            progress.say(
                f"waiting for another process to finish provisioning env {plan.env_hash} "
                f"({plan.env_path})"
            )
            # Polled: a short interval lets the waiters of a crowd start soon after the
            # provisioning finishes (filelock's default waits up to 50 ms more).
            lock.acquire(timeout=-1 if timeout is None else timeout, poll_interval=LOCK_POLL)
    except Timeout:  # an OSError too, so caught first
        raise LockTimeout(
            f"gave up after {timeout:g}s waiting for {plan.lock_path}: another process is "
            f"still provisioning env {plan.env_hash}; run again later, or give a longer "
            "--lock-timeout."
        ) from None
    except OSError as exc:
        raise PylockenvError(
            f"cannot take the lock {plan.lock_path} ({exc.strerror}); check that this user can "
            "write there, or set XDG_CACHE_HOME to a directory it can."
        ) from None
    try:
        yield
    finally:
        lock.release()


def ensure_cached(plan: Plan, progress: Progress, *, lock_timeout: float | None = None) -> None:
    """Make the cached env of `plan` ready, provisioning it under its lock only if needed."""
    if is_ready(plan):
        from .provenance import staleness_warnings

        progress.say(f"env {plan.env_hash}: reusing {plan.env_path}")
        for warning in staleness_warnings(plan):
            progress.say(f"warning: {warning}")
        return
    uv_version = check_before_provisioning(plan)
    with _provisioning_lock(plan, progress, lock_timeout):
        if is_ready(plan):
            progress.say(f"env {plan.env_hash}: provisioned by another process, reusing it")
            return
        _provision_cached(plan, progress, uv_version)


@contextmanager
def using_cached_env(
    plan: Plan, progress: Progress, *, lock_timeout: float | None = None
) -> Iterator[None]:
    """Hold the cached env, ready and marked in use, for the block.

    gc removes an env's marker while it holds the env's in-use lock exclusively,
    so a marker still present once we hold the shared lock means the env stays.
    """
    for _ in range(IN_USE_ATTEMPTS):
        ensure_cached(plan, progress, lock_timeout=lock_timeout)
        stack = ExitStack()
        try:
            stack.enter_context(holding_in_use(plan.env_path))
        except FileNotFoundError:
            continue  # the whole directory went meanwhile
        if is_ready(plan):
            with stack:
                yield
            return
        stack.close()
    raise PylockenvError(
        f"env {plan.env_path} was removed (by 'pylockenv gc'?) each of the {IN_USE_ATTEMPTS} "
        "times it was made ready; run again once gc has finished."
    )


@contextmanager
def using_ephemeral_env(plan: Plan, progress: Progress) -> Iterator[None]:
    """Create, provision and hold a fresh private env for the block; remove it in every case."""
    check_before_provisioning(plan)
    make_dirs(plan, plan.env_path, leaf_mode=0o700)
    progress.say(f"env {plan.env_hash}: provisioning ephemeral {plan.env_path}")
    started = time.monotonic()
    with ExitStack() as stack:
        try:
            # Held from creation until removal, so gc never takes a live run's env for orphaned.
            stack.enter_context(holding_directory(plan.env_path))
            for step in plan.steps:
                run_step(step, env_path=plan.env_path, progress=progress)
            progress.say(f"env {plan.env_hash}: ready in {time.monotonic() - started:.2f}s")
            yield
        finally:
            # Still holding the in-use lock, so gc cannot start removing it at the same time.
            if remove_env_dir(plan.env_path, progress):
                progress.say(f"removed ephemeral env {plan.env_path}")
