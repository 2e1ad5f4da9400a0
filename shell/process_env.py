"""The environment variables of a process pylockenv starts (uv or the command)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Mapping


def child_environ(path: str, set_env: Mapping[str, str]) -> dict[str, str]:
    """A copy of this process's environment with a plan's changes (its `EnvChanges`: the
    PATH value, empty for "leave PATH as it is", and the variables to set); os.environ is
    untouched. Takes plain values, so the warm path can call it on a plan file's data."""
    environ = dict(os.environ)
    if path:
        environ["PATH"] = path
    environ.update(set_env)
    return environ
