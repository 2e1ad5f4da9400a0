"""Scale: planning with many local extra deps; `list` and `gc --dry-run` on caches of many envs.

Usage: python bench/scale.py [REPEATS]   (default 10 for the cache commands, 20x that for plans)

Planning: `plan(spec)` in this process (host facts, a stat per extra, the core's
plan) for specs with 50, 100, 200 and 400 local extra wheels (tiny files; planning
only stats them). Cache commands: `pylockenv list` and `pylockenv gc --dry-run`,
each a fresh process of the installed pylockenv, on caches of 125, 250, 500 and 1000 envs.
One env is provisioned for real; the others are made cheaply from it: a directory
holding a copy of its marker and pyvenv.cfg, its bin/python symlink and an in-use
file last used 60 days ago (so gc finds them all removable). Sizes are
interleaved; the per-item column shows whether time grows linearly.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import (
    APP_NAME,
    base_environ,
    env_dirs,
    install_pylockenv,
    interleaved,
    make_app,
    quartiles,
    run_quiet,
)

EXTRAS = (50, 100, 200, 400)  # the first size of each list is the baseline of the growth column
ENVS = (125, 250, 500, 1000)
OLD = 60 * 24 * 3600  # every env was last used 60 days ago, so gc would remove them all


def growth_table(times: Mapping[int, Sequence[float]], item: str) -> str:
    """Median and IQR per size, and the cost of each item beyond the smallest size.

    That marginal cost leaves out what a run pays whatever the size (start-up): it
    stays flat when time grows linearly, and would grow with the size if quadratic.
    """
    head = f"{item:>8}  {'n':>4}  {'median':>9}  {'IQR':>17}  {'per extra item':>14}"
    lines = [head, "-" * len(head)]
    first_size, first_values = next(iter(times.items()))
    first = statistics.median(first_values)
    for size, values in times.items():
        q1, median, q3 = quartiles(values)
        marginal = (
            f"{(median - first) / (size - first_size) * 1e6:>12.1f}us" if size != first_size else ""
        )
        lines.append(
            f"{size:>8}  {len(values):>4}  {median * 1e3:>7.2f}ms  "
            f"{q1 * 1e3:>7.2f}-{q3 * 1e3:.2f}ms  {marginal:>14}"
        )
    return "\n".join(lines)


def bench_plans(work: Path, repeats: int) -> str:
    from pylockenv.shell import load, plan

    root = work / "extras"
    make_app(root, extras=0)
    deps = root / "deps"
    deps.mkdir()
    for i in range(max(EXTRAS)):
        (deps / f"extra_{i}-1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    specs = {}
    for count in EXTRAS:
        spec_file = root / f"spec-{count}.yml"
        lines = ["command: -c pass", "pylock: pylock.toml", "local_extra_deps:"]
        lines += [f"  - deps/extra_{i}-1.0-py3-none-any.whl" for i in range(count)]
        spec_file.write_text("\n".join(lines) + "\n")
        specs[count] = load(str(spec_file))
    actions: dict[str, Callable[[], object]] = {
        str(count): partial(plan, spec) for count, spec in specs.items()
    }
    for action in actions.values():
        action()
    times = interleaved(actions, repeats, before=lambda: None)
    return growth_table({int(k): v for k, v in times.items()}, "extras")


def fill_cache(xdg: Path, template: Path, count: int) -> None:
    """`count` envs in the cache at `xdg`: the template's marker, pyvenv.cfg and bin/python.

    Each also has an in-use file dated 60 days back, so that `gc --dry-run` finds every
    env old enough to remove, and probes its lock, as a real gc would.
    """
    envs = xdg / "bfabric_app_runner" / "envs"
    for i in range(count):
        env = envs / f"{i:016x}"
        (env / "bin").mkdir(parents=True)
        shutil.copy2(template / ".provisioned", env / ".provisioned")
        shutil.copy2(template / "pyvenv.cfg", env / "pyvenv.cfg")
        os.symlink(os.readlink(template / "bin" / "python"), env / "bin" / "python")
        (env / ".in-use").touch()
        last_use = (env / ".in-use").stat().st_mtime - OLD
        os.utime(env / ".in-use", (last_use, last_use))


def bench_cache(work: Path, repeats: int) -> list[str]:
    bin_dir = install_pylockenv(work)
    spec = make_app(work / "app")
    pylockenv = str(bin_dir / "pylockenv")
    run_quiet([pylockenv, "provision", str(spec), APP_NAME], base_environ(work))
    (template,) = env_dirs(work / "xdg")
    environs = {}
    for count in ENVS:
        xdg = work / f"xdg-{count}"
        fill_cache(xdg, template, count)
        environs[count] = base_environ(work, XDG_CACHE_HOME=str(xdg))
    reports = []
    for args in (["list"], ["gc", "--dry-run"]):

        def command(env: dict[str, str], args: list[str] = args) -> None:
            subprocess.run([pylockenv, *args], env=env, stdout=subprocess.DEVNULL, check=True)

        actions: dict[str, Callable[[], object]] = {
            str(count): partial(command, env) for count, env in environs.items()
        }
        for action in actions.values():
            action()
        times = interleaved(actions, repeats, before=lambda: None)
        table = growth_table({int(k): v for k, v in times.items()}, "envs")
        reports.append(f"pylockenv {' '.join(args)} (a fresh process each)\n{table}")
    return reports


def main(repeats: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        environ = base_environ(work)
        os.environ.clear()
        os.environ.update(environ)
        plans = bench_plans(work, repeats * 20)
        caches = bench_cache(work, repeats)
    print("plan(spec) with N local extra deps, in process")
    print(plans)
    for report in caches:
        print()
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
