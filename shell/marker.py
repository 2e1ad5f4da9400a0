"""The `.provisioned` marker: its presence means "ready"; its content is provenance JSON."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

STAGING_SUFFIX = ".tmp"


def write_marker(marker_path: str, provenance: Mapping[str, Any]) -> None:
    """Write the marker atomically: to a staging name first, then `os.replace` it into place.

    A reader therefore sees either no marker or a complete one, never a torn write.
    """
    staging = marker_path + STAGING_SUFFIX
    with open(staging, "w", encoding="utf-8") as stream:
        json.dump(provenance, stream, indent=2, sort_keys=True)
        stream.write("\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(staging, marker_path)


def read_marker(marker_path: str) -> dict[str, Any] | None:
    """The marker's provenance; {} for an empty or unreadable marker (as the reference
    writes), None when there is no marker at all."""
    try:
        with open(marker_path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        content = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return content if isinstance(content, dict) else {}
