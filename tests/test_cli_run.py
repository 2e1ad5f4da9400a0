"""The `run` and `provision` command lines: forms, flags, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_app
from harness import CacheDir, run_pylockenv, uv_calls, write_uv_wrapper

EXIT_USAGE = 2


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
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, args: list[str]
) -> None:
    spec = make_app(tmp_path)
    argv = [str(spec) if a == "SPEC" else a for a in args]
    result = run_pylockenv(environ, *argv)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "error:" in result.stderr
    assert not cache.root.exists()


def test_flag_form_runs_the_command(tmp_path: Path, environ: dict[str, str]) -> None:
    make_app(tmp_path)
    result = run_pylockenv(
        environ, "run", "--pylock", "pylock.toml", "--command", "probe exit 6", cwd=tmp_path
    )
    assert result.returncode == 6, result.stderr


def test_flag_form_provision_prints_the_env_path(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    make_app(tmp_path)
    result = run_pylockenv(
        environ, "provision", "-q", "--pylock", "pylock.toml", "--command", "x", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    [env_dir] = cache.env_dirs()
    assert result.stdout == f"{env_dir}\n"
    assert result.stderr == ""


def test_uv_flag_chooses_the_uv_executable(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    wrapper = write_uv_wrapper(tmp_path / "bin", log=log)
    environ["PYLOCKENV_UV"] = str(tmp_path / "not-this-uv")
    result = run_pylockenv(environ, "run", "--uv", str(wrapper), str(spec))
    assert result.returncode == 0, result.stderr
    assert len(uv_calls(log, "venv")) == 1
