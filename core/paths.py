"""Turning the path strings of a spec into absolute paths, without touching the disk.

The rules are the reference implementation's, so hashes match it: `~` is expanded,
a relative path is joined to the spec file's directory (or to the working directory
for a spec given by flags), and nothing else is normalised: no symlink or `..`
resolution, exactly like `pathlib.Path.absolute()`.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from .errors import SpecError


def expand_user(raw: str, home: str, where: str) -> str:
    """Expand a leading `~` or `~/` with `home`; `~user` forms are refused."""
    if raw == "~" or raw.startswith("~/"):
        return home + raw[1:]
    if raw.startswith("~"):
        raise SpecError(
            f"{where}: {raw!r} uses the '~user' form, which pylockenv does not expand; "
            "write the path out in full or use '~/' for your own home directory."
        )
    return raw


def absolute_path(raw: str, base_dir: str, home: str, where: str) -> str:
    """The absolute form of a spec path, as `Path(raw).expanduser()` joined to `base_dir`."""
    expanded = PurePosixPath(expand_user(raw, home, where))
    if expanded.is_absolute():
        return str(expanded)
    if not base_dir:  # the working directory, which was deleted (see shell.facts)
        raise SpecError(
            f"{where}: {raw!r} is a relative path, but the working directory it is read from "
            "no longer exists (it was deleted); cd to an existing directory, or give the "
            "path in full."
        )
    return str(PurePosixPath(base_dir) / expanded)
