"""Ephemeral envs (refresh: true) are private, never touch the cache, and always go away."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from envtools import (
    cli,
    env_dirs,
    ephemeral_dirs,
    make_app,
    run_env,
    start_cli,
    wait_for,
    write_uv_wrapper,
)


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


def test_success_runs_in_a_private_env_and_removes_it(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, refresh=True)
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["prefix"]).parent.name == "ephemeral"
    assert report["prefix_mode"] == 0o700
    wait_until_removed(tmp_path)


def test_ephemeral_run_leaves_the_cached_env_alone(tmp_path: Path, uv_cache: Path) -> None:
    cached = make_app(tmp_path, command="probe exit 0")
    env = run_env(tmp_path, uv_cache)
    assert cli(env, "run", str(cached)).returncode == 0
    [env_dir] = env_dirs(tmp_path)
    marker = (env_dir / ".provisioned").read_text()
    fresh = tmp_path / "fresh.yml"
    fresh.write_text(cached.read_text() + "refresh: true\n")
    assert cli(env, "run", str(fresh)).returncode == 0
    assert env_dirs(tmp_path) == [env_dir]
    assert (env_dir / ".provisioned").read_text() == marker


def test_command_failure_still_removes_the_env(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 3", refresh=True)
    assert cli(run_env(tmp_path, uv_cache), "run", str(spec)).returncode == 3
    wait_until_removed(tmp_path)


def test_provisioning_failure_removes_the_env(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, refresh=True)
    failing = write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log", fail_on="pip install")
    result = cli(run_env(tmp_path, uv_cache, uv=str(failing)), "run", str(spec))
    assert result.returncode == 125
    assert "install-pylock" in result.stderr
    assert ephemeral_dirs(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_provisioning_stops_uv_and_removes_the_env(
    tmp_path: Path, uv_cache: Path, signum: signal.Signals
) -> None:
    spec = make_app(tmp_path, refresh=True)
    log = tmp_path / "uv.log"
    hanging = write_uv_wrapper(tmp_path / "bin", log=log, hang_on="pip install")
    runner = start_cli(run_env(tmp_path, uv_cache, uv=str(hanging)), "run", str(spec))
    wait_for(lambda: Path(f"{log}.hang").exists(), what="the wrapper to hang in pip install")
    os.kill(runner.pid, signum)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signum
    assert f"interrupted by signal {int(signum)}" in stderr
    assert "Traceback" not in stderr
    assert ephemeral_dirs(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_the_command_runs_is_forwarded_then_the_env_removed(
    tmp_path: Path, uv_cache: Path, signum: signal.Signals
) -> None:
    record = tmp_path / "signal.txt"
    spec = make_app(tmp_path, command=f"probe wait-signal {record}", refresh=True)
    runner = start_cli(run_env(tmp_path, uv_cache), "run", str(spec))
    wait_for(lambda: Path(f"{record}.ready").exists(), what="the command to start")
    os.kill(runner.pid, signum)
    _, stderr = runner.communicate(timeout=60)
    assert record.read_text() == str(int(signum))
    assert runner.returncode == 0, stderr
    wait_until_removed(tmp_path)


def wait_until_removed(tmp_path: Path) -> None:
    """The CLI execs the command; a detached cleanup process removes the env once it ends."""
    wait_for(lambda: ephemeral_dirs(tmp_path) == [], what="the cleanup process to remove the env")
