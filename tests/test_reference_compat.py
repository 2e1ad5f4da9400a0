"""pylockenv and the reference implementation (bfabric-app-runner 0.9.1) share one cache.

The reference is installed from the package registry into a venv of its own, once per
session, and run as its `python_env` command runs: a `CommandPythonEnv` validated with
the spec file's directory as context, then `execute_command_python_env`. Both tools then
work on the same spec file, host, XDG_CACHE_HOME and uv, offline, with tiny wheels built
here. They must pick the same env directory, and each must reuse, untouched, an env the
other one provisioned; and the reference's own hash of a spec must be pylockenv's.

Skipped, with the reason, when the registry cannot be reached or the install fails.
Deselect with `-m 'not network'`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from attrs import frozen
from builders import (
    PY_VERSION,
    build_probe_wheel,
    build_wheel,
    interpreter_bin,
    probe_report,
    pyenv_root,
    write_pylock,
)
from harness import REAL_UV, CacheDir, run_pylockenv

from pylockenv.core import load_spec, plan
from pylockenv.core.templates import TemplateRefused, parse_template, render
from pylockenv.shell.facts import gather_facts

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

# Runs in the reference's venv: `python -c REFERENCE_HASH DOCUMENT SPEC_DIR` prints the
# hash and env path the reference gives the spec DOCUMENT (JSON) read from SPEC_DIR.
REFERENCE_HASH = """\
import json
import sys
from pathlib import Path

from bfabric_app_runner.commands.command_python_env import CachedEnvironmentStrategy
from bfabric_app_runner.specs.app.commands_spec import CommandPythonEnv

document = json.loads(sys.argv[1])
command = CommandPythonEnv.model_validate(document, context={"spec_dir": Path(sys.argv[2])})
strategy = CachedEnvironmentStrategy()
print(json.dumps({"hash": strategy._compute_env_hash(command),
                  "path": str(strategy._get_cache_path(command))}))
"""


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
    # 0.9.1 declares Python >= 3.12: it is installed, as declared, on pyenv's 3.12.
    bin_dir = interpreter_bin("3.12")
    if bin_dir is None:
        pytest.skip(f"no Python 3.12 (the reference's floor) under {pyenv_root()}/versions")
    root = tmp_path_factory.mktemp("reference")
    venv = root / "venv"
    subprocess.run([str(bin_dir / "python3.12"), "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    try:
        probe = _pip(
            python,
            "download",
            "--no-deps",
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

    full = _pip(python, "install", "--quiet", REFERENCE, timeout=INSTALL_TIMEOUT)
    if full.returncode != 0:
        bare = _pip(python, "install", "--quiet", "--no-deps", REFERENCE, timeout=INSTALL_TIMEOUT)
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


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The home directory both tools see ("~" in a spec)."""
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def shared_environ(environ: dict[str, str], home: Path) -> dict[str, str]:
    """The harness's environment, shared by both tools: this test's cache and `home`, and
    one uv (pylockenv is told it by PYLOCKENV_UV; the reference looks for it on PATH)."""
    path = os.pathsep.join([str(Path(REAL_UV).parent), environ.get("PATH", "")])
    return {**environ, "HOME": str(home), "PATH": path}


def _write_spec(project: Path, home: Path, case: str) -> Path:
    """A project whose spec reaches the pylock and the local extras the way `case` says."""
    app = project / "app"
    (app / "wheels").mkdir(parents=True)
    probe = build_probe_wheel(app / "wheels")
    document: dict[str, object] = {
        "type": "python_env",
        "pylock": "pylock.toml",
        "command": "probe env",
        # no python_version: both tools default to 3.13 (the harness's PATH has it)
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


def _succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args} exited {result.returncode}:\n{result.stderr}"
    return result


