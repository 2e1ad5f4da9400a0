"""What a provisioned env must hold before it is marked ready, and what it lacks.

uv has been seen to exit 0 without installing what it was asked to (a configuration
file sending the install elsewhere, say), and an empty env was then marked ready for
every user. So after the installs the shell asks the env's own interpreter for its
marker environment and its installed distributions, and this module decides:

- `wanted_from_lock`: each package of the lock whose marker (and `requires-python`)
  holds on that interpreter, by name, and by version where the lock pins one. A
  PEP 751 lock is read as uv installs it without `--extra` or `--group`: no extras,
  its `default-groups`. A requirements file: each line that names a package; a
  version only for a single `==` pin.
- `wanted_from_extra`: each local extra, by the name and version in a wheel's or an
  sdist's file name, or a source tree's `[project] name` (the shell reads it).
- `missing`: the wanted packages not installed, or installed at another version, as
  phrases for the error.

A marker that cannot be evaluated, or a line that is not a requirement, asks for
nothing: uv read the file, and this check must not refuse what uv accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attrs import frozen

if TYPE_CHECKING:
    from .pylock import PylockFormat

# A comment: `#` at the start of a line or after whitespace, to the end of the line.
_COMMENT = re.compile(r"(^|\s)#.*$")
# The marker environment of the env's interpreter, as packaging names its keys.
MarkerEnvironment = Mapping[str, str]


@frozen(kw_only=True)
class Wanted:
    """A distribution the env must hold: its normalised name, the version the lock pins
    (None: any), and where the wish comes from, for the error (`packages[3]`)."""

    name: str
    version: str | None
    origin: str


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Foo_Bar` is `foo-bar`)."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def _marker_holds(marker: object, environment: Mapping[str, Any], context: str) -> bool:
    from packaging.markers import InvalidMarker, Marker, UndefinedComparison

    if marker is None:
        return True
    if not isinstance(marker, str):
        return True  # not ours to refuse: uv read the lock
    try:
        return bool(Marker(marker).evaluate(dict(environment), context=context))  # type: ignore[arg-type]
    except (InvalidMarker, UndefinedComparison, KeyError, ValueError, TypeError):
        return True


def _python_allows(requires: object, environment: MarkerEnvironment) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not isinstance(requires, str):
        return True
    try:
        return SpecifierSet(requires).contains(
            environment.get("python_full_version", ""), prereleases=True
        )
    except InvalidSpecifier:
        return True


def _wanted_from_pylock(text: str, environment: MarkerEnvironment) -> tuple[Wanted, ...]:
    import tomllib

    document = tomllib.loads(text)  # checked before provisioning: it reads
    groups = document.get("default-groups", [])
    context = {
        **environment,
        "extras": frozenset(),
        "dependency_groups": frozenset(g for g in groups if isinstance(g, str))
        if isinstance(groups, list)
        else frozenset(),
    }
    wanted = []
    packages = document.get("packages", [])
    for index, package in enumerate(packages if isinstance(packages, list) else []):
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            continue
        if not _marker_holds(package.get("marker"), context, "lock_file"):
            continue
        if not _python_allows(package.get("requires-python"), environment):
            continue
        version = package.get("version")
        wanted.append(
            Wanted(
                name=canonical(package["name"]),
                version=version if isinstance(version, str) else None,
                origin=f"packages[{index}]",
            )
        )
    return tuple(wanted)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """The requirement lines of a requirements file: continuations joined, comments and
    options (`--hash`, `-e`, `-r` ...) dropped; with the line number each starts on."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = _COMMENT.sub("", pending + raw).split(" --", 1)[0].strip()
        pending = ""
        if line and not line.startswith("-"):
            lines.append((start, line))
    return lines


def _wanted_from_requirements(text: str, environment: MarkerEnvironment) -> tuple[Wanted, ...]:
    from packaging.requirements import InvalidRequirement, Requirement

    wanted = []
    for number, line in _logical_lines(text):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if not _marker_holds(
            None if requirement.marker is None else str(requirement.marker),
            {**environment, "extra": ""},
            "metadata",
        ):
            continue
        pins = [s for s in requirement.specifier if s.operator in ("==", "===")]
        version = pins[0].version if len(pins) == 1 and "*" not in pins[0].version else None
        wanted.append(
            Wanted(name=canonical(requirement.name), version=version, origin=f"line {number}")
        )
    return tuple(wanted)


def wanted_from_lock(
    text: str, fmt: PylockFormat, environment: MarkerEnvironment
) -> tuple[Wanted, ...]:
    """The distributions the lock's text asks for on an interpreter whose marker
    environment is `environment` (see the module's docstring)."""
    if fmt == "pylock":
        return _wanted_from_pylock(text, environment)
    return _wanted_from_requirements(text, environment)


def wanted_from_extra(path: str, *, project_name: str | None) -> Wanted | None:
    """The distribution a local extra installs: from a wheel's or an sdist's file name,
    or `project_name` (a source tree's static `[project] name`); None when neither says."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    base = path.rstrip("/").rsplit("/", 1)[-1]
    try:
        if base.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(base)
            return Wanted(name=str(name), version=str(version), origin=f"local extra {path}")
        if base.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(base)
            return Wanted(name=str(name), version=str(version), origin=f"local extra {path}")
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    if project_name is not None:
        return Wanted(name=canonical(project_name), version=None, origin=f"local extra {path}")
    return None


def _same_version(wanted: str, installed: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(wanted) == Version(installed)
    except InvalidVersion:
        return wanted == installed


def missing(wanted: tuple[Wanted, ...], installed: Mapping[str, str]) -> tuple[str, ...]:
    """What of `wanted` the env lacks, given `installed` (normalised name -> version), one
    phrase each: "probe-app 1.0 (packages[0]): not installed", "... installed is 0.9"."""
    problems = []
    for wish in wanted:
        shown = wish.name if wish.version is None else f"{wish.name} {wish.version}"
        have = installed.get(wish.name)
        if have is None:
            problems.append(f"{shown} ({wish.origin}): not installed")
        elif wish.version is not None and not _same_version(wish.version, have):
            problems.append(f"{shown} ({wish.origin}): installed is {have}")
    return tuple(problems)
