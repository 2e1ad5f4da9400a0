"""Every file operation on the cache, as a shared and possibly hostile directory demands.

The one owner of the cache's files on disk (their names are `core.layout`'s):

- Directories: the cache root may be a link (a user who wants the cache
  elsewhere links it); envs/, ephemeral/, plans/ and each env are opened
  relative to their parent's descriptor without following a link
  (`open_cache_dir`, `open_env_dir`). A link in their place is refused with a
  sentence (`CacheLinkError`), never followed.
- Files are opened with O_NOFOLLOW and O_NONBLOCK and checked to be regular
  files (`open_regular`), read bounded (`read_regular`), written atomically (a
  staging name, fsync, `os.replace`: `write_atomically`), removed without
  following a link (`remove_entry`, `remove_tree`, and `RemovedOnFailure`, the
  clean-path-on-failure idea), and every lock file is opened one way
  (`open_lock`).
- One mode rule: everything pylockenv creates asks for 0o666 (files) or 0o777
  (directories) and lets the umask decide, so a lab's shared cache (setgid
  group, umask 002) gives every member the same access as the first.

Only light standard-library modules load here: the warm path reads this module.
"""

from __future__ import annotations

import errno
import os
import stat

from pylockenv.core.layout import EnvLayout, is_ready

from .errors import CacheFileError, CacheLinkError, CacheNotWritableError
from .facts import stat_kind

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

FILE_MODE = 0o666  # less the umask, for every file pylockenv creates in the cache
DIR_MODE = 0o777  # less the umask, for every directory
_NO_FOLLOW = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# What a file system says when this user may not write (or it is read-only).
UNWRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "CacheFileError",
    "CacheLinkError",
    "RemovedOnFailure",
    "denied_sentence",
    "entry_type",
    "env_is_ready",
    "file_type",
    "make_fresh_directory",
    "open_cache_dir",
    "open_env_dir",
    "open_lock",
    "open_regular",
    "read_cache_file",
    "read_regular",
    "remove_entry",
    "remove_tree",
    "write_atomically",
]


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


