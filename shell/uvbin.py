"""Which uv executable to run."""

from __future__ import annotations

import os
import shutil

UV_ENV_VAR = "PYLOCKENV_UV"


def find_uv() -> str:
    """PYLOCKENV_UV if set, else the uv installed with pylockenv, else uv on PATH.

    Returns the bare name "uv" when none is found, so that a dry run still prints
    a plan; running it then fails with a message that says how to get uv.
    """
    chosen = os.environ.get(UV_ENV_VAR)
    if chosen:
        return chosen
    try:
        from uv import find_uv_bin
    except ImportError:
        pass
    else:
        try:
            return os.fsdecode(find_uv_bin())
        except FileNotFoundError:
            pass
    return shutil.which("uv") or "uv"
