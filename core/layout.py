"""The cache's on-disk layout: every directory, file name and name pattern, said once.

The layout is the reference implementation's (so one cache serves both), plus
the files pylockenv adds: the marker's staging name, the in-use lock and the lock
file beside an ephemeral env (a file, not the directory: NFS cannot lock a directory).

    <cache home>/bfabric_app_runner/
      envs/<hash>/            a cached env (hash: 16 hex digits)
        .provisioned          the marker: present means provisioned (JSON provenance inside)
        .provisioned.tmp      the marker while it is written, before os.replace
        .in-use               the in-use lock: runs hold it shared, gc exclusively
        bin/python            the interpreter; it must resolve for the env to be ready
        pyvenv.cfg            written by `uv venv`: when the env was made, which Python
      envs/<hash>.lock        the provisioning lock (kept: a run may be waiting on it)
      ephemeral/env_<suffix>  an ephemeral env (suffix: 16 hex digits, drawn when it is made)
      ephemeral/env_<suffix>.lock
                              its lock, held by its run from before the directory is made
                              until after it is removed; it holds the name of the run's host
      plans/<key>.plan        a plan `run SPEC [NAME]` or `apply PLAN` used, kept for warm runs
      plans/<key>.plan.lock   held while a run makes that plan (kept: a run may be waiting on it)
      plans/uv-<id>.version   what `uv --version` printed, kept per uv executable (id: its stat)
      plans/python-<id>.interpreter
                              the interpreter uv found for one request, kept per user, uv and
                              everything uv's discovery reads (id: a crc32 of those)
      plans/<name>.<pid>.tmp  a kept plan, uv version or interpreter while it is written

The directories envs/, ephemeral/ and plans/ are the cache's own: pylockenv
never follows a link in their place (a user who wants the cache elsewhere sets
XDG_CACHE_HOME or links the cache root itself), and gc removes only the names
this module gives it.

Whoever needs a path asks a `CacheLayout` or an `EnvLayout`; nobody else spells
these names. This module imports only light parts of the standard library (no
attrs, no pathlib): the warm path of a run reads it before anything heavy loads.
"""

from __future__ import annotations

import posixpath

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from .envstate import EnvKind, EphemeralMaker

CACHE_DIR_NAME = "bfabric_app_runner"
ENVS_DIR = "envs"
EPHEMERAL_DIR = "ephemeral"
PLANS_DIR = "plans"
MARKER_NAME = ".provisioned"
MARKER_STAGING_NAME = ".provisioned.tmp"
IN_USE_NAME = ".in-use"
LOCK_SUFFIX = ".lock"
PLAN_SUFFIX = ".plan"
UV_VERSION_PREFIX = "uv-"
UV_VERSION_SUFFIX = ".version"
INTERPRETER_PREFIX = "python-"
INTERPRETER_SUFFIX = ".interpreter"
STAGING_SUFFIX = ".tmp"
HASH_LENGTH = 16
# The directories of the cache root, each created by pylockenv and never a link.
CACHE_DIRECTORIES = (ENVS_DIR, EPHEMERAL_DIR, PLANS_DIR)

# A plan names its ephemeral env by this pattern; the shell draws the suffix when it makes
# the env (so two runs of one plan get two envs, and nobody can make the name beforehand).
EPHEMERAL_PATTERN_SUFFIX = "<random>"
EPHEMERAL_SUFFIX_LENGTH = 16

_HEX_DIGITS = frozenset("0123456789abcdef")
# tempfile.mkdtemp names: "env_" and 8 characters of this alphabet.
_MKDTEMP_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _is_hash(text: str) -> bool:
    return len(text) == HASH_LENGTH and set(text) <= _HEX_DIGITS


def ephemeral_name(suffix: str) -> str:
    """The directory name of the ephemeral env with `suffix` (16 hex digits drawn by the
    shell, or the plan's EPHEMERAL_PATTERN_SUFFIX)."""
    return f"env_{suffix}"


def is_ephemeral_suffix(text: str) -> bool:
    """Whether `text` is a suffix pylockenv draws for an ephemeral env (16 hex digits)."""
    return _is_hash(text)


def ephemeral_maker(name: str) -> EphemeralMaker | None:
    """Who made the ephemeral env called `name`, or None when the name is no env's."""
    if not name.startswith("env_"):
        return None
    suffix = name[len("env_") :]
    if _is_hash(suffix):
        return "pylockenv"
    if len(suffix) == 8 and set(suffix) <= _MKDTEMP_CHARACTERS:
        return "reference"
    return None


