"""Checks on the pylock file that can be made before anything is created.

The name check needs only the path, so planning makes it. The content checks
need the file's text, which the shell reads only when it is about to provision
(a warm run never opens the pylock).
"""

from __future__ import annotations

import re
from typing import Literal

from .errors import PylockError
from .limits import clipped, shown, shown_path

PylockFormat = Literal["pylock", "requirements"]

# PEP 751: "pylock.toml", or "pylock.<name>.toml" with a name free of dots.
_PYLOCK_NAME = re.compile(r"pylock\.(?:[^.]+\.)?toml")


def pylock_format(path: str, where: str) -> PylockFormat:
    """How uv will read the file at `path`, judged by its name, as uv judges it."""
    name = path.rsplit("/", 1)[-1]
    if _PYLOCK_NAME.fullmatch(name):
        return "pylock"
    if name.endswith(".txt"):
        return "requirements"
    raise PylockError(
        f"{where}: pylock: {shown_path(path)} is named {shown(name)}, and uv reads a lock file "
        "only when it is named 'pylock.toml' or 'pylock.<name>.toml' (PEP 751); rename the file "
        "(or point at a requirements .txt file instead)."
    )


def check_pylock_text(
    text: str,
    *,
    path: str,
    where: str,
    check_version: str | None,
    interpreter: str | None = None,
) -> None:
    """Raise PylockError if the text is not a PEP 751 lock, or its requires-python
    excludes `check_version` (the plan's `requires_python_check`: the full version of
    `interpreter`, the one the env is made from; None skips that test)."""
    import tomllib  # here: planning (every run) needs only the name check above

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PylockError(
            f"{where}: pylock: {shown_path(path)} is not valid TOML ({exc}); "
            "regenerate it, for example with 'uv export --format pylock.toml -o pylock.toml'."
        ) from None
    missing = [key for key in ("lock-version", "packages") if key not in document]
    if missing:
        raise PylockError(
            f"{where}: pylock: {shown_path(path)} is TOML but not a PEP 751 lock file: it has no "
            f"{' or '.join(repr(key) for key in missing)}; regenerate it, for example with "
            "'uv export --format pylock.toml -o pylock.toml'."
        )
    requires = document.get("requires-python")
    if requires is None:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not isinstance(requires, str):
        raise PylockError(
            f"{where}: pylock: {shown_path(path)}: requires-python must be a string such as "
            f"'>=3.11', got {shown(repr(requires))}; regenerate the lock file."
        )
    try:
        specifiers = SpecifierSet(requires)
    except InvalidSpecifier:
        raise PylockError(
            f"{where}: pylock: {shown_path(path)}: requires-python {shown(requires)} is not a "
            "valid version specifier; regenerate the lock file."
        ) from None
    version = check_version
    if version is not None and not specifiers.contains(version, prereleases=True):
        made_from = f" ({shown_path(interpreter)})" if interpreter is not None else ""
        raise PylockError(
            f"{where}: the pylock {shown_path(path)} requires Python {clipped(requires)}, but the "
            f"environment would use Python {version}{made_from}; set python_version to a "
            f"version that satisfies {shown(requires)}, or lock for Python {version}."
        )
