"""What pylockenv tells the person watching, on stderr (stdout belongs to the command)."""

from __future__ import annotations

import sys
from typing import Literal, TextIO

from attrs import define, field

Verbosity = Literal["quiet", "normal", "verbose"]


def _stderr() -> TextIO:
    return sys.stderr


@define(kw_only=True)
class Progress:
    """Prints progress lines, each prefixed with "pylockenv: ".

    `quiet` prints nothing (errors are the caller's to print); `normal` prints
    which env, reused or provisioned, a line per uv step and the total;
    `verbose` also lets uv's own output through.
    """

    verbosity: Verbosity = "normal"
    stream: TextIO = field(factory=_stderr)

    @property
    def shows_uv_output(self) -> bool:
        """Whether uv's output goes to the stream instead of being captured."""
        return self.verbosity == "verbose"

    def say(self, message: str) -> None:
        """One progress line (suppressed by quiet)."""
        if self.verbosity != "quiet":
            print(f"pylockenv: {message}", file=self.stream, flush=True)

    def raw(self, text: str) -> None:
        """Text from uv, shown as it is in verbose mode."""
        if self.shows_uv_output:
            self.stream.write(text)
            self.stream.flush()
