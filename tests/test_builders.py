"""The builders bench/ shares with the tests do what their docstrings say.

A lock `uv pip compile --format pylock.toml` makes (bench's, as a user makes one) runs
under pylockenv as the tests' hand-written locks do; a venv's site-packages is where
its python looks; the project's copy is the working tree's or a revision's; builders
loads no pylockenv (bench imports pylockenv only from the wheel it installed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from builders import (
    PROJECT_FILES,
    ROOT,
    copy_project,
    make_locked_app,
    site_packages,
    venv_borrowing_dependencies,
)
from harness import REAL_UV, CacheDir, run_pylockenv

# Prints what the env holds: each locked module's VERSION and the local extra's.
REPORT = (
    "-c 'import json, locked_dep_0, locked_dep_1, local_extra_0; "
    "print(json.dumps([locked_dep_0.VERSION, locked_dep_1.VERSION, local_extra_0.VERSION]))'"
)


def test_a_lock_uv_compiles_from_local_wheels_runs_every_command_of_the_spec(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    app = make_locked_app(
        tmp_path / "app",
        {"report": REPORT, "fail": "-c 'raise SystemExit(3)'"},
        uv=REAL_UV,
        environ=environ,
        wheels=2,
    )

    lock = tomllib.loads(app.pylock.read_text())
    assert sorted(package["name"] for package in lock["packages"]) == [
        "locked-dep-0",
        "locked-dep-1",
    ]
    assert [wheel.name for wheel in app.extras] == ["local_extra_0-2.0-py3-none-any.whl"]
    report = run_pylockenv(environ, "run", str(app.spec), "report")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout.strip().splitlines()[-1]) == ["1.0", "1.0", "2.0"]
    assert run_pylockenv(environ, "run", str(app.spec), "fail").returncode == 3
    assert len(cache.env_dirs()) == 1  # both commands share one env


def test_a_locked_app_without_extras_names_none(tmp_path: Path, environ: dict[str, str]) -> None:
    app = make_locked_app(
        tmp_path / "app", {"a": "-c pass"}, uv=REAL_UV, environ=environ, wheels=1, extras=0
    )

    assert app.extras == ()
    assert "local_extra_deps" not in app.spec.read_text()
    assert run_pylockenv(environ, "run", str(app.spec), "a").returncode == 0


def _printed(python: Path, code: str) -> str:
    """What `python -c code` prints, stripped."""
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_site_packages_is_where_the_borrowing_venvs_python_looks(tmp_path: Path) -> None:
    python = venv_borrowing_dependencies(tmp_path / "venv")

    purelib = _printed(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    assert Path(purelib) == site_packages(tmp_path / "venv")
    # The borrowed dependencies import, from this interpreter's site-packages.
    assert not Path(_printed(python, "import attrs; print(attrs.__file__)")).is_relative_to(
        tmp_path
    )


def test_the_project_copy_holds_the_working_trees_files_without_bytecode(tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "src")

    assert sorted(path.name for path in copy.iterdir()) == sorted(PROJECT_FILES)
    assert (copy / "pyproject.toml").read_bytes() == (ROOT / "pyproject.toml").read_bytes()
    assert not list(copy.rglob("__pycache__"))
    assert {p.relative_to(copy) for p in (copy / "core").rglob("*.py")} == {
        p.relative_to(ROOT) for p in (ROOT / "core").rglob("*.py")
    }


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


def _older_revision() -> str:
    """A commit 20 before HEAD (its files differ from the working tree's), or '' if none."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return ""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-list", "--max-count=1", "--skip=20", "HEAD"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def test_the_project_copy_at_a_revision_is_that_revisions_files(tmp_path: Path) -> None:
    revision = _older_revision()
    if not revision:
        pytest.skip("copying a revision needs git and a checkout with 20 commits of history")

    copy = copy_project(tmp_path / "src", revision)

    files = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert files == sorted(_git("ls-tree", "-r", "--name-only", revision, *PROJECT_FILES).split())
    for name in ("pyproject.toml", "shell/cli.py"):
        assert (copy / name).read_text() == _git("show", f"{revision}:{name}")


def test_builders_loads_no_pylockenv() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import builders; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pylockenv', 'attrs', 'cattrs', 'yaml')))"
    )
    assert _printed(Path(sys.executable), code) == "[]"
