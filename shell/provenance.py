"""The `.provisioned` marker on disk (its meaning: `core.provenance`): writing it atomically,
reading it without following a link, recording how an env was made (after its last uv
step), and noticing changes on reuse."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping

from pylockenv.core import __version__
from pylockenv.core.layout import MARKER_NAME, MARKER_STAGING_NAME, EnvLayout
from pylockenv.core.planning import Plan
from pylockenv.core.provenance import (
    MARKER_SIZE_LIMIT,
    Marker,
    Provenance,
    changed_extras,
    parse_marker,
    render_marker,
    staleness_message,
)
from pylockenv.core.provisioning import hashed_paths, provenance_of

from .cachefiles import (
    CacheFileError,
    denied_sentence,
    open_env_dir,
    read_cache_file,
    write_atomically,
)
from .errors import MarkerWriteError

HASH_CHUNK = 1 << 20
PYVENV_CFG_LIMIT = 1 << 16


def file_sha256(path: str) -> str | None:
    """The hex SHA-256 of the file at `path`, or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def read_pyvenv_cfg(path: str) -> dict[str, str]:
    """The `key = value` lines of a `pyvenv.cfg` ({} when it is missing or not a plain file)."""
    try:
        data = read_cache_file(path, PYVENV_CFG_LIMIT, levels=2)  # <env>/pyvenv.cfg
    except (OSError, CacheFileError):
        return {}
    if data is None:
        return {}
    lines = data.decode("utf-8", errors="replace").splitlines()
    pairs = (line.partition("=") for line in lines)
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


# Run by the env's interpreter, isolated (-I: no PYTHON* variables, no user site, not the
# working directory): its marker environment, as packaging's default_environment() makes
# it, and its installed distributions, as one line of JSON.
INSPECT_ENV = """\
import importlib.metadata, json, os, platform, sys
def version(info):
    text = f"{info.major}.{info.minor}.{info.micro}"
    return text if info.releaselevel == "final" else text + info.releaselevel[0] + str(info.serial)
environment = {
    "implementation_name": sys.implementation.name,
    "implementation_version": version(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
installed = {}
for dist in importlib.metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        installed.setdefault(name, dist.version)
print(json.dumps({"environment": environment, "installed": installed}))
"""
INSPECT_OUTPUT_LIMIT = 1 << 22
PYPROJECT_LIMIT = 1 << 20


def inspect_env(
    python: str, run: Callable[[list[str]], tuple[int, str]]
) -> tuple[dict[str, str], dict[str, str]] | str:
    """The marker environment and the installed distributions (name -> version) of the
    env whose interpreter is `python`, asked of that interpreter; or why they could not
    be read, as a phrase. `run` starts an argv as the uv steps are started (the lock
    passed on, dying with pylockenv) and returns its exit status and output."""
    returncode, output = run([python, "-I", "-c", INSPECT_ENV])
    if returncode != 0:
        return f"its Python {python} exited with {returncode}: {output.strip()[-300:]!r}"
    try:
        document = json.loads(output.strip().splitlines()[-1])
        environment, installed = document["environment"], document["installed"]
        if not (isinstance(environment, dict) and isinstance(installed, dict)):
            raise TypeError(type(environment).__name__)
    except (ValueError, IndexError, KeyError, TypeError):
        return f"its Python {python} printed something other than its contents: {output[-300:]!r}"
    return (
        {str(k): str(v) for k, v in environment.items()},
        {str(k): str(v) for k, v in installed.items()},
    )


def project_name(directory: str) -> str | None:
    """The static `[project] name` of the source tree `directory` (its pyproject.toml,
    read bounded), or None: no such file, not TOML, or a name the build decides."""
    import tomllib

    try:
        with open(os.path.join(directory, "pyproject.toml"), "rb") as stream:
            data = stream.read(PYPROJECT_LIMIT + 1)
    except OSError:
        return None
    if len(data) > PYPROJECT_LIMIT:
        return None
    try:
        project = tomllib.loads(data.decode("utf-8")).get("project")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = project.get("name") if isinstance(project, dict) else None
    dynamic = project.get("dynamic", []) if isinstance(project, dict) else []
    if not isinstance(name, str) or (isinstance(dynamic, list) and "name" in dynamic):
        return None
    return name


def record_provenance(
    plan: Plan,
    *,
    started: float,
    duration: float,
    uv_version: str | None,
    installed: Mapping[str, str] | None = None,
) -> Provenance:
    """The provenance of a freshly provisioned env (`core.provisioning.provenance_of`),
    with what only the disk knows: the env's actual interpreter version from its
    `pyvenv.cfg`, and the sha256 of the pylock and the file extras. Call it after the
    last uv step. `started` and `duration`: when provisioning began (seconds since the
    epoch) and how long it took; `uv_version`: what `uv --version` printed before;
    `installed`: what the check before marking ready found in the env."""
    return provenance_of(
        plan,
        started=started,
        duration=duration,
        uv_version=uv_version,
        python_version=read_pyvenv_cfg(plan.env.pyvenv_cfg).get("version_info"),
        sha256={path: file_sha256(path) for path in hashed_paths(plan)},
        pylockenv_version=__version__,
        installed=installed,
    )


def staleness_warnings(plan: Plan, marker: Marker | None) -> list[str]:
    """One warning per local extra dep file that changed since the reused env was provisioned."""
    provenance = None if marker is None else marker.provenance
    return [
        staleness_message(change, plan.env_hash)
        for change in changed_extras(plan.local_extra_deps, provenance)
    ]


def write_marker(env: EnvLayout, provenance: Provenance) -> None:
    """Write the marker atomically (`cachefiles.write_atomically`: its staging name, fsync,
    `os.replace`), in the env directory reached without following a link.

    A reader therefore sees either no marker or a complete one, never a torn write.
    """
    try:
        directory = open_env_dir(env)
        try:
            write_atomically(
                directory,
                MARKER_NAME,
                render_marker(provenance).encode("utf-8"),
                staging=MARKER_STAGING_NAME,
                path=env.marker,
            )
        finally:
            os.close(directory)
    except OSError as exc:
        raise MarkerWriteError(
            denied_sentence(env.marker, exc, "write the marker")
            + " The environment was removed. Free space or fix the permissions of the "
            "cache, then run again.",
            source=env.marker,
        ) from None
    except CacheFileError as exc:
        raise MarkerWriteError(
            f"cannot write the marker {env.marker}: {exc} The environment was removed.",
            source=env.marker,
        ) from None


def read_marker(env: EnvLayout) -> Marker | None:
    """The env's marker; None when there is none. Never follows a link nor blocks: a marker
    that is a link or a special file, or cannot be read, is an unreadable one."""
    try:
        data = read_cache_file(env.marker, MARKER_SIZE_LIMIT, levels=2)
    except CacheFileError as exc:
        return Marker(kind="unreadable", problem=str(exc).split(";")[0])
    except OSError as exc:
        return Marker(kind="unreadable", problem=f"it cannot be read ({exc.strerror})")
    return None if data is None else parse_marker(data)
