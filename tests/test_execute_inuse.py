"""While a command runs, its env is marked in use, so gc cannot take it away."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from builders import make_app
from harness import CacheDir, lock_is_free, start_pylockenv, wait_until_started


@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "ephemeral"])
def test_env_is_in_use_while_the_command_runs_and_free_after(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, refresh: bool
) -> None:
    record = tmp_path / "signal.txt"
    spec = make_app(tmp_path, command=f"probe wait-signal {record}", refresh=refresh)
    runner = start_pylockenv(environ, "run", str(spec))
    wait_until_started(runner, record)
    [env_dir] = cache.ephemeral_envs() if refresh else cache.env_dirs()
    # An ephemeral env's lock is the file beside it (a directory cannot be locked on NFS).
    lock = env_dir.with_name(f"{env_dir.name}.lock") if refresh else env_dir / ".in-use"
    assert not lock_is_free(lock)
    os.kill(runner.pid, signal.SIGTERM)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0, stderr
    if refresh:  # the run waited for its command and removed the env and its lock
        assert cache.ephemeral_dirs() == []
    else:
        assert lock_is_free(lock)
