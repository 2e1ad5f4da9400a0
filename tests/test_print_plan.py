"""`pylockenv run ... --print-plan` prints the plan and creates nothing (uv only finds the
interpreter: it needs a uv that runs)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
from builders import build_wheel, write_pylock
from harness import CacheDir, run_pylockenv

SPEC = """\
commands:
  process:
    type: python_env
    pylock: pylock.toml
    command: -m demo.process --fast
    local_extra_deps:
      - dist/demo-1.0-py3-none-any.whl
    env:
      DATA_PATH: /data
    prepend_paths:
      - tools
  report:
    pylock: pylock.toml
    command: demo-report
    refresh: true
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An app directory with a spec, a pylock, a wheel and a tools directory."""
    app = tmp_path / "app"
    (app / "dist").mkdir(parents=True)
    (app / "tools").mkdir()
    (app / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "tests"\n')
    (app / "dist" / "demo-1.0-py3-none-any.whl").write_bytes(b"not really a zip")
    (app / "app.yml").write_text(SPEC)
    return app


@pytest.fixture
def private_home(tmp_path: Path, environ: dict[str, str]) -> dict[str, str]:
    """The harness's environment with a private home (the cache, tmp_path/xdg, and the
    home are made empty)."""
    for name in ("xdg", "home"):
        (tmp_path / name).mkdir()
    return {**environ, "HOME": str(tmp_path / "home")}


def _run(environ: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pylockenv(environ, "run", *args, cwd=cwd, timeout=60)


def _created(tmp_path: Path) -> list[str]:
    return [str(p) for name in ("xdg", "home") for p in (tmp_path / name).rglob("*")]


def _json_plan(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def test_print_plan_prints_a_shell_script_for_the_named_command(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    result = _run(private_home, app, "app.yml", "process", "--print-plan")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("#!/bin/sh\n")
    assert "-m demo.process --fast" in result.stdout
    assert f"{tmp_path}/xdg/bfabric_app_runner/envs/" in result.stdout
    assert result.stderr == ""


def test_print_plan_json_is_the_plan_of_the_named_command(
    app: Path, private_home: dict[str, str]
) -> None:
    plan = _json_plan(_run(private_home, app, "app.yml", "process", "--print-plan", "--json"))

    assert plan["mode"] == "cached"
    assert plan["pylock"] == f"{app}/pylock.toml"
    assert plan["python_version"] == "3.13"
    assert plan["python_version_source"] == "default"
    assert plan["steps"][0]["argv"][2:4] == ["-p", plan["interpreter"]]
    assert plan["requires_python_check"].startswith("3.13.")
    assert plan["prepend_paths"] == [f"{app}/tools"]
    assert [dep["path"] for dep in plan["local_extra_deps"]] == [
        f"{app}/dist/demo-1.0-py3-none-any.whl"
    ]
    assert plan["run"]["env"]["set_env"] == {"DATA_PATH": "/data"}


def test_print_plan_hashes_this_hosts_name_and_the_pylocks_real_mtime(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    plan = _json_plan(_run(private_home, app, "app.yml", "process", "--print-plan", "--json"))

    text = (
        f"{socket.gethostname()}:3.13:{app}/pylock.toml:"
        f"{os.stat(app / 'pylock.toml').st_mtime}:{app}/dist/demo-1.0-py3-none-any.whl"
    )
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    assert plan["env_hash"] == digest
    assert plan["env_path"] == f"{tmp_path}/xdg/bfabric_app_runner/envs/{digest}"


def test_print_plan_of_a_refresh_command_is_ephemeral(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    plan = _json_plan(_run(private_home, app, "app.yml", "report", "--print-plan", "--json"))

    assert plan["mode"] == "ephemeral"
    assert plan["env_path"].startswith(f"{tmp_path}/xdg/bfabric_app_runner/ephemeral/env_")
    assert plan["cleanup"] == "remove-after-run"


def test_print_plan_creates_nothing_on_disk(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    before = sorted(str(p) for p in app.rglob("*"))
    for args in (("process", "--print-plan"), ("report", "--print-plan", "--json")):
        assert _run(private_home, app, "app.yml", *args).returncode == 0

    assert _created(tmp_path) == []
    assert sorted(str(p) for p in app.rglob("*")) == before


def test_print_plan_without_a_working_uv_says_so(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    # uv finds the interpreter the plan names, so a plan needs a uv that runs.
    done = _run(
        {**private_home, "PYLOCKENV_UV": "/nonexistent/uv"},
        app,
        "app.yml",
        "process",
        "--print-plan",
    )

    assert done.returncode == 125
    assert "cannot run uv at '/nonexistent/uv'" in done.stderr
    assert "Traceback" not in done.stderr
    assert _created(tmp_path) == []


def test_print_plan_of_a_single_command_file_needs_no_name(
    app: Path, private_home: dict[str, str]
) -> None:
    (app / "one.yml").write_text("pylock: pylock.toml\ncommand: -m demo\n")

    plan = _json_plan(_run(private_home, app, "one.yml", "--print-plan", "--json"))

    assert plan["run"]["words"] == ["-m", "demo"]


def test_print_plan_reads_relative_spec_paths_from_the_spec_files_directory(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    plan = _json_plan(
        _run(private_home, tmp_path, "app/app.yml", "process", "--print-plan", "--json")
    )

    assert plan["pylock"] == f"{app}/pylock.toml"


def test_flag_form_print_plan_resolves_paths_against_the_working_directory(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    result = _run(
        private_home,
        app,
        "--pylock",
        "pylock.toml",
        "--command",
        "demo-report --all",
        "--python-version",
        "3.12",
        "--local-extra-dep",
        "dist/demo-1.0-py3-none-any.whl",
        "--env",
        "A=1",
        "--env",
        "B=x=y",
        "--prepend-path",
        "tools",
        "--refresh",
        "--print-plan",
        "--json",
    )
    plan = _json_plan(result)

    assert plan["source"] == "command line"
    assert plan["mode"] == "ephemeral"
    assert plan["pylock"] == f"{app}/pylock.toml"
    assert plan["python_version"] == "3.12"
    assert plan["prepend_paths"] == [f"{app}/tools"]
    assert plan["run"]["env"]["set_env"] == {"A": "1", "B": "x=y"}
    assert plan["steps"][1]["argv"][-1] == "--reinstall"
    assert _created(tmp_path) == []


def test_flag_form_print_plan_prints_a_shell_script(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    result = _run(
        private_home, app, "--pylock", "pylock.toml", "--command", "-m demo", "--print-plan"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("#!/bin/sh\n")
    assert _created(tmp_path) == []


def test_print_plan_of_a_missing_pylock_fails_with_a_message(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    (app / "pylock.toml").unlink()

    result = _run(private_home, app, "app.yml", "process", "--print-plan")

    assert result.returncode == 125
    assert "pylock.toml does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert _created(tmp_path) == []


def test_print_plan_of_a_wrongly_named_lock_file_fails_before_anything_is_made(
    tmp_path: Path, app: Path, private_home: dict[str, str]
) -> None:
    (app / "lock.toml").write_text('lock-version = "1.0"\n')

    result = _run(
        private_home, app, "--pylock", "lock.toml", "--command", "-m demo", "--print-plan"
    )

    assert result.returncode == 125
    assert "named 'pylock.toml' or 'pylock.<name>.toml'" in result.stderr
    assert _created(tmp_path) == []


# The printed shell script is complete enough to carry the plan out by hand: run it with
# sh, the real uv and real files (UV_OFFLINE, a private uv cache).

needs_flock = pytest.mark.skipif(shutil.which("flock") is None, reason="flock(1) not installed")


def _hand_run(tmp_path: Path, environ: dict[str, str], spec_text: str, *args: str) -> list[str]:
    """Print the plan of `spec_text` as a script and run it twice with sh; its two outputs."""
    app = tmp_path / "hand"
    app.mkdir()
    wheel = build_wheel(
        app,
        "hello",
        modules={
            "hello/__init__.py": "",
            "hello/__main__.py": (
                "import os, sys\nprint(sys.argv[1:], os.environ.get('GREETING'))\n"
            ),
        },
    )
    write_pylock(app / "pylock.toml", [wheel])
    (app / "app.yml").write_text(spec_text)
    printed = run_pylockenv(environ, "run", "app.yml", "--print-plan", cwd=app)
    assert printed.returncode == 0, printed.stderr
    (app / "plan.sh").write_text(printed.stdout)
    return [
        subprocess.run(
            ["sh", "plan.sh", *args],
            cwd=app,
            env=environ,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    ]


@needs_flock
def test_the_printed_cached_plan_run_by_hand_provisions_once_and_runs(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = "pylock: pylock.toml\ncommand: -m hello\nenv: {GREETING: two words}\n"

    outputs = _hand_run(tmp_path, environ, spec, "a", "b c")

    assert outputs == ["['a', 'b c'] two words\n"] * 2
    (marker,) = (cache.root / "envs").glob("*/.provisioned")
    assert marker.is_file()


@needs_flock
def test_the_printed_refresh_plan_run_by_hand_leaves_no_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = "pylock: pylock.toml\ncommand: -m hello\nrefresh: true\n"

    outputs = _hand_run(tmp_path, environ, spec, "x")

    assert outputs == ["['x'] None\n"] * 2
    assert list((cache.root / "ephemeral").iterdir()) == []
    assert not (cache.root / "envs").exists()
