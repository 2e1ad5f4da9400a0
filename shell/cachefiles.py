"""Opening files inside the cache as a shared, possibly hostile directory demands.

Every file pylockenv opens in the cache is opened without following a symbolic
link (a link planted there must not make pylockenv create or touch a file
elsewhere) and without blocking (a FIFO in a file's place must not hang a run,
`list` or `gc`), and its type is checked before it is used.
"""

from __future__ import annotations

import errno
import os
import stat

from pylockenv.core.errors import PylockenvError
from pylockenv.core.layout import EnvLayout, is_ready

from .facts import stat_kind

_NO_FOLLOW = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class CacheFileError(PylockenvError):
    """A file in the cache is not what the cache protocol expects (a link, a FIFO, ...)."""


def file_type(mode: int) -> str:
    """The kind of file `mode` describes (an lstat's: links included), for messages:
    "a regular file", "a FIFO (named pipe)", ..."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return _KIND_WORDS.get(stat_kind(mode), "an unknown kind of file")


_KIND_WORDS = {
    "file": "a regular file",
    "directory": "a directory",
    "character device": "a character device",
    "block device": "a block device",
    "FIFO": "a FIFO (named pipe)",
    "socket": "a socket",
}


def _refused(path: str, what: str) -> CacheFileError:
    return CacheFileError(
        f"{path} is {what}, where the cache expects a regular file; pylockenv does not follow "
        "links or read special files in its cache. Remove it (rm) and run again."
    )


def open_regular(path: str, flags: int, mode: int = 0o600) -> int:
    """Open the cache file `path` with `flags`, never following a link and never blocking.

    Raises FileNotFoundError (and the other OSErrors of open) as they come, and
    CacheFileError when `path` is a link or not a regular file.
    """
    try:
        fd = os.open(path, flags | _NO_FOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refused(path, "a symbolic link") from None
        if exc.errno == errno.EISDIR:
            raise _refused(path, "a directory") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(path, file_type(st.st_mode))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str, limit: int) -> bytes | None:
    """The first `limit`+1 bytes at most of the cache file `path`; None when it is missing.

    Raises CacheFileError for a link or a special file, OSError when it cannot be read.
    """
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def entry_type(path: str) -> str | None:
    """What `path` is without following a link ("a directory", "a symbolic link", ...),
    or None when nothing is there."""
    try:
        return file_type(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None


def env_is_ready(env: EnvLayout) -> bool:
    """The layout's readiness rule, asked of the disk (a run, the warm path, gc's look)."""
    return is_ready(
        marker_present=os.path.exists(env.marker),
        interpreter_resolves=os.path.exists(env.python),
    )
