"""pylockenv in Slurm jobs that reach their time limit (`--time=1`, one minute).

What Slurm 22.05 does at a time limit, measured on the single-node cluster of
`.ci/slurm-up` (tracking by cgroup and by linuxproc alike, where not said otherwise):

- slurmctld looks for jobs over their limit every 30 s (PERIODIC_TIMEOUT, compiled in;
  no slurm.conf setting makes it look sooner), and `--time` counts in minutes (seconds
  are rounded up to the next minute): a one-minute job is signalled 60-90 s after it
  started. The job ends TIMEOUT (Reason=TimeLimit).
- slurmd then signals every step: a batch script gets SIGCONT and SIGTERM, a step srun
  started gets SIGTERM, SIGCONT and SIGTERM (a millisecond apart: with pylockenv or
  without, the task gets two SIGTERMs). SIGKILL follows max(KillWait, 5) s later
  (KillWait=2 here: 5 s).
- Which processes of a step get them is the tracking's: under cgroup only the step's
  task (the batch script, or the process srun started), under linuxproc every process
  descended from it. A batch shell that dies of the SIGTERM takes the step's other
  processes with it at once under cgroup (SIGKILL, no SIGTERM for them).

So pylockenv must neither add nor drop a SIGTERM: a cached run's command (pylockenv
execs it) gets what Slurm sends a task, and a refresh run's command the same (under
cgroup pylockenv relays each SIGTERM that reaches it, once; under linuxproc Slurm
signals the command itself). The tests compare each run's command with a control job
(the same signal counter, started without pylockenv) in the same wave. A refresh run
removes its env in the 5 s before the SIGKILL.

A time limit takes a minute and a half to come, so every case is a job of its own, all
submitted at once (`--oversubscribe`: the partition of `.ci/slurm-up` lets more jobs than
cores share the node): the whole file takes one time limit plus Slurm's 30 s look, once.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from attrs import frozen
from builders import PY_VERSION, make_app
from harness import CacheDir, ProvisionedEnv, process_environ, pylockenv_argv, run_pylockenv
from slurm_jobs import (
    JobEnd,
    SlurmCluster,
    ephemeral_envs,
    job_ended,
    job_named,
    pylockenv_line,
    signals_in,
    start_srun,
    submit,
    wait_for_end,
    write_signal_counter,
)

pytestmark = pytest.mark.slurm

TIME_LIMIT = "--time=1"  # one minute: Slurm's resolution (seconds are rounded up)
# From submission to the end of the last job: the minute, slurmctld's 30 s between looks
# for jobs over their limit, the 5 s before SIGKILL, and room for a loaded machine.
WAVE_SECONDS = 60 + 30 + 5 + 55
# How long a signal counter waits for its first signal (the default 60 s is too short).
COUNTER_WAIT = str(WAVE_SECONDS)


@frozen
class Case:
    """One job of the wave: how it is started, and what runs the signal counter."""

    submit: str  # "batch exec": the script execs the line; "batch line": a plain line;
    #              "srun": srun runs the argv
    run: str  # "cached", "refresh" (pylockenv run SPEC) or "direct" (the counter itself)


CASES = {
    "cached batch exec": Case(submit="batch exec", run="cached"),
    "cached srun": Case(submit="srun", run="cached"),
    "refresh batch exec": Case(submit="batch exec", run="refresh"),
    "refresh srun": Case(submit="srun", run="refresh"),
    "refresh batch line": Case(submit="batch line", run="refresh"),
    "direct batch exec": Case(submit="batch exec", run="direct"),
    "direct srun": Case(submit="srun", run="direct"),
}


@frozen
class Outcome:
    """What a case's job came to: its end, the signals its command counted, the
    ephemeral envs left in its cache, and what it said (job output or srun's stderr)."""

    end: JobEnd
    started: bool
    signals: list[int]
    envs_left: list[Path]
    said: str


@frozen
class Started:
    job_name: str
    record: Path
    cache: CacheDir
    output: Path | None  # a batch job's output file
    srun: subprocess.Popen[str] | None


def _counter_spec(root: Path, provisioned: ProvisionedEnv, counter: Path) -> Path:
    """A spec whose command is the counter, for the provisioned env (same hash)."""
    spec = root / "counter.yml"
    spec.write_text(
        f"command: {counter}\npylock: {provisioned.pylock}\n"
        f"local_extra_deps:\n  - {provisioned.extra_wheel}\npython_version: '{PY_VERSION}'\n"
    )
    return spec


def _start(
    name: str, case: Case, root: Path, provisioned: ProvisionedEnv, uv_cache: Path
) -> Started:
    root.mkdir(parents=True)
    cache = CacheDir(root / "xdg")
    environ = process_environ(cache, uv_cache)
    counter = write_signal_counter(root / "count_signals.py")
    record = root / "signals"
    if case.run == "cached":
        spec = _counter_spec(root, provisioned, counter)
        planned = run_pylockenv(environ, "run", "--print-plan", "--json", str(spec))
        assert json.loads(planned.stdout)["env_hash"] == provisioned.env_hash, planned.stderr
        provisioned.copy_to(cache)
    elif case.run == "refresh":
        spec = make_app(root / "app", command=str(counter), refresh=True)
    if case.run == "direct":
        argv = [str(counter), str(record), COUNTER_WAIT]
        line = shlex.join(argv)
    else:
        args = ("run", "-q", str(spec), "--", str(record), COUNTER_WAIT)
        argv, line = pylockenv_argv(*args), pylockenv_line(*args)
    job_name = f"pylockenv-{name.replace(' ', '-')}-{uuid.uuid4().hex[:12]}"
    options = (TIME_LIMIT, "--oversubscribe", f"--job-name={job_name}")
    if case.submit == "srun":
        srun = start_srun(argv, environ, root, *options)
        return Started(job_name=job_name, record=record, cache=cache, output=None, srun=srun)
    body = "exec " + line if case.submit == "batch exec" else f"{line}\necho after $?"
    _, output = submit(root / "job.sh", body, environ, *options)
    return Started(job_name=job_name, record=record, cache=cache, output=output, srun=None)


def _job_id(started: Started, deadline: float) -> str:
    """The job's id (an srun's job is known to squeue only once srun asked for it)."""
    while True:
        try:
            return job_named(started.job_name)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _outcome(started: Started, deadline: float) -> Outcome:
    job = _job_id(started, deadline)
    end = wait_for_end(job, timeout=max(deadline - time.monotonic(), 1))
    if started.srun is not None:
        _, said = started.srun.communicate(timeout=max(deadline - time.monotonic(), 1))
    else:
        assert started.output is not None
        said = started.output.read_text() if started.output.exists() else ""
    return Outcome(
        end=end,
        started=Path(f"{started.record}.ready").exists(),
        signals=signals_in(started.record),
        envs_left=ephemeral_envs(started.cache),
        said=said,
    )


@pytest.fixture(scope="module")
def timed_out(
    slurm: SlurmCluster,
    provisioned: ProvisionedEnv,
    uv_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Outcome]]:
    """Every case of CASES, its job submitted with a one-minute limit at the same time as
    the others' and run to its end: the outcome of each by name."""
    root = tmp_path_factory.mktemp("timelimit")
    deadline = time.monotonic() + WAVE_SECONDS
    started: dict[str, Started] = {}
    try:
        for name, case in CASES.items():
            started[name] = _start(name, case, root / name.replace(" ", "-"), provisioned, uv_cache)
        yield {name: _outcome(one, deadline) for name, one in started.items()}
    finally:
        for one in started.values():
            if one.srun is not None and one.srun.poll() is None:
                one.srun.kill()
                one.srun.communicate()
        for one in started.values():
            try:
                job = job_named(one.job_name)
            except AssertionError:
                continue
            if not job_ended(job):
                subprocess.run(["scancel", job], check=False, timeout=30)


