"""pylockenv under real Slurm: exit codes, signals on scancel, shared provisioning, refresh envs.

Every test here runs real jobs (sbatch, srun, scancel) on the single-node cluster that
`.ci/slurm-up` brings up, and skips, saying why, where there is none. A job runs as the
test's user with the test's environment, so its pylockenv is this interpreter's, its cache
is the test's own and its uv is offline on the session's uv cache.

A refresh run waits beside its command and removes its env after it, so the env is gone
when the job ends, under either tracking (`.ci/slurm-up --proctrack cgroup|linuxproc`);
inside a job nothing is relayed (Slurm signals every process of the step itself), so the
command gets one SIGTERM per scancel, from the CLI and from execute() alike.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import PY_VERSION, make_app
from harness import (
    CacheDir,
    ProvisionedEnv,
    execute_argv,
    pylockenv_argv,
    run_pylockenv,
    uv_calls,
    wait_for,
    write_uv_wrapper,
)
from slurm_jobs import (
    SlurmCluster,
    cancel,
    ephemeral_envs,
    job_ended,
    job_named,
    job_of_process,
    pylockenv_line,
    run_srun,
    signals_in,
    start_srun,
    submit,
    wait_for_end,
    write_signal_counter,
)

from pylockenv.core.layout import LOCK_SUFFIX
from pylockenv.shell.envlocks import is_locked

pytestmark = pytest.mark.slurm


def command_pid(record: Path, ended: Callable[[], str | None], *, timeout: float = 60) -> int:
    """Wait until the signal counter runs; return its pid. Fail at once when `ended()` says
    the job (or srun) ended first, giving what it said."""
    ready = Path(f"{record}.ready")
    deadline = time.monotonic() + timeout
    while not ready.exists():
        said = ended()
        if said is not None and not ready.exists():
            raise AssertionError(f"the job ended before its command started; it said:\n{said}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the command did not write {ready} within {timeout} s")
        time.sleep(0.05)
    return int(ready.read_text())


def batch_ended(job: str, output: Path) -> Callable[[], str | None]:
    """For `command_pid`: the batch job's output once it has ended."""
    return lambda: (output.read_text() if output.exists() else "") if job_ended(job) else None


def srun_ended(srun: subprocess.Popen[str]) -> Callable[[], str | None]:
    """For `command_pid`: what srun wrote on stderr once it has exited."""
    return lambda: None if srun.poll() is None else srun.communicate()[1]


@pytest.fixture
def warm_spec(slurm: SlurmCluster, provisioned: ProvisionedEnv, cache: CacheDir) -> Path:
    """The provisioned probe app's spec (command `probe`), its env ready in this test's cache."""
    provisioned.copy_to(cache)
    return provisioned.spec


@pytest.fixture
def counter_spec(slurm: SlurmCluster, provisioned: ProvisionedEnv, tmp_path: Path) -> Path:
    """A spec whose command is the signal counter (its argument: the record file), for the
    provisioned env (the same pylock, extra and Python, so the same env hash)."""
    counter = write_signal_counter(tmp_path / "count_signals.py")
    spec = tmp_path / "counter.yml"
    spec.write_text(
        f"command: {counter}\npylock: {provisioned.pylock}\n"
        f"local_extra_deps:\n  - {provisioned.extra_wheel}\npython_version: '{PY_VERSION}'\n"
    )
    return spec


@pytest.fixture
def warm_counter_spec(
    counter_spec: Path, provisioned: ProvisionedEnv, cache: CacheDir, environ: dict[str, str]
) -> Path:
    """`counter_spec`, its env ready in this test's cache."""
    planned = run_pylockenv(environ, "run", "--print-plan", "--json", str(counter_spec))
    assert json.loads(planned.stdout)["env_hash"] == provisioned.env_hash, planned.stderr
    provisioned.copy_to(cache)
    return counter_spec


@pytest.fixture
def refresh_spec(slurm: SlurmCluster, tmp_path: Path) -> Path:
    """The probe app (command `probe`) with refresh: true."""
    return make_app(tmp_path / "app", command="probe", refresh=True)


@pytest.fixture
def refresh_counter_spec(slurm: SlurmCluster, tmp_path: Path) -> Path:
    """The probe app with refresh: true, its command the signal counter."""
    counter = write_signal_counter(tmp_path / "count_signals.py")
    return make_app(tmp_path / "app", command=str(counter), refresh=True)


# --- cached runs -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [0, 3])
def test_srun_pylockenv_run_passes_the_command_exit_status(
    warm_spec: Path, environ: dict[str, str], tmp_path: Path, status: int
) -> None:
    done = run_srun(
        pylockenv_argv("run", "-q", str(warm_spec), "--", "exit", str(status)), environ, tmp_path
    )
    assert done.returncode == status, done.stderr


def test_a_batch_job_that_execs_pylockenv_ends_with_the_command_exit_status(
    warm_spec: Path, environ: dict[str, str], tmp_path: Path
) -> None:
    job, output = submit(
        tmp_path / "job.sh",
        "exec " + pylockenv_line("run", "-q", warm_spec, "--", "exit", "5"),
        environ,
    )
    end = wait_for_end(job)
    assert (end.state, end.exit_code) == ("FAILED", 5), output.read_text()