def entry_type(path: str) -> str | None:
    """What `path` is without following a link ("a directory", "a symbolic link", ...),
    or None when nothing is there."""
    try:
        return file_type(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return None


def denied_sentence(
    path: str, exc: OSError, doing: str, needs: str = "write", on: str | None = None
) -> str:
    """A sentence for `exc` (an OSError of `doing` something to `path`) that names the path
    and, for a permission refused, the permission (`needs`) on the file or directory that
    needs it (`on`: by default `path`, its directory for a removal) and who has it; never
    an errno alone."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        if on is None:
            on = os.path.dirname(path) if doing.startswith("remove") else path
        return (
            f"cannot {doing} {path}: permission denied; this user (uid {os.getuid()}) needs "
            f"{needs} permission on {_owned(on)}. On a cache shared by a group, make it the "
            "group's (chgrp -R GROUP, chmod -R g+rwX, chmod g+s on its directories) and run "
            "with umask 002; or set XDG_CACHE_HOME to a cache of your own."
        )
    if exc.errno == errno.EROFS:
        return f"cannot {doing} {path}: the file system is read-only."
    return f"cannot {doing} {path} ({exc.strerror or exc})."


def _owned(path: str) -> str:
    """`path` and who owns it, for a message: "/c/envs (owner alice, group lab, mode 2775)"."""
    try:
        st = os.lstat(path)
    except OSError:
        return path
    import grp  # only for a message
    import pwd

    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = f"uid {st.st_uid}"
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = f"gid {st.st_gid}"
    return f"{path} (owner {owner}, group {group}, mode {stat.S_IMODE(st.st_mode):04o})"


def _refused(path: str, what: str, expected: str = "a regular file") -> CacheFileError:
    error = CacheLinkError if what == "a symbolic link" else CacheFileError
    return error(
        f"{path} is {what}, where the cache expects {expected}; pylockenv does not follow "
        "links or read special files in its cache. Remove it (rm) and run again. (To keep "
        "the cache elsewhere, set XDG_CACHE_HOME, or make the cache root itself a link.)",
        source=path,
    )


def _open_subdir(parent_fd: int, name: str, path: str, *, create: bool) -> int:
    """The directory `name` in `parent_fd` (at `path`), never followed through a link."""
    if create:
        try:
            os.mkdir(name, DIR_MODE, dir_fd=parent_fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CacheNotWritableError(
                denied_sentence(path, exc, "create the directory"), source=path
            ) from None
    try:
        return os.open(name, _DIRECTORY, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                mode = os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode
            except OSError:
                raise exc from None
            raise _refused(path, file_type(mode), "a directory") from None
        raise


def open_cache_dir(root: str, name: str, *, create: bool = False) -> int:
    """A descriptor on the cache directory `root/name` (envs, ephemeral or plans).

    `root` is followed if it is a link; `name` never is. With `create`, both are
    made when missing (modes by the umask). Raises FileNotFoundError when missing,
    CacheLinkError/CacheFileError when something else is in the directory's place,
    CacheNotWritableError when it cannot be created.
    """
    if create:
        try:
            os.makedirs(root, DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise CacheNotWritableError(
                denied_sentence(f"{root}/{name}", exc, "create")
                + " The cache lives there because of XDG_CACHE_HOME (or HOME): set "
                "XDG_CACHE_HOME to a directory this user can write to.",
                source=root,
            ) from None
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _open_subdir(root_fd, name, f"{root}/{name}", create=create)
    finally:
        os.close(root_fd)


def open_env_dir(env: EnvLayout) -> int:
    """A descriptor on the env's directory, reached from the cache root without
    following a link (the env's own, or one at envs/ or ephemeral/)."""
    parent = open_cache_dir(env.root, env.directory)
    try:
        return _open_subdir(parent, env.name, env.path, create=False)
    finally:
        os.close(parent)


def open_regular(path: str, flags: int, mode: int = FILE_MODE, *, dir_fd: int | None = None) -> int:
    """Open the cache file `path` (with `dir_fd`: its name in that directory; `path`
    then names it in messages) with `flags`, never following a link and never blocking.

    Raises FileNotFoundError (and the other OSErrors of open) as they come, and
    CacheFileError when it is a link or not a regular file.
    """
    name = os.path.basename(path) if dir_fd is not None else path
    try:
        fd = os.open(name, flags | _NO_FOLLOW, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refused(path, "a symbolic link") from None
        if exc.errno == errno.EISDIR:
            raise _refused(path, "a directory") from None
        if exc.errno == errno.ENXIO:  # a FIFO opened for writing with nobody reading
            raise _refused(path, "a FIFO (named pipe)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(path, file_type(st.st_mode))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str, limit: int, *, dir_fd: int | None = None) -> bytes | None:
    """The first `limit`+1 bytes at most of the cache file `path`; None when it is missing.

    Raises CacheFileError for a link or a special file, OSError when it cannot be read.
    """
    try:
        fd = open_regular(path, os.O_RDONLY, dir_fd=dir_fd)
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


def read_cache_file(path: str, limit: int, *, levels: int) -> bytes | None:
    """`read_regular(path, limit)` for a file `levels` directories below the cache root
    (plans/<name>: 1; envs/<hash>/<name>: 2), each of those directories opened from its
    parent without following a link. None when the file or a directory is missing.

    Raises CacheFileError (CacheLinkError) for a link where a directory or the file
    belongs, or a special file; OSError when it cannot be read.
    """
    parts = path.split("/")
    directories, name = parts[-1 - levels : -1], parts[-1]
    root = "/".join(parts[: -1 - levels])
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        reached = root
        for directory in directories:
            reached = f"{reached}/{directory}"
            try:
                inner = _open_subdir(fd, directory, reached, create=False)
            except FileNotFoundError:
                return None
            os.close(fd)
            fd = inner
        return read_regular(f"{reached}/{name}", limit, dir_fd=fd)
    finally:
        os.close(fd)


def open_lock(path: str, *, dir_fd: int | None = None, create: bool = True) -> int | None:
    """Open the lock file `path` (see `open_regular` for `dir_fd`), the one way every lock
    file of the cache is opened: created if missing (with `create`), by the one mode rule.

    A flock needs no write access, so a lock this user may only read is opened
    read-only. None: the file is missing and cannot be created (a read-only cache).
    Raises FileNotFoundError when its directory is gone, CacheNotWritableError with
    a sentence when it can be neither opened nor created.
    """
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        return open_regular(path, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        if create:
            raise
        return None
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
    try:
        return open_regular(path, os.O_RDONLY, dir_fd=dir_fd)
    except FileNotFoundError:
        if create and not os.path.isdir(os.path.dirname(path)):
            raise
        return None
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        raise CacheNotWritableError(
            denied_sentence(path, exc, "open the lock file", needs="read"), source=path
        ) from None


def write_atomically(
    dir_fd: int, name: str, data: bytes, *, staging: str, path: str, fsync: bool = True
) -> None:
    """Write `data` as the file `name` of the directory `dir_fd` (at `path`, for messages):
    to `staging` first, then `os.replace`d into place, so a reader sees the whole file or
    none. The staging file is removed on failure. Raises OSError or CacheFileError."""
    fd = open_regular(
        f"{os.path.dirname(path)}/{staging}",
        os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        dir_fd=dir_fd,
    )
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staging, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:  # noqa: SIM105 (contextlib is not loaded on the warm path)
            os.unlink(staging, dir_fd=dir_fd)
        except OSError:
            pass
        raise


def _vanished_is_fine(function: object, path: str, exc_info: object) -> None:
    error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    if not isinstance(error, FileNotFoundError):
        assert isinstance(error, BaseException)
        raise error


def remove_entry(dir_fd: int, name: str) -> None:
    """Remove the entry `name` of the directory `dir_fd`: a tree (walked through
    descriptors, links inside never followed, as shutil.rmtree does on Linux), or a
    file or link (unlinked, never followed). Missing is fine; other OSErrors raise."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        import shutil  # not on the warm path

        shutil.rmtree(name, dir_fd=dir_fd, onerror=_vanished_is_fine)
    else:
        try:  # noqa: SIM105 (contextlib is not loaded on the warm path)
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass


def make_fresh_directory(parent_fd: int, name: str) -> int:
    """Create the directory `name` in `parent_fd`, new (FileExistsError if anything, a link
    included, is there), mode by the umask; return a descriptor on it."""
    os.mkdir(name, DIR_MODE, dir_fd=parent_fd)
    return os.open(name, _DIRECTORY, dir_fd=parent_fd)


def remove_tree(path: str) -> None:
    """Remove whatever is at `path`, an entry of a cache directory (envs/<hash>,
    ephemeral/env_...): its parent is opened without following a link, and nothing
    in it is followed. Raises OSError, or CacheFileError for a link at the parent."""
    try:
        parent = _open_parent(path)
    except FileNotFoundError:
        return
    try:
        remove_entry(parent, os.path.basename(path))
    finally:
        os.close(parent)


def _open_parent(path: str) -> int:
    directory = os.path.dirname(path)
    return open_cache_dir(os.path.dirname(directory), os.path.basename(directory))


class RemovedOnFailure:
    """`with RemovedOnFailure(path, report):` removes `path` (`remove_tree`) if the block
    raises, then lets the exception go on; a removal that fails is passed to `report`
    (a sentence), never raised over the first error. pre-commit's clean_path_on_failure."""

    def __init__(self, path: str, report: Callable[[str], None]) -> None:
        self.path = path
        self.report = report
        self.removed = False

    def __enter__(self) -> RemovedOnFailure:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.removed = remove_reporting(self.path, self.report)


def remove_reporting(path: str, report: Callable[[str], None]) -> bool:
    """Remove `path` (`remove_tree`); a failure is passed to `report`. Whether it is gone."""
    try:
        remove_tree(path)
    except (OSError, CacheFileError) as exc:
        detail = denied_sentence(path, exc, "remove") if isinstance(exc, OSError) else str(exc)
        report(f"warning: could not remove {path}: {detail}")
        return False
    return True


def env_is_ready(env: EnvLayout) -> bool:
    """The layout's readiness rule, asked of the disk (a run, the warm path, gc's look).

    An env reached through a link (at its own place, or at envs/) is not ready:
    the full path then refuses it with a sentence.
    """
    try:
        for directory in (env.parent, env.path):
            if not stat.S_ISDIR(os.lstat(directory).st_mode):
                return False
        os.lstat(env.marker)  # present, whatever it is (read_marker says what it holds)
    except OSError:
        return False
    return is_ready(marker_present=True, interpreter_resolves=os.path.exists(env.python))
