"""What provisioning decides; the shell (`shell/provision.py`) gathers and carries out.

- why an env's place is cleared before it is provisioned again (`remake_reason`),
- which uv it accepts (`MIN_UV_VERSION`, `uv_refusal`),
- what it checks before it creates anything (`checks_before`), and what must hold
  after each uv step (`step_postcondition`),
- which of the caller's environment variables never reach uv (`UV_STRIPPED_VARIABLES`),
- the provenance recorded in the marker (`provenance_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from .provenance import ExtraRecord, Provenance, PylockRecord, iso_utc

if TYPE_CHECKING:
    from .layout import EnvLayout
    from .planning import Plan

# The first uv whose `uv pip install -r` reads PEP 751 pylock.toml files; 0.6.14 fails
# with "Couldn't parse requirement". Evidence: tests/probe_uv_versions.py.
MIN_UV_VERSION = (0, 6, 15)

# uv settings a caller's environment may hold that would make `uv venv` clear or replace
# what is at the env's path (a co-tenant's link planted there, say): pylockenv creates
# the env's directory itself, empty, and uv only fills it.
UV_STRIPPED_VARIABLES = ("UV_VENV_CLEAR",)

EntryAtEnv = Literal["missing", "directory", "not a directory"]


def remake_reason(*, entry: EntryAtEnv, marker_present: bool) -> str | None:
    """Why the entry at a not-ready env's path is removed before provisioning, as a phrase
    ("it has no marker (...)"); None when there is nothing to remove."""
    if entry == "missing":
        return None
    if entry == "not a directory":
        return "it is not a directory"
    if marker_present:
        return "its bin/python no longer resolves (its base interpreter was removed)"
    return "it has no marker (an earlier provisioning was killed or failed)"


PreCheck = Literal["read pylock", "check pylock", "check uv"]


def checks_before(plan: Plan) -> tuple[PreCheck, ...]:
    """The checks made, in order, before a directory or lock is created: the pylock read
    (bounded, a regular file), checked as a PEP 751 lock when it is one (TOML, the
    plan's Python), and uv run and recent enough."""
    if plan.pylock_format == "pylock":
        return ("read pylock", "check pylock", "check uv")
    return ("read pylock", "check uv")


def step_postcondition(step_name: str, env: EnvLayout) -> str | None:
    """The directory that must exist after the uv step `step_name` exited with 0 (uv
    has been seen to exit 0 without making a venv), or None when nothing is checked."""
    if step_name == "create-venv":
        return env.bin_dir
    return None


def parse_uv_version(words: str) -> tuple[int, ...] | None:
    """(major, minor, patch) of a uv version such as `0.13.9` or `0.7.0+12`; None when
    it is not made of numbers."""
    parts = words.split("+")[0].split(".")[:3]
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in version)


def uv_refusal(uv: str, *, returncode: int, stdout: str, stderr: str, how: str) -> str | None:
    """Why the uv at `uv` is not used, from what `uv --version` did; None when it is fine.

    `how` says how to get a working uv, and ends each refusal."""
    words = stdout.split()
    if returncode != 0 or len(words) < 2 or words[0] != "uv":
        return (
            f"{uv!r} is not a working uv: '{uv} --version' exited with {returncode} "
            f"and printed {(stdout + stderr).strip()[:200]!r}; {how}."
        )
    version = parse_uv_version(words[1])
    if version is not None and version < MIN_UV_VERSION:
        return (
            f"uv at {uv!r} is version {words[1]}, but installing from pylock.toml files needs "
            f"uv {dotted(MIN_UV_VERSION)} or later; {how}."
        )
    return None


def provenance_of(
    plan: Plan,
    *,
    started: float,
    duration: float,
    uv_version: str | None,
    python_version: str | None,
    sha256: Mapping[str, str | None],
    pylockenv_version: str,
) -> Provenance:
    """The provenance written into the marker of a freshly provisioned env.

    The shell gathers: `started` (seconds since the epoch) and `duration` of the
    provisioning, what `uv --version` printed, the env's actual Python version (its
    pyvenv.cfg), and `sha256`, the hex digest of the pylock and of each file extra
    by path (None: unreadable).
    """
    return Provenance(
        env_hash=plan.env_hash,
        hash_input=plan.hash_input,
        mode=plan.mode,
        host=plan.host,
        python_version_requested=plan.python_version,
        interpreter=plan.interpreter,
        python_version=python_version,
        pylock=PylockRecord(
            path=plan.pylock, mtime=plan.pylock_mtime, sha256=sha256.get(plan.pylock)
        ),
        local_extra_deps=tuple(
            ExtraRecord(
                path=dep.path,
                kind=dep.kind,
                size=dep.size if dep.kind == "file" else None,
                mtime=dep.mtime if dep.kind == "file" else None,
                sha256=sha256.get(dep.path) if dep.kind == "file" else None,
            )
            for dep in plan.local_extra_deps
        ),
        uv=plan.uv,
        uv_version=uv_version,
        started=iso_utc(started),
        duration_seconds=round(duration, 3),
        pylockenv_version=pylockenv_version,
        source=plan.source,
    )


def hashed_paths(plan: Plan) -> tuple[str, ...]:
    """The files whose sha256 the provenance records: the pylock and each file extra."""
    return (plan.pylock, *(dep.path for dep in plan.local_extra_deps if dep.kind == "file"))