def staging_name(name: str, pid: int) -> str:
    """The name a file `name` of plans/ has while process `pid` writes it (several
    processes may write the same kept plan at once, so each stages under its own)."""
    return f"{name}.{pid}{STAGING_SUFFIX}"


def kept_uv_version_name(identity_crc: int) -> str:
    """The file of plans/ keeping the version of the uv executable whose stat has this crc32."""
    return f"{UV_VERSION_PREFIX}{identity_crc:08x}{UV_VERSION_SUFFIX}"


def kept_interpreter_name(identity_crc: int) -> str:
    """The file of plans/ keeping the interpreter found for the look-up whose identity (user,
    uv, request, environment, the stat of what uv searches) has this crc32."""
    return f"{INTERPRETER_PREFIX}{identity_crc:08x}{INTERPRETER_SUFFIX}"


def plans_entry_kind(name: str) -> str | None:
    """What the entry `name` of plans/ is: "plan" (a kept plan), "plan lock" (held while
    one is made), "uv version" (a kept answer of `uv --version`), "interpreter" (a kept
    answer of `uv python find`), "staging" (one being written), or None: not pylockenv's,
    so gc leaves it alone."""
    if name.endswith(STAGING_SUFFIX):
        stem, _, pid = name[: -len(STAGING_SUFFIX)].rpartition(".")
        return "staging" if pid.isdigit() and plans_entry_kind(stem) is not None else None
    if name.endswith(PLAN_SUFFIX) and len(name) > len(PLAN_SUFFIX) and "/" not in name:
        return "plan"
    if name.endswith(PLAN_SUFFIX + LOCK_SUFFIX) and plans_entry_kind(name[: -len(LOCK_SUFFIX)]):
        return "plan lock"
    middle = name.removeprefix(UV_VERSION_PREFIX).removesuffix(UV_VERSION_SUFFIX)
    if len(middle) == 8 and len(name) == len(middle) + 11 and set(middle) <= _HEX_DIGITS:
        return "uv version"
    middle = name.removeprefix(INTERPRETER_PREFIX).removesuffix(INTERPRETER_SUFFIX)
    if len(middle) == 8 and len(name) == len(middle) + 19 and set(middle) <= _HEX_DIGITS:
        return "interpreter"
    return None


def env_kind_of(directory: str, name: str) -> EnvKind | None:
    """Whether the entry `name` of the cache's `directory` (envs/ or ephemeral/) is an env.

    Only names that match the patterns are envs; anything else in the cache (a
    user's notes, a lock file) is left alone by list and gc.
    """
    if directory == ENVS_DIR and _is_hash(name):
        return "cached"
    if directory == EPHEMERAL_DIR and ephemeral_maker(name) is not None:
        return "ephemeral"
    return None


class EnvLayout:
    """The paths of one env; derived once here so that no caller joins them."""

    __slots__ = ("kind", "path")

    def __init__(self, *, path: str, kind: EnvKind) -> None:
        self.path = path
        self.kind: EnvKind = kind

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnvLayout) and (self.path, self.kind) == (other.path, other.kind)

    def __hash__(self) -> int:
        return hash((self.path, self.kind))

    def __repr__(self) -> str:
        return f"EnvLayout(path={self.path!r}, kind={self.kind!r})"

    @property
    def name(self) -> str:
        """The env's directory name: its hash, or `env_<suffix>` for an ephemeral env."""
        return posixpath.basename(self.path)

    @property
    def parent(self) -> str:
        """The directory holding the env (envs/ or ephemeral/)."""
        return posixpath.dirname(self.path)

    @property
    def directory(self) -> str:
        """The name of the cache directory holding the env: envs or ephemeral."""
        return ENVS_DIR if self.kind == "cached" else EPHEMERAL_DIR

    @property
    def root(self) -> str:
        """The cache root the env belongs to."""
        return posixpath.dirname(self.parent)

    @property
    def lock_name(self) -> str:
        """The name of the lock file beside the env (`lock`), in the same directory."""
        return f"{self.name}{LOCK_SUFFIX}"

    @property
    def marker(self) -> str:
        return f"{self.path}/{MARKER_NAME}"

    @property
    def marker_staging(self) -> str:
        return f"{self.path}/{MARKER_STAGING_NAME}"

    @property
    def in_use(self) -> str:
        """The in-use lock of a cached env (an ephemeral env's run holds `lock` instead)."""
        return f"{self.path}/{IN_USE_NAME}"

    @property
    def lock(self) -> str:
        """The lock file beside the env: a cached env's provisioning lock; an ephemeral
        env's lock, held by its run for as long as the env lives."""
        return f"{self.path}{LOCK_SUFFIX}"

    @property
    def bin_dir(self) -> str:
        return f"{self.path}/bin"

    @property
    def python(self) -> str:
        """The env's interpreter, a symlink whose target can vanish with its base Python."""
        return f"{self.path}/bin/python"

    @property
    def pyvenv_cfg(self) -> str:
        return f"{self.path}/pyvenv.cfg"


