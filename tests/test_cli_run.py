"""The `run` and `provision` command lines: forms, flags, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from envtools import cache_root, cli, env_dirs, make_app, run_env, uv_calls, write_uv_wrapper

EXIT_USAGE = 2


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["run"], id="no-spec"),
        pytest.param(["run", "SPEC", "--pylock", "p/pylock.toml"], id="spec-and-flags"),
        pytest.param(["run", "SPEC", "--refresh"], id="spec-and-refresh"),
        pytest.param(["run", "SPEC", "--lock-timeout", "-1"], id="negative-timeout"),
        pytest.param(["run", "SPEC", "-q", "-v"], id="quiet-and-verbose"),
        pytest.param(["provision", "SPEC", "--", "x"], id="provision-with-args"),
        pytest.param(["run", "SPEC", "--json"], id="json-without-print-plan"),
    ],
)
def test_usage_errors_exit_2_and_create_nothing(
    tmp_path: Path, uv_cache: Path, args: list[str]
) -> None:
    spec = make_app(tmp_path)
    argv = [str(spec) if a == "SPEC" else a for a in args]
    result = cli(run_env(tmp_path, uv_cache), *argv)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "error:" in result.stderr
    assert not cache_root(tmp_path).exists()


def test_flag_form_runs_the_command(tmp_path: Path, uv_cache: Path) -> None:
    make_app(tmp_path)
    result = cli(
        run_env(tmp_path, uv_cache),
        "run",
        "--pylock",
        "pylock.toml",
        "--command",
        "probe exit 6",
        cwd=tmp_path,
    )
    assert result.returncode == 6, result.stderr


def test_flag_form_provision_prints_the_env_path(tmp_path: Path, uv_cache: Path) -> None:
    make_app(tmp_path)
    env = run_env(tmp_path, uv_cache)
    result = cli(env, "provision", "-q", "--pylock", "pylock.toml", "--command", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [env_dir] = env_dirs(tmp_path)
    assert result.stdout == f"{env_dir}\n"
    assert result.stderr == ""


def test_uv_flag_chooses_the_uv_executable(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    wrapper = write_uv_wrapper(tmp_path / "bin", log=log)
    env = run_env(tmp_path, uv_cache, uv=str(tmp_path / "not-this-uv"))
    result = cli(env, "run", "--uv", str(wrapper), str(spec))
    assert result.returncode == 0, result.stderr
    assert len(uv_calls(log, "venv")) == 1


def test_print_plan_needs_no_uv_and_creates_nothing(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path)
    env = run_env(tmp_path, uv_cache, uv=str(tmp_path / "no-uv"))
    result = cli(env, "run", "--print-plan", str(spec))
    assert result.returncode == 0, result.stderr
    assert "uv" in result.stdout
    assert not cache_root(tmp_path).exists()