@pytest.mark.parametrize("trial", range(3))
def test_scancel_of_a_batch_job_that_execs_pylockenv_signals_the_command_once(
    warm_counter_spec: Path, environ: dict[str, str], tmp_path: Path, trial: int
) -> None:
    record = tmp_path / "signals"
    said = _cancel_a_batch_job_that_execs(warm_counter_spec, record, environ, tmp_path)
    assert signals_in(record) == [signal.SIGTERM], said


def _cancel_a_batch_job_that_execs(
    spec: Path, record: Path, environ: dict[str, str], tmp_path: Path
) -> str:
    """Submit a batch job whose last line execs `pylockenv run SPEC -- RECORD` (a signal
    counter), scancel it once its command runs, and check it ended cancelled; its output."""
    job, output = submit(
        tmp_path / "job.sh",
        "exec " + pylockenv_line("run", "-q", spec, "--", record),
        environ,
    )
    command_pid(record, batch_ended(job, output))
    cancel(job)
    assert wait_for_end(job).state == "CANCELLED"
    return output.read_text()


@pytest.mark.parametrize("trial", range(3))
def test_scancel_of_srun_pylockenv_run_signals_the_command_once(
    warm_counter_spec: Path, environ: dict[str, str], tmp_path: Path, trial: int
) -> None:
    _assert_scancel_of_srun_signals_once(warm_counter_spec, environ, tmp_path)


def _assert_scancel_of_srun_signals_once(
    spec: Path, environ: dict[str, str], tmp_path: Path
) -> None:
    """`srun pylockenv run SPEC`, scancelled once its command runs: the job ends
    cancelled and the command got exactly one SIGTERM."""
    record = tmp_path / "signals"
    srun = start_srun(pylockenv_argv("run", "-q", str(spec), "--", str(record)), environ, tmp_path)
    job = job_of_process(command_pid(record, srun_ended(srun)))
    cancel(job)
    _, stderr = srun.communicate(timeout=60)
    assert wait_for_end(job).state == "CANCELLED"
    assert signals_in(record) == [signal.SIGTERM], stderr


def test_four_tasks_on_a_cold_cache_provision_the_env_once(
    slurm: SlurmCluster, environ: dict[str, str], tmp_path: Path, cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app", command="probe exit 0")
    log = tmp_path / "uv.log"
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "bin", log=log))
    done = run_srun(pylockenv_argv("run", "-q", str(spec)), environ, tmp_path, "-O", "-n", "4")
    assert done.returncode == 0, done.stderr
    assert len(uv_calls(log, "venv")) == 1
    assert len(cache.env_dirs()) == 1


def test_a_cache_prewarmed_with_srun_provision_is_reused_by_a_job(
    slurm: SlurmCluster, environ: dict[str, str], tmp_path: Path, cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app", command="probe exit 0")
    log = tmp_path / "uv.log"
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "bin", log=log))
    warmed = run_srun(
        pylockenv_argv("provision", "-q", str(spec)), environ, tmp_path, "--ntasks-per-node=1"
    )
    assert warmed.returncode == 0, warmed.stderr
    calls = uv_calls(log)
    assert len(uv_calls(log, "venv")) == 1
    job, output = submit(tmp_path / "job.sh", "exec " + pylockenv_line("run", "-q", spec), environ)
    end = wait_for_end(job)
    assert (end.state, end.exit_code) == ("COMPLETED", 0), output.read_text()
    # The job provisioned nothing: the only uv it may start is the interpreter look-up
    # of its (cold) planning, `uv python find`.
    assert [call for call in uv_calls(log) if not call.startswith("python find")] == [
        call for call in calls if not call.startswith("python find")
    ]
    assert [env.name for env in cache.env_dirs()] == [Path(warmed.stdout.split()[-1]).name]


# --- refresh runs ------------------------------------------------------------------------


def _batch_body(shape: str, line: str) -> str:
    if shape == "exec":
        return "exec " + line
    # a plain line: pylockenv is a child of the batch shell, which goes on after it
    return f'{line}\nstatus=$?\necho "the command said $status"\nexit $status'


@pytest.mark.parametrize("status", [0, 3], ids=["success", "failure"])
@pytest.mark.parametrize("shape", ["exec", "line"])
def test_a_refresh_env_is_gone_when_its_batch_job_ends(
    refresh_spec: Path,
    environ: dict[str, str],
    tmp_path: Path,
    cache: CacheDir,
    shape: str,
    status: int,
) -> None:
    line = pylockenv_line("run", "-q", refresh_spec, "--", "exit", str(status))
    job, output = submit(tmp_path / "job.sh", _batch_body(shape, line), environ)
    end = wait_for_end(job)
    assert end.exit_code == status, output.read_text()
    assert ephemeral_envs(cache) == []


