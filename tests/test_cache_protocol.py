"""The cache protocol as hostile operators and batch schedulers test it.

Locks live as long as the command (not as long as pylockenv), a signal reaches
the command exactly once however it is sent, read-only caches run, and gc
removes only envs it may: never a running command's, never another host's by
its interpreter, never a directory that is no env. Every case runs the real CLI
and real uv, offline.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import make_app
from harness import (
    CacheDir,
    execute_argv,
    pylockenv_argv,
    run_pylockenv,
    start_pylockenv,
    wait_for,
    wait_until_started,
)


def gc(environ: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = run_pylockenv(environ, "gc", "--json", *args)
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def results(report: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["result"] for entry in report["envs"]}


def counted(record: Path) -> list[str]:
    return record.read_text().split() if record.exists() else []


# --- the command is the process; signals arrive once ----------------------------------------


def test_a_cached_cli_run_is_the_command_itself(tmp_path: Path, environ: dict[str, str]) -> None:
    record = tmp_path / "signals"
    spec = make_app(tmp_path, command=f"probe count-signals {record} {tmp_path / 'go'}")
    runner = start_pylockenv(environ, "run", str(spec))
    wait_until_started(runner, record)
    assert Path(f"{record}.ready").read_text() == str(runner.pid)  # no launcher beside it
    (tmp_path / "go").touch()
    runner.communicate(timeout=60)
    assert runner.returncode == 0


SENDERS = ["pid", "group", "every process"]


def send(runner: subprocess.Popen[str], signum: int, how: str) -> None:
    """Send `signum` as a user, a shell's job control or a batch scheduler would."""
    if how == "pid":
        os.kill(runner.pid, signum)
    elif how == "group":
        os.killpg(runner.pid, signum)  # start_pylockenv made it a group leader
    else:  # every process of the job, as Slurm's scancel does: each pid in the session
        for pid in session_members(runner.pid):
            os.kill(pid, signum)


def sent_as(environ: dict[str, str], how: str) -> dict[str, str]:
    """The run's environment for a signal sent `how`: Slurm signals every process of a
    job, and a run tells it is in one by SLURM_JOB_ID (tests/test_slurm.py does it for real)."""
    return {**environ, "SLURM_JOB_ID": "4242"} if how == "every process" else environ


def session_members(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    members.append(int(entry))
            except ProcessLookupError:
                continue
    return members


@pytest.mark.parametrize("how", SENDERS)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "ephemeral"])
def test_a_signal_reaches_the_command_exactly_once(
    tmp_path: Path,
    environ: dict[str, str],
    cache: CacheDir,
    refresh: bool,
    signum: signal.Signals,
    how: str,
) -> None:
    record = tmp_path / "signals"
    spec = make_app(tmp_path, command=f"probe count-signals {record}", refresh=refresh)
    runner = start_pylockenv(sent_as(environ, how), "run", str(spec))
    wait_until_started(runner, record)
    send(runner, signum, how)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0, stderr
    assert counted(record) == [str(int(signum))]
    if refresh:  # removed by the run itself, before it exits
        assert cache.ephemeral_dirs() == []