class CacheLayout:
    """The cache directory and where each kind of env lives in it."""

    __slots__ = ("root",)

    def __init__(self, *, root: str) -> None:
        self.root = root

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CacheLayout) and self.root == other.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"CacheLayout(root={self.root!r})"

    @property
    def envs_dir(self) -> str:
        return f"{self.root}/{ENVS_DIR}"

    @property
    def ephemeral_dir(self) -> str:
        return f"{self.root}/{EPHEMERAL_DIR}"

    @property
    def plans_dir(self) -> str:
        return f"{self.root}/{PLANS_DIR}"

    def stored_plan(self, key: str) -> str:
        """The stored plan of the runs whose file, name and working directory give `key`."""
        return f"{self.plans_dir}/{key}{PLAN_SUFFIX}"

    def plan_lock(self, key: str) -> str:
        """The lock a run holds while it makes the plan kept as `stored_plan(key)`, from
        its first look until it starts the command (the others wait, then run it warm)."""
        return f"{self.plans_dir}/{key}{PLAN_SUFFIX}{LOCK_SUFFIX}"

    def kept_uv_version(self, identity_crc: int) -> str:
        """Where the version of one uv executable is kept (see `kept_uv_version_name`)."""
        return f"{self.plans_dir}/{kept_uv_version_name(identity_crc)}"

    def kept_interpreter(self, identity_crc: int) -> str:
        """Where one look-up's interpreter is kept (see `kept_interpreter_name`)."""
        return f"{self.plans_dir}/{kept_interpreter_name(identity_crc)}"

    def cached_env(self, env_hash: str) -> EnvLayout:
        return EnvLayout(path=f"{self.envs_dir}/{env_hash}", kind="cached")

    def ephemeral_env(self, suffix: str) -> EnvLayout:
        return EnvLayout(path=f"{self.ephemeral_dir}/{ephemeral_name(suffix)}", kind="ephemeral")

    def ephemeral_pattern(self) -> EnvLayout:
        """The ephemeral env as a plan names it, `ephemeral/env_<random>`: its suffix is
        drawn when the env is made (`core.planning.with_ephemeral_suffix`)."""
        return self.ephemeral_env(EPHEMERAL_PATTERN_SUFFIX)

    def env_named(self, name: str) -> EnvLayout | None:
        """The env called `name` (a hash or `env_...`), or None when no env can have that name."""
        for directory in (ENVS_DIR, EPHEMERAL_DIR):
            kind = env_kind_of(directory, name)
            if kind is not None:
                return EnvLayout(path=f"{self.root}/{directory}/{name}", kind=kind)
        return None

    def env_directories(self) -> tuple[tuple[str, str], ...]:
        """(path, directory name) of the two directories that hold envs, in listing order."""
        return ((self.envs_dir, ENVS_DIR), (self.ephemeral_dir, EPHEMERAL_DIR))


def cache_layout(*, xdg_cache_home: str | None, home: str) -> CacheLayout:
    """The cache under `$XDG_CACHE_HOME` if that is absolute (the XDG rule), else ~/.cache."""
    if xdg_cache_home and xdg_cache_home.startswith("/"):
        base = xdg_cache_home
    else:
        base = posixpath.join(home, ".cache")
    return CacheLayout(root=_pure_path(posixpath.join(base, CACHE_DIR_NAME)))


def _pure_path(path: str) -> str:
    """`path` spelled as pathlib's PurePosixPath spells it (the reference builds its paths
    so): repeated slashes and "." parts dropped, ".." kept, two leading slashes kept."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("//") and not path.startswith("///"):
        lead = "//"
    else:
        lead = "/" if path.startswith("/") else ""
    return lead + "/".join(parts)


def is_ready(*, marker_present: bool, interpreter_resolves: bool) -> bool:
    """The readiness rule: an env is used as it is only with its marker and a working
    interpreter. Everyone who decides "ready" (a run, list, gc, the printed plan) asks this."""
    return marker_present and interpreter_resolves
