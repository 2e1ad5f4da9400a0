"""Real Slurm jobs for tests/test_slurm.py: submit, cancel, wait for the end, read the outcome.

The cluster is the single node `.ci/slurm-up` brings up (the `slurm` fixture checks it once
per session and skips the tests, saying why, when there is none). Jobs run as the user who
submits them, with the submitter's environment (sbatch's and srun's --export=ALL default),
so a job's pylockenv is the test's interpreter and sees the test's cache and uv cache.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from attrs import frozen
from harness import CacheDir, pylockenv_argv

# Job states after which nothing of the job runs any more (COMPLETING is not one: its
# processes are being killed; Slurm reports it as long as the flag is set).
ENDED = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)


@frozen
class SlurmCluster:
    """The running cluster the tests submit to, and how it tracks a job's processes."""

    proctrack: str  # "cgroup" or "linuxproc" (ProctrackType without "proctrack/")


@frozen
class JobEnd:
    """How a job ended: its state, and its exit status (or the signal that killed it)."""

    state: str
    exit_code: int
    signal: int


def slurm_tool(name: str) -> str:
    """The absolute path of a Slurm command (the job environment's PATH need not have it)."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not on PATH")
    return path


@functools.cache
def probe_cluster() -> SlurmCluster | str:
    """The running cluster, or why there is none (a sentence for a skip). Asked once per
    session: without a controller, sinfo takes seconds to give up."""
    for tool in ("srun", "sbatch", "scancel", "sinfo", "scontrol"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH: no Slurm here (as root, .ci/slurm-up brings one up)"
    try:
        nodes = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 30 s: slurmctld is not running (.ci/slurm-up)"
    if nodes.returncode != 0:
        said = "; ".join(nodes.stderr.split("\n")).strip("; ")
        return f"sinfo failed, so no Slurm cluster is up (.ci/slurm-up): {said}"
    if not {"idle", "mixed", "allocated"} & set(nodes.stdout.split()):
        return f"the Slurm cluster has no node in service (sinfo says {nodes.stdout.split()})"
    config = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    found = re.search(r"^ProctrackType\s*=\s*proctrack/(\S+)", config, re.MULTILINE)
    return SlurmCluster(proctrack=found.group(1) if found else "unknown")


def job_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` for sbatch or srun: without the SLURM_* of a job this suite may run inside."""
    return {key: value for key, value in environ.items() if not key.startswith("SLURM_")}


def pylockenv_line(*args: str | os.PathLike[str]) -> str:
    """A shell line running `pylockenv ARGS` with the test's interpreter."""
    return shlex.join(pylockenv_argv(*(os.fspath(arg) for arg in args)))


