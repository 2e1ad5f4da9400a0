"""pylockenv and the reference implementation (bfabric-app-runner 0.9.1) share one cache.

The reference is installed from the package registry into a venv of its own, once per
session, and run as its `python_env` command runs: a `CommandPythonEnv` validated with
the spec file's directory as context, then `execute_command_python_env`. Both tools then
work on the same spec file, host, XDG_CACHE_HOME and uv, offline, with tiny wheels built
here. They must pick the same env directory, and each must reuse, untouched, an env the
other one provisioned.

Skipped, with the reason, when the registry cannot be reached or the install fails.
Deselect with `-m 'not network'`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import uv
from attrs import frozen
from builders import PY_VERSION, build_wheel, write_pylock

pytestmark = pytest.mark.network

REFERENCE = "bfabric-app-runner==0.9.1"
# What `bfabric_app_runner.commands.command_python_env` imports, with the reference's own
# version bounds: enough to run it when the full dependency set does not install.
REFERENCE_IMPORT_DEPS = ("cyclopts>=4,<5", "loguru", "pydantic>=2.12.3,<3")
PROBE_TIMEOUT = 30
INSTALL_TIMEOUT = 600

# Runs in the reference's venv: `python -c REFERENCE_RUN SPEC_FILE [ARGS...]`. The spec
# file is JSON, which pylockenv reads as the YAML it is; relative paths are taken from
# the spec file's resolved directory, as the reference's own spec loader does.
REFERENCE_RUN = """\
import json
import sys
from pathlib import Path

from bfabric_app_runner.commands.command_python_env import execute_command_python_env
from bfabric_app_runner.specs.app.commands_spec import CommandPythonEnv

spec = Path(sys.argv[1])
document = json.loads(spec.read_text())
command = CommandPythonEnv.model_validate(document, context={"spec_dir": spec.resolve().parent})
execute_command_python_env(command, *sys.argv[2:])
"""

# The console script both tools run: it prints the env it runs in.
PROBE_MODULE = "import sys\n\n\ndef main():\n    print(sys.prefix)\n"


def _pip(python: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _last_lines(text: str, count: int = 3) -> str:
    """The end of pip's stderr, without its warnings, on one line (for a skip reason)."""
    lines = [line for line in text.strip().splitlines() if not line.startswith("WARNING")]
    return " | ".join(lines[-count:])


@pytest.fixture(scope="session")
def reference_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv holding the reference; skips the test when it cannot be made."""
    root = tmp_path_factory.mktemp("reference")
    try:
        probe = _pip(
            Path(sys.executable),
            "download",
            "--no-deps",
            "--ignore-requires-python",
            "--timeout",
            "5",
            "--retries",
            "0",
            REFERENCE,
            "-d",
            str(root / "download"),
            timeout=PROBE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"package registry unreachable: `pip download {REFERENCE}` timed out")
    if probe.returncode != 0:
        pytest.skip(f"cannot download {REFERENCE} from the registry: {_last_lines(probe.stderr)}")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # 0.9.1 declares Python >= 3.12 but runs on 3.11.
    full = _pip(
        python, "install", "--quiet", "--ignore-requires-python", REFERENCE, timeout=INSTALL_TIMEOUT
    )
    if full.returncode != 0:
        bare = _pip(
            python,
            "install",
            "--quiet",
            "--no-deps",
            "--ignore-requires-python",
            REFERENCE,
            timeout=INSTALL_TIMEOUT,
        )
        deps = _pip(python, "install", "--quiet", *REFERENCE_IMPORT_DEPS, timeout=INSTALL_TIMEOUT)
        if bare.returncode != 0 or deps.returncode != 0:
            pytest.skip(
                f"{REFERENCE} did not install: {_last_lines(full.stderr)}; with only "
                f"{', '.join(REFERENCE_IMPORT_DEPS)}: {_last_lines(bare.stderr + deps.stderr)}"
            )
    check = subprocess.run(
        [str(python), "-c", "import bfabric_app_runner.commands.command_python_env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check.returncode != 0:
        pytest.skip(f"{REFERENCE} installed but does not import: {_last_lines(check.stderr)}")
    return python


@frozen(kw_only=True)
class SharedCache:
    """One host's view shared by both tools: a HOME, a cache, uv offline with its own cache."""

    home: Path
    cache_root: Path
    environ: Mapping[str, str]

    def env_dirs(self) -> list[Path]:
        envs = self.cache_root / "envs"
        return sorted(p for p in envs.iterdir() if p.is_dir()) if envs.exists() else []


@pytest.fixture
def shared_cache(tmp_path: Path) -> SharedCache:
    uv_bin = Path(uv.find_uv_bin())
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("UV_", "PYLOCKENV_", "XDG_"))
    }
    home = tmp_path / "home"
    home.mkdir()
    environ = {
        **inherited,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        "UV_OFFLINE": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_CONFIG": "1",
        # the same uv for both: pylockenv is told, the reference looks it up on PATH
        "PYLOCKENV_UV": str(uv_bin),
        "PATH": os.pathsep.join([str(uv_bin.parent), os.environ.get("PATH", "")]),
    }
    return SharedCache(
        home=home, cache_root=tmp_path / "xdg" / "bfabric_app_runner", environ=environ
    )


