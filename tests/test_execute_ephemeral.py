"""Ephemeral envs (refresh: true) are fresh, never touch the cache, and always go away.

A refresh run waits beside its command and removes the env (and the lock file beside it)
before it exits; the env's name is drawn when it is made. An env whose run was killed is
swept by the next cold run of this host, within a budget. That a signal to a run reaches
its command once is test_cache_protocol's; under real Slurm, test_slurm's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import make_app, probe_report
from harness import (
    PYLOCKENV_EPHEMERAL,
    REFERENCE_EPHEMERAL,
    CacheDir,
    MainRunner,
    ProvisionedEnv,
    kill_group,
    lock_is_free,
    run_pylockenv,
    start_pylockenv,
    wait_for,
    wait_until_started,
    write_uv_wrapper,
)

from pylockenv.shell import execute, load, plan
from pylockenv.shell.cache import SWEEP_REMOVALS
from pylockenv.shell.progress import Progress


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
    assert cache.ephemeral_dirs() == []  # removed by the run, before it exited


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
    assert cache.ephemeral_dirs() == []  # removed by the run, before it exited


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


# --- the lock file beside the env, and what list and gc make of it -------------------------


@contextlib.contextmanager
def holding(lock: Path, operation: int = fcntl.LOCK_SH) -> Iterator[None]:
    """Hold the lock file `lock` as an ephemeral env's run does (shared), creating it."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)


def orphan(provisioned: ProvisionedEnv, cache: CacheDir, name: str, host: str) -> Path:
    """An ephemeral env named `name` whose run is gone: its lock file names `host`."""
    env = provisioned.copy_to(cache, name, kind="ephemeral")
    (env / ".provisioned").unlink()  # an ephemeral env has no marker: its lock says its host
    env.with_name(f"{name}.lock").write_text(f"{host}\n")
    return env


def listed(run_main: MainRunner) -> dict[str, dict[str, Any]]:
    code, out, err = run_main("list", "--json")
    assert code == 0, err
    return {env["name"]: env for env in json.loads(out)["envs"]}


def gc_results(run_main: MainRunner, *args: str) -> tuple[int, dict[str, str]]:
    code, out, _ = run_main("gc", "--json", *args)
    return code, {env["name"]: env["result"] for env in json.loads(out)["envs"]}


