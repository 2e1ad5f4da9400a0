"""The environment variables of a process pylockenv starts (uv or the command)."""

from __future__ import annotations

import os

from pylockenv.core.plan import EnvChanges


def child_environ(changes: EnvChanges) -> dict[str, str]:
    """A copy of this process's environment with the plan's changes; os.environ is untouched."""
    environ = dict(os.environ)
    if changes.path:
        environ["PATH"] = changes.path
    environ.update(changes.set_env)
    return environ
