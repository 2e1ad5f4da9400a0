"""SIGINT, SIGTERM and SIGHUP while pylockenv works: interrupt provisioning, pass them on.

Used by `execute()` (the Python API, where pylockenv cannot exec the command and
must wait beside it) and while the CLI provisions; a CLI run execs the command,
so from then on signals reach the command directly.

While provisioning, the first such signal raises `ProvisioningInterruptedError`, so that the
code unwinding from it kills uv and removes what it created. While the command
runs, signals go to the command, and pylockenv waits for it to exit. Once the
command has been started no signal raises any more, so clean-up cannot be cut
short. The previous handlers are back when the relay is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from types import FrameType, TracebackType
from typing import Any, Literal

from .errors import ProvisioningInterruptedError

RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

Phase = Literal["interrupt", "forward", "hold"]


def _terminal_sends_sigint_to_child() -> bool:
    """Whether a SIGINT we got most likely came from the terminal, which sent the child one too.

    That is the case when our process group is the terminal's foreground group: the
    child shares our group, so Ctrl-C reached it already and must not arrive twice.
    """
    for fd in (0, 1, 2):
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


class SignalRelay:
    """Context manager owning SIGINT/SIGTERM/SIGHUP for the duration of one `execute`.

    Outside the main thread Python cannot set handlers; the relay then does nothing.
    """

    def __init__(self) -> None:
        self.phase: Phase = "interrupt"
        self.doing = "provisioning the environment"
        self.received: list[int] = []
        self._child: subprocess.Popen[Any] | None = None
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> SignalRelay:
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = {signum: signal.getsignal(signum) for signum in RELAYED}
        if any(handler is None for handler in previous.values()):
            return self  # set outside Python: we could not put it back
        # An ignored signal stays ignored, for us and (inherited) for the command: that is
        # how a shell marks background jobs, and what nohup-like wrappers ask for.
        self._previous = {s: h for s, h in previous.items() if h is not signal.SIG_IGN}
        for signum in self._previous:
            signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def start_forwarding(self) -> None:
        """From now on signals are meant for the command about to start."""
        self.phase = "forward"
        self.received = []

    def set_child(self, child: subprocess.Popen[Any]) -> None:
        """The started command: deliver what arrived while it was starting."""
        self._child = child
        for signum in self.received:
            self._forward(signum)

    def hold(self) -> None:
        """The command has exited: record signals, neither raise nor forward."""
        self.phase = "hold"
        self._child = None

    def _forward(self, signum: int) -> None:
        if self._child is None or self._child.returncode is not None:
            return
        if signum == signal.SIGINT and _terminal_sends_sigint_to_child():
            return
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
            self._child.send_signal(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.phase == "forward":
            self._forward(signum)
        elif self.phase == "interrupt":
            self.phase = "hold"  # one exception is enough; the unwinding must not be cut short
            raise ProvisioningInterruptedError(signum, self.doing)
