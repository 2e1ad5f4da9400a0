"""What provisioning decides; the shell (`shell/provision.py`) gathers and carries out.

- why an env's place is cleared before it is provisioned again (`remake_reason`),
- which uv it accepts (`MIN_UV_VERSION`, `uv_refusal`),
- what it checks before it creates anything (`checks_before`), and what must hold
  after each uv step (`step_postcondition`),
- what uv is told and what it may read: the flags every step gets (`isolated_argv`:
  no configuration file, files copied into the env) and which of the caller's and the
  spec's `UV_*` settings reach it (`uv_setting_kept`, an allow-list),
- what the env must hold before it is marked ready (`core.lock_contents`),
- the provenance recorded in the marker (`provenance_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from .provenance import ExtraRecord, InstalledRecord, Provenance, PylockRecord, iso_utc

if TYPE_CHECKING:
    from .layout import EnvLayout
    from .planning import Plan

# The first uv whose `uv pip install -r` reads PEP 751 pylock.toml files; 0.6.14 fails
# with "Couldn't parse requirement". Evidence: tests/probe_uv_versions.py.
MIN_UV_VERSION = (0, 6, 15)

# Every uv step reads no configuration file: a pyproject.toml with [tool.uv.pip] (or a
# uv.toml) in the working directory or a parent, the user's ~/.config/uv/uv.toml and
# /etc/uv/uv.toml would otherwise change what uv does (`target = ...` sends the install
# elsewhere and an empty env is marked ready). UV_CONFIG_FILE wins over --no-config in
# uv, so it is not on the allow-list below. uv accepts both flags since well before
# MIN_UV_VERSION (`uv venv` takes --link-mode for its seed packages).
# The link mode is pinned to copy: an env's files are its own, not links into the
# caller's uv cache (which `uv cache clean` empties and other users may not read), nor
# hard links that keep that cache's owner, group and mode instead of the umask and the
# setgid group of a cache a lab shares.
UV_LINK_MODE = "copy"
UV_STEP_FLAGS = ("--no-config", "--link-mode", UV_LINK_MODE)

# The uv settings (environment variables) a provisioning honours, from the caller's
# environment or the spec's `env`: where packages come from and how uv reaches them
# (indexes, their credentials, certificates, proxies' companions, timeouts), its own
# cache, offline mode, where it finds or may download interpreters, and its output.
# Every other UV_* variable is dropped, whatever uv version reads it: those that say
# where or how to install (UV_SYSTEM_PYTHON, UV_BREAK_SYSTEM_PACKAGES, UV_PYTHON,
# UV_PYTHON_PREFERENCE, UV_LINK_MODE, UV_COMPILE_BYTECODE, UV_PREFIX-like ones), what to
# resolve (UV_CONSTRAINT, UV_OVERRIDE, UV_EXCLUDE_NEWER, UV_RESOLUTION, UV_PRERELEASE),
# how to build (UV_NO_BUILD_ISOLATION, UV_NO_BINARY), which configuration to read
# (UV_CONFIG_FILE, UV_NO_CONFIG) and whether `uv venv` may clear what is at the env's
# path (UV_VENV_CLEAR: pylockenv makes the directory itself, empty, and uv fills it).
# Variables that are not uv's (HTTPS_PROXY, SSL_CERT_FILE, ...) are left alone.
UV_KEPT_SETTINGS = frozenset(
    {
        "UV_CACHE_DIR",
        "UV_NO_CACHE",
        "UV_OFFLINE",
        "UV_DEFAULT_INDEX",
        "UV_EXTRA_INDEX_URL",
        "UV_FIND_LINKS",
        "UV_NO_INDEX",
        "UV_KEYRING_PROVIDER",
        "UV_NATIVE_TLS",
        "UV_INSECURE_HOST",
        "UV_HTTP_TIMEOUT",
        "UV_REQUEST_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_BUILDS",
        "UV_CONCURRENT_INSTALLS",
        "UV_PYTHON_DOWNLOADS",
        "UV_PYTHON_INSTALL_DIR",
        "UV_PYTHON_INSTALL_MIRROR",
        "UV_PYPY_INSTALL_MIRROR",
        "UV_NO_PROGRESS",
    }
)
# UV_INDEX, UV_INDEX_URL, UV_INDEX_STRATEGY and each named index's
# UV_INDEX_<NAME>_USERNAME / _PASSWORD.
UV_KEPT_PREFIX = "UV_INDEX"


def uv_setting_kept(name: str) -> bool:
    """Whether the environment variable `name` reaches a uv step (see UV_KEPT_SETTINGS):
    every variable that is not uv's, and the uv settings on the allow-list."""
    if not name.startswith("UV_"):
        return True
    return name in UV_KEPT_SETTINGS or name.startswith(UV_KEPT_PREFIX)


def isolated_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    """A uv step's argv with UV_STEP_FLAGS after its subcommand (`uv venv`, `uv pip
    install`): uv reads no configuration file and copies files into the env."""
    words = 3 if argv[1:2] == ("pip",) else 2
    return (*argv[:words], *UV_STEP_FLAGS, *argv[words:])


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
    installed: Mapping[str, str] | None = None,
) -> Provenance:
    """The provenance written into the marker of a freshly provisioned env.

    The shell gathers: `started` (seconds since the epoch) and `duration` of the
    provisioning, what `uv --version` printed, the env's actual Python version (its
    pyvenv.cfg), and `sha256`, the hex digest of the pylock and of each file extra
    by path (None: unreadable), and `installed`, the distributions the env holds (their
    names as their metadata spells them, and versions), recorded sorted by name.
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
        installed=tuple(
            InstalledRecord(name=name, version=version)
            for name, version in sorted((installed or {}).items(), key=lambda item: item[0].lower())
        ),
    )


def contents_problem(
    plan: Plan,
    *,
    pylock_text: str,
    environment: Mapping[str, str],
    installed: Mapping[str, str],
    project_names: Mapping[str, str | None],
) -> str | None:
    """Why the env, after the installs, is not what the plan asked for: what it lacks of
    the lock's packages that apply on its interpreter (`environment`, its marker
    environment) and of the local extras (`project_names`: a source tree's static
    `[project] name`, by path); None when it holds them all. `installed` maps each
    installed distribution's name to its version."""
    from .lock_contents import canonical, missing, wanted_from_extra, wanted_from_lock

    wanted = list(wanted_from_lock(pylock_text, plan.pylock_format, environment))
    for dep in plan.local_extra_deps:
        wish = wanted_from_extra(dep.path, project_name=project_names.get(dep.path))
        if wish is not None:
            wanted.append(wish)
    lacking = missing(tuple(wanted), {canonical(n): v for n, v in installed.items()})
    if not lacking:
        return None
    shown = "; ".join(lacking[:10]) + (
        f"; and {len(lacking) - 10} more" if len(lacking) > 10 else ""
    )
    return (
        f"uv exited with 0, but the env does not hold what {plan.pylock} and the local extras "
        f"ask for on its Python: {shown}"
    )


def hashed_paths(plan: Plan) -> tuple[str, ...]:
    """The files whose sha256 the provenance records: the pylock and each file extra."""
    return (plan.pylock, *(dep.path for dep in plan.local_extra_deps if dep.kind == "file"))
