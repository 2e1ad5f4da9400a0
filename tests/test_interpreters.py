"""Every Python a host has: the interpreter uv will use is found first, checked and recorded.

Real interpreters, real uv: pyenv's 3.10, 3.12 and 3.13 (the harness puts their bin
directories first on PATH), pyenv's 3.11.7 and Debian's 3.11.2 (two builds of one
X.Y). A test that needs an interpreter this machine lacks skips, saying which.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from builders import interpreter_bin, make_app, probe_report, pyenv_root, write_pylock
from harness import CacheDir, run_pylockenv

from pylockenv.core.made_from import what_changed

SYSTEM_PYTHON = Path("/usr/bin/python3.11")  # Debian's 3.11.2 on these machines
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
# pylockenv started by another interpreter, its packages taken from this venv.
BOOT = (
    "import runpy, site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'pylockenv'; "
    "runpy.run_module('pylockenv.shell', run_name='__main__', alter_sys=True)"
)


def _need(version: str) -> Path:
    found = interpreter_bin(version)
    if found is None:
        pytest.skip(f"no Python {version} under {pyenv_root()}/versions on this machine")
    return found


def _version_of(python: str | Path) -> str:
    done = subprocess.run(
        [str(python), "-I", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _two_builds_of_3_11() -> tuple[Path, Path]:
    """pyenv's 3.11 and the system's 3.11, which must be different builds."""
    pyenv = _need("3.11")
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} (a second build of 3.11) is not on this machine")
    if _version_of(pyenv / "python3.11") == _version_of(SYSTEM_PYTHON):
        pytest.skip("pyenv's 3.11 and the system's are the same version here")
    return pyenv, SYSTEM_PYTHON


def _marker(env: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((env / ".provisioned").read_text())
    return data


def _json_plan(environ: dict[str, str], spec: Path) -> dict[str, Any]:
    done = run_pylockenv(environ, "run", str(spec), "--print-plan", "--json")
    assert done.returncode == 0, done.stderr
    plan: dict[str, Any] = json.loads(done.stdout)
    return plan


# --- envs of each Python ----------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_an_env_is_made_from_the_python_version_the_spec_names(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, version: str
) -> None:
    bin_dir = _need(version)
    spec = make_app(tmp_path, extra_spec=f'python_version: "{version}"\n')
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 0, done.stderr
    report = probe_report(done.stdout)
    assert report["version"] == _version_of(bin_dir / f"python{version}")
    [env] = cache.env_dirs()
    marker = _marker(env)
    assert marker["python_version_requested"] == version
    assert marker["interpreter"] == str(bin_dir / f"python{version}")
    assert marker["python_version"] == report["version"]


def test_without_python_version_the_env_is_made_from_3_13_and_hashed_so(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    bin_dir = _need("3.13")
    spec = make_app(tmp_path)
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 0, done.stderr
    assert probe_report(done.stdout)["version"].startswith("3.13.")
    [env] = cache.env_dirs()
    marker = _marker(env)
    assert marker["hash_input"].startswith(f"{socket.gethostname()}:3.13:")
    assert (marker["python_version_requested"], marker["interpreter"]) == (
        "3.13",
        str(bin_dir / "python3.13"),
    )


# --- requires-python against the interpreter uv finds (two builds of 3.11) --------------


def _lock_requiring(tmp_path: Path, requires: str) -> Path:
    spec = make_app(tmp_path, extra_spec='python_version: "3.11"\n')
    wheels = sorted((tmp_path / "wheels").glob("*.whl"))
    write_pylock(tmp_path / "pylock.toml", wheels, requires_python=requires)
    return spec


def test_a_lock_is_refused_for_the_3_11_uv_finds_though_pylockenv_runs_on_a_newer_one(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    pyenv, system = _two_builds_of_3_11()
    found = _version_of(system)
    spec = _lock_requiring(tmp_path, f">{found}")
    # pylockenv runs on this interpreter; uv finds the system's 3.11 first on PATH.
    environ["PATH"] = f"{system.parent}:{environ['PATH']}"
    done = subprocess.run(
        [str(pyenv / "python3.11"), "-c", BOOT, SITE_PACKAGES, "run", str(spec)],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 125, done.stdout + done.stderr
    assert f"the environment would use Python {found} ({system})" in done.stderr
    assert not cache.root.exists() or cache.env_dirs() == []


def test_a_lock_is_accepted_for_the_3_11_uv_finds_though_pylockenv_runs_on_an_older_one(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    pyenv, system = _two_builds_of_3_11()
    found = _version_of(pyenv / "python3.11")
    spec = _lock_requiring(tmp_path, f">={found}")
    # pylockenv runs on the system's 3.11; uv finds pyenv's first on PATH.
    environ["PATH"] = f"{pyenv}:{environ['PATH']}"
    done = subprocess.run(
        [str(system), "-c", BOOT, SITE_PACKAGES, "run", str(spec)],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert probe_report(done.stdout)["version"] == found
    [env] = cache.env_dirs()
    assert _marker(env)["interpreter"] == str(pyenv / "python3.11")


# --- every form of request ----------------------------------------------------------------


@pytest.mark.parametrize(
    "request_", ["3.12", "3.12.X", "cpython3.12", "python3.12", "cp312", ">=3.12,<3.13", "PATH"]
)
def test_every_form_of_request_is_resolved_and_checked_the_same_way(
    tmp_path: Path, environ: dict[str, str], request_: str
) -> None:
    bin_dir = _need("3.12")
    full = _version_of(bin_dir / "python3.12")
    written = {"3.12.X": full, "PATH": str(bin_dir / "python3.12")}.get(request_, request_)
    spec = make_app(tmp_path, extra_spec=f"python_version: {json.dumps(written)}\n")
    plan = _json_plan(environ, spec)
    assert plan["python_version"] == written  # as written: what the env hash covers
    assert plan["hash_input"].split(":")[1] == written.split(":")[0]
    assert os.path.realpath(plan["interpreter"]) == os.path.realpath(bin_dir / "python3.12")
    assert plan["requires_python_check"] == full
    argv = plan["steps"][0]["argv"]
    assert argv[argv.index("-p") + 1] == plan["interpreter"]


def test_a_python_version_with_a_trailing_space_is_refused_naming_the_spelling(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, extra_spec='python_version: "3.12 "\n')
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 125
    assert "python_version: '3.12 ' has white space around it" in done.stderr
    assert "write '3.12'" in done.stderr
    assert not cache.root.exists()


# --- a Python the host lacks ------------------------------------------------------------


def test_a_missing_version_offline_is_one_paragraph_in_seconds_creating_nothing(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, extra_spec='python_version: "3.14"\n')
    started = time.monotonic()
    done = run_pylockenv(environ, "run", str(spec))
    took = time.monotonic() - started
    assert done.returncode == 125
    [line] = done.stderr.splitlines()  # one paragraph: no uv output, no retry log
    assert line.startswith(f"pylockenv: error: {spec}: python_version: no Python matching '3.14'")
    assert sys.version.split()[0] in line.split("it has: ")[1]  # what the host has
    assert "uv is offline here (UV_OFFLINE)" in line
    assert "'uv python install 3.14'" in line
    assert not cache.root.exists()
    assert took < 30  # seconds, on a loaded machine: no download retries (10 s and more)


def test_a_failed_download_is_said_as_the_same_paragraph(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    # Downloads allowed, from a mirror that does not exist: it fails at once, no network.
    spec = make_app(tmp_path, extra_spec='python_version: "3.14"\n')
    for name in ("UV_OFFLINE", "UV_PYTHON_DOWNLOADS"):
        environ.pop(name)
    environ.update(
        UV_PYTHON_INSTALL_MIRROR=f"file://{tmp_path}/no-mirror",
        UV_PYTHON_INSTALL_DIR=str(tmp_path / "uv-pythons"),
        UV_HTTP_RETRIES="0",
    )
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 125
    assert "uv downloads one ('uv python install 3.14')" in done.stderr  # the step, said first
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"pylockenv: error: {spec}: python_version: no Python matching")
    assert "uv could not download it ('uv python install' exited with" in last
    assert not cache.root.exists()


def test_a_printed_plan_downloads_nothing(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, extra_spec='python_version: "3.14"\n')
    for name in ("UV_OFFLINE", "UV_PYTHON_DOWNLOADS"):
        environ.pop(name)
    environ.update(UV_PYTHON_INSTALL_MIRROR=f"file://{tmp_path}/no-mirror")
    done = run_pylockenv(environ, "run", str(spec), "--print-plan")
    assert done.returncode == 125
    assert "uv downloads one" not in done.stderr
    assert "a printed plan downloads nothing" in done.stderr


# --- recorded, shown, kept fresh ------------------------------------------------------------


def test_list_and_show_say_the_requested_and_the_resolved_python(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    bin_dir = _need("3.12")
    spec = make_app(tmp_path, extra_spec='python_version: "3.12"\n')
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    listed = run_pylockenv(environ, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["envs"]
    full = _version_of(bin_dir / "python3.12")
    assert (entry["python_version"], entry["python_requested"]) == (full, "3.12")
    assert entry["interpreter"] == str(bin_dir / "python3.12")
    table = run_pylockenv(environ, "list").stdout
    assert f"{full} (3.12)" in table
    shown = run_pylockenv(environ, "show", str(spec)).stdout
    assert "  python requested: '3.12'" in shown or "  python requested: 3.12" in shown
    assert f"  interpreter: {bin_dir / 'python3.12'}" in shown


def test_a_changed_interpreter_makes_a_kept_plan_stale() -> None:
    recorded = {
        "interpreters": {
            "3.12": {
                "path": "/opt/py/bin/python3.12",
                "version": "3.12.1",
                "file": {"kind": "file", "mtime": 1.0, "size": 10},
            }
        }
    }
    now = json.loads(json.dumps(recorded))
    assert what_changed(recorded, now) == []
    now["interpreters"]["3.12"]["file"] = {"kind": "missing", "mtime": None, "size": None}
    [change] = what_changed(recorded, now)
    assert change.startswith("Python '3.12': '/opt/py/bin/python3.12' (file, size 10")
    assert change.endswith("-> '/opt/py/bin/python3.12' (missing)")


def test_a_run_after_the_interpreter_went_away_plans_again_instead_of_going_warm(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    # The spec names its interpreter by a link of its own to pyenv's 3.12; the kept plan
    # records the link's stat. Removed, the warm path must not start the kept plan (whose
    # env still works): the full path finds no such Python and says so.
    bin_dir = _need("3.12")
    link = tmp_path / "py" / "python3.12"
    link.parent.mkdir()
    link.symlink_to(bin_dir / "python3.12")
    spec = make_app(tmp_path / "app", extra_spec=f'python_version: "{link}"\n')
    first = run_pylockenv(environ, "run", str(spec))
    assert first.returncode == 0, first.stderr
    assert sorted((cache.root / "plans").iterdir()), "the first run keeps its plan"
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0  # warm, and fine
    link.unlink()
    gone = run_pylockenv(environ, "run", str(spec))
    assert gone.returncode == 125
    assert f"no Python matching '{link}'" in gone.stderr


@pytest.mark.usefixtures("in_process")
def test_a_process_planning_one_request_again_asks_uv_once_while_the_interpreter_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import uv_calls, write_uv_wrapper

    from pylockenv.shell import load, plan

    log = tmp_path / "uv.log"
    monkeypatch.setenv("PYLOCKENV_UV", str(write_uv_wrapper(tmp_path / "bin", log=log)))
    spec = make_app(tmp_path / "app", command="probe exit 0")
    first = plan(load(str(spec)))
    second = plan(load(str(spec)))
    assert (first.interpreter, first.requires_python_check) == (
        second.interpreter,
        second.requires_python_check,
    )
    assert len(uv_calls(log, "python find")) == 1
    # Another environment is another question (PATH decides what uv finds).
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    plan(load(str(spec)))
    assert len(uv_calls(log, "python find")) == 2
