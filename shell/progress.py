"""What pylockenv tells the person watching, on stderr (stdout belongs to the command).

While a uv step runs on a terminal, its line is live: redrawn in place (a
carriage return, then the text padded with spaces over what was there) with the
elapsed time and uv's latest line, read from the output that is captured for a
failure's tail anyway. Elsewhere (a pipe, a file, TERM=dumb) every line is
plain, written once. No colour or other escape sequence is ever written, so
NO_COLOR has nothing to turn off.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import select
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Literal, TextIO

from attrs import Factory, define, field

Verbosity = Literal["quiet", "normal", "verbose"]

REDRAW_INTERVAL = 0.2  # seconds between redraws of a live line, its elapsed time ticking
DEFAULT_COLUMNS = 80  # when the terminal does not tell its width (a new pty says 0)
PREFIX = "pylockenv: "


def _stderr() -> TextIO:
    return sys.stderr


def is_live_terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal that honours a carriage return (TERM set, not dumb)."""
    try:
        tty = stream.isatty()
    except ValueError:  # closed
        return False
    return tty and os.environ.get("TERM", "") not in ("", "dumb")


def _live_terminal(progress: Progress) -> bool:
    return is_live_terminal(progress.stream)


@define(kw_only=True)
class Progress:
    """Prints progress lines, each prefixed with "pylockenv: ".

    `quiet` prints nothing (errors are the caller's to print); `normal` prints
    which env, reused or provisioned, a line per uv step and the total;
    `verbose` also lets uv's own output through. `terminal` (by default: is
    `stream` a live terminal) makes a running step's line live in `normal`.
    """

    verbosity: Verbosity = "normal"
    stream: TextIO = field(factory=_stderr)
    terminal: bool = field(default=Factory(_live_terminal, takes_self=True))

    @property
    def shows_uv_output(self) -> bool:
        """Whether uv's output goes to the stream instead of being captured."""
        return self.verbosity == "verbose"

    @property
    def draws_live_lines(self) -> bool:
        """Whether a running step shows as a line redrawn in place (normal, on a terminal)."""
        return self.verbosity == "normal" and self.terminal

    def say(self, message: str) -> None:
        """One progress line (suppressed by quiet)."""
        if self.verbosity != "quiet":
            print(f"{PREFIX}{message}", file=self.stream, flush=True)

    def raw(self, text: str) -> None:
        """Text from uv, shown as it is in verbose mode."""
        if self.shows_uv_output:
            self.stream.write(text)
            self.stream.flush()

    @contextmanager
    def step(self, name: str) -> Iterator[StepLine]:
        """The live line of step `name` while the block runs; read uv's output with `follow`.

        The line is cleared however the block ends (a failure, an interrupt), so
        nothing half-drawn stays behind; the step's final line is the caller's `say`.
        """
        line = StepLine(progress=self, name=name)
        try:
            line.redraw()
            yield line
        finally:
            line.clear()


@define(kw_only=True)
class StepLine:
    """One running uv step as shown: its name, the time since it started, uv's latest line."""

    progress: Progress
    name: str
    started: float = field(factory=time.monotonic)
    status: str = ""
    drawn: int = field(default=0, init=False)  # cells of the line now on the terminal
    drawn_at: float = field(default=-math.inf, init=False)

    def follow(self, pipe: IO[bytes]) -> Iterator[str]:
        """Each line read from `pipe` until its end, with its line ending (the last may lack one).

        The latest meaningful line becomes the status; on a live terminal the
        line is redrawn every REDRAW_INTERVAL while the pipe is silent, so this
        waits with poll(2) instead of a blocking read, and needs no thread.
        """
        fd = pipe.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while True:
            if self.progress.draws_live_lines:
                wait = self.drawn_at + REDRAW_INTERVAL - time.monotonic()
                if not poller.poll(max(0, math.ceil(wait * 1000))):
                    self.redraw()
                    continue
            chunk = os.read(fd, 65536)
            *lines, pending = _LINE_END.split(pending + decoder.decode(chunk, final=not chunk))
            if not chunk and pending:
                lines.append(pending)
            for line in lines:
                status = status_of(line)
                if status is not None:
                    self.status = status
                yield line
            if not chunk:
                return
            if time.monotonic() - self.drawn_at >= REDRAW_INTERVAL:
                self.redraw()

    def redraw(self) -> None:
        """Draw the line anew over the one on the terminal (nothing unless live)."""
        if not self.progress.draws_live_lines:
            return
        stream, now = self.progress.stream, time.monotonic()
        columns = _columns(stream)
        text = live_line(self.name, now - self.started, self.status, columns=columns)
        width = _cells(text)
        # Spaces cover the rest of a longer earlier line; never into the last column.
        padding = max(0, min(self.drawn, columns - 1) - width)
        self._write("\r" + text + " " * padding)
        self.drawn, self.drawn_at = width, now

    def clear(self) -> None:
        """Blank the line and return to its start, so the next line is written over it."""
        if self.drawn:
            self._write("\r" + " " * self.drawn + "\r")
            self.drawn = 0

    def _write(self, text: str) -> None:
        # Also run while an exception (an interrupt) propagates: a broken stderr must not
        # replace it.
        with suppress(OSError, ValueError):
            self.progress.stream.write(text)
            self.progress.stream.flush()


# Lines end at \n, \r\n or a lone \r, as Python's universal newlines read them.
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
# CSI and OSC escape sequences; uv writes none into a pipe unless colour is forced.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.)")


def status_of(line: str) -> str | None:
    """What a line of uv's output says it is doing, printable; None for a blank line or a
    warning (the experimental-pylock notice says nothing about progress)."""
    text = _ESCAPE.sub("", line)
    text = " ".join(
        "".join(c for c in word if unicodedata.category(c)[0] != "C") for word in text.split()
    )
    if not text or text.startswith("warning:"):
        return None
    return text


def live_line(name: str, elapsed: float, status: str, *, columns: int) -> str:
    """The live line of a running step, cut to fit `columns` less one (a terminal may wrap a
    line that fills its last column, which a carriage return cannot undo)."""
    text = f"{PREFIX}  {name} {elapsed:.1f}s"
    if status:
        text += f"  {status}"
    return _fit(text, columns - 1)


def _fit(text: str, cells: int) -> str:
    """`text` cut to at most `cells` terminal cells, "..." marking a cut."""
    if _cells(text) <= cells:
        return text
    kept, used = [], 0
    for char in text:
        used += _cell_width(char)
        if used > cells - 3:
            break
        kept.append(char)
    return "".join(kept) + "..."[: max(0, cells)]


def _cell_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cells(text: str) -> int:
    return sum(_cell_width(c) for c in text)


def _columns(stream: TextIO) -> int:
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):
        columns = 0
    return columns or DEFAULT_COLUMNS
