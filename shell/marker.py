"""Reading and writing an env's `.provisioned` marker (its meaning: `core.provenance`)."""

from __future__ import annotations

import os

from pylockenv.core.layout import MARKER_NAME, MARKER_STAGING_NAME, EnvLayout
from pylockenv.core.provenance import (
    MARKER_SIZE_LIMIT,
    Marker,
    Provenance,
    parse_marker,
    render_marker,
)

from .cachefiles import denied_sentence, open_env_dir, read_cache_file, write_atomically
from .errors import CacheFileError, MarkerWriteError

__all__ = ["MarkerWriteError", "read_marker", "write_marker"]


def write_marker(env: EnvLayout, provenance: Provenance) -> None:
    """Write the marker atomically (`cachefiles.write_atomically`: its staging name, fsync,
    `os.replace`), in the env directory reached without following a link.

    A reader therefore sees either no marker or a complete one, never a torn write.
    """
    try:
        directory = open_env_dir(env)
        try:
            write_atomically(
                directory,
                MARKER_NAME,
                render_marker(provenance).encode("utf-8"),
                staging=MARKER_STAGING_NAME,
                path=env.marker,
            )
        finally:
            os.close(directory)
    except OSError as exc:
        raise MarkerWriteError(
            denied_sentence(env.marker, exc, "write the marker")
            + " The environment was removed. Free space or fix the permissions of the "
            "cache, then run again.",
            source=env.marker,
        ) from None
    except CacheFileError as exc:
        raise MarkerWriteError(
            f"cannot write the marker {env.marker}: {exc} The environment was removed.",
            source=env.marker,
        ) from None


def read_marker(env: EnvLayout) -> Marker | None:
    """The env's marker; None when there is none. Never follows a link nor blocks: a marker
    that is a link or a special file, or cannot be read, is an unreadable one."""
    try:
        data = read_cache_file(env.marker, MARKER_SIZE_LIMIT, levels=2)
    except CacheFileError as exc:
        return Marker(kind="unreadable", problem=str(exc).split(";")[0])
    except OSError as exc:
        return Marker(kind="unreadable", problem=f"it cannot be read ({exc.strerror})")
    return None if data is None else parse_marker(data)
