"""The test harness's plain functions; conftest.py hands them to tests as fixtures.

Every pylockenv process a test starts gets its environment from `process_environ`:
nothing of the developer's uv, pylockenv or XDG settings, uv offline with no
configuration file and no Python downloads, a cache of the test's own, the uv
installed with pylockenv. Every CLI run is `python -m pylockenv.shell`, the path a
user's `pylockenv` takes, warm path included.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from attrs import frozen
from builders import PY_VERSION, TEST_PYTHONS, interpreter_bin, make_app
from uv import find_uv_bin

from pylockenv.core.facts import HostFacts, Interpreter

# The uv the tests run: the one installed with pylockenv, or PYLOCKENV_TEST_UV (CI runs the
# shell tests once more with the oldest uv pylockenv accepts, MIN_UV_VERSION).
REAL_UV = os.environ.get("PYLOCKENV_TEST_UV") or os.fsdecode(find_uv_bin())

# The name pylockenv gives an ephemeral env, and one of the reference's (tempfile.mkdtemp).
PYLOCKENV_EPHEMERAL = "env_0123456789abcdef"
REFERENCE_EPHEMERAL = "env_ab3_x9zq"


@frozen
class CacheDir:
    """An XDG cache home, and the cache pylockenv (and the reference) keep in it."""

    xdg: Path

    @property
    def root(self) -> Path:
        return self.xdg / "bfabric_app_runner"

    def env_dirs(self) -> list[Path]:
        """The cached env directories that exist (their lock files left out)."""
        envs = self.root / "envs"
        return sorted(p for p in envs.iterdir() if p.is_dir()) if envs.exists() else []

    def ephemeral_dirs(self) -> list[Path]:
        """Whatever is in the ephemeral directory (an env's lock file beside it, too)."""
        ephemeral = self.root / "ephemeral"
        return sorted(ephemeral.iterdir()) if ephemeral.exists() else []

    def ephemeral_envs(self) -> list[Path]:
        """The ephemeral env directories that exist (their lock files left out)."""
        return [path for path in self.ephemeral_dirs() if path.is_dir()]


def process_environ(cache: CacheDir, uv_cache: Path) -> dict[str, str]:
    """The environment of a process a test starts: this one's without UV_*, PYLOCKENV_*,
    XDG_* and SLURM_*; uv offline, without configuration files or Python downloads,
    caching in `uv_cache`; pylockenv's cache in `cache`, and the real uv as its uv. PATH
    starts with the bin directories of pyenv's 3.13, 3.12 and 3.10 where this machine
    has them (`builders.TEST_PYTHONS`), so that uv finds each by its X.Y, the default
    3.13 too."""
    environ = {
        key: value
        for key, value in os.environ.items()
        # SLURM_*: a suite run inside a Slurm job must not make every run believe it is one.
        if not key.startswith(("UV_", "PYLOCKENV_", "XDG_", "SLURM_"))
    }
    environ.update(
        UV_OFFLINE="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(uv_cache),
        XDG_CACHE_HOME=str(cache.xdg),
        PYLOCKENV_UV=REAL_UV,
    )
    found = [str(path) for path in map(interpreter_bin, TEST_PYTHONS) if path is not None]
    environ["PATH"] = ":".join([*found, *([environ["PATH"]] if environ.get("PATH") else [])])
    return environ


def pylockenv_argv(*args: str) -> list[str]:
    """The argv of a `pylockenv ARGS` process run with this interpreter."""
    return [sys.executable, "-m", "pylockenv.shell", *args]


# pylockenv's API as an app runner calls it: `python -c EXECUTE SPEC [ARGS...]`.
EXECUTE = """\
import sys
from pylockenv.shell import execute, load, plan

sys.exit(execute(plan(load(sys.argv[1])), sys.argv[2:]))
"""


def execute_argv(spec: Path, *args: str) -> list[str]:
    """The argv of a process that runs `spec` through the API: execute(plan(load(SPEC)), ARGS),
    which waits beside the command instead of exec-ing it."""
    return [sys.executable, "-c", EXECUTE, str(spec), *args]


def run_pylockenv(
    environ: Mapping[str, str],
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `pylockenv ARGS` to its end and capture its output, read as UTF-8 (a byte
    that is not UTF-8 shows as a \\x escape)."""
    return subprocess.run(
        pylockenv_argv(*args),
        env=dict(environ),
        cwd=cwd,
        capture_output=True,
        encoding="utf-8",
        errors="backslashreplace",
        timeout=timeout,
        check=False,
    )


def start_pylockenv(
    environ: Mapping[str, str], *args: str, stderr: Path | None = None
) -> subprocess.Popen[str]:
    """Start `pylockenv ARGS` as the leader of a session of its own, so that a test can
    signal its whole group; stdout and stderr are pipes, or stderr goes to the file
    `stderr`, for a test that reads it while the process runs."""
    with contextlib.ExitStack() as files:
        err = subprocess.PIPE if stderr is None else files.enter_context(stderr.open("w"))
        return subprocess.Popen(
            pylockenv_argv(*args),
            env=dict(environ),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[str], signum: int = signal.SIGKILL) -> None:
    """Send `signum` to the session group `start_pylockenv` made; wait for its leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
    process.communicate(timeout=60)


def wait_for(predicate: Callable[[], bool], *, timeout: float = 60, what: str = "") -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def wait_until_started(process: subprocess.Popen[str], record: Path) -> None:
    """Wait until the probe command `process` runs has written `<record>.ready`; when
    `process` ends first, fail with what pylockenv said."""
    ready = Path(f"{record}.ready")
    try:
        wait_for(lambda: ready.exists() or process.poll() is not None, what="the command")
    finally:
        if not ready.exists():
            process.kill()
            _, stderr = process.communicate(timeout=60)
            raise AssertionError(f"the command did not start; pylockenv said:\n{stderr}")


def write_uv_wrapper(
    directory: Path, *, log: Path, hang_on: str | None = None, fail_on: str | None = None
) -> Path:
    """A uv stand-in that appends its arguments to `log`, then runs the real uv.

    `hang_on` ("pip install", say): when the arguments start with it, the wrapper
    writes `<log>.hang` and sleeps instead of running uv (the venv already exists
    by then). `fail_on`: when the arguments start with it, print an error and exit 2.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "uv-wrapper"
    lines = ["#!/bin/sh", f'printf "%s\\n" "$*" >> "{log}"']
    if hang_on is not None:
        lines.append(f'case "$*" in "{hang_on}"*) : > "{log}.hang"; exec sleep 600;; esac')
    if fail_on is not None:
        lines.append(
            f'case "$*" in "{fail_on}"*) echo "error: wrapper refuses {fail_on}" >&2; exit 2;; esac'
        )
    lines.append(f'exec "{REAL_UV}" "$@"')
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o755)
    return wrapper


def uv_calls(log: Path, subcommand: str | None = None) -> list[str]:
    """The uv invocations a wrapper logged, optionally only those starting with `subcommand`."""
    if not log.exists():
        return []
    calls = log.read_text().splitlines()
    return [c for c in calls if subcommand is None or c.startswith(subcommand)]


def files_under(path: Path) -> list[Path]:
    """Every file and directory under `path` (none if it does not exist)."""
    return sorted(path.rglob("*")) if path.exists() else []


def set_last_use(env_path: Path, seconds_ago: float) -> None:
    """Record a last use `seconds_ago` seconds before now, as a run's `utime` would."""
    in_use = env_path / ".in-use"
    in_use.touch()
    when = in_use.stat().st_mtime - seconds_ago
    os.utime(in_use, (when, when))


@contextlib.contextmanager
def holding_directory(path: Path) -> Iterator[None]:
    """Hold `path`'s directory lock shared, as a run of its ephemeral env does."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def lock_is_free(path: Path) -> bool:
    """Whether nobody holds a lock on `path` (a file, or an ephemeral env's directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


class MainRunner(Protocol):
    """Runs `pylockenv ARGS` by calling its main() in this process: exit code, out, err."""

    def __call__(self, *args: str) -> tuple[int, str, str]: ...


@frozen(kw_only=True)
class ProvisionedEnv:
    """An env `pylockenv provision` made for real, for the probe app with a local extra.

    Tests that need "a ready env" copy it into a cache of their own (`copy_to`), then
    damage the copy as their case needs (empty marker, no marker, dangling interpreter...).
    """

    spec: Path
    pylock: Path
    extra_wheel: Path
    cache: CacheDir
    environ: Mapping[str, str]  # the environment its cache is used with
    path: Path

    @property
    def env_hash(self) -> str:
        return self.path.name

    def copy_to(self, cache: CacheDir, name: str | None = None, *, kind: str = "envs") -> Path:
        """Copy the env, links kept, into `cache` as `<kind>/<name>` (by default its hash)."""
        target = cache.root / kind / (name or self.env_hash)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.path, target, symlinks=True)
        return target


def provision_env(root: Path, uv_cache: Path) -> ProvisionedEnv:
    """Provision the probe app (written under `root/app`) in a cache under `root/xdg`."""
    spec = make_app(
        root / "app",
        command="probe",
        local_extra=True,
        extra_spec=f'python_version: "{PY_VERSION}"\n',
    )
    cache = CacheDir(root / "xdg")
    environ = process_environ(cache, uv_cache)
    done = run_pylockenv(environ, "provision", str(spec))
    assert done.returncode == 0, done.stderr
    [extra_wheel] = (spec.parent / "wheels").glob("extra_app-*.whl")
    return ProvisionedEnv(
        spec=spec,
        pylock=spec.parent / "pylock.toml",
        extra_wheel=extra_wheel,
        cache=cache,
        environ=environ,
        path=Path(done.stdout.strip().splitlines()[-1]),
    )


# The host the pure tests plan on: node7, alice's home, a cache under /cache.
NODE7 = HostFacts(
    hostname="node7",
    home="/home/alice",
    cwd="/home/alice/work",
    xdg_cache_home="/cache",
    path="/usr/bin:/bin",
    uv="/opt/uv",
    interpreters={
        version: Interpreter(path=f"/usr/bin/python{version}", version=f"{version}.9")
        for version in ("3.10", "3.11", "3.12", "3.13")
    },
)
