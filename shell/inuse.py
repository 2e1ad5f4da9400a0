"""Knowing which environments are in use, so that `gc` never removes one under a command.

Every run holds a shared `flock` on `<env>/.in-use` for as long as the command
runs (an ephemeral env: from its creation until it is removed). Opening that
file is also when the run records the env's last use, with one `utime`.

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
def try_exclusive(env_path: str) -> Iterator[bool]:
    """Try, without waiting, to take the in-use lock exclusively; yields whether it was taken.

    A missing env directory counts as not in use (yields True, holding nothing).
    """
    try:
        fd = os.open(in_use_path(env_path), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
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
