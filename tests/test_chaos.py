"""A killed launcher takes its uv with it: the provisioning lock lasts as long as anything
that writes the env, and a run killed at any moment leaves nothing a later run trips on.

Real launchers (`pylockenv run`), real uv, real SIGKILLs (the OOM killer's, `kill -9
PID`: the launcher alone, not its process group), gc in a loop beside them. The chaos
test's size is PYLOCKENV_CHAOS_RUNS runs (default 100, about 25 s on a loaded two-core
machine; the issue's "a few hundred" is PYLOCKENV_CHAOS_RUNS=300).
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

from builders import EXTRA_VERSION, make_app, probe_report
from harness import CacheDir, pylockenv_argv, run_pylockenv, wait_for, write_uv_wrapper

from pylockenv.shell import load, plan

CHAOS_RUNS = int(os.environ.get("PYLOCKENV_CHAOS_RUNS", "100"))
AT_ONCE = 4


def _state(pid: int) -> str | None:
    """The state letter of process `pid` in /proc (Z: a zombie, dead); None: gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _live_processes_naming(text: str) -> list[str]:
    """The live processes (zombies count as dead) whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and _alive(int(entry.name)):
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_a_sigkilled_launcher_takes_its_uv_with_it_and_frees_the_lock(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app")
    log = tmp_path / "uv.log"
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "bin", log=log, hang_on="pip"))
    launcher = subprocess.Popen(
        pylockenv_argv("run", str(spec)),
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: Path(f"{log}.hang").exists(), what="uv hanging in pip install")
    [uv] = _children(launcher.pid)

    launcher.kill()  # the launcher alone, as the OOM killer would
    launcher.wait()

    wait_for(lambda: not _alive(uv), timeout=10, what="uv to die with its launcher")
    [lock] = (cache.root / "envs").glob("*.lock")
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nothing holds it any more
    finally:
        os.close(fd)
    environ.pop("PYLOCKENV_UV")
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "real", log=tmp_path / "r.log"))
    again = run_pylockenv(environ, "run", str(spec))
    assert again.returncode == 0, again.stderr
    assert "removing" in again.stderr  # the half-made env, under the lock, with no uv in it


def test_a_run_interrupted_while_only_waiting_says_it_was_waiting(
    tmp_path: Path, in_process: dict[str, str], cache: CacheDir
) -> None:
    environ = in_process
    spec = make_app(tmp_path / "app")
    lock_path = plan(load(str(spec))).lock_path
    assert lock_path is not None
    lock = Path(lock_path)
    lock.parent.mkdir(parents=True)
    holder = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another provisioning, as far as the run can tell
    try:
        stderr = tmp_path / "stderr"
        with stderr.open("w") as err:
            waiter = subprocess.Popen(
                pylockenv_argv("run", str(spec)), env=environ, stdout=subprocess.DEVNULL, stderr=err
            )
        wait_for(lambda: "waiting for another process" in stderr.read_text(), what="the wait")
        waiter.send_signal(signal.SIGTERM)
        assert waiter.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        os.close(holder)
    said = stderr.read_text()
    assert "interrupted by signal 15 while waiting for another process to finish provisioning" in (
        said
    )
    assert "while provisioning" not in said
    assert cache.env_dirs() == []


def _gc_loop(environ: dict[str, str], stop: threading.Event, codes: list[int]) -> None:
    while not stop.is_set():
        done = subprocess.run(
            pylockenv_argv("gc", "--older-than", "0s"),
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )
        codes.append(done.returncode)
        if "Traceback" in done.stderr:
            codes.append(-999)


def _env_is_whole(env: Path) -> str | None:
    """Why the ready env `env` is not what the probe app's spec asks for; None if whole."""
    if not (env / "bin" / "python").exists():
        return "bin/python does not resolve"
    sites = list(env.glob("lib/python*/site-packages"))
    if len(sites) != 1:
        return f"site-packages: {sites}"
    for module in ("probe_app.py", "extra_app.py"):
        if not (sites[0] / module).is_file():
            return f"{module} missing"
    installed = json.loads((env / ".provisioned").read_text()).get("installed", [])
    if {"name": "extra-app", "version": EXTRA_VERSION} not in installed:
        return f"marker's installed set lacks the extra: {installed}"
    return None


def test_random_sigkills_and_gc_in_a_loop_leave_no_failed_run_broken_env_or_process(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    cached = make_app(tmp_path / "cached", local_extra=True)
    refresh = make_app(tmp_path / "refresh", local_extra=True, refresh=True)
    rng = random.Random(int(os.environ.get("PYLOCKENV_CHAOS_SEED", "16")))
    stop = threading.Event()
    gc_codes: list[int] = []
    gc = threading.Thread(target=_gc_loop, args=(environ, stop, gc_codes))
    gc.start()
    failures: list[str] = []
    killed = finished = 0
    started = time.monotonic()
    try:
        running: list[tuple[subprocess.Popen[bytes], float | None, Path]] = []
        launched = 0
        while launched < CHAOS_RUNS or running:
            while launched < CHAOS_RUNS and len(running) < AT_ONCE:
                spec = refresh if rng.random() < 0.3 else cached
                out = tmp_path / "runs" / f"{launched}.out"
                out.parent.mkdir(exist_ok=True)
                with out.open("wb") as stream:
                    process = subprocess.Popen(
                        pylockenv_argv("run", str(spec)),
                        env=environ,
                        stdout=stream,
                        stderr=subprocess.STDOUT,
                    )
                kill_at = time.monotonic() + rng.uniform(0, 1.5) if rng.random() < 0.5 else None
                running.append((process, kill_at, out))
                launched += 1
            time.sleep(0.01)
            for entry in list(running):
                process, kill_at, out = entry
                if process.poll() is None and kill_at is not None and time.monotonic() > kill_at:
                    process.kill()
                    process.wait()
                if process.poll() is None:
                    continue
                running.remove(entry)
                if process.returncode == -signal.SIGKILL:
                    killed += 1
                    continue
                finished += 1
                text = out.read_text(errors="replace")
                if process.returncode != 0:
                    failures.append(f"{out.name}: exit {process.returncode}: {text[-600:]}")
                # stdout and stderr share the file: a refresh run says after its command
                # that it removed its env, so the probe's report is the last JSON line.
                elif probe_report(_without_pylockenv_lines(text))["extra"] != EXTRA_VERSION:
                    failures.append(f"{out.name}: the extra is missing: {text[-300:]}")
    finally:
        stop.set()
        gc.join()
    took = time.monotonic() - started
    print(f"chaos: {CHAOS_RUNS} runs ({killed} killed, {finished} finished) in {took:.1f}s")

    assert failures == []
    assert set(gc_codes) <= {0, 3}, gc_codes
    wait_for(
        lambda: not _live_processes_naming(str(tmp_path)),
        timeout=20,
        what=f"no process left: {_live_processes_naming(str(tmp_path))}",
    )
    final = run_pylockenv(environ, "gc")  # the partial ones killed runs left, nothing else
    assert final.returncode == 0, final.stderr
    for env in cache.env_dirs():
        assert (env / ".provisioned").exists(), f"{env} is partial after gc"
        assert _env_is_whole(env) is None, f"{env}: {_env_is_whole(env)}"
    assert cache.ephemeral_dirs() == []


def _without_pylockenv_lines(text: str) -> str:
    """`text` without pylockenv's own messages (lines starting "pylockenv: ")."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("pylockenv: "))
