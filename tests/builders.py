"""Real artefacts for the shell's tests and the benchmarks: tiny wheels, pylock files that
point at them, specs, venvs, a copy of the project.

A wheel is a zip with a few metadata files; a pylock.toml (PEP 751) can list it by
`path`, so `uv pip install --offline` installs it with no network at all. The one app
the tests run is the probe (`make_app`): a console script that reports what it sees,
exits or dies as told, and waits for signals or for a file.

bench/ builds with these functions too (bench/benchkit.py puts this directory on its
path), so this module imports nothing but the standard library: a benchmark imports
pylockenv only from the wheel it installed. What bench needs beyond the tests: a lock
made as a user makes one (`compile_pylock`, `make_locked_app`) and the project's files
at a git revision (`copy_project`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
ROOT = Path(__file__).resolve().parent.parent
# What building pylockenv's wheel reads.
PROJECT_FILES = ("pyproject.toml", "README.md", "core", "shell")


def pyenv_root() -> Path:
    """Where pyenv keeps its interpreters: $PYENV_ROOT, else ~/.pyenv (it may not exist)."""
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def interpreter_bin(version: str) -> Path | None:
    """The bin directory of pyenv's CPython `version` (an X.Y: the newest X.Y.Z it has),
    or None when this machine has none."""
    found = sorted(
        (path for path in (pyenv_root() / "versions").glob(f"{version}.*/bin") if path.is_dir()),
        key=lambda path: [int(p) if p.isdigit() else -1 for p in path.parent.name.split(".")],
    )
    return found[-1] if found and (found[-1] / f"python{version}").exists() else None


# The Pythons the suite finds by X.Y (`harness.process_environ` puts their bin directories
# first on PATH): pyenv's shims refuse a version pyenv has not selected, and a spec with
# no python_version asks for 3.13, the reference's default.
TEST_PYTHONS = ("3.13", "3.12", "3.10")


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    directory: Path,
    name: str,
    version: str = "1.0",
    *,
    modules: Mapping[str, str] | None = None,
    console_scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write `<name>-<version>-py3-none-any.whl` into `directory` and return its path.

    `modules` maps file names inside the wheel (`mypkg/__init__.py`) to their
    source; by default one module `<name>.py` holding `VERSION = "<version>"`.
    `console_scripts` maps script names to `module:function` entry points.
    """
    dist = name.replace("-", "_")
    files: dict[str, str] = dict(modules or {f"{dist}.py": f'VERSION = "{version}"\n'})
    info = f"{dist}-{version}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: pylockenv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if console_scripts:
        lines = "".join(f"{script} = {target}\n" for script, target in console_scripts.items())
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{lines}"
    record = "".join(
        f"{path},{_record_hash(text.encode())},{len(text.encode())}\n"
        for path, text in files.items()
    )
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    wheel = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def write_pylock(path: Path, wheels: Sequence[Path], *, requires_python: str | None = None) -> Path:
    """Write a PEP 751 lock file at `path` listing `wheels` by relative path and hash."""
    lines = ['lock-version = "1.0"', 'created-by = "pylockenv-tests"']
    if requires_python is not None:
        lines.append(f'requires-python = "{requires_python}"')
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        relative = wheel.relative_to(path.parent) if wheel.is_relative_to(path.parent) else wheel
        lines += [
            "",
            "[[packages]]",
            f'name = "{name.replace("_", "-")}"',
            f'version = "{version}"',
            f'wheels = [{{ name = "{wheel.name}", path = "{relative}", '
            f'hashes = {{ sha256 = "{digest}" }} }}]',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def venv_borrowing_dependencies(path: Path) -> Path:
    """A venv without pip whose dependencies come from this interpreter's site-packages.

    A `.pth` line appends the running interpreter's purelib to the new venv's
    path, so a pylockenv wheel installed there with `--no-deps` imports its
    dependencies offline, while `pylockenv` itself resolves to the venv's copy
    (a venv's own site-packages comes first; only site directories' `.pth` files
    run, so a development install's import hook in the borrowed directory stays
    off). Returns the venv's python.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    (site_packages(path) / "borrowed-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return path / "bin" / "python"


def site_packages(venv: Path) -> Path:
    """The purelib directory of `venv`, a venv made by this interpreter."""
    return venv / "lib" / f"python{PY_VERSION}" / "site-packages"


def copy_project(destination: Path, revision: str | None = None) -> Path:
    """Copy what building pylockenv reads (PROJECT_FILES) into `destination`, made here.

    From the working tree (without `__pycache__`), or with `revision` from git at that
    revision (`git archive`), so that a build never writes into the work tree and an
    older pylockenv can be built beside this one. Returns `destination`.
    """
    destination.mkdir(parents=True)
    if revision is not None:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", revision, *PROJECT_FILES],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(destination, filter="data")
        return destination
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, destination / name)
    return destination


def compile_pylock(
    uv: str,
    directory: Path,
    requirements: Sequence[str],
    environ: Mapping[str, str],
    *options: str,
    python_version: str = PY_VERSION,
) -> Path:
    """Lock `requirements` as a user does, into `directory`/pylock.toml; return its path.

    Writes `directory`/requirements.in and runs `uv pip compile requirements.in
    --format pylock.toml -o pylock.toml --python-version X.Y` there, with `options`
    added (`--offline --no-index --find-links DIR` for local wheels) and `environ`
    as its environment.
    """
    (directory / "requirements.in").write_text("".join(f"{name}\n" for name in requirements))
    output = ["--python-version", python_version, "--format", "pylock.toml", "-o", "pylock.toml"]
    subprocess.run(
        [uv, "pip", "compile", "--quiet", "requirements.in", *options, *output],
        cwd=directory,
        env=dict(environ),
        check=True,
    )
    return directory / "pylock.toml"


def write_commands_spec(
    path: Path,
    commands: Mapping[str, str],
    *,
    python_version: str = PY_VERSION,
    local_extras: Sequence[Path] = (),
) -> Path:
    """Write a spec file at `path` with a `commands:` section: each of `commands` (name to
    command) runs in the env of `path`'s pylock.toml, `python_version` and the wheels
    `local_extras` (written relative to the spec's directory). Returns `path`."""
    env_lines = ["    pylock: pylock.toml", f'    python_version: "{python_version}"']
    if local_extras:
        env_lines.append("    local_extra_deps:")
        env_lines += [f"      - {wheel.relative_to(path.parent)}" for wheel in local_extras]
    lines = ["commands:"]
    for name, command in commands.items():
        lines += [f"  {name}:", f"    command: {command}", *env_lines]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class LockedApp:
    """What `make_locked_app` wrote: the spec, its lock, and its local extra wheels."""

    spec: Path
    pylock: Path
    extras: tuple[Path, ...]


def make_locked_app(
    root: Path,
    commands: Mapping[str, str],
    *,
    uv: str,
    environ: Mapping[str, str],
    wheels: int = 3,
    extras: int = 1,
    python_version: str = PY_VERSION,
) -> LockedApp:
    """A spec file `root`/spec.yml whose `commands:` all run in one env, locked by uv.

    The env's pylock.toml locks `wheels` tiny wheels (`locked-dep-<i>` 1.0, a module
    `locked_dep_<i>` each) with `compile_pylock`, offline from `root`/wheels; `extras`
    more (`local-extra-<i>` 2.0) are the spec's local extra deps. Each command names
    `python_version`. `environ` is uv's environment for the lock.
    """
    wheel_dir = root / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    names = [f"locked-dep-{i}" for i in range(wheels)]
    for name in names:
        build_wheel(wheel_dir, name)
    find_links = ("--offline", "--no-index", "--find-links", str(wheel_dir))
    pylock = compile_pylock(uv, root, names, environ, *find_links, python_version=python_version)
    extra_wheels = tuple(build_wheel(wheel_dir, f"local-extra-{i}", "2.0") for i in range(extras))
    spec = write_commands_spec(
        root / "spec.yml", commands, python_version=python_version, local_extras=extra_wheels
    )
    return LockedApp(spec=spec, pylock=pylock, extras=extra_wheels)


# The probe app: one console script, `probe`, also runnable as `python -m probe_app`.
#   probe env                  print what the process sees, as JSON (see `probe_report`)
#   probe exit N               exit with status N
#   probe kill-self N          die of signal N
#   probe wait-signal FILE     write FILE.ready, wait for SIGTERM or SIGINT, write the
#                              signal's number to FILE and exit 0
#   probe count-sigint FILE    write FILE.ready, append a line to FILE per SIGINT, and exit
#                              0 half a second after the first
#   probe count-signals FILE [GO]
#                              write its pid to FILE.ready, append the number of each
#                              SIGTERM, SIGHUP or SIGINT to FILE, and exit 0 half a second
#                              after the first; when GO exists, start the env's python
#                              once, write how that went to FILE.end and exit 0
PROBE_SOURCE = """\
import json
import os
import signal
import subprocess
import sys
import time


def main():
    what, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("env", [])
    if what == "env":
        extra = None
        try:
            import extra_app
            extra = extra_app.VERSION
        except ImportError:
            pass
        print(json.dumps({"argv0": sys.argv[0], "args": rest, "environ": dict(os.environ),
                          "prefix": sys.prefix, "extra": extra,
                          "version": "%d.%d.%d" % sys.version_info[:3],
                          "prefix_mode": os.stat(sys.prefix).st_mode & 0o777}))
    elif what == "exit":
        sys.exit(int(rest[0]))
    elif what == "kill-self":
        os.kill(os.getpid(), int(rest[0]))
        time.sleep(60)
    elif what == "count-sigint":
        def count(signum, frame):
            with open(rest[0], "a") as stream:
                stream.write("SIGINT\\n")
        signal.signal(signal.SIGINT, count)
        open(rest[0] + ".ready", "w").close()
        while not os.path.exists(rest[0]):
            time.sleep(0.01)
        time.sleep(0.5)  # long enough for a second SIGINT to arrive, if one is coming
    elif what == "count-signals":
        def note(signum, frame):
            with open(rest[0], "a") as stream:
                stream.write(f"{signum}\\n")
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, note)
        with open(rest[0] + ".tmp", "w") as stream:
            stream.write(str(os.getpid()))
        os.rename(rest[0] + ".tmp", rest[0] + ".ready")
        deadline = time.monotonic() + 60
        while not os.path.exists(rest[0]) and time.monotonic() < deadline:
            if rest[1:] and os.path.exists(rest[1]):
                # Proof that the env is whole at the end: its interpreter starts.
                done = subprocess.run([sys.executable, "-c", "pass"]).returncode == 0
                with open(rest[0] + ".end", "w") as stream:
                    stream.write("interpreter ran" if done else "interpreter failed")
                return
            time.sleep(0.01)
        time.sleep(0.5)  # long enough for a second copy to arrive, if one is coming
    elif what == "wait-signal":
        def record(signum, frame):
            with open(rest[0], "w") as stream:
                stream.write(str(signum))
            sys.exit(0)
        signal.signal(signal.SIGTERM, record)
        signal.signal(signal.SIGINT, record)
        open(rest[0] + ".ready", "w").close()
        time.sleep(60)
        sys.exit(9)


if __name__ == "__main__":
    main()
"""
# The local extra `make_app` can add: a module `extra_app` whose VERSION `probe env` reports.
EXTRA_VERSION = "2.5"


def build_probe_wheel(directory: Path) -> Path:
    """Write the probe app's wheel (`probe-app`, console script `probe`) into `directory`."""
    return build_wheel(
        directory,
        "probe-app",
        modules={"probe_app.py": PROBE_SOURCE},
        console_scripts={"probe": "probe_app:main"},
    )


def make_app(
    root: Path,
    *,
    command: str = "probe env",
    extra_spec: str = "",
    local_extra: bool = False,
    refresh: bool = False,
) -> Path:
    """Write the probe's wheel, a pylock.toml listing it and a spec file under `root`.

    `local_extra` adds the wheel `wheels/extra_app-2.5-py3-none-any.whl` as the spec's
    local extra; `extra_spec` is appended to the spec as written. Returns the spec's path.
    """
    wheels = root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    write_pylock(root / "pylock.toml", [build_probe_wheel(wheels)])
    lines = [f"command: {command}", "pylock: pylock.toml"]
    if local_extra:
        extra = build_wheel(wheels, "extra-app", EXTRA_VERSION)
        lines += ["local_extra_deps:", f"  - {extra.relative_to(root)}"]
    if refresh:
        lines.append("refresh: true")
    spec = root / "spec.yml"
    spec.write_text("\n".join(lines) + "\n" + extra_spec)
    return spec


def probe_report(stdout: str) -> dict[str, Any]:
    """What `probe env` printed: the last line of `stdout`, as JSON."""
    report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return report
