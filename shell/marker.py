"""Reading and writing an env's `.provisioned` marker (its meaning: `core.provenance`)."""

from __future__ import annotations

import os

from pylockenv.core.errors import PylockenvError
from pylockenv.core.layout import EnvLayout
from pylockenv.core.provenance import (
    MARKER_SIZE_LIMIT,
    Marker,
    Provenance,
    parse_marker,
    render_marker,
)

from .cachefiles import CacheFileError, read_regular


class MarkerWriteError(PylockenvError):
    """The marker could not be written (a full disk, a quota, a vanished directory)."""


def write_marker(env: EnvLayout, provenance: Provenance) -> None:
    """Write the marker atomically: to its staging name first, then `os.replace` it into place.

    A reader therefore sees either no marker or a complete one, never a torn write.
    """
    staging = env.marker_staging
    try:
        fd = os.open(
            staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
        )
        try:
            os.write(fd, render_marker(provenance).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staging, env.marker)
    except OSError as exc:
        raise MarkerWriteError(
            f"cannot write the marker {env.marker} ({exc.strerror}); the environment was "
            "removed. Free space or fix the permissions of the cache, then run again."
        ) from None


def read_marker(env: EnvLayout) -> Marker | None:
    """The env's marker; None when there is none. Never follows a link nor blocks: a marker
    that is a link or a special file, or cannot be read, is an unreadable one."""
    try:
        data = read_regular(env.marker, MARKER_SIZE_LIMIT)
    except CacheFileError as exc:
        return Marker(kind="unreadable", problem=str(exc).split(";")[0])
    except OSError as exc:
        return Marker(kind="unreadable", problem=f"it cannot be read ({exc.strerror})")
    return None if data is None else parse_marker(data)