def _said(outcome: Outcome) -> str:
    return f"signals {outcome.signals}, {outcome.end}; it said:\n{outcome.said}"


@pytest.mark.parametrize("name", list(CASES))
def test_a_job_at_its_time_limit_ends_timeout_after_its_command_ran(
    timed_out: dict[str, Outcome], name: str
) -> None:
    outcome = timed_out[name]
    assert outcome.started, _said(outcome)
    assert outcome.end.state == "TIMEOUT", _said(outcome)


def test_slurm_signals_a_batch_script_once_and_a_task_of_srun_twice_at_the_time_limit(
    timed_out: dict[str, Outcome],
) -> None:
    """The controls, Slurm's own behaviour (22.05): the numbers the pylockenv runs are held to."""
    assert timed_out["direct batch exec"].signals == [signal.SIGTERM]
    assert timed_out["direct srun"].signals == [signal.SIGTERM, signal.SIGTERM]


@pytest.mark.parametrize("submitted", ["batch exec", "srun"])
@pytest.mark.parametrize("kind", ["cached", "refresh"])
def test_a_run_command_gets_the_time_limit_sigterm_as_slurm_sends_it(
    timed_out: dict[str, Outcome], kind: str, submitted: str
) -> None:
    """A cached run is its command (exec). A refresh run waits beside it: under cgroup
    pylockenv relays what reaches it, once each; under linuxproc Slurm signals the
    command itself, and pylockenv relays nothing. Never more SIGTERMs than Slurm sends
    (the control), and at least one; srun's two come a millisecond apart, and a process
    not scheduled in between gets them as one (a pending signal is not queued twice, and
    Python runs one handler for the two), which happened in about 1 of 5 waves here, on
    2 cores running the seven jobs' clean-ups at once."""
    outcome = timed_out[f"{kind} {submitted}"]
    sent = timed_out[f"direct {submitted}"].signals
    assert set(outcome.signals) == {signal.SIGTERM}, _said(outcome)
    assert 1 <= len(outcome.signals) <= len(sent), _said(outcome)


@pytest.mark.parametrize("submitted", ["batch exec", "srun"])
def test_a_refresh_env_is_gone_when_its_job_reaches_its_time_limit(
    timed_out: dict[str, Outcome], submitted: str
) -> None:
    outcome = timed_out[f"refresh {submitted}"]
    assert outcome.envs_left == [], _said(outcome)


def test_a_refresh_run_on_a_plain_batch_line_at_the_time_limit(
    slurm: SlurmCluster, timed_out: dict[str, Outcome]
) -> None:
    """Without `exec` the batch shell is the step's task. Under cgroup it alone gets the
    SIGTERM, dies of it, and the step's other processes are killed with it: the command
    gets no signal and the env stays, for the next cold run to sweep (README: exec).
    Under linuxproc every process gets the SIGTERM, and whether pylockenv removes the env
    before the step's end kills it is a race."""
    outcome = timed_out["refresh batch line"]
    if slurm.proctrack == "cgroup":
        assert (outcome.signals, len(outcome.envs_left)) == ([], 1), _said(outcome)
    else:
        assert outcome.signals == [signal.SIGTERM], _said(outcome)
