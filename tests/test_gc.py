"""`pylockenv gc`: what it removes and what it must never remove, on a really provisioned cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cachekit import (
    PYLOCKENV_EPHEMERAL,
    REFERENCE_EPHEMERAL,
    Template,
    cache_environ,
    cache_root,
    copy_env,
    holding_directory,
    make_project,
    provision_template,
    run_cli,
    set_last_use,
)
from filelock import FileLock

DAY = 86400


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return provision_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty cache for this test (the CLI runs in this process)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def gc_json(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    exit_code, out, err = run_cli(capsys, "gc", "--json", *args)
    assert exit_code == code, err
    result: dict[str, Any] = json.loads(out)
    return result


def actions(result: dict[str, Any]) -> dict[str, str]:
    return {env["name"]: env["result"] for env in result["envs"]}


def test_gc_removes_an_env_unused_for_longer_than_the_threshold(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    set_last_use(env, 31 * DAY)
    result = gc_json(capsys)
    assert actions(result) == {template.env_hash: "removed"}
    assert not env.exists()
    assert result["freed_bytes"] > 0


def test_gc_keeps_an_env_used_within_the_threshold(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    set_last_use(env, 29 * DAY)
    result = gc_json(capsys)
    assert (actions(result), result["kept"]) == ({}, 1)
    assert (env / ".provisioned").exists()


def test_gc_older_than_0s_removes_every_ready_env(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    copy_env(template, xdg, "0123456789abcdef")
    result = gc_json(capsys, "--older-than", "0s")
    assert set(actions(result).values()) == {"removed"}
    assert [path for path in (cache_root(xdg) / "envs").iterdir() if path.is_dir()] == []


def test_gc_keeps_the_lock_files_a_concurrent_run_may_be_waiting_on(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run blocked on the old lock file would otherwise lock an unlinked file while a
    # newcomer locks a new one at the same path, and both would provision at once.
    env = copy_env(template, xdg)
    Path(f"{env}.lock").touch()
    gc_json(capsys, "--older-than", "0s")
    assert Path(f"{env}.lock").exists()


def test_gc_ages_a_reference_env_with_an_empty_marker_by_the_marker(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    marker = env / ".provisioned"
    marker.write_text("")
    old = time.time() - 40 * DAY
    os.utime(marker, (old, old))
    assert actions(gc_json(capsys)) == {template.env_hash: "removed"}


def test_gc_removes_a_partial_env_nobody_is_provisioning(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    (env / ".provisioned").unlink()
    assert actions(gc_json(capsys)) == {template.env_hash: "removed"}
    assert not env.exists()


def test_gc_removes_a_broken_env(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").symlink_to("/nonexistent/python3")
    assert actions(gc_json(capsys)) == {template.env_hash: "removed"}
    assert not env.exists()


def test_gc_skips_an_env_whose_provisioning_lock_is_held(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    (env / ".provisioned").unlink()
    with FileLock(f"{env}.lock"):
        result = gc_json(capsys, "--older-than", "0s", code=3)
    assert actions(result) == {template.env_hash: "skipped"}
    assert result["envs"][0]["reason"] == "in provisioning"
    assert env.exists()


def test_gc_removes_an_orphaned_ephemeral_env(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    assert actions(gc_json(capsys)) == {PYLOCKENV_EPHEMERAL: "removed"}
    assert not env.exists()


def test_gc_skips_an_ephemeral_env_whose_run_holds_its_directory(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    with holding_directory(env):
        assert actions(gc_json(capsys, code=3)) == {PYLOCKENV_EPHEMERAL: "skipped"}
    assert env.exists()


def test_gc_removes_a_fresh_ephemeral_env_of_ours_nobody_holds(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    os.utime(env / "pyvenv.cfg")
    assert actions(gc_json(capsys)) == {PYLOCKENV_EPHEMERAL: "removed"}
    assert not env.exists()


def test_gc_judges_a_reference_ephemeral_env_by_its_age(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The reference takes no lock on its ephemeral envs: unlocked is not orphaned.
    env = copy_env(template, xdg, REFERENCE_EPHEMERAL, kind="ephemeral")
    os.utime(env / "pyvenv.cfg")
    result = gc_json(capsys)
    assert (actions(result), result["kept"]) == ({}, 1)
    assert env.exists()
    old = time.time() - 31 * DAY
    os.utime(env / "pyvenv.cfg", (old, old))
    assert actions(gc_json(capsys)) == {REFERENCE_EPHEMERAL: "removed"}


def test_gc_dry_run_removes_nothing_but_says_what_it_would(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    code, out, _ = run_cli(capsys, "gc", "--dry-run", "--older-than", "0s")
    assert code == 0
    assert out.startswith(f"would remove {template.env_hash} (")
    assert not Path(f"{env}.lock").exists()
    assert "would remove 1 environment," in out
    assert (env / ".provisioned").exists()


def test_gc_named_hash_removes_only_that_env_whatever_its_age(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = copy_env(template, xdg)
    other = copy_env(template, xdg, "0123456789abcdef")
    assert actions(gc_json(capsys, template.env_hash)) == {template.env_hash: "removed"}
    assert not named.exists()
    assert other.exists()


def test_gc_of_an_unknown_hash_fails_with_a_message(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "gc", "0123456789abcdef")
    assert code == 1
    assert "no environment 0123456789abcdef" in err
    code, _, err = run_cli(capsys, "gc", "not-an-env")
    assert code == 125
    assert "is not the name of an environment" in err


@pytest.mark.parametrize("bad", ["30", "3x", "-1d", "1.5h", "d"])
def test_a_bad_older_than_is_a_usage_error(
    bad: str, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "gc", f"--older-than={bad}")
    assert code == 2
    assert "is not a duration" in err


def test_gc_never_removes_an_env_while_a_command_runs_in_it(
    template: Template, tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)  # same pylock path and mtime: the run reuses this copy
    ready, go = tmp_path / "ready", tmp_path / "go"
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pylockenv.shell",
            "run",
            str(template.project.spec),
            "--",
            "wait",
            str(ready),
            str(go),
        ],
        env=cache_environ(xdg, template.uv_cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        during = gc_json(capsys, "--older-than", "0s", code=3)
        assert actions(during) == {template.env_hash: "skipped"}
        assert during["envs"][0]["reason"] == "in use"
        assert (env / ".provisioned").exists()
    finally:
        go.touch()
        out, err = run.communicate(timeout=60)
    assert (run.returncode, out) == (0, "app ran\n"), err
    assert actions(gc_json(capsys, "--older-than", "0s")) == {template.env_hash: "removed"}
    assert not env.exists()


def test_gc_never_removes_the_ephemeral_env_of_a_running_command(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    project.spec.write_text(project.spec.read_text() + "refresh: true\n")
    ready, go = tmp_path / "ready", tmp_path / "go"
    command = [sys.executable, "-m", "pylockenv.shell", "run", str(project.spec), "--"]
    run = subprocess.Popen(
        [*command, "wait", str(ready), str(go)],
        env=cache_environ(xdg, tmp_path / "uv-cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        (ephemeral,) = (cache_root(xdg) / "ephemeral").iterdir()
        during = gc_json(capsys, "--older-than", "0s", code=3)
        assert actions(during) == {ephemeral.name: "skipped"}
        assert ephemeral.exists()
    finally:
        go.touch()
        out, err = run.communicate(timeout=60)
    assert (run.returncode, out) == (0, "app ran\n"), err
    wait_until_gone(ephemeral)


def wait_until_gone(path: Path, timeout: float = 30.0) -> None:
    """The CLI execs the command; a detached cleanup process removes its ephemeral env after."""
    deadline = time.monotonic() + timeout
    while path.exists():
        assert time.monotonic() < deadline, f"{path} was not removed"
        time.sleep(0.02)
