"""Timings of `pylockenv run` with the real uv, offline: cold, warm, and the bare command.

Usage: python tests/measure_execute.py [REPEATS]

Prints the wall time of one cold run (provisioning included), the median of
REPEATS warm runs (default 10), the median of running the env's console script
directly, and 8 cold runs started at once on a fresh cache.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from envtools import env_dirs, make_app, pylockenv_argv, run_env


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(repeats: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = make_app(root, command="probe exit 0")
        env = run_env(root, root / "uv-cache")
        run = pylockenv_argv("run", str(spec))
        print(f"cold run (provisioning):    {timed(run, env):.3f}s")
        warm = statistics.median(timed(run, env) for _ in range(repeats))
        print(f"warm run, median of {repeats}:    {warm:.3f}s")
        script = [str(env_dirs(root)[0] / "bin" / "probe"), "exit", "0"]
        bare = statistics.median(timed(script, env) for _ in range(repeats))
        print(f"bare command, median of {repeats}: {bare:.3f}s")

        crowd_root = root / "crowd"
        crowd_root.mkdir()
        crowd_spec = make_app(crowd_root, command="probe exit 0")
        crowd_env = run_env(crowd_root, root / "uv-cache")
        started = time.perf_counter()
        jobs = [
            subprocess.Popen(pylockenv_argv("run", str(crowd_spec)), env=crowd_env)
            for _ in range(8)
        ]
        codes = [job.wait() for job in jobs]
        elapsed = time.perf_counter() - started
        print(f"8 cold runs at once:        {elapsed:.3f}s, exit codes {codes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
