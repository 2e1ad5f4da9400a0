"""Describe the machine and the code being measured, for the head of a benchmark report.

Usage: python bench/machine.py

Prints the OS, the CPUs (count usable by this process, and model), the
Python and uv that the benchmarks use, and the revision of pylockenv measured
(BENCH_REVISION, or the working tree's commit and whether it has changes), and
the revision warm_cli.py measures beside it (BENCH_COMPARE), if any.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from benchkit import PROJECT_FILES, ROOT, find_real_uv, is_quick


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown model"


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def measured_code() -> str:
    """Which pylockenv the benchmarks build: a named revision, or the working tree."""
    revision = os.environ.get("BENCH_REVISION")
    if revision:
        return f"{git('rev-parse', '--short', revision) or revision} (BENCH_REVISION={revision})"
    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    changed = git("status", "--porcelain", "--", *PROJECT_FILES)
    return f"working tree at {commit}" + (", with uncommitted changes" if changed else "")


def main() -> int:
    uv = find_real_uv()
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"OS:        {platform.system()} {platform.release()} {platform.machine()}")
    print(f"CPUs:      {usable} usable of {os.cpu_count()}, {cpu_model()}")
    print(f"Python:    {platform.python_implementation()} {platform.python_version()}")
    print(f"uv:        {uv_version or 'unknown'}")
    print(f"pylockenv: {measured_code()}")
    compare = os.environ.get("BENCH_COMPARE")
    if compare:
        named = git("rev-parse", "--short", compare) or compare
        print(f"compared:  {named} (BENCH_COMPARE, by warm_cli.py)")
    print(f"quick:     {'yes (fewer repetitions)' if is_quick() else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
