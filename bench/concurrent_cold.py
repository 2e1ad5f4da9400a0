"""Eight concurrent cold `pylockenv run SPEC NAME` against one cold run: wall time, provisionings.

Usage: python bench/concurrent_cold.py [--quick] [REPEATS]   (default 6, quick 2;
targets: ratio <= 1.5x and exactly 1 provisioning per crowd of 8)

Each repetition of either side starts on a fresh XDG_CACHE_HOME (uv's cache is
warm and shared). The crowd's time runs from starting the first process to the
last one exiting. uv is reached through a PYLOCKENV_UV wrapper that logs its
arguments, one log per repetition, so the `uv venv` calls count provisionings.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from benchkit import (
    APP_NAME,
    base_environ,
    find_real_uv,
    install_pylockenv,
    interleaved,
    make_app,
    repeats,
    run_quiet,
    table,
)

TARGET = 1.5
CROWD = 8


def write_uv_wrapper(path: Path) -> Path:
    """A uv that appends its arguments to $BENCH_UV_LOG, then execs the real uv."""
    path.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> "$BENCH_UV_LOG"\nexec "{find_real_uv()}" "$@"\n'
    )
    path.chmod(0o755)
    return path


def main(count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-concurrent-cold-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        spec = make_app(work / "app").spec
        wrapper = write_uv_wrapper(work / "uv-wrapper")
        argv = [str(bin_dir / "pylockenv"), "run", str(spec), APP_NAME]
        fresh = iter(range(10**6))
        current: dict[str, dict[str, str]] = {}
        crowd_logs: list[Path] = []

        def prepare() -> None:
            n = next(fresh)
            current["env"] = base_environ(
                work,
                XDG_CACHE_HOME=str(work / f"xdg-{n}"),
                PYLOCKENV_UV=str(wrapper),
                BENCH_UV_LOG=str(work / f"uv-{n}.log"),
            )

        def one() -> None:
            run_quiet(argv, current["env"])

        def crowd() -> None:
            env = current["env"]
            jobs = [
                subprocess.Popen(
                    argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                for _ in range(CROWD)
            ]
            codes = [job.wait() for job in jobs]
            if any(codes):
                raise SystemExit(f"a crowd run failed: exit codes {codes}")
            crowd_logs.append(Path(env["BENCH_UV_LOG"]))

        for _ in range(2):  # uv's cache and the .pyc files, untimed
            prepare()
            one()
        crowd_logs.clear()
        times = interleaved(
            {f"{CROWD} concurrent cold runs": crowd, "1 cold run": one},
            count,
            before=prepare,
        )
        provisionings = [
            sum(1 for line in log.read_text().splitlines() if line.startswith("venv"))
            for log in crowd_logs
        ]
    print(
        f"{CROWD} concurrent cold runs against 1, {count} interleaved repetitions each "
        f"(target <= {TARGET:g}x, 1 provisioning per crowd)"
    )
    print(table(times, baseline="1 cold run"))
    exactly_one = sum(1 for n in provisionings if n == 1)
    print(
        f"provisionings (uv venv calls) per crowd of {CROWD}: {provisionings}; "
        f"exactly 1 in {exactly_one} of {len(provisionings)} crowds"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(repeats(default=6, quick=2)))
