"""Cold provisioning: `pylockenv provision SPEC NAME` against the plan's bare uv steps in sh.

Usage: python bench/cold_provision.py [--quick] [REPEATS]   (default 10, quick 3; the
scipy lock gets half as many; targets: real lock <= 1.15x, with scipy <= 1.05x)

Three locks, one table each:
- a tiny app: 3 tiny wheels and 1 local extra wheel, offline from the start;
- a real lock of requests, click and rich;
- the same with scipy and matplotlib added.
The real locks are made with `uv pip compile --format pylock.toml` and their
wheels downloaded once into a uv cache kept between runs (bench/reallock.py);
when the package registry cannot be reached and nothing is kept yet, their
tables say so instead.

uv's cache is warm and shared by both sides; every repetition of either side
gets a fresh XDG_CACHE_HOME on the same file system as uv's cache, so each one
really creates and fills a new env, with uv's hard links. The bare side is a
shell script holding exactly the plan's uv steps (argv, PATH and variables from
`pylockenv run --print-plan --json`, written before the clock starts) and an
empty marker written last, as the reference writes it.

A third row provisions into a cache used before (the XDG_CACHE_HOME of the
previous repetition of that row, with its envs/ removed): a new lock on a host
that ran pylockenv already, which reuses what the cache keeps (the uv version,
the interpreter uv found).
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from benchkit import (
    APP_NAME,
    base_environ,
    install_pylockenv,
    interleaved,
    make_app,
    printed_plan,
    repeats,
    run_quiet,
    table,
)
from reallock import Unavailable, bench_cache, locked_app, uv_cache

TARGET_TINY = 1.25
TARGET_REAL = 1.15
TARGET_SCIENTIFIC = 1.05
REAL = ["requests", "click", "rich"]
SCIENTIFIC = [*REAL, "scipy", "matplotlib"]


def bare_script(plan: Mapping[str, object], path: Path) -> Path:
    """A shell script running the plan's uv steps one after the other, then the marker."""
    lines = ["#!/bin/sh", "set -e"]
    steps = plan["steps"]
    assert isinstance(steps, list)
    for step in steps:
        changes = step["env"]
        assignments = [f"{name}={shlex.quote(value)}" for name, value in changes["set_env"].items()]
        if changes["path_value"]:  # an empty PATH value means "leave PATH as it is"
            assignments.insert(0, f"PATH={shlex.quote(changes['path_value'])}")
        argv = " ".join(shlex.quote(word) for word in step["argv"])
        lines.append(f"{' '.join([*assignments, argv])} >/dev/null 2>&1")
    lines.append(f": > {shlex.quote(str(plan['marker_path']))}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path


def compare(pylockenv: str, spec: Path, work: Path, environ: dict[str, str], count: int) -> str:
    """The table of `pylockenv provision` against the bare script, `count` times each.

    `work` holds each repetition's XDG_CACHE_HOME; `environ` is the rest of their environment.
    """
    fresh = iter(range(10**6))
    current: dict[str, object] = {}
    kept_env = {**environ, "XDG_CACHE_HOME": str(work / "kept")}

    def prepare() -> None:
        """A new cache location for the next side (the last one's is removed first), and
        the kept cache without its envs."""
        previous = current.get("xdg")
        if isinstance(previous, Path) and previous.exists():  # the kept row makes none
            shutil.rmtree(previous)
        shutil.rmtree(work / "kept" / "bfabric_app_runner" / "envs", ignore_errors=True)
        xdg = work / f"xdg-{next(fresh)}"
        env = {**environ, "XDG_CACHE_HOME": str(xdg)}
        plan = printed_plan(pylockenv, spec, APP_NAME, env)
        current.update(xdg=xdg, env=env, script=bare_script(plan, work / "bare.sh"))

    def provision() -> None:
        run_quiet([pylockenv, "provision", str(spec), APP_NAME], current["env"])  # type: ignore[arg-type]

    def bare() -> None:
        run_quiet([str(current["script"])], current["env"])  # type: ignore[arg-type]

    def provision_kept() -> None:
        run_quiet([pylockenv, "provision", str(spec), APP_NAME], kept_env)

    for side in (provision, bare, provision_kept) * 2:  # .pyc files and page cache, untimed
        prepare()
        side()
    times = interleaved(
        {
            "pylockenv provision": provision,
            "  the same, into a cache used before": provision_kept,
            "bare uv steps (sh)": bare,
        },
        count,
        before=prepare,
    )
    return table(times, baseline="bare uv steps (sh)")


def main(count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-cold-provision-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        pylockenv = str(bin_dir / "pylockenv")
        spec = make_app(work / "app").spec
        environ = base_environ(work)
        run_quiet([pylockenv, "provision", str(spec), APP_NAME], environ)  # fills uv's cache
        (work / "runs").mkdir()
        print(
            f"cold provisioning, 3 tiny locked wheels + 1 local extra, {count} interleaved "
            f"repetitions each (target <= {TARGET_TINY:g}x)"
        )
        print(compare(pylockenv, spec, work / "runs", environ, count), flush=True)
        real_locks = (
            ("requests-click-rich", REAL, count, TARGET_REAL),
            ("with-scipy-matplotlib", SCIENTIFIC, max(2, count // 2), TARGET_SCIENTIFIC),
        )
        for label, requirements, lock_count, target in real_locks:
            print()
            print(
                f"cold provisioning of a real lock ({', '.join(requirements)}), uv's cache warm, "
                f"{lock_count} interleaved repetitions each (target <= {target:g}x)"
            )
            try:
                real_spec = locked_app(label, requirements, pylockenv)
            except Unavailable as exc:
                print(f"skipped: {exc}", flush=True)
                continue
            with tempfile.TemporaryDirectory(prefix="runs-", dir=bench_cache()) as runs:
                real_environ = base_environ(work, UV_CACHE_DIR=str(uv_cache()))
                report = compare(pylockenv, real_spec, Path(runs), real_environ, lock_count)
            print(report, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(repeats(default=10, quick=3)))
