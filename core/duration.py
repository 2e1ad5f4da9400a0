"""Durations written as `30d`, `12h`, `90m`, `45s` or `2w` (for `gc --older-than`)."""

from __future__ import annotations

import re

from .errors import DurationError as DurationError  # its home is core.errors

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """The number of seconds `text` stands for, e.g. 30d -> 2592000."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise DurationError(
            f"{text!r} is not a duration; write a whole number and a unit, "
            "s, m, h, d or w (for example 30d, 12h, 90m or 0s)."
        )
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """A rough human form of `seconds` in its largest whole unit: 45d, 5h, 12m, 40s."""
    seconds = max(0.0, seconds)
    for unit in ("d", "h", "m"):
        if seconds >= UNIT_SECONDS[unit]:
            return f"{int(seconds // UNIT_SECONDS[unit])}{unit}"
    return f"{int(seconds)}s"