def _pylockenv(
    environ: Mapping[str, str], *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return _succeeded(run_pylockenv(environ, *args, cwd=cwd, timeout=300))


def _reference(
    python: Path, environ: Mapping[str, str], script: str, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run `script` (REFERENCE_RUN or REFERENCE_HASH) with the reference's python."""
    argv = [str(python), "-c", script, *args]
    ran = subprocess.run(
        argv, env=dict(environ), cwd=cwd, capture_output=True, text=True, timeout=300
    )
    return _succeeded(ran)


def _planned_env(environ: Mapping[str, str], spec: Path, cwd: Path) -> tuple[str, Path]:
    """(env hash, env path) from `pylockenv run SPEC --print-plan --json`."""
    printed = _pylockenv(environ, "run", str(spec), "--print-plan", "--json", cwd=cwd)
    the_plan = json.loads(printed.stdout)
    return str(the_plan["env_hash"]), Path(the_plan["env_path"])


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
    reference_python: Path,
    shared_environ: dict[str, str],
    cache: CacheDir,
    home: Path,
    tmp_path: Path,
    case: str,
) -> None:
    spec = _write_spec(tmp_path / "project", home, case)
    env_hash, env_path = _planned_env(shared_environ, spec, cwd=tmp_path)

    ran = _reference(reference_python, shared_environ, REFERENCE_RUN, str(spec), cwd=tmp_path)

    assert cache.env_dirs() == [env_path]
    assert env_path.name == env_hash
    assert probe_report(ran.stdout)["prefix"] == str(env_path)


def test_pylockenv_reuses_an_env_the_reference_provisioned(
    reference_python: Path,
    shared_environ: dict[str, str],
    cache: CacheDir,
    home: Path,
    tmp_path: Path,
) -> None:
    spec = _write_spec(tmp_path / "project", home, "local-extras-relative-and-tilde")
    _reference(reference_python, shared_environ, REFERENCE_RUN, str(spec), cwd=tmp_path)
    [env] = cache.env_dirs()
    (env / "sentinel").touch()
    before = EnvSnapshot.of(env)

    ran = _pylockenv(shared_environ, "run", str(spec), cwd=tmp_path)

    assert probe_report(ran.stdout)["prefix"] == str(env)
    assert cache.env_dirs() == [env]
    assert EnvSnapshot.of(env) == before
    assert before.marker == b""  # the reference's marker, kept as it wrote it


def test_the_reference_reuses_an_env_pylockenv_provisioned(
    reference_python: Path,
    shared_environ: dict[str, str],
    cache: CacheDir,
    home: Path,
    tmp_path: Path,
) -> None:
    spec = _write_spec(tmp_path / "project", home, "local-extras-relative-and-tilde")
    _pylockenv(shared_environ, "run", str(spec), cwd=tmp_path)
    [env] = cache.env_dirs()
    (env / "sentinel").touch()
    before = EnvSnapshot.of(env)

    ran = _reference(reference_python, shared_environ, REFERENCE_RUN, str(spec), cwd=tmp_path)

    assert probe_report(ran.stdout)["prefix"] == str(env)
    assert cache.env_dirs() == [env]
    assert EnvSnapshot.of(env) == before


# The runs above install what they reach; a directory as a local extra would need a build,
# so the reference's hash of a spec that names one is asked of its own code.


@pytest.mark.parametrize("with_extras", [False, True], ids=["no-extras", "extras"])
def test_the_reference_hashes_a_spec_and_places_its_env_as_pylockenv_does(
    reference_python: Path,
    shared_environ: dict[str, str],
    in_process: dict[str, str],
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    with_extras: bool,
) -> None:
    spec_dir = tmp_path / "app"
    (spec_dir / "dist").mkdir(parents=True)
    (spec_dir / "pylock.toml").write_text('lock-version = "1.0"\n')
    (spec_dir / "dist" / "app-1.0-py3-none-any.whl").write_bytes(b"zip")
    (home / "plugin").mkdir()
    document: dict[str, object] = {
        "pylock": "pylock.toml",
        "command": "-m app",  # no python_version: the defaults must hash alike
        "local_extra_deps": ["dist/app-1.0-py3-none-any.whl", "~/plugin"] if with_extras else [],
    }
    reference = _reference(
        reference_python,
        shared_environ,
        REFERENCE_HASH,
        json.dumps(document),
        str(spec_dir),
        cwd=tmp_path,
    )
    expected = json.loads(reference.stdout)

    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", shared_environ["PATH"])  # where uv finds the default 3.13
    spec = load_spec(document, "app.yml", None, str(spec_dir))
    ours = plan(spec, gather_facts(spec, uv="uv"))

    assert (ours.env_hash, ours.env_path) == (expected["hash"], expected["path"])


# -- the app runner's own app.yml (issue 17) ----------------------------------------------

# Runs in the reference's venv: `python -c REFERENCE_APP APP_YML APP_ID APP_NAME` prints,
# for each version of the app.yml as the reference loads it, its process command's hash,
# env path and rendered fields.
REFERENCE_APP = """\
import json
import sys
from pathlib import Path

from bfabric_app_runner.commands.command_python_env import CachedEnvironmentStrategy
from bfabric_app_runner.specs.app.app_spec import AppSpec

app_yml, app_id, app_name = sys.argv[1:]
spec = AppSpec.load_yaml(Path(app_yml), app_id=app_id, app_name=app_name)
strategy = CachedEnvironmentStrategy()
found = {}
for version in spec.versions:
    command = version.commands.process
    found[version.version] = {
        "hash": strategy._compute_env_hash(command),
        "path": str(strategy._get_cache_path(command)),
        "pylock": str(command.pylock),
        "extras": [str(path) for path in command.local_extra_deps],
        "command": command.command,
        "env": command.env,
    }
print(json.dumps(found))
"""

APP_YML = """\
bfabric:
  app_runner: "0.9.1"
versions:
  - version: ["1.0", "1.1"]
    commands:
      dispatch: {type: exec, command: "dispatch ${app.id} ${app.dir}"}
      process:
        type: python_env
        pylock: pylock.toml
        command: "-m app ${app.version} ${ app.name }"
        python_version: "%(python)s"
        local_extra_deps:
          - "dist/app-${app.version}-py3-none-any.whl"
          - "~/plugin"
        env:
          APP_DIR: "${app.dir}"
          WHO: "${app.name}-${app.id}"
          LITERAL: "<%%text>${HOME}</%%text> 50%%"
  - version: "2.0"
    commands:
      dispatch: {type: exec, command: dispatch}
      process:
        type: python_env
        pylock: ../shared/pylock.toml
        command: -m app
        python_version: "%(python)s"
"""


def test_the_reference_loads_an_app_yml_into_the_env_pylockenv_plans(
    reference_python: Path, shared_environ: dict[str, str], home: Path, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    app = real / "app"
    (app / "dist").mkdir(parents=True)
    (real / "shared").mkdir()
    (app / "pylock.toml").write_text('lock-version = "1.0"\n')
    (real / "shared" / "pylock.toml").write_text('lock-version = "1.0"\n')
    for version in ("1.0", "1.1"):
        (app / "dist" / f"app-{version}-py3-none-any.whl").write_bytes(b"zip")
    (home / "plugin").mkdir()
    (app / "app.yml").write_text(APP_YML % {"python": PY_VERSION})
    # Read through a link: ${app.dir} and relative paths are the resolved directory's.
    (tmp_path / "link").symlink_to(real)
    app_yml = tmp_path / "link" / "app" / "app.yml"
    app_id, app_name = "0042", "My App/2"

    reference = _reference(
        reference_python,
        shared_environ,
        REFERENCE_APP,
        str(app_yml),
        app_id,
        app_name,
        cwd=tmp_path,
    )
    expected = json.loads(reference.stdout)
    assert sorted(expected) == ["1.0", "1.1", "2.0"]

    for version, theirs in expected.items():
        printed = _pylockenv(
            shared_environ,
            "run",
            str(app_yml),
            "process",
            f"--app-version={version}",
            f"--app-id={app_id}",
            f"--app-name={app_name}",
            "--print-plan",
            "--json",
            cwd=tmp_path,
        )
        ours = json.loads(printed.stdout)
        assert (ours["env_hash"], ours["env_path"]) == (theirs["hash"], theirs["path"]), version
        assert ours["pylock"] == theirs["pylock"]
        assert [dep["path"] for dep in ours["local_extra_deps"]] == theirs["extras"]
        assert shlex.join(ours["run"]["words"]) == theirs["command"]
        assert ours["run"]["env"]["set_env"] == theirs["env"]
    assert expected["1.1"]["env"] == {
        "APP_DIR": str(app),
        "WHO": "My_App_2-42",
        "LITERAL": "${HOME} 50%",
    }


# Runs in the reference's venv: `python -c REFERENCE_MAKO` reads a JSON list of strings on
# stdin and prints, for each, what the reference's Mako renders it to with the app
# variables below (or null when Mako fails).
REFERENCE_MAKO = """\
import json
import sys
from pathlib import Path

from mako.template import Template
from bfabric_app_runner.specs.config_interpolation import VariablesApp

app = VariablesApp(id=7, name="demo", version="1.0", dir=Path("/srv/app"))
rendered = []
for text in json.load(sys.stdin):
    try:
        rendered.append(str(Template(text).render(app=app, workunit=None)))
    except Exception:
        rendered.append(None)
print(json.dumps(rendered))
"""

TEMPLATE_PIECES = ["${", "}", "app.", "id", "name", "version", "dir", "app", " ", "\t", "\n"]
TEMPLATE_PIECES += ["\r", "<%", "%>", "</%", "<%text>", "</%text>", "%", "%%", "##", "#"]
TEMPLATE_PIECES += ["\\", "|", "h", "${app.id}", "${app.dir}", "${ app.name }", "$", "x", "/"]
TEMPLATE_PIECES += ["${app.version}", "coding:", "<%text>${</%text>", "\f", "'", '"']


def test_every_template_pylockenv_accepts_renders_as_the_references_mako(
    reference_python: Path, shared_environ: dict[str, str], tmp_path: Path
) -> None:
    choose = random.Random(17)
    corpus = sorted(
        {
            "".join(choose.choice(TEMPLATE_PIECES) for _ in range(choose.randrange(1, 12)))
            for _ in range(6000)
        }
    )
    values = {"id": "7", "name": "demo", "version": "1.0", "dir": "/srv/app"}
    accepted: dict[str, str] = {}
    for text in corpus:
        with contextlib.suppress(TemplateRefused):
            accepted[text] = render(parse_template(text), values)
    assert len(accepted) > 500  # the corpus reaches far beyond the refusals

    ran = subprocess.run(
        [str(reference_python), "-c", REFERENCE_MAKO],
        input=json.dumps(list(accepted)),
        env=shared_environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = dict(zip(accepted, json.loads(ran.stdout), strict=True))
    differ = {text: (ours, theirs[text]) for text, ours in accepted.items() if ours != theirs[text]}
    assert differ == {}
