"""`pylockenv gc`: what it removes and what it must never remove, on a really provisioned cache."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from builders import make_app
from filelock import FileLock
from harness import (
    PYLOCKENV_EPHEMERAL,
    REFERENCE_EPHEMERAL,
    CacheDir,
    MainRunner,
    ProvisionedEnv,
    holding_directory,
    set_last_use,
    start_pylockenv,
    wait_until_started,
)

DAY = 86400


def gc_json(run_main: MainRunner, *args: str, code: int = 0) -> dict[str, Any]:
    exit_code, out, err = run_main("gc", "--json", *args)
    assert exit_code == code, err
    result: dict[str, Any] = json.loads(out)
    return result


def actions(result: dict[str, Any]) -> dict[str, str]:
    return {env["name"]: env["result"] for env in result["envs"]}


def test_gc_removes_an_env_unused_for_longer_than_the_threshold(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    set_last_use(env, 31 * DAY)
    result = gc_json(run_main)
    assert actions(result) == {provisioned.env_hash: "removed"}
    assert not env.exists()
    assert result["freed_bytes"] > 0


def test_gc_keeps_an_env_used_within_the_threshold(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    set_last_use(env, 29 * DAY)
    result = gc_json(run_main)
    assert (actions(result), result["kept"]) == ({}, 1)
    assert (env / ".provisioned").exists()


def test_gc_older_than_0s_removes_every_ready_env(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    provisioned.copy_to(cache, "0123456789abcdef")
    result = gc_json(run_main, "--older-than", "0s")
    assert set(actions(result).values()) == {"removed"}
    assert [path for path in (cache.root / "envs").iterdir() if path.is_dir()] == []


def test_gc_keeps_the_lock_files_a_concurrent_run_may_be_waiting_on(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    # A run blocked on the old lock file would otherwise lock an unlinked file while a
    # newcomer locks a new one at the same path, and both would provision at once.
    env = provisioned.copy_to(cache)
    Path(f"{env}.lock").touch()
    gc_json(run_main, "--older-than", "0s")
    assert Path(f"{env}.lock").exists()


def test_gc_ages_a_reference_env_with_an_empty_marker_by_the_marker(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    marker = env / ".provisioned"
    marker.write_text("")
    old = time.time() - 40 * DAY
    os.utime(marker, (old, old))
    assert actions(gc_json(run_main)) == {provisioned.env_hash: "removed"}


def test_gc_removes_a_partial_env_nobody_is_provisioning(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / ".provisioned").unlink()
    assert actions(gc_json(run_main)) == {provisioned.env_hash: "removed"}
    assert not env.exists()


def test_gc_removes_a_broken_env(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").symlink_to("/nonexistent/python3")
    assert actions(gc_json(run_main)) == {provisioned.env_hash: "removed"}
    assert not env.exists()


def test_gc_skips_an_env_whose_provisioning_lock_is_held(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / ".provisioned").unlink()
    with FileLock(f"{env}.lock"):
        result = gc_json(run_main, "--older-than", "0s", code=3)
    assert actions(result) == {provisioned.env_hash: "skipped"}
    assert result["envs"][0]["reason"] == "in provisioning"
    assert env.exists()


def test_gc_removes_an_orphaned_ephemeral_env(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    assert actions(gc_json(run_main)) == {PYLOCKENV_EPHEMERAL: "removed"}
    assert not env.exists()


def test_gc_skips_an_ephemeral_env_whose_run_holds_its_directory(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    with holding_directory(env):
        assert actions(gc_json(run_main, code=3)) == {PYLOCKENV_EPHEMERAL: "skipped"}
    assert env.exists()


def test_gc_removes_a_fresh_ephemeral_env_of_ours_nobody_holds(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    os.utime(env / "pyvenv.cfg")
    assert actions(gc_json(run_main)) == {PYLOCKENV_EPHEMERAL: "removed"}
    assert not env.exists()


def test_gc_judges_a_reference_ephemeral_env_by_its_age(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    # The reference takes no lock on its ephemeral envs: unlocked is not orphaned.
    env = provisioned.copy_to(cache, REFERENCE_EPHEMERAL, kind="ephemeral")
    os.utime(env / "pyvenv.cfg")
    result = gc_json(run_main)
    assert (actions(result), result["kept"]) == ({}, 1)
    assert env.exists()
    old = time.time() - 31 * DAY
    os.utime(env / "pyvenv.cfg", (old, old))
    assert actions(gc_json(run_main)) == {REFERENCE_EPHEMERAL: "removed"}


def test_gc_dry_run_removes_nothing_but_says_what_it_would(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    code, out, _ = run_main("gc", "--dry-run", "--older-than", "0s")
    assert code == 0
    assert out.startswith(f"would remove {provisioned.env_hash} (")
    assert not Path(f"{env}.lock").exists()
    assert "would remove 1 environment," in out
    assert (env / ".provisioned").exists()


def test_gc_named_hash_removes_only_that_env_whatever_its_age(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    named = provisioned.copy_to(cache)
    other = provisioned.copy_to(cache, "0123456789abcdef")
    assert actions(gc_json(run_main, provisioned.env_hash)) == {provisioned.env_hash: "removed"}
    assert not named.exists()
    assert other.exists()


def test_gc_of_an_unknown_hash_fails_with_a_message(run_main: MainRunner) -> None:
    code, _, err = run_main("gc", "0123456789abcdef")
    assert code == 1
    assert "no environment 0123456789abcdef" in err
    code, _, err = run_main("gc", "not-an-env")
    assert code == 125
    assert "is not the name of an environment" in err


@pytest.mark.parametrize("bad", ["30", "3x", "-1d", "1.5h", "d"])
def test_a_bad_older_than_is_a_usage_error(bad: str, run_main: MainRunner) -> None:
    code, _, err = run_main("gc", f"--older-than={bad}")
    assert code == 2
    assert "is not a duration" in err


def test_gc_never_removes_an_env_while_a_command_runs_in_it(
    provisioned: ProvisionedEnv,
    tmp_path: Path,
    cache: CacheDir,
    environ: dict[str, str],
    run_main: MainRunner,
) -> None:
    env = provisioned.copy_to(cache)  # same pylock path and mtime: the run reuses this copy
    record, go = tmp_path / "signals", tmp_path / "go"
    command = ["count-signals", str(record), str(go)]
    run = start_pylockenv(environ, "run", str(provisioned.spec), "--", *command)
    try:
        wait_until_started(run, record)
        during = gc_json(run_main, "--older-than", "0s", code=3)
        assert actions(during) == {provisioned.env_hash: "skipped"}
        assert during["envs"][0]["reason"] == "in use"
        assert (env / ".provisioned").exists()
    finally:
        go.touch()
        _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert actions(gc_json(run_main, "--older-than", "0s")) == {provisioned.env_hash: "removed"}
    assert not env.exists()


def test_gc_never_removes_the_ephemeral_env_of_a_running_command(
    tmp_path: Path, cache: CacheDir, environ: dict[str, str], run_main: MainRunner
) -> None:
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path / "app", command=f"probe count-signals {record} {go}", refresh=True)
    run = start_pylockenv(environ, "run", str(spec))
    try:
        wait_until_started(run, record)
        (ephemeral,) = cache.ephemeral_envs()
        during = gc_json(run_main, "--older-than", "0s", code=3)
        assert actions(during) == {ephemeral.name: "skipped"}
        assert ephemeral.exists()
    finally:
        go.touch()
        _, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    # The run waited beside its command and removed the env after it.
    assert cache.ephemeral_dirs() == []
