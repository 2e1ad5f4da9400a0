"""The locks that keep an env whole while anyone uses it, and let gc know who does.

- The provisioning lock (`envs/<hash>.lock`, the reference's) is held while an
  env is made, removed or remade; gc takes it without waiting.
- The in-use lock (`<env>/.in-use`) is held shared by every run of a cached env
  for as long as its command lives; opening it is also when the run records the
  env's last use. gc takes it exclusively without waiting, and removes the marker
  first while it holds it, so a run that gets the lock after gc sees no marker.
- An ephemeral env made by pylockenv is locked through its directory itself,
  shared, from the moment it is created until it is removed (`uv venv` wants the
  directory empty, so no lock file can go inside first).

A lock a command needs is held on a file descriptor the command inherits, so
the lock lives exactly as long as the command and whatever it started that keeps
the descriptor, never shorter (a launcher killed with SIGKILL takes nothing with it).
All are `flock(2)` locks, which Linux's NFS client passes on to the server.
"""

from __future__ import annotations

import fcntl
import os
import time

from pylockenv.core.layout import EnvLayout

from .cachefiles import CacheFileError, open_env_dir, open_lock

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

POLL_SECONDS = 0.005  # between attempts on a lock held by another process


class HeldLock:
    """A flock held on an open file descriptor; released when every copy of it is closed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def pass_on(self) -> None:
        """Let a program started next by exec (or Popen's pass_fds) inherit the descriptor."""
        os.set_inheritable(self.fd, True)

    def release(self) -> None:
        """Close this process's copy (a command that inherited one keeps the lock)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def wait_for_flock(
    fd: int, operation: int, *, timeout: float | None, on_wait: Callable[[], None]
) -> bool:
    """Take `operation` (LOCK_SH or LOCK_EX) on `fd`; False if `timeout` seconds passed first.

    Calls `on_wait` once if the lock is not free at once. Polled rather than
    blocking, so the wait is bounded and a signal handler can interrupt it.
    """
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    on_wait()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        time.sleep(POLL_SECONDS)
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                return False


def try_flock(fd: int, operation: int) -> bool:
    """Take `operation` on `fd` without waiting; whether it was taken."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def open_in_use(env: EnvLayout) -> int | None:
    """Open the env's in-use lock file, creating it if it can; None when it neither exists
    nor can be created (a read-only cache). FileNotFoundError: the env directory is gone."""
    return open_lock(env.in_use)


def open_directory(env: EnvLayout) -> int:
    """An open descriptor on the env directory itself (its lock for an ephemeral env),
    reached without following a link (`cachefiles.open_env_dir`)."""
    return open_env_dir(env)


def is_locked(path: str, *, directory: bool = False) -> bool:
    """Whether some process holds a flock on the existing `path` (never created here)."""
    try:
        if directory:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        else:
            opened = open_lock(path, create=False)
            if opened is None:
                return False
            fd = opened
    except (OSError, CacheFileError):
        return False  # no lock file, or none a run could hold (a link, a directory)
    try:
        return not try_flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)
