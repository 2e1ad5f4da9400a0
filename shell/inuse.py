"""Knowing which environments are in use, so that `gc` never removes one under a command.

Every run of a cached env holds a shared `flock` on `<env>/.in-use` for as long
as the command runs; opening that file is also when the run records the env's
last use, with one `utime`. An ephemeral env's run holds a shared `flock` on the
env directory itself, from the moment it creates it until it has removed it
(`uv venv` wants the directory empty, so no lock file can be put inside first).

`gc` takes the exclusive lock without waiting: if it cannot, the env is in use
and is skipped. While gc holds it, it removes the marker first, so a run that
was waiting on the shared lock sees no marker once it gets the lock, and must
provision again instead of running in a removed env (see `execute`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from pylockenv.core.errors import PylockenvError

IN_USE_NAME = ".in-use"


def in_use_path(env_path: str) -> str:
    """The path of the in-use lock file of the env at `env_path`."""
    return f"{env_path}/{IN_USE_NAME}"


@contextmanager
def holding_in_use(env_path: str) -> Iterator[None]:
    """Hold the env's shared in-use lock (and record its last use) for the block."""
    fd = os.open(in_use_path(env_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.utime(fd)
        yield
    finally:
        os.close(fd)


@contextmanager
def holding_directory(env_path: str) -> Iterator[None]:
    """Hold a shared lock on the (ephemeral) env directory itself for the block.

    Raises PylockenvError if gc removed the directory between its creation and
    the lock (it found it unlocked, so took it for an orphan).
    """
    fd = os.open(env_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            same = os.stat(env_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            raise PylockenvError(
                f"{env_path} was removed (by 'pylockenv gc'?) the moment it was created; run again."
            )
        yield
    finally:
        os.close(fd)


def _open_lock_target(env_path: str, ephemeral: bool) -> int:
    if ephemeral:
        return os.open(env_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return os.open(in_use_path(env_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


@contextmanager
def try_exclusive(env_path: str, *, ephemeral: bool = False) -> Iterator[bool]:
    """Try, without waiting, to take the in-use lock exclusively; yields whether it was taken.

    The lock is `<env>/.in-use` for a cached env, the directory for an ephemeral
    one. A missing env directory counts as not in use (yields True, holding nothing).
    """
    try:
        fd = _open_lock_target(env_path, ephemeral)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