def _write_spec(project: Path, home: Path, case: str) -> Path:
    """A project whose spec reaches the pylock and the local extras the way `case` says."""
    app = project / "app"
    (app / "wheels").mkdir(parents=True)
    probe = build_wheel(
        app / "wheels",
        "compat-probe",
        modules={"compat_probe.py": PROBE_MODULE},
        console_scripts={"compat-probe": "compat_probe:main"},
    )
    document: dict[str, object] = {
        "type": "python_env",
        "pylock": "pylock.toml",
        "command": "compat-probe",
        # the reference's default is 3.13, pylockenv's the host's: say it
        "python_version": PY_VERSION,
    }
    if case == "pylock-beside-spec":
        write_pylock(app / "pylock.toml", [probe])
    elif case == "pylock-through-dotdot":
        (project / "shared").mkdir()
        write_pylock(project / "shared" / "pylock.toml", [probe])
        document["pylock"] = "../shared/pylock.toml"
    elif case == "local-extras-relative-and-tilde":
        write_pylock(app / "pylock.toml", [probe])
        (app / "dist").mkdir()
        (home / "wheels").mkdir()
        build_wheel(app / "dist", "extra-near")
        build_wheel(home / "wheels", "extra-home")
        document["local_extra_deps"] = [
            "dist/extra_near-1.0-py3-none-any.whl",
            "~/wheels/extra_home-1.0-py3-none-any.whl",
        ]
    else:
        raise AssertionError(f"unknown case {case}")
    spec = app / "spec.yml"
    spec.write_text(json.dumps(document, indent=2) + "\n")
    return spec


def _run(argv: Sequence[str], cache: SharedCache, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv),
        env=dict(cache.environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stderr}"
    return result


def _pylockenv(cache: SharedCache, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sysconfig.get_path("scripts")) / "pylockenv"
    return _run([str(script), *args], cache, cwd)


def _reference(
    python: Path, cache: SharedCache, spec: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return _run([str(python), "-c", REFERENCE_RUN, str(spec)], cache, cwd)


def _planned_env(cache: SharedCache, spec: Path, cwd: Path) -> tuple[str, Path]:
    """(env hash, env path) from `pylockenv run SPEC --print-plan --json`."""
    printed = _pylockenv(cache, "run", str(spec), "--print-plan", "--json", cwd=cwd)
    plan = json.loads(printed.stdout)
    return str(plan["env_hash"]), Path(plan["env_path"])


@frozen(kw_only=True)
class EnvSnapshot:
    """What a reuse must leave alone: the marker's bytes and a file only a rebuild removes."""

    marker: bytes
    sentinel_present: bool

    @classmethod
    def of(cls, env: Path) -> EnvSnapshot:
        return cls(
            marker=(env / ".provisioned").read_bytes(),
            sentinel_present=(env / "sentinel").exists(),
        )


@pytest.mark.parametrize(
    "case", ["pylock-beside-spec", "pylock-through-dotdot", "local-extras-relative-and-tilde"]
)
def test_the_reference_provisions_the_env_pylockenv_plans(
    reference_python: Path, shared_cache: SharedCache, tmp_path: Path, case: str
) -> None:
    spec = _write_spec(tmp_path / "project", shared_cache.home, case)
    env_hash, env_path = _planned_env(shared_cache, spec, cwd=tmp_path)

    ran = _reference(reference_python, shared_cache, spec, cwd=tmp_path)

    assert shared_cache.env_dirs() == [env_path]
    assert env_path.name == env_hash
    assert ran.stdout.strip() == str(env_path)


def test_pylockenv_reuses_an_env_the_reference_provisioned(
    reference_python: Path, shared_cache: SharedCache, tmp_path: Path
) -> None:
    spec = _write_spec(tmp_path / "project", shared_cache.home, "local-extras-relative-and-tilde")
    _reference(reference_python, shared_cache, spec, cwd=tmp_path)
    [env] = shared_cache.env_dirs()
    (env / "sentinel").touch()
    before = EnvSnapshot.of(env)

    ran = _pylockenv(shared_cache, "run", str(spec), cwd=tmp_path)

    assert ran.stdout.strip() == str(env)
    assert shared_cache.env_dirs() == [env]
    assert EnvSnapshot.of(env) == before
    assert before.marker == b""  # the reference's marker, kept as it wrote it


def test_the_reference_reuses_an_env_pylockenv_provisioned(
    reference_python: Path, shared_cache: SharedCache, tmp_path: Path
) -> None:
    spec = _write_spec(tmp_path / "project", shared_cache.home, "local-extras-relative-and-tilde")
    _pylockenv(shared_cache, "run", str(spec), cwd=tmp_path)
    [env] = shared_cache.env_dirs()
    (env / "sentinel").touch()
    before = EnvSnapshot.of(env)

    ran = _reference(reference_python, shared_cache, spec, cwd=tmp_path)

    assert ran.stdout.strip() == str(env)
    assert shared_cache.env_dirs() == [env]
    assert EnvSnapshot.of(env) == before
