"""A warm `pylockenv run` does only what reusing an env needs.

It opens the spec, the marker and the env's in-use lock file (the lock that keeps
gc away while the command runs; opened, never read), execs the command (no
launcher process stays beside it, and nothing else is started), and
does not import what provisioning needs (filelock, tomllib, packaging) or the cache
commands. The run is audited in its own process with `sys.addaudithook`: every
"open" and "subprocess.Popen" event is recorded, and the loaded modules are listed
once the run is over. The same probe on a cold run shows uv and filelock, so it
does see them when they are there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from envtools import cli, env_dirs, make_app, run_env

# Runs `pylockenv ARGS` in this process under an audit hook and writes what it saw to
# REPORT: when pylockenv execs the command (the "os.exec" event comes just before), or
# when main() returns.
AUDITED_RUN = """\
import json, os, sys

opened, started = [], []


def write_report(code):
    seen = {"code": code, "opened": list(opened), "started": list(started)}
    seen["modules"] = sorted(sys.modules)
    with open(sys.argv[1], "w") as stream:
        json.dump(seen, stream)


def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        opened.append(os.fsdecode(args[0]))
    elif event in ("subprocess.Popen", "os.exec"):
        started.append([os.fsdecode(word) for word in args[1]])
        if event == "os.exec":
            write_report("exec")


sys.addaudithook(audit)
from pylockenv.shell.cli import main

write_report(main(sys.argv[2:]))
"""

PROVISIONING_ONLY = ("filelock", "tomllib", "packaging", "pylockenv.shell.cachecmds")


def audited_run(env: Mapping[str, str], report: Path, *args: str) -> dict[str, Any]:
    """Run `pylockenv ARGS` audited; return what it opened, started and imported."""
    done = subprocess.run(
        [sys.executable, "-c", AUDITED_RUN, str(report), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(report.read_text())
    assert seen["code"] == "exec"
    return seen


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A probe app with a local extra, its env provisioned (cold) by one ordinary run."""
    root = tmp_path_factory.mktemp("warm")
    spec = make_app(root, command="-c pass", local_extra=True)
    env = run_env(root, root / "uv-cache")
    cold = cli(env, "run", str(spec))
    assert cold.returncode == 0, cold.stderr
    return spec, env


@pytest.fixture(scope="module")
def warm(app: tuple[Path, dict[str, str]]) -> dict[str, Any]:
    spec, env = app
    return audited_run(env, spec.parent / "warm-report.json", "run", str(spec))


def _ours(paths: list[str], root: Path) -> set[str]:
    """The opened paths under the app's directory (the spec, the wheels, the cache)."""
    return {path for path in paths if path.startswith(f"{root}/")}


def test_a_warm_run_opens_only_the_spec_the_marker_and_the_in_use_lock(
    app: tuple[Path, dict[str, str]], warm: dict[str, Any]
) -> None:
    spec, _ = app
    [env_dir] = env_dirs(spec.parent)

    assert _ours(warm["opened"], spec.parent) == {
        str(spec),
        f"{env_dir}/.provisioned",
        f"{env_dir}/.in-use",
    }


def test_a_warm_run_execs_the_command_and_starts_nothing_else(
    app: tuple[Path, dict[str, str]], warm: dict[str, Any]
) -> None:
    spec, _ = app
    [env_dir] = env_dirs(spec.parent)

    assert warm["started"] == [[f"{env_dir}/bin/python", "-c", "pass"]]


def test_a_warm_run_imports_neither_the_provisioning_machinery_nor_the_cache_commands(
    warm: dict[str, Any],
) -> None:
    loaded = set(warm["modules"])

    assert [name for name in PROVISIONING_ONLY if name in loaded] == []


def test_the_probe_sees_uv_filelock_and_the_pylock_on_a_cold_run(tmp_path: Path) -> None:
    spec = make_app(tmp_path, command="-c pass")
    env = run_env(tmp_path, tmp_path / "uv-cache")

    cold = audited_run(env, tmp_path / "cold-report.json", "run", str(spec))

    assert any(argv[0] == env["PYLOCKENV_UV"] for argv in cold["started"])
    assert "filelock" in cold["modules"]
    assert str(tmp_path / "pylock.toml") in cold["opened"]
