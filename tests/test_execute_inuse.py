"""While a command runs, its env is marked in use, so gc cannot take it away."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from cachekit import lock_is_free
from envtools import env_dirs, ephemeral_dirs, make_app, run_env, start_cli, wait_for


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "ephemeral"])
def test_env_is_in_use_while_the_command_runs_and_free_after(
    tmp_path: Path, uv_cache: Path, refresh: bool
) -> None:
    record = tmp_path / "signal.txt"
    spec = make_app(tmp_path, command=f"probe wait-signal {record}", refresh=refresh)
    runner = start_cli(run_env(tmp_path, uv_cache), "run", str(spec))
    wait_for(lambda: Path(f"{record}.ready").exists(), what="the command to start")
    [env_dir] = ephemeral_dirs(tmp_path) if refresh else env_dirs(tmp_path)
    lock = env_dir if refresh else env_dir / ".in-use"
    assert not lock_is_free(lock)
    os.kill(runner.pid, signal.SIGTERM)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0, stderr
    if refresh:
        wait_for(lambda: not env_dir.exists(), what="the cleanup process to remove the env")
    else:
        assert lock_is_free(lock)
