"""pylockenv installs as a wheel and as an editable project, under the names `pylockenv.*` only.

Each install goes into a fresh venv made without pip. To stay fast, the project is
installed with `--no-deps`, and the venv finds the dependencies (attrs, cattrs, PyYAML, ...)
through a `.pth` file naming this test interpreter's site-packages: a `.pth` line that
is a directory only appends it to sys.path (its own .pth files are not run), so the
venv's own site-packages, holding the install under test, still comes first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from builders import copy_project, venv_borrowing_dependencies
from harness import REAL_UV, CacheDir, files_under, process_environ
from packaging.version import Version


def _can_build_without_isolation() -> bool:
    # setuptools >= 70.1 builds wheels on its own; an older one (or none) means the
    # build must fetch its own setuptools, from the package index or pip's find-links.
    try:
        return Version(version("setuptools")) >= Version("70.1")
    except Exception:
        return False


@pytest.fixture
def installed_environ(environ: dict[str, str]) -> dict[str, str]:
    """The harness's environment without PYTHONPATH: an install imports only what it holds."""
    return {key: value for key, value in environ.items() if key != "PYTHONPATH"}


def _run(argv: list[str], cwd: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=120)


def _where_things_import_from(
    python: Path, tmp_path: Path, environ: dict[str, str]
) -> dict[str, str | None]:
    probe = (
        "import importlib.util, json, pylockenv.core, pylockenv.shell\n"
        "print(json.dumps({'core': pylockenv.core.__file__,\n"
        "                  'shell': pylockenv.shell.__file__,\n"
        "                  'top_core': str(importlib.util.find_spec('core')),\n"
        "                  'top_shell': str(importlib.util.find_spec('shell'))}))\n"
    )
    # Run from an empty directory: `-c` puts the working directory on sys.path.
    result = _run([str(python), "-c", probe], tmp_path, environ)
    assert result.returncode == 0, result.stderr
    found: dict[str, str | None] = json.loads(result.stdout)
    return found


def _print_plan(venv: Path, tmp_path: Path, environ: dict[str, str]) -> dict[str, object]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "pylock.toml").write_text('lock-version = "1.0"\n')
    (tmp_path / "app" / "app.yml").write_text("pylock: pylock.toml\ncommand: -m demo\n")
    result = _run(
        [str(venv / "bin" / "pylockenv"), "run", "app.yml", "--print-plan", "--json"],
        tmp_path / "app",
        environ,
    )
    assert result.returncode == 0, result.stderr
    plan: dict[str, object] = json.loads(result.stdout)
    return plan


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the project."""
    work = tmp_path_factory.mktemp("wheel")
    source = copy_project(work / "src")
    command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist")]
    if _can_build_without_isolation():
        command.append("--no-isolation")
    result = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = (work / "dist").glob("pylockenv-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Path:
    """A fresh venv with the wheel installed (no deps; see the module docstring)."""
    root = tmp_path_factory.mktemp("wheel-venv")
    python = venv_borrowing_dependencies(root / "venv")
    subprocess.run(
        [REAL_UV, "pip", "install", "--python", str(python), "--no-deps", str(wheel)],
        env=process_environ(CacheDir(root / "xdg"), uv_cache),
        capture_output=True,
        check=True,
    )
    return root / "venv"


def test_the_wheel_holds_only_the_pylockenv_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = set(archive.namelist())
    assert tops == {"pylockenv", wheel.name.split("-py3")[0] + ".dist-info"}
    assert {"pylockenv/core/planning.py", "pylockenv/shell/cli.py"} <= names
    assert {"pylockenv/core/py.typed", "pylockenv/shell/py.typed"} <= names


def test_the_wheel_declares_the_pylockenv_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = (n for n in archive.namelist() if n.endswith("entry_points.txt"))
        text = archive.read(entry_points).decode()
    assert "pylockenv = pylockenv.shell.launcher:main" in text


def test_the_installed_wheel_answers_help(
    wheel_venv: Path, tmp_path: Path, installed_environ: dict[str, str]
) -> None:
    result = _run([str(wheel_venv / "bin" / "pylockenv"), "--help"], tmp_path, installed_environ)

    assert result.returncode == 0, result.stderr
    assert "usage: pylockenv" in result.stdout


def test_the_installed_wheel_prints_a_plan(
    wheel_venv: Path, tmp_path: Path, installed_environ: dict[str, str], cache: CacheDir
) -> None:
    plan = _print_plan(wheel_venv, tmp_path, installed_environ)

    assert plan["pylock"] == f"{tmp_path}/app/pylock.toml"
    assert files_under(cache.xdg) == []


def test_the_installed_wheel_imports_from_the_venv_and_has_no_top_level_core(
    wheel_venv: Path, tmp_path: Path, installed_environ: dict[str, str]
) -> None:
    found = _where_things_import_from(wheel_venv / "bin" / "python", tmp_path, installed_environ)

    site = f"{wheel_venv}/lib/python{sys.version_info.major}.{sys.version_info.minor}"
    assert found["core"] == f"{site}/site-packages/pylockenv/core/__init__.py"
    assert found["shell"] == f"{site}/site-packages/pylockenv/shell/__init__.py"
    assert found["top_core"] == "None"
    assert found["top_shell"] == "None"


def test_an_editable_install_imports_from_the_source_tree(
    tmp_path: Path, installed_environ: dict[str, str]
) -> None:
    source = copy_project(tmp_path / "src")
    venv = tmp_path / "venv"
    python = venv_borrowing_dependencies(venv)
    command = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    command += ["--no-deps", "--editable", str(source)]
    if _can_build_without_isolation():
        command.append("--no-build-isolation")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    found = _where_things_import_from(python, tmp_path, installed_environ)

    assert found["core"] == f"{source}/core/__init__.py"
    assert found["shell"] == f"{source}/shell/__init__.py"
    assert found["top_core"] == "None"
    assert found["top_shell"] == "None"
    assert _print_plan(venv, tmp_path, installed_environ)["pylock"] == f"{tmp_path}/app/pylock.toml"
