"""A real env cache for the cache-management tests.

One env is provisioned for real (`pylockenv provision`, real uv, offline) per
test module; tests that only need "a ready env" copy it, symlinks kept, into a
cache of their own, under its own hash or another name, then damage the copy
as the case needs (empty marker, no marker, dangling interpreter...).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from attrs import frozen
from builders import PY_VERSION, build_wheel, write_pylock

from pylockenv.shell.cli import main

# The app's `wait READY GO` mode lets a test hold a real command running: it
# creates READY, then waits until GO exists (at most a minute).
APP_SOURCE = """\
import pathlib
import sys
import time

if sys.argv[1:2] == ["wait"]:
    pathlib.Path(sys.argv[2]).touch()
    deadline = time.monotonic() + 60
    while not pathlib.Path(sys.argv[3]).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
print("app ran")
"""


@frozen(kw_only=True)
class Project:
    """A spec file with a pylock and a local extra wheel, in `root`."""

    root: Path
    spec: Path
    pylock: Path
    app_wheel: Path


@frozen(kw_only=True)
class Template:
    """A cache holding one env provisioned for real from `project`."""

    project: Project
    xdg: Path
    uv_cache: Path
    env_path: Path

    @property
    def env_hash(self) -> str:
        return self.env_path.name


def make_project(root: Path) -> Project:
    """Write a tiny project: a dependency wheel in a pylock, an app wheel as local extra."""
    root.mkdir(parents=True, exist_ok=True)
    dep = build_wheel(root, "tinydep")
    dist = root / "dist"
    dist.mkdir(exist_ok=True)
    app = build_wheel(dist, "app", modules={"app.py": APP_SOURCE})
    pylock = write_pylock(root / "pylock.toml", [dep])
    spec = root / "app.yml"
    spec.write_text(
        "type: python_env\n"
        "pylock: pylock.toml\n"
        "command: -m app\n"
        f'python_version: "{PY_VERSION}"\n'
        f"local_extra_deps: [dist/{app.name}]\n"
    )
    return Project(root=root, spec=spec, pylock=pylock, app_wheel=app)


def cache_environ(xdg: Path, uv_cache: Path) -> dict[str, str]:
    """The environment for a pylockenv process using the cache under `xdg`, offline."""
    env = dict(os.environ)
    env.update(XDG_CACHE_HOME=str(xdg), UV_CACHE_DIR=str(uv_cache), UV_OFFLINE="1")
    return env


def pylockenv(
    *args: str, xdg: Path, uv_cache: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the pylockenv CLI in a subprocess against the cache under `xdg`."""
    return subprocess.run(
        [sys.executable, "-m", "pylockenv.shell", *args],
        env=cache_environ(xdg, uv_cache),
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def provision_template(root: Path) -> Template:
    """Provision the project's env for real in a cache under `root`."""
    project = make_project(root / "project")
    xdg, uv_cache = root / "xdg", root / "uv-cache"
    done = pylockenv("provision", str(project.spec), xdg=xdg, uv_cache=uv_cache)
    env_path = Path(done.stdout.strip().splitlines()[-1])
    return Template(project=project, xdg=xdg, uv_cache=uv_cache, env_path=env_path)


def cache_root(xdg: Path) -> Path:
    """Where pylockenv keeps its envs under an XDG cache directory."""
    return xdg / "bfabric_app_runner"


def copy_env(template: Template, xdg: Path, name: str | None = None, *, kind: str = "envs") -> Path:
    """Copy the template's env into the cache under `xdg` as `<kind>/<name>` (default: its hash)."""
    target = cache_root(xdg) / kind / (name or template.env_hash)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template.env_path, target, symlinks=True)
    return target


def set_last_use(env_path: Path, seconds_ago: float) -> None:
    """Record a last use `seconds_ago` seconds before now, as a run's `utime` would."""
    in_use = env_path / ".in-use"
    in_use.touch()
    when = in_use.stat().st_mtime - seconds_ago
    os.utime(in_use, (when, when))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (the test has set XDG_CACHE_HOME); exit code, out, err."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# The name pylockenv gives an ephemeral env, and one of the reference's (tempfile.mkdtemp).
PYLOCKENV_EPHEMERAL = "env_0123456789abcdef"
REFERENCE_EPHEMERAL = "env_ab3_x9zq"


@contextmanager
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