def test_an_ephemeral_env_whose_lock_file_is_held_is_in_use_and_gc_leaves_it(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = orphan(provisioned, cache, PYLOCKENV_EPHEMERAL, socket.gethostname())
    with holding(env.with_name(f"{env.name}.lock")):
        assert listed(run_main)[env.name]["state"] == "ephemeral in use"
        assert gc_results(run_main) == (3, {env.name: "skipped"})
    assert env.is_dir()


def test_gc_removes_an_orphaned_ephemeral_env_and_its_lock_file(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = orphan(provisioned, cache, PYLOCKENV_EPHEMERAL, socket.gethostname())
    assert listed(run_main)[env.name]["state"] == "orphaned ephemeral"
    assert gc_results(run_main) == (0, {env.name: "removed"})
    assert cache.ephemeral_dirs() == []


def test_an_ephemeral_env_is_listed_with_the_host_its_lock_file_names_and_gc_keeps_it_there(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = orphan(provisioned, cache, PYLOCKENV_EPHEMERAL, "node8")
    assert listed(run_main)[env.name]["host"] == "node8"
    assert gc_results(run_main) == (0, {})  # another host's: judged there
    assert gc_results(run_main, "--host", "all") == (0, {env.name: "removed"})
    assert cache.ephemeral_dirs() == []


def test_gc_removes_a_stray_lock_file_nobody_holds_and_leaves_a_held_one(
    cache: CacheDir, run_main: MainRunner
) -> None:
    ephemeral = cache.root / "ephemeral"
    ephemeral.mkdir(parents=True)
    stray, held = ephemeral / "env_00000000000000aa.lock", ephemeral / "env_00000000000000bb.lock"
    stray.write_text(f"{socket.gethostname()}\n")
    with holding(held):
        assert gc_results(run_main)[0] == 0
    assert cache.ephemeral_dirs() == [held]


# --- the name, drawn when the env is made ---------------------------------------------------


@pytest.mark.usefixtures("in_process")
def test_a_name_taken_already_is_drawn_again_and_what_holds_it_is_left_alone(
    tmp_path: Path,
    cache: CacheDir,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    ephemeral = cache.root / "ephemeral"
    (ephemeral / "env_aaaaaaaaaaaaaaaa").mkdir(parents=True)  # a directory, no lock file
    (ephemeral / "env_bbbbbbbbbbbbbbbb.lock").write_text("someone\n")  # a lock file alone
    draws = iter([b"\xaa" * 8, b"\xbb" * 8, b"\xcc" * 8])
    monkeypatch.setattr(os, "urandom", lambda n: next(draws))
    spec = make_app(tmp_path, command="probe", refresh=True)
    code = execute(plan(load(str(spec))), progress=Progress(verbosity="quiet"))
    assert code == 0
    assert Path(probe_report(capfd.readouterr().out)["prefix"]).name == "env_cccccccccccccccc"
    assert cache.ephemeral_dirs() == [
        ephemeral / "env_aaaaaaaaaaaaaaaa",
        ephemeral / "env_bbbbbbbbbbbbbbbb.lock",
    ]


def test_two_runs_of_one_saved_plan_at_once_get_an_env_each(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path, command="probe count-signals", refresh=True)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(run_pylockenv(environ, "run", str(spec), "--print-plan", "--json").stdout)
    runs = []
    for i in range(2):
        runs.append(
            start_pylockenv(environ, "apply", str(plan_file), "--", f"{record}{i}", str(go))
        )
        wait_until_started(runs[-1], Path(f"{record}{i}"))
    try:
        assert len(cache.ephemeral_envs()) == 2
    finally:
        go.touch()
    for run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
    assert cache.ephemeral_dirs() == []


# --- the safety net: a cold run sweeps what killed runs left ---------------------------------


def test_the_env_of_a_killed_run_is_swept_by_the_next_cold_run(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path, command=f"probe count-signals {record} {go}", refresh=True)
    run = start_pylockenv(environ, "run", str(spec))
    wait_until_started(run, record)
    # The launcher and its command (in a process group of its own), as the OOM killer or
    # a node's end would.
    os.kill(int(Path(f"{record}.ready").read_text()), signal.SIGKILL)
    kill_group(run)
    [left] = cache.ephemeral_envs()
    wait_for(lambda: lock_is_free(left.with_name(f"{left.name}.lock")), what="the kill")
    cold = make_app(tmp_path / "other", command="probe exit 0")
    done = run_pylockenv(environ, "run", "-v", str(cold))
    assert done.returncode == 0, done.stderr
    assert f"removed orphaned ephemeral env {left} (its run is gone)" in done.stderr
    assert cache.ephemeral_dirs() == []


def test_the_sweep_leaves_held_envs_other_hosts_envs_and_the_references(
    provisioned: ProvisionedEnv, tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    here = socket.gethostname()
    held = orphan(provisioned, cache, "env_00000000000000aa", here)
    elsewhere = orphan(provisioned, cache, "env_00000000000000bb", "node8")
    reference = provisioned.copy_to(cache, REFERENCE_EPHEMERAL, kind="ephemeral")
    gone = orphan(provisioned, cache, "env_00000000000000cc", here)
    with holding(held.with_name(f"{held.name}.lock")):
        done = run_pylockenv(environ, "run", str(make_app(tmp_path, refresh=True)))
    assert done.returncode == 0, done.stderr
    assert not gone.exists()
    assert cache.ephemeral_envs() == sorted([held, elsewhere, reference])


def test_the_sweep_of_one_cold_run_is_bounded(
    provisioned: ProvisionedEnv, tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    here = socket.gethostname()
    for i in range(SWEEP_REMOVALS + 3):
        orphan(provisioned, cache, f"env_{i:016x}", here)
    done = run_pylockenv(environ, "run", str(make_app(tmp_path, refresh=True)))
    assert done.returncode == 0, done.stderr
    assert len(cache.ephemeral_envs()) == 3