def submit(script: Path, body: str, environ: Mapping[str, str], *options: str) -> tuple[str, Path]:
    """Write the batch script `script` (`body` after a #!/bin/sh line), submit it with
    `options`, return its job id and the file its output goes to."""
    script.write_text("#!/bin/sh\n" + body + "\n")
    output = script.with_suffix(".out")
    done = subprocess.run(
        [
            slurm_tool("sbatch"),
            "--parsable",
            f"--chdir={script.parent}",
            f"--output={output}",
            *options,
            str(script),
        ],
        env=job_environ(environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"sbatch failed: {done.stderr}"
    return done.stdout.strip().split(";")[0], output


def start_srun(
    argv: Sequence[str], environ: Mapping[str, str], cwd: Path, *options: str
) -> subprocess.Popen[str]:
    """Start `srun OPTIONS ARGV` (a job of one step) in the background."""
    return subprocess.Popen(
        [slurm_tool("srun"), "--quiet", *options, *argv],
        env=job_environ(environ),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_srun(
    argv: Sequence[str], environ: Mapping[str, str], cwd: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """Run `srun OPTIONS ARGV` to its end."""
    return subprocess.run(
        [slurm_tool("srun"), "--quiet", *options, *argv],
        env=job_environ(environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def job_of_process(pid: int) -> str:
    """The id of the Slurm job the process `pid` runs in (its SLURM_JOB_ID)."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"SLURM_JOB_ID="):
            return entry.split(b"=", 1)[1].decode()
    raise AssertionError(f"process {pid} is not in a Slurm job (no SLURM_JOB_ID)")


def cancel(job_id: str, *options: str) -> None:
    """`scancel OPTIONS JOB`: by default SIGTERM to every process of the job, SIGKILL after
    KillWait."""
    subprocess.run([slurm_tool("scancel"), *options, job_id], check=True, timeout=30)


def job_fields(job_id: str) -> dict[str, str]:
    """`scontrol show job -o JOB` as a mapping of its KEY=VALUE fields."""
    shown = subprocess.run(
        [slurm_tool("scontrol"), "show", "job", "-o", job_id],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return dict(field.split("=", 1) for field in shown.split() if "=" in field)


def job_ended(job_id: str) -> bool:
    """Whether the job has ended (see `wait_for_end`)."""
    return job_fields(job_id)["JobState"] in ENDED


def wait_for_end(job_id: str, *, timeout: float = 60) -> JobEnd:
    """Wait until the job has ended and nothing of it runs (not COMPLETING any more)."""
    deadline = time.monotonic() + timeout
    while True:
        fields = job_fields(job_id)
        if fields["JobState"] in ENDED:
            status, _, signum = fields["ExitCode"].partition(":")
            return JobEnd(state=fields["JobState"], exit_code=int(status), signal=int(signum))
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {fields['JobState']} after {timeout} s")
        time.sleep(0.05)


# A command that counts every delivery of SIGTERM, SIGHUP and SIGINT, however close together:
# Python runs a handler once for signals that arrive before it gets to it (two SIGTERMs a
# fraction of a millisecond apart look like one), but its C-level handler writes one byte
# per delivery to the wakeup fd. `count_signals.py RECORD [WAIT]` (run by the first python on
# PATH, the env's) writes its pid to RECORD.ready, waits for the first signal (WAIT seconds
# at most, 60 by default: a time limit's signal comes later), collects for another half
# second, then writes the signal numbers to RECORD, one a line, and exits 0.
SIGNAL_COUNTER = """\
#!/usr/bin/env python3
import os
import select
import signal
import sys
import time

record = sys.argv[1]
first_wait = float(sys.argv[2]) if len(sys.argv) > 2 else 60
wakeup_read, wakeup_write = os.pipe()
os.set_blocking(wakeup_write, False)
signal.set_wakeup_fd(wakeup_write)
for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(signum, lambda signum, frame: None)
with open(record + ".tmp", "w") as stream:
    stream.write(str(os.getpid()))
os.rename(record + ".tmp", record + ".ready")
received = b""
deadline = None
while True:
    now = time.monotonic()
    wait = first_wait if deadline is None else deadline - now
    if wait <= 0 or not select.select([wakeup_read], [], [], wait)[0]:
        break
    received += os.read(wakeup_read, 64)
    if deadline is None:
        deadline = time.monotonic() + 0.5  # long enough for a second copy to arrive
with open(record + ".tmp", "w") as stream:
    stream.write("".join(f"{signum}\\n" for signum in received))
os.rename(record + ".tmp", record)
"""


def write_signal_counter(path: Path) -> Path:
    """Write the signal-counting command (see SIGNAL_COUNTER) to `path`, a Python file."""
    path.write_text(SIGNAL_COUNTER)
    path.chmod(0o755)  # a command given by its path runs directly; `#!` finds the env's python
    return path


def signals_in(record: Path) -> list[int]:
    """The signals the signal counter wrote down, in order of arrival."""
    return [int(line) for line in record.read_text().split()] if record.exists() else []


def ephemeral_envs(cache: CacheDir) -> list[Path]:
    """The ephemeral env directories left in `cache` (a lock file beside one is no env)."""
    return [p for p in cache.ephemeral_dirs() if p.is_dir()]


def job_named(name: str) -> str:
    """The id of the one recent job called `name`."""
    found = subprocess.run(
        ["squeue", "-h", "-t", "all", "-n", name, "-o", "%i"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    assert len(found) == 1, f"jobs named {name}: {found}"
    return found[0]
