"""How a process pylockenv starts is started: the command's argv, and any process's environment.

`command_start` is the one place that turns a plan's command candidates into an
argv (every path uses it: the warm path, `run`, `apply` and `execute`); the
rule that made the candidates is `core.plan_rules.command_candidates`.
Light: the warm path loads this module.
"""

from __future__ import annotations

import os

from pylockenv.core.plan_rules import ALWAYS, COMMAND_UNSET, EXISTS, EXISTS_OR_LINK

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from pylockenv.core.plan_format import LightPlan


def child_environ(path: str, set_env: Mapping[str, str]) -> dict[str, str]:
    """A copy of this process's environment with a plan's changes (its `EnvChanges`: the
    PATH value, empty for "leave PATH as it is", and the variables to set); os.environ is
    untouched."""
    environ = dict(os.environ)
    if path:
        environ["PATH"] = path
    environ.update(set_env)
    return environ


def command_start(plan: LightPlan, args: Sequence[str]) -> tuple[list[str], dict[str, str]] | None:
    """The argv (with `args` appended) and environment that start the plan's command: the
    first candidate whose check holds now. None when none holds (the command is not
    found: the caller says the plan's `not_found` and exits 127, or leaves it to the
    full path to say)."""
    for check, path, argv in plan.candidates:
        if (
            check == ALWAYS
            or (check == EXISTS and path is not None and os.path.exists(path))
            or (check == EXISTS_OR_LINK and path is not None and os.path.lexists(path))
        ):
            environ = child_environ(plan.path_value, plan.set_env)
            for name in COMMAND_UNSET:  # another environment's (`core.plan_rules`)
                if name not in plan.set_env:
                    environ.pop(name, None)
            return [*argv, *args], environ
    return None


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def dies_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGKILL when the thread that started it
    ends (Linux's PR_SET_PDEATHSIG), a launcher killed with SIGKILL included, so that
    nothing pylockenv started keeps writing an env after its launcher is gone; it exits
    at once if that happened before it ran. None where there is no prctl (not Linux)."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # loaded before the fork: the child only calls

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()
    kill = 9  # signal.SIGKILL, without loading signal

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(kill + 128)

    return preexec


def working_directory_for_children() -> str | None:
    """The working directory a helper process (uv, the env's interpreter) is started in:
    the caller's (None), or "/" when it was deleted (uv refuses to start in one)."""
    try:
        os.getcwd()
    except OSError:
        return "/"
    return None


class ChildStatusReadable:
    """While entered, SIGCHLD has its default action, so that the exit status of a child
    (uv, the command) can be read: a caller that set it to SIG_IGN (an app runner, a
    daemon) makes the kernel reap children at once, and `Popen.wait` then reports 0 for
    a child that failed. The caller's setting is back on exit. Outside the main thread,
    where Python cannot change it, an ignored SIGCHLD is refused with a sentence."""

    def __init__(self) -> None:
        self._previous: object = None

    def __enter__(self) -> ChildStatusReadable:
        import signal

        if signal.getsignal(signal.SIGCHLD) is not signal.SIG_IGN:
            return self
        import threading

        if threading.current_thread() is not threading.main_thread():
            from .errors import ChildStatusError

            raise ChildStatusError(
                "SIGCHLD is ignored (SIG_IGN) in this process, so the exit status of uv and "
                "of the command cannot be read, and pylockenv can set it back only in the "
                "main thread; call execute() from the main thread, or restore SIGCHLD's "
                "default (signal.signal(signal.SIGCHLD, signal.SIG_DFL)) first."
            )
        self._previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            import signal

            signal.signal(signal.SIGCHLD, self._previous)  # type: ignore[arg-type]
            self._previous = None