@pytest.mark.parametrize("status", [0, 3], ids=["success", "failure"])
def test_a_refresh_env_is_gone_when_its_srun_job_ends(
    refresh_spec: Path, environ: dict[str, str], tmp_path: Path, cache: CacheDir, status: int
) -> None:
    name = f"pylockenv-{uuid.uuid4().hex}"  # unique among the jobs Slurm remembers
    done = run_srun(
        pylockenv_argv("run", "-q", str(refresh_spec), "--", "exit", str(status)),
        environ,
        tmp_path,
        f"--job-name={name}",
    )
    assert done.returncode == status, done.stderr
    wait_for_end(job_named(name))
    assert ephemeral_envs(cache) == []


@pytest.mark.parametrize("trial", range(2))
def test_scancel_of_a_batch_job_that_execs_a_refresh_run_signals_the_command_once(
    refresh_counter_spec: Path, environ: dict[str, str], tmp_path: Path, trial: int
) -> None:
    record = tmp_path / "signals"
    said = _cancel_a_batch_job_that_execs(refresh_counter_spec, record, environ, tmp_path)
    assert signals_in(record) == [signal.SIGTERM], said


def test_a_refresh_env_is_gone_when_a_batch_job_that_execs_it_is_cancelled(
    refresh_counter_spec: Path, environ: dict[str, str], tmp_path: Path, cache: CacheDir
) -> None:
    record = tmp_path / "signals"
    said = _cancel_a_batch_job_that_execs(refresh_counter_spec, record, environ, tmp_path)
    assert ephemeral_envs(cache) == [], said


def test_a_refresh_env_is_gone_when_its_srun_job_is_cancelled(
    refresh_counter_spec: Path, environ: dict[str, str], tmp_path: Path, cache: CacheDir
) -> None:
    record = tmp_path / "signals"
    srun = start_srun(
        pylockenv_argv("run", "-q", str(refresh_counter_spec), "--", str(record)),
        environ,
        tmp_path,
    )
    job = job_of_process(command_pid(record, srun_ended(srun)))
    cancel(job)
    _, stderr = srun.communicate(timeout=60)
    assert wait_for_end(job).state == "CANCELLED", stderr
    assert ephemeral_envs(cache) == []


def test_what_a_cancelled_batch_job_without_exec_leaves_the_next_cold_run_sweeps(
    slurm: SlurmCluster,
    refresh_counter_spec: Path,
    environ: dict[str, str],
    tmp_path: Path,
    cache: CacheDir,
) -> None:
    """Without `exec`, the batch shell is the step's main process: under cgroup tracking it
    alone gets scancel's SIGTERM, dies, and the step's processes are killed with it, so the
    env stays (README: exec). The next cold run of this host removes what stays."""
    record = tmp_path / "signals"
    line = pylockenv_line("run", "-q", refresh_counter_spec, "--", record)
    job, output = submit(tmp_path / "job.sh", _batch_body("line", line), environ)
    command_pid(record, batch_ended(job, output))
    cancel(job)
    assert wait_for_end(job).state == "CANCELLED"
    # Under linuxproc pylockenv gets the SIGTERM too and removes the env, unless the step's
    # end (the shell is gone) kills it first: either may happen there.
    if slurm.proctrack == "cgroup":
        assert len(ephemeral_envs(cache)) == 1
    else:  # pylockenv may still be removing it, holding its lock: the sweep leaves such one
        wait_for(
            lambda: not any(is_locked(f"{env}{LOCK_SUFFIX}") for env in ephemeral_envs(cache)),
            timeout=15,
            what="the cancelled run to let go of its env",
        )
    cold = make_app(tmp_path / "cold", command="probe exit 0")
    done = run_pylockenv(environ, "run", "-q", str(cold))
    assert done.returncode == 0, done.stderr
    assert ephemeral_envs(cache) == []
    assert cache.ephemeral_dirs() == []  # the lock file too


@pytest.mark.parametrize("trial", range(2))
def test_scancel_of_srun_pylockenv_refresh_run_signals_the_command_once(
    refresh_counter_spec: Path, environ: dict[str, str], tmp_path: Path, trial: int
) -> None:
    _assert_scancel_of_srun_signals_once(refresh_counter_spec, environ, tmp_path)


# --- the API -----------------------------------------------------------------------------

API_TRIALS = int(os.environ.get("PYLOCKENV_SLURM_API_TRIALS", "8"))


def test_scancel_of_srun_execute_signals_the_command_once(
    warm_counter_spec: Path, environ: dict[str, str], tmp_path: Path
) -> None:
    """execute() waits beside the command, and Slurm signals both: a relayed copy would be a
    second SIGTERM. The double delivery is intermittent: the trials repeat it."""
    received = []
    for trial in range(API_TRIALS):
        record = tmp_path / f"signals-{trial}"
        srun = start_srun(execute_argv(warm_counter_spec, str(record)), environ, tmp_path)
        job = job_of_process(command_pid(record, srun_ended(srun)))
        cancel(job)
        srun.communicate(timeout=60)
        wait_for_end(job)
        received.append(signals_in(record))
    assert received == [[signal.SIGTERM]] * API_TRIALS, f"signals per trial: {received}"
