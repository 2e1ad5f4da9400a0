"""Cached envs survive what happens on shared nodes: killed, failed or broken provisionings."""

from __future__ import annotations

import fcntl
import json
import os
import signal
from pathlib import Path

from builders import make_app
from filelock import FileLock
from harness import (
    CacheDir,
    kill_group,
    run_pylockenv,
    start_pylockenv,
    wait_for,
    write_uv_wrapper,
)


def planned_env(environ: dict[str, str], spec: Path) -> Path:
    """The cached env path the plan for `spec` names (a dry run creates nothing)."""
    result = run_pylockenv(environ, "run", "--print-plan", "--json", str(spec))
    assert result.returncode == 0, result.stderr
    return Path(json.loads(result.stdout)["env_path"])


def test_run_after_a_provisioning_killed_mid_install_succeeds(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    hanging = write_uv_wrapper(tmp_path / "bin", log=log, hang_on="pip install")
    killed = start_pylockenv({**environ, "PYLOCKENV_UV": str(hanging)}, "run", str(spec))
    wait_for(lambda: Path(f"{log}.hang").exists(), what="the wrapper to hang in pip install")
    kill_group(killed)
    [env_dir] = cache.env_dirs()
    assert (env_dir / "bin" / "python").exists()
    assert not (env_dir / ".provisioned").exists()

    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert "it has no marker" in result.stderr
    assert (env_dir / ".provisioned").is_file()


def test_leftover_directory_without_marker_is_replaced(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    env_dir = planned_env(environ, spec)
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "junk").write_text("left by someone\n")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert not (env_dir / "junk").exists()
    assert (env_dir / ".provisioned").is_file()


def test_env_whose_python_no_longer_resolves_is_provisioned_again_with_a_notice(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    [env_dir] = cache.env_dirs()
    python = env_dir / "bin" / "python"
    python.unlink()
    python.symlink_to(tmp_path / "removed-interpreter" / "python3")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "no longer resolves" in line]
    assert len(notices) == 1
    assert python.exists()


def test_failing_step_is_named_with_uv_error_and_leaves_no_directory(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    failing = write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log", fail_on="pip install")
    environ["PYLOCKENV_UV"] = str(failing)
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 125
    assert "failed at step 'install-pylock'" in result.stderr
    assert "error: wrapper refuses pip install" in result.stderr
    assert "Traceback" not in result.stderr
    assert cache.env_dirs() == []


def test_a_step_failing_in_the_real_uv_shows_its_error_without_uvs_warnings(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    lock = tmp_path / "pylock.toml"
    lock.write_text(lock.read_text().replace("-py3-none-any.whl", "-missing-py3-none-any.whl", 1))
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 125
    assert "failed at step 'install-pylock'" in result.stderr
    assert "error:" in result.stderr.split("failed at step", 1)[1]
    assert "experimental" not in result.stderr
    assert cache.env_dirs() == []


def test_lock_timeout_gives_up_with_a_message_after_saying_it_waits(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    env_dir = planned_env(environ, spec)
    env_dir.parent.mkdir(parents=True)
    with FileLock(f"{env_dir}.lock"):
        result = run_pylockenv(environ, "run", "--lock-timeout", "0.2", str(spec))
    assert result.returncode == 125
    assert result.stderr.count("waiting for another process to finish provisioning") == 1
    assert "gave up after 0.2s" in result.stderr
    assert not env_dir.exists()


def test_run_provisions_again_when_gc_removed_the_env_while_it_waited(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    [env_dir] = cache.env_dirs()
    stderr = tmp_path / "stderr.txt"
    in_use = os.open(env_dir / ".in-use", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(in_use, fcntl.LOCK_EX)  # what gc holds while it removes an env
        waiting = start_pylockenv(environ, "run", str(spec), stderr=stderr)
        wait_for(lambda: "reusing" in stderr.read_text(), what="the run to find the env ready")
        (env_dir / ".provisioned").unlink()
    finally:
        os.close(in_use)
    waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr.read_text()
    assert "provisioning" in stderr.read_text()
    assert (env_dir / ".provisioned").is_file()


def test_provision_refuses_an_ephemeral_spec(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0", refresh=True)
    result = run_pylockenv(environ, "provision", str(spec))
    assert result.returncode == 125
    assert "nothing to provision ahead" in result.stderr
    assert not cache.xdg.exists()


def test_sigterm_during_cached_provisioning_removes_the_partial_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    hanging = write_uv_wrapper(tmp_path / "bin", log=log, hang_on="pip install")
    environ["PYLOCKENV_UV"] = str(hanging)
    runner = start_pylockenv(environ, "run", str(spec))
    wait_for(lambda: Path(f"{log}.hang").exists(), what="the wrapper to hang in pip install")
    os.kill(runner.pid, signal.SIGTERM)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 128 + signal.SIGTERM
    assert "interrupted by signal 15 while provisioning" in stderr
    assert cache.env_dirs() == []