@pytest.mark.parametrize("how", SENDERS)
@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "ephemeral"])
def test_a_signal_to_an_api_run_reaches_the_command_exactly_once(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, refresh: bool, how: str
) -> None:
    record = tmp_path / "signals"
    spec = make_app(tmp_path, command=f"probe count-signals {record}", refresh=refresh)
    runner = subprocess.Popen(
        execute_argv(spec),
        env=sent_as(environ, how),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_until_started(runner, record)
    send(runner, signal.SIGTERM, how)
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0, stderr
    assert counted(record) == [str(int(signal.SIGTERM))]
    assert cache.ephemeral_dirs() == []


@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "ephemeral"])
def test_the_env_outlives_a_killed_launcher_while_its_command_runs(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, refresh: bool
) -> None:
    # execute() waits beside the command; SIGKILL it and the command lives on, holding the lock.
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path, command=f"probe count-signals {record} {go}", refresh=refresh)
    launcher = subprocess.Popen(
        execute_argv(spec),
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(lambda: Path(f"{record}.ready").exists(), what="the command to start")
    command_pid = int(Path(f"{record}.ready").read_text())
    launcher.kill()
    launcher.wait(timeout=60)
    try:
        [env_dir] = cache.ephemeral_envs() if refresh else cache.env_dirs()
        code, report = gc(environ, "--older-than", "0s")
        assert (code, results(report)) == (3, {env_dir.name: "skipped"})
        assert env_dir.is_dir()
    finally:
        go.touch()
    wait_for(lambda: not Path(f"/proc/{command_pid}").exists(), what="the command to end")
    assert Path(f"{record}.end").read_text() == "interpreter ran"
    code, report = gc(environ, "--older-than", "0s")
    assert (code, results(report)) == (0, {env_dir.name: "removed"})


def test_a_command_run_by_the_printed_plan_holds_its_env_against_gc(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path, command=f"probe count-signals {record} {go}")
    script = run_pylockenv(environ, "run", str(spec), "--print-plan").stdout
    by_hand = subprocess.Popen(
        ["sh", "-c", script], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: Path(f"{record}.ready").exists(), what="the script's command")
        [env_dir] = cache.env_dirs()
        code, report = gc(environ, "--older-than", "0s")
        assert (code, results(report)) == (3, {env_dir.name: "skipped"})
    finally:
        go.touch()
        _, stderr = by_hand.communicate(timeout=60)
    assert by_hand.returncode == 0, stderr
    assert Path(f"{record}.end").read_text() == "interpreter ran"
    code, report = gc(environ, "--older-than", "0s")
    assert (code, results(report)) == (0, {env_dir.name: "removed"})


# --- caches that are shared, read-only, or hold what they should not ------------------------


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs that the test fills and then remounts read-only (needs root)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_ready_env_runs_from_a_read_only_cache(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, read_only_mount: Path
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    shutil.copytree(cache.xdg, read_only_mount / "xdg", symlinks=True)
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    read_only = {**environ, "XDG_CACHE_HOME": str(read_only_mount / "xdg")}
    quiet = run_pylockenv(read_only, "run", str(spec))
    assert (quiet.returncode, quiet.stderr.count("read-only")) == (0, 0), quiet.stderr
    loud = run_pylockenv(read_only, "run", "-v", str(spec))
    assert loud.returncode == 0, loud.stderr
    assert loud.stderr.count("read-only") == 1


def test_gc_leaves_alone_what_is_not_an_env_and_list_v_shows_it(
    environ: dict[str, str], cache: CacheDir
) -> None:
    root = cache.root
    notes = root / "envs" / "my-notes"
    notes.mkdir(parents=True)
    (notes / "todo.txt").write_text("keep me\n")
    (root / "ephemeral").mkdir()
    (root / "ephemeral" / "scratch").mkdir()
    code, report = gc(environ, "--older-than", "0s")
    assert (code, results(report)) == (0, {})
    assert (notes / "todo.txt").read_text() == "keep me\n"
    assert sorted(path.name for path in (root / "envs").iterdir()) == ["my-notes"]
    listing = run_pylockenv(environ, "list", "-v")
    assert f"{notes}\n" in listing.stdout
    assert f"{root / 'ephemeral' / 'scratch'}\n" in listing.stdout


def test_one_env_gc_cannot_remove_does_not_stop_the_others(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    [good] = cache.env_dirs()
    bad = good.with_name("0123456789abcdef")
    shutil.copytree(good, bad, symlinks=True)
    (bad / ".in-use").mkdir()  # gc cannot lock it: a failure for this env alone
    code, report = gc(environ, "--older-than", "0s")
    assert code == 1
    assert results(report) == {bad.name: "failed", good.name: "removed"}
    failed = next(entry for entry in report["envs"] if entry["name"] == bad.name)
    assert f"{bad}/.in-use is a directory" in failed["error"]
    assert bad.is_dir()
    assert not good.exists()


@pytest.mark.parametrize("blocker", ["file", "symlink"])
def test_something_else_at_an_envs_path_is_replaced_by_the_run_and_removed_by_gc(
    tmp_path: Path, environ: dict[str, str], blocker: str
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    the_plan = json.loads(run_pylockenv(environ, "run", str(spec), "--print-plan", "--json").stdout)
    env_path = Path(the_plan["env_path"])
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("mine\n")
    env_path.parent.mkdir(parents=True)
    if blocker == "file":
        env_path.write_text("not an env\n")
    else:
        env_path.symlink_to(outside)
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 0, done.stderr
    assert "it is not a directory" in done.stderr
    assert env_path.is_dir()
    assert not env_path.is_symlink()
    other = env_path.with_name("0123456789abcdef")
    other.symlink_to(outside)
    code, report = gc(environ)
    assert (code, results(report)) == (0, {other.name: "removed"})
    assert not os.path.lexists(other)
    assert (outside / "precious").read_text() == "mine\n"


def test_another_hosts_env_is_listed_with_its_host_and_never_judged_broken_from_here(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    [mine] = cache.env_dirs()
    theirs = mine.with_name("0123456789abcdef")
    shutil.copytree(mine, theirs, symlinks=True)
    marker = json.loads((theirs / ".provisioned").read_text())
    (theirs / ".provisioned").write_text(json.dumps({**marker, "host": "node-elsewhere"}))
    (theirs / "bin" / "python").unlink()
    (theirs / "bin" / "python").symlink_to("/only/on/node-elsewhere/python3")
    listed = {
        e["name"]: e for e in json.loads(run_pylockenv(environ, "list", "--json").stdout)["envs"]
    }
    assert (listed[theirs.name]["host"], listed[theirs.name]["state"]) == (
        "node-elsewhere",
        "ready",
    )
    assert "node-elsewhere" in run_pylockenv(environ, "list").stdout
    code, report = gc(environ)
    assert (code, results(report)) == (0, {})
    assert report["kept"] == 2
    mine_only = json.loads(
        run_pylockenv(environ, "list", "--json", "--host", "node-elsewhere").stdout
    )
    assert [e["name"] for e in mine_only["envs"]] == [theirs.name]
    code, report = gc(environ, "--host", "all", "--older-than", "0s")
    assert results(report) == {theirs.name: "removed", mine.name: "removed"}


@pytest.mark.usefixtures("uts_namespace")
def test_a_host_name_per_process_gives_each_host_its_own_env(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    inside = "hostname node-b && exec " + shlex.join(pylockenv_argv("provision", str(spec)))
    made = subprocess.run(
        ["unshare", "-u", "sh", "-c", inside],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    listed = json.loads(run_pylockenv(environ, "list", "--json").stdout)["envs"]
    hosts = sorted(entry["host"] for entry in listed)
    assert len(hosts) == 2
    assert "node-b" in hosts


# --- waits that respect the command and the timeout -----------------------------------------


def test_a_broken_env_is_not_replaced_while_a_command_still_runs_in_it(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path, command=f"probe count-signals {record} {go}")
    runner = start_pylockenv(environ, "run", str(spec))
    wait_until_started(runner, record)
    [env_dir] = cache.env_dirs()
    python = env_dir / "bin" / "python"
    target = os.readlink(python)
    python.unlink()
    python.symlink_to("/nonexistent/python3")
    try:
        waited = run_pylockenv(environ, "run", "--lock-timeout", "0.5", str(spec))
        assert waited.returncode == 125
        assert "a command still runs in it" in waited.stderr
        assert "gave up after 0.5s" in waited.stderr
        assert (env_dir / ".provisioned").exists()
    finally:
        python.unlink()
        python.symlink_to(target)
        go.touch()
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 0, stderr


def test_gc_of_a_named_env_in_use_exits_3(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    record, go = tmp_path / "signals", tmp_path / "go"
    spec = make_app(tmp_path, command=f"probe count-signals {record} {go}")
    runner = start_pylockenv(environ, "run", str(spec))
    try:
        wait_until_started(runner, record)
        [env_dir] = cache.env_dirs()
        code, report = gc(environ, env_dir.name)
        assert (code, results(report)) == (3, {env_dir.name: "skipped"})
        plain = run_pylockenv(environ, "gc", env_dir.name)
        assert plain.returncode == 3
        assert "in use by a running command" in plain.stdout
    finally:
        go.touch()
        runner.communicate(timeout=60)


def test_concurrent_gcs_count_each_removal_once(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    [first] = cache.env_dirs()
    names = [f"{i:016x}" for i in range(8)]
    for name in names:
        shutil.copytree(first, first.with_name(name), symlinks=True)
    gcs = [start_pylockenv(environ, "gc", "--json", "--older-than", "0s") for _ in range(3)]
    reports = [json.loads(process.communicate(timeout=120)[0]) for process in gcs]
    removed = [name for report in reports for name, r in results(report).items() if r == "removed"]
    assert sorted(removed) == sorted([first.name, *names])
    assert cache.env_dirs() == []


# --- special files and links where the cache expects its own files --------------------------


def test_a_fifo_marker_hangs_nothing(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    [env_dir] = cache.env_dirs()
    (env_dir / ".provisioned").unlink()
    os.mkfifo(env_dir / ".provisioned")
    for args in (["run", str(spec)], ["list"], ["gc", "--dry-run"], ["show", env_dir.name]):
        done = run_pylockenv(environ, *args, timeout=30)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    shown = run_pylockenv(environ, "show", env_dir.name).stdout
    assert ".provisioned is a FIFO" in shown


def test_links_and_fifos_in_the_cache_are_refused_never_followed(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "provision", str(spec)).returncode == 0
    [env_dir] = cache.env_dirs()
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    before = outside.stat().st_mtime_ns
    (env_dir / ".in-use").unlink(missing_ok=True)
    (env_dir / ".in-use").symlink_to(outside)
    linked = run_pylockenv(environ, "run", str(spec), timeout=30)
    assert linked.returncode == 125
    assert f"{env_dir}/.in-use is a symbolic link" in linked.stderr
    assert outside.stat().st_mtime_ns == before
    (env_dir / ".in-use").unlink()
    lock = Path(f"{env_dir}.lock")
    lock.unlink()
    os.mkfifo(lock)
    (env_dir / ".provisioned").unlink()
    blocked = run_pylockenv(environ, "run", str(spec), timeout=30)
    assert blocked.returncode == 125
    assert f"{lock} is a FIFO" in blocked.stderr
