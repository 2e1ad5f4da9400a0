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

import contextlib
import errno
import fcntl
import os
import stat
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from pylockenv.core.errors import PylockenvError
from pylockenv.core.layout import CACHE_DIRECTORIES, MARKER_NAME, CacheLayout, EnvLayout
from pylockenv.core.planning import Plan, UvStep
from pylockenv.core.provisioning import (
    checks_before,
    contents_problem,
    remake_reason,
    step_postcondition,
    uv_setting_kept,
)

from .cachefiles import (
    FILE_MODE,
    CacheFileError,
    RemovedOnFailure,
    denied_sentence,
    env_is_ready,
    file_type,
    make_fresh_directory,
    open_cache_dir,
    open_env_dir,
    open_lock,
    remove_entry,
    remove_reporting,
)
from .envlocks import HeldLock, open_in_use, try_flock, wait_for_flock
from .errors import (
    CacheLinkError,
    CacheNotWritableError,
    EnvCheckError,
    EnvVanishedError,
    LockTimeoutError,
    ProvisionError,
    ProvisioningInterruptedError,
    UvNotFoundError,
)
from .process_env import (
    ChildStatusReadable,
    child_environ,
    dies_with_parent,
    working_directory_for_children,
)
from .progress import Progress
from .provenance import (
    INSPECT_OUTPUT_LIMIT,
    inspect_env,
    project_name,
    read_marker,
    record_provenance,
    staleness_warnings,
    write_marker,
)
from .uvbin import UV_ENV_VAR

TAIL_LINES = 12
# The env's interpreter lists what is installed in well under a second.
HELPER_TIMEOUT = 120
# gc removing an env between our check and our in-use lock is rare; three rounds is plenty.
IN_USE_ATTEMPTS = 3


__all__ = [  # the errors' home is shell.errors; they are importable from here too
    "CacheNotWritableError",
    "EnvVanishedError",
    "ensure_cached",
    "hold_cached_env",
    "lock_for_command",
    "make_ephemeral",
    "remove_ephemeral",
    "remove_quietly",
]


def check_before_provisioning(plan: Plan) -> tuple[str, str]:
    """The core's checks before anything is created (`core.provisioning.checks_before`).

    Reads the pylock (the only time pylockenv opens it), checks it as TOML and
    against the plan's Python, and checks that uv runs and is recent enough.
    Returns what `uv --version` printed, for the provenance, and the pylock's text, for
    the check before the env is marked ready.
    """
    from pylockenv.core.pylock import check_pylock_text  # tomllib, packaging: only now

    from .interpreters import keep_found_interpreters
    from .specfile import read_pylock_file
    from .uvbin import known_uv_version

    refuse_linked_cache_directories(plan.cache_root)
    text = ""
    uv_version = ""
    for check in checks_before(plan):
        if check == "read pylock":
            text = read_pylock_file(plan.pylock, plan.source)  # bounded; refuses special files
        elif check == "check pylock":
            check_pylock_text(
                text,
                path=plan.pylock,
                where=plan.source,
                check_version=plan.requires_python_check,
                interpreter=plan.interpreter,
            )
        else:
            uv_version = known_uv_version(plan.uv, CacheLayout(root=plan.cache_root))
    # The checks passed: the interpreter uv found is kept for the next process too.
    keep_found_interpreters(CacheLayout(root=plan.cache_root))
    return uv_version, text


def refuse_linked_cache_directories(root: str) -> None:
    """Raise CacheLinkError (a sentence) when envs/, ephemeral/ or plans/ of the cache at
    `root` is a symbolic link or anything but a directory: pylockenv never follows one."""
    for name in CACHE_DIRECTORIES:
        path = f"{root}/{name}"
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue  # missing (made when needed), or a root that cannot be read: said later
        if not stat.S_ISDIR(mode):
            error = CacheLinkError if stat.S_ISLNK(mode) else CacheFileError
            raise error(
                f"{path} is {file_type(mode)}, where the cache's {name} directory belongs; "
                "pylockenv never follows a link in its cache, nor puts anything elsewhere. "
                "Remove it (rm, not rm -r) and run again; to keep the cache elsewhere, set "
                "XDG_CACHE_HOME, or make the cache root itself a link.",
                source=path,
            )


