"""Ephemeral envs (refresh: true) are fresh, never touch the cache, and always go away.

That a signal to a run reaches its command once, and the ephemeral env goes after it,
is test_cache_protocol's.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from builders import make_app, probe_report
from harness import CacheDir, run_pylockenv, start_pylockenv, wait_for, write_uv_wrapper


def wait_until_removed(cache: CacheDir) -> None:
    """The CLI execs the command; a detached cleanup process removes the env once it ends."""
    wait_for(lambda: cache.ephemeral_dirs() == [], what="the cleanup process to remove the env")


@pytest.mark.parametrize("umask", [0o077, 0o002])
def test_success_runs_in_a_fresh_env_made_by_the_umask_and_removes_it(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, umask: int
) -> None:
    spec = make_app(tmp_path, refresh=True)
    old = os.umask(umask)  # inherited by the run: its env is as private as the user's umask
    try:
        result = run_pylockenv(environ, "run", str(spec))
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    report = probe_report(result.stdout)
    assert Path(report["prefix"]).parent.name == "ephemeral"
    assert report["prefix_mode"] == 0o777 & ~umask
    wait_until_removed(cache)


def test_ephemeral_run_leaves_the_cached_env_alone(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    cached = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "run", str(cached)).returncode == 0
    [env_dir] = cache.env_dirs()
    marker = (env_dir / ".provisioned").read_text()
    fresh = tmp_path / "fresh.yml"
    fresh.write_text(cached.read_text() + "refresh: true\n")
    assert run_pylockenv(environ, "run", str(fresh)).returncode == 0
    assert cache.env_dirs() == [env_dir]
    assert (env_dir / ".provisioned").read_text() == marker


def test_command_failure_still_removes_the_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 3", refresh=True)
    assert run_pylockenv(environ, "run", str(spec)).returncode == 3
    wait_until_removed(cache)


def test_provisioning_failure_removes_the_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, refresh=True)
    failing = write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log", fail_on="pip install")
    environ["PYLOCKENV_UV"] = str(failing)
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 125
    assert "install-pylock" in result.stderr
    assert cache.ephemeral_dirs() == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_provisioning_stops_uv_and_removes_the_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, signum: signal.Signals
) -> None:
    spec = make_app(tmp_path, refresh=True)
    log = tmp_path / "uv.log"
    hanging = write_uv_wrapper(tmp_path / "bin", log=log, hang_on="pip install")
    environ["PYLOCKENV_UV"] = str(hanging)
    runner = start_pylockenv(environ, "run", str(spec))
    wait_for(lambda: Path(f"{log}.hang").exists(), what="the wrapper to hang in pip install")
    os.kill(runner.pid, signum)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signum
    assert f"interrupted by signal {int(signum)}" in stderr
    assert "Traceback" not in stderr
    assert cache.ephemeral_dirs() == []