def _cache_dir(plan: Plan, name: str) -> int:
    """A descriptor on the cache's directory `name`, created if missing; never a link."""
    try:
        return open_cache_dir(plan.cache_root, name, create=True)
    except OSError as exc:
        path = f"{plan.cache_root}/{name}"
        raise CacheNotWritableError(denied_sentence(path, exc, "open"), source=path) from None


def uv_environ(step: UvStep) -> dict[str, str]:
    """The environment of a uv step: the caller's with the step's changes, less the uv
    settings a provisioning does not honour (`core.provisioning.uv_setting_kept`)."""
    environ = child_environ(step.env.path_value, step.env.set_env)
    return {name: value for name, value in environ.items() if uv_setting_kept(name)}


def run_step(step: UvStep, *, env: EnvLayout, progress: Progress, lock_fd: int) -> None:
    """Run one uv step, its output captured (or shown, verbose); raise ProvisionError if it fails.

    uv holds `lock_fd` (the provisioning lock, or an ephemeral env's directory lock) for
    as long as it lives, and is killed when pylockenv dies (`dies_with_parent`): the lock
    lasts as long as anything writing the env. Any exception while it runs (an
    interrupt, say) kills uv before it propagates.
    """
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            step.argv,
            env=uv_environ(step),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(lock_fd,),
            preexec_fn=dies_with_parent(),  # runs before exec: one prctl, no lock taken
            cwd=working_directory_for_children(),
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
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise ProvisionError(
                step=step.name,
                env_path=env.path,
                returncode=-1,
                tail=[
                    f"uv could not be started: {exc.strerror} (the process's limit on open "
                    "files, ulimit -n, or the system's, was reached); close files or raise the "
                    "limit"
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
    must_exist = step_postcondition(step.name, env)
    if must_exist is not None and not os.path.isdir(must_exist):
        raise ProvisionError(
            step=step.name,
            env_path=env.path,
            returncode=returncode,
            tail=[*tail, f"(uv exited with 0 but {must_exist} does not exist)"],
        )
    progress.say(f"  {step.name} {time.monotonic() - started:.2f}s")


def _while_waiting(exc: ProvisioningInterruptedError, what: str) -> ProvisioningInterruptedError:
    """The interruption of a run that was only waiting (for `what`): it says so, not that
    it was provisioning (it started nothing, and leaves nothing behind)."""
    return ProvisioningInterruptedError(exc.signum, f"waiting for {what}")


def _wait_for_lock(
    fd: int,
    operation: int,
    progress: Progress,
    timeout: float | None,
    *,
    waiting: str,
    awaited: str,
    given_up: str,
    source: str | None = None,
) -> None:
    """Take `operation` (LOCK_SH or LOCK_EX) on `fd`, saying `waiting` once if the lock is
    not free. Interrupted by a signal, it says it was waiting for `awaited`; after `timeout`
    seconds it gives up "waiting for `given_up`". The caller closes `fd` on an error."""
    try:
        taken = wait_for_flock(
            fd, operation, timeout=timeout, on_wait=lambda: progress.say(waiting)
        )
    except ProvisioningInterruptedError as exc:
        raise _while_waiting(exc, awaited) from None
    if not taken:
        raise LockTimeoutError(
            f"gave up after {timeout:g}s waiting for {given_up}; run again later, or give a "
            "longer --lock-timeout.",
            source=source,
        )


def remove_quietly(path: str, progress: Progress) -> bool:
    """Remove the env at `path` (`cachefiles.remove_tree`: no link followed); a failure
    is reported, never raised over another error. Returns whether it is gone."""
    return remove_reporting(path, progress.say)


def _wait_until_unused(
    plan: Plan, env_dir: int, progress: Progress, timeout: float | None
) -> HeldLock | None:
    """Hold the in-use lock of the env in the plan's place (open as `env_dir`) exclusively,
    waiting for the commands that still run in it (a broken env whose command started
    before it broke)."""
    env = plan.env
    try:
        opened = open_lock(env.in_use, dir_fd=env_dir, create=False)
    except (OSError, CacheFileError):
        opened = None
    if opened is None:
        return None  # no in-use lock file (no run has ever held this env), or none a run holds
    fd = opened
    try:
        _wait_for_lock(
            fd,
            fcntl.LOCK_EX,
            progress,
            timeout,
            waiting=f"env {plan.env_hash} must be provisioned again, but a command still runs "
            "in it; waiting for it to end",
            awaited=f"the commands still running in env {plan.env_hash} to end",
            given_up=f"the commands still running in env {plan.env_hash} ({env.path}) to end",
        )
    except BaseException:
        os.close(fd)
        raise
    return HeldLock(fd)


def _clear_place(plan: Plan, envs: int, progress: Progress, lock_timeout: float | None) -> None:
    """Remove whatever is at the env's path (in `envs`), saying why (`core.remake_reason`)."""
    env = plan.env
    try:
        mode = os.stat(env.name, dir_fd=envs, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    is_directory = stat.S_ISDIR(mode)
    marker_present = False
    env_dir = -1
    if is_directory:
        env_dir = os.open(env.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=envs)
        try:
            os.stat(MARKER_NAME, dir_fd=env_dir, follow_symlinks=False)
            marker_present = True
        except OSError:
            pass
    reason = remake_reason(
        entry="directory" if is_directory else "not a directory", marker_present=marker_present
    )
    try:
        with (
            _wait_until_unused(plan, env_dir, progress, lock_timeout) if is_directory else None
        ) or HeldLock(-1):
            progress.say(f"removing {env.path}: {reason}; provisioning it again")
            try:
                remove_entry(envs, env.name)
            except OSError as exc:
                raise CacheNotWritableError(
                    denied_sentence(env.path, exc, "remove")
                    + " It must be removed to provision the env again: remove it by hand, or "
                    "fix the permissions of the cache.",
                    source=env.path,
                ) from None
    finally:
        if env_dir >= 0:
            os.close(env_dir)


def make_env_directory(plan: Plan, parent: int) -> int:
    """Create the env's directory, new and empty (mkdir: it fails if anything is there, a
    link included), in `parent` (envs/ or ephemeral/); return a descriptor on it. uv is
    then handed a directory that exists, so it follows no link planted at the path."""
    env = plan.env
    try:
        return make_fresh_directory(parent, env.name)
    except FileExistsError:
        raise EnvVanishedError(
            f"{env.path} appeared while it was being made (another process created it); run again.",
            source=env.path,
        ) from None
    except OSError as exc:
        raise CacheNotWritableError(
            denied_sentence(env.path, exc, "create the directory"), source=env.path
        ) from None


def _check_same_directory(env: EnvLayout, made: int) -> None:
    """After `uv venv`: the directory at the env's path must still be the one we made (a
    co-tenant who swapped it, or envs/, for a link would otherwise have had uv write there)."""
    try:
        now = os.lstat(env.path)
        same = stat.S_ISDIR(now.st_mode) and (now.st_dev, now.st_ino) == (
            os.fstat(made).st_dev,
            os.fstat(made).st_ino,
        )
    except OSError:
        same = False
    if not same:
        raise EnvVanishedError(
            f"{env.path} is no longer the directory pylockenv made for it while uv ran (it "
            "was replaced or removed); nothing was marked ready. Run again.",
            source=env.path,
        )


def _run_steps(
    plan: Plan, made: int, progress: Progress, *, lock_fd: int, pylock_text: str
) -> dict[str, str]:
    """Run the plan's uv steps in the directory made (`made`), then check that the env
    holds what the plan asked for (`core.provisioning.contents_problem`); return what it
    holds (name -> version), for the provenance."""
    for step in plan.steps:
        run_step(step, env=plan.env, progress=progress, lock_fd=lock_fd)
        if step.name == "create-venv":
            _check_same_directory(plan.env, made)
    return _check_contents(plan, lock_fd=lock_fd, pylock_text=pylock_text)


def _run_helper(argv: list[str], lock_fd: int) -> tuple[int, str]:
    """Run a short helper (the env's interpreter) as a uv step is run: holding the lock,
    dying with pylockenv; its exit status and output (stdout and stderr)."""
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            pass_fds=(lock_fd,),
            preexec_fn=dies_with_parent(),
            cwd=working_directory_for_children(),
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return -1, f"it did not answer within {HELPER_TIMEOUT}s"
    except OSError as exc:
        return -1, f"it could not be started ({exc.strerror})"
    output = (done.stdout + done.stderr)[:INSPECT_OUTPUT_LIMIT]
    return done.returncode, output.decode("utf-8", errors="replace")


def _check_contents(plan: Plan, *, lock_fd: int, pylock_text: str) -> dict[str, str]:
    inspected = inspect_env(plan.env.python, lambda argv: _run_helper(argv, lock_fd))
    if isinstance(inspected, str):
        raise EnvCheckError(env_path=plan.env.path, problem=f"the env cannot be read: {inspected}")
    environment, installed = inspected
    problem = contents_problem(
        plan,
        pylock_text=pylock_text,
        environment=environment,
        installed=installed,
        project_names={
            dep.path: project_name(dep.path)
            for dep in plan.local_extra_deps
            if dep.kind == "directory"
        },
    )
    if problem is not None:
        raise EnvCheckError(env_path=plan.env.path, problem=problem)
    return installed


def _provision_cached(
    plan: Plan,
    envs: int,
    progress: Progress,
    checked: tuple[str, str],
    lock_timeout: float | None,
    lock_fd: int,
) -> None:
    """Under the provisioning lock: clear the env's place, run the steps, write the marker."""
    env = plan.env
    _clear_place(plan, envs, progress, lock_timeout)
    progress.say(f"env {plan.env_hash}: provisioning {env.path}")
    started_wall, started = time.time(), time.monotonic()
    uv_version, pylock_text = checked
    made = make_env_directory(plan, envs)
    try:
        with RemovedOnFailure(env.path, progress.say):
            installed = _run_steps(plan, made, progress, lock_fd=lock_fd, pylock_text=pylock_text)
            duration = time.monotonic() - started
            write_marker(
                env,
                record_provenance(
                    plan,
                    started=started_wall,
                    duration=duration,
                    uv_version=uv_version,
                    installed=installed,
                ),
            )
    finally:
        os.close(made)
    progress.say(f"env {plan.env_hash}: ready in {duration:.2f}s")


@contextmanager
def _provisioning_lock(
    plan: Plan, progress: Progress, timeout: float | None
) -> Iterator[tuple[int, int]]:
    """Hold the env's provisioning lock (`envs/<hash>.lock`, an exclusive flock, as the
    reference takes it), waiting for another provisioning for at most `timeout` seconds.
    Yields a descriptor on envs/ (opened without following a link) and the lock's."""
    lock_path = plan.env.lock
    envs = _cache_dir(plan, plan.env.directory)
    try:
        try:
            fd = open_lock(lock_path, dir_fd=envs)
        except OSError as exc:
            raise CacheNotWritableError(
                denied_sentence(lock_path, exc, "open the lock file"), source=lock_path
            ) from None
        if fd is None:
            refused = PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            raise CacheNotWritableError(
                denied_sentence(lock_path, refused, "create the lock", on=plan.env.parent),
                source=lock_path,
            )
        try:
            _wait_for_lock(
                fd,
                fcntl.LOCK_EX,
                progress,
                timeout,
                waiting=f"waiting for another process to finish provisioning env "
                f"{plan.env_hash} ({plan.env_path})",
                awaited=f"another process to finish provisioning env {plan.env_hash}",
                given_up=f"{lock_path}: another process is still provisioning env {plan.env_hash}",
                source=lock_path,
            )
        except OSError as exc:  # ENOLCK: a file system that cannot lock (NFS mounted nolock)
            os.close(fd)
            raise CacheNotWritableError(
                f"cannot lock {lock_path} ({exc.strerror}); the cache's file system must "
                "support flock (on NFS: a mount without nolock), or set XDG_CACHE_HOME to one "
                "that does.",
                source=lock_path,
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            yield envs, fd
        finally:
            os.close(fd)
    finally:
        os.close(envs)


def ensure_cached(plan: Plan, progress: Progress, *, lock_timeout: float | None = None) -> None:
    """Make the cached env of `plan` ready, provisioning it under its lock only if needed.

    A link where a directory of the cache belongs is refused first, ready env or not."""
    env = plan.env
    refuse_linked_cache_directories(plan.cache_root)
    if env_is_ready(env):
        progress.say(f"env {plan.env_hash}: reusing {env.path}")
        if any(dep.kind == "file" for dep in plan.local_extra_deps):  # else nothing can be stale
            for warning in staleness_warnings(plan, read_marker(env)):
                progress.say(f"warning: {warning}")
        from .interpreters import keep_found_interpreters

        # A ready env was made for this plan: the interpreter uv found is kept as after a
        # provisioning (a run from another directory would otherwise ask uv again).
        keep_found_interpreters(CacheLayout(root=plan.cache_root))
        return
    with ChildStatusReadable():
        checked = check_before_provisioning(plan)
        sweep_orphans(plan, progress)
        with _provisioning_lock(plan, progress, lock_timeout) as (envs, lock_fd):
            if env_is_ready(env):
                progress.say(f"env {plan.env_hash}: provisioned by another process, reusing it")
                return
            _provision_cached(plan, envs, progress, checked, lock_timeout, lock_fd)


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
    _wait_for_lock(
        lock.fd,
        fcntl.LOCK_SH,
        progress,
        lock_timeout,
        waiting=f"env {plan.env_hash}: waiting for 'pylockenv gc' to finish with it",
        awaited=f"'pylockenv gc' to finish with env {plan.env_hash}",
        given_up=f"the in-use lock {plan.env.in_use} (held exclusively by 'pylockenv gc')",
    )
    try:
        os.utime(lock.fd)  # the last use, read by list and gc
    except OSError:
        if progress.shows_uv_output:
            progress.say(f"env {plan.env_hash}: cannot record its last use (read-only cache)")


# Names drawn before giving up: a clash of 16 random hex digits is a co-tenant's doing.
EPHEMERAL_DRAWS = 8


def make_ephemeral(plan: Plan, progress: Progress) -> tuple[Plan, HeldLock]:
    """Make and provision a fresh ephemeral env for `plan` (whose env is the pattern
    `ephemeral/env_<random>`); return the plan placed in it and its lock, held shared.

    The name is drawn now: its lock file beside the env is created new (O_EXCL) and
    locked before the directory is made new (mkdir), so the env is locked from the
    moment it exists and gc never takes a live run's env for an orphan; a name in use
    (either file exists) is drawn again. The lock file holds this host's name, for
    gc and the sweep of other runs. On any failure the env and its lock file are
    removed and the error propagates.
    """
    with ChildStatusReadable():
        return _make_ephemeral(plan, progress)


def _make_ephemeral(plan: Plan, progress: Progress) -> tuple[Plan, HeldLock]:
    _, pylock_text = check_before_provisioning(plan)
    sweep_orphans(plan, progress)
    parent = _cache_dir(plan, plan.env.directory)
    try:
        placed, lock = _draw_ephemeral(plan, parent)
    finally:
        os.close(parent)
    env = placed.env
    progress.say(f"env {plan.env_hash}: provisioning ephemeral {env.path}")
    started = time.monotonic()
    try:
        made = open_env_dir(env)
        try:
            _run_steps(placed, made, progress, lock_fd=lock.fd, pylock_text=pylock_text)
        finally:
            os.close(made)
    except BaseException:
        if _remove_ephemeral_files(env, lock, progress):
            progress.say(f"removed ephemeral env {env.path}")
        raise
    progress.say(f"env {plan.env_hash}: ready in {time.monotonic() - started:.2f}s")
    return placed, lock


def _draw_ephemeral(plan: Plan, parent: int) -> tuple[Plan, HeldLock]:
    """Draw a name, create its lock file new and hold it shared, then make the env's
    directory new, all in ephemeral/ (open as `parent`); return the placed plan and lock."""
    from pylockenv.core.planning import with_ephemeral_suffix

    for _ in range(EPHEMERAL_DRAWS):
        placed = with_ephemeral_suffix(plan, os.urandom(8).hex())  # secrets.token_hex(8)
        env = placed.env
        lock = _create_ephemeral_lock(env, parent, host=plan.host)
        if lock is None:
            continue
        try:
            os.close(make_fresh_directory(parent, env.name))
        except FileExistsError:  # nobody of ours made it: leave it, draw again
            _unlink_lock(env, parent, lock)
            lock.release()
            continue
        except OSError as exc:
            _unlink_lock(env, parent, lock)
            lock.release()
            raise CacheNotWritableError(
                denied_sentence(env.path, exc, "create the directory"), source=env.path
            ) from None
        return placed, lock
    raise EnvVanishedError(
        f"each of {EPHEMERAL_DRAWS} names drawn for an ephemeral env in "
        f"{plan.env.parent} was taken already (someone creates names there ahead); "
        "run again, or check who writes that directory.",
        source=plan.env.parent,
    )


def _create_ephemeral_lock(env: EnvLayout, parent: int, *, host: str) -> HeldLock | None:
    """Create the lock file of the ephemeral `env` new in `parent`, hold it shared and write
    `host` into it; None when the name is taken (or gc took the file the moment it was made)."""
    try:
        fd = os.open(
            env.lock_name,
            os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            FILE_MODE,
            dir_fd=parent,
        )
    except FileExistsError:
        return None
    except OSError as exc:
        raise CacheNotWritableError(
            denied_sentence(env.lock, exc, "create the lock file"), source=env.lock
        ) from None
    lock = HeldLock(fd)
    try:
        if not try_flock(fd, fcntl.LOCK_SH):
            lock.release()  # gc holds it, about to remove it as a stray lock file
            return None
    except OSError as exc:  # ENOLCK: a file system that cannot lock (NFS mounted nolock)
        _unlink_lock(env, parent, lock)
        lock.release()
        raise CacheNotWritableError(
            f"cannot lock {env.lock} ({exc.strerror}); the cache's file system must support "
            "flock (on NFS: a mount without nolock), or set XDG_CACHE_HOME to one that does.",
            source=env.lock,
        ) from None
    if not _is_file_of(lock, parent, env.lock_name):
        lock.release()  # removed by gc between its creation and our lock
        return None
    with contextlib.suppress(OSError):  # only a hint for gc; the lock is what counts
        os.write(fd, f"{host}\n".encode("utf-8", "surrogateescape"))
    return lock


def _is_file_of(lock: HeldLock, parent: int, name: str) -> bool:
    """Whether `name` in `parent` is still the file `lock` is held on."""
    try:
        here = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(lock.fd)
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


def _unlink_lock(env: EnvLayout, parent: int, lock: HeldLock) -> None:
    """Remove the env's lock file if it is still the one `lock` is held on."""
    if _is_file_of(lock, parent, env.lock_name):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(env.lock_name, dir_fd=parent)


def _remove_ephemeral_files(env: EnvLayout, lock: HeldLock, progress: Progress) -> bool:
    """Remove the ephemeral env's directory, then its lock file, then release the lock
    (the caller holds it exclusively, or alone). Whether the directory is gone."""
    try:
        removed = remove_quietly(env.path, progress)
        if removed:
            try:
                parent = open_cache_dir(env.root, env.directory)
            except (OSError, CacheFileError):
                pass
            else:
                try:
                    _unlink_lock(env, parent, lock)
                except OSError as exc:
                    progress.say(f"warning: could not remove {env.lock}: {exc.strerror}")
                finally:
                    os.close(parent)
        return removed
    finally:
        lock.release()


def lock_for_command(plan: Plan, lock: HeldLock) -> HeldLock:
    """A second hold of the ephemeral env's lock (`lock`: the launcher's), for the
    command to inherit: the env stays while the command, or anything it started that
    keeps the descriptor, lives, even if the launcher is killed. Opened anew (its own
    open file), so that the launcher can tell afterwards whether anyone still holds it."""
    env = plan.env
    fd = open_lock(env.lock, create=False)
    held = os.fstat(lock.fd)
    if fd is None or (os.fstat(fd).st_dev, os.fstat(fd).st_ino) != (held.st_dev, held.st_ino):
        if fd is not None:
            os.close(fd)
        raise EnvVanishedError(
            f"the lock file {env.lock} of the ephemeral env was removed or replaced while "
            "the env was made; run again.",
            source=env.lock,
        )
    fcntl.flock(fd, fcntl.LOCK_SH)  # we hold it shared ourselves: nobody holds it exclusively
    return HeldLock(fd)


def remove_ephemeral(plan: Plan, lock: HeldLock, progress: Progress) -> bool:
    """Remove the ephemeral env after its command, unless something the command started
    still holds its lock (the command's copy, inherited: a daemon); whether removed.

    `lock` is the launcher's own hold, on an open file of its own: taking it exclusively
    succeeds only when no other hold is left. An env still held is left for its
    holders; gc (or the next cold run's sweep) removes it once they are gone.
    """
    if not try_flock(lock.fd, fcntl.LOCK_EX):  # a failed conversion leaves no hold of ours
        progress.say(
            f"ephemeral env {plan.env_path} is still held by processes the command started; "
            "it is left for them ('pylockenv gc' removes it once they are gone)"
        )
        lock.release()
        return False
    removed = _remove_ephemeral_files(plan.env, lock, progress)
    if removed:
        progress.say(f"removed ephemeral env {plan.env_path}")
    return removed


def sweep_orphans(plan: Plan, progress: Progress) -> None:
    """The safety net of a cold run: remove this host's orphaned ephemeral envs (their lock
    nobody holds, so their run is gone: a job killed before it could remove its env),
    within a small time budget (`shell.cache.sweep_orphaned_ephemeral`). Never fails the run."""
    cache = CacheLayout(root=plan.cache_root)
    if not os.path.lexists(cache.ephemeral_dir):
        return  # no ephemeral env was ever made here: list and gc's modules stay unloaded
    from .cache import sweep_orphaned_ephemeral

    try:
        for outcome in sweep_orphaned_ephemeral(cache, plan.host):
            if outcome.result == "removed":
                progress.say(
                    f"removed orphaned ephemeral env {outcome.entry.env.path} (its run is gone)"
                )
    except (OSError, PylockenvError) as exc:
        if progress.shows_uv_output:
            progress.say(f"warning: could not sweep orphaned ephemeral envs: {exc}")
