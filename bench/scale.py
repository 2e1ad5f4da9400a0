"""Scale: planning with many local extra deps; `list` and `gc --dry-run` on caches of many envs.

Usage: python bench/scale.py [--quick] [REPEATS]   (default 10, quick 3, for the cache
commands; 20x that for plans)

Planning: `plan(spec)` in this process (host facts, a stat per extra, the core's
plan) for specs with 50, 100, 200 and 400 local extra wheels (tiny files; planning
only stats them), pylockenv imported from the installed wheel.

Cache commands: `pylockenv list` (with and without `--no-size`, and `--json`)
and `pylockenv gc --dry-run`, each a fresh process of the installed pylockenv,
on caches of 125, 250, 500 and 1000 envs. One env is provisioned for real
(tiny wheels, offline); the others are copies of it under other names, made as
uv lays an env out (directories and symbolic links anew, files hard-linked),
each with its lock file beside it and an in-use file last touched 60 days ago,
so that gc finds every env old enough to remove and probes its lock, as a real
gc would. `list` walks every env to size it, so its time grows with the files
per env, which the output states.

Sizes are interleaved; the per-item column is the cost of each item beyond the
smallest size, which leaves out what every run pays once (start-up): it stays
flat when time grows linearly with the size.
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

from benchkit import (
    APP_NAME,
    PY_VERSION,
    base_environ,
    import_installed,
    install_pylockenv,
    interleaved,
    make_app,
    printed_plan,
    quartiles,
    repeats,
    run_quiet,
)

EXTRAS = (50, 100, 200, 400)  # the first size of each list is the baseline of the growth column
ENVS = (125, 250, 500, 1000)
CACHE_COMMANDS = (["list"], ["list", "--no-size"], ["list", "--json"], ["gc", "--dry-run"])
OLD = 60 * 24 * 3600  # every env was last used 60 days ago, so gc would remove them all


def growth_table(times: Mapping[int, Sequence[float]], item: str) -> str:
    """Median and IQR per size, and the cost of each item beyond the smallest size."""
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


def bench_plans(work: Path, count: int) -> str:
    """The growth table of `plan(spec)` over EXTRAS local extra deps."""
    from pylockenv.shell import load, plan

    root = work / "extras"
    make_app(root, extras=0)
    deps = root / "deps"
    deps.mkdir()
    for i in range(max(EXTRAS)):
        (deps / f"extra_{i}-1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    specs = {}
    for size in EXTRAS:
        spec_file = root / f"spec-{size}.yml"
        lines = ["command: -c pass", "pylock: pylock.toml", f'python_version: "{PY_VERSION}"']
        lines.append("local_extra_deps:")
        lines += [f"  - deps/extra_{i}-1.0-py3-none-any.whl" for i in range(size)]
        spec_file.write_text("\n".join(lines) + "\n")
        specs[size] = load(str(spec_file))
    actions: dict[str, Callable[[], object]] = {
        str(size): partial(plan, spec) for size, spec in specs.items()
    }
    for action in actions.values():
        action()
    times = interleaved(actions, count, before=lambda: None)
    return growth_table({int(k): v for k, v in times.items()}, "extras")


def fill_cache(envs: Path, template: Path, lock_suffix: str, in_use: str, size: int) -> None:
    """`size` copies of the env `template` in the envs directory `envs`, each last used long ago.

    Files are hard-linked, as uv links them from its cache; each copy gets its own lock file.
    """
    for i in range(size):
        env = envs / f"{i:016x}"
        shutil.copytree(template, env, symlinks=True, copy_function=os.link)
        Path(f"{env}{lock_suffix}").touch()
        (env / in_use).unlink(missing_ok=True)  # a hard link would share its time
        (env / in_use).touch()
        last_use = (env / in_use).stat().st_mtime - OLD
        os.utime(env / in_use, (last_use, last_use))


def bench_cache(work: Path, pylockenv: str, count: int) -> list[str]:
    """One growth table per CACHE_COMMANDS entry, over caches of ENVS envs."""
    spec = make_app(work / "app").spec
    environ = base_environ(work)
    run_quiet([pylockenv, "provision", str(spec), APP_NAME], environ)
    plan = printed_plan(pylockenv, spec, APP_NAME, environ)
    template = Path(str(plan["env_path"]))
    lock_suffix = str(plan["lock_path"]).removeprefix(str(template))
    in_use = Path(str(plan["in_use_path"])).name
    envs_below_xdg = template.parent.relative_to(environ["XDG_CACHE_HOME"])
    files = sum(len(names) for _, _, names in os.walk(template))
    environs = {}
    for size in ENVS:
        xdg = work / f"xdg-{size}"
        (xdg / envs_below_xdg).mkdir(parents=True)
        fill_cache(xdg / envs_below_xdg, template, lock_suffix, in_use, size)
        environs[size] = base_environ(work, XDG_CACHE_HOME=str(xdg))
    reports = []
    for args in CACHE_COMMANDS:

        def command(env: dict[str, str], args: list[str] = args) -> None:
            subprocess.run([pylockenv, *args], env=env, stdout=subprocess.DEVNULL, check=True)

        actions: dict[str, Callable[[], object]] = {
            str(size): partial(command, env) for size, env in environs.items()
        }
        for action in actions.values():
            action()
        times = interleaved(actions, count, before=lambda: None)
        table = growth_table({int(k): v for k, v in times.items()}, "envs")
        reports.append(
            f"pylockenv {' '.join(args)} (a fresh process each; envs of {files} files)\n{table}"
        )
    return reports


def main(count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        environ = base_environ(work)  # before the clear: it starts from this environment
        os.environ.clear()
        os.environ.update(environ)
        import_installed(bin_dir)
        plans = bench_plans(work, count * 20)
        caches = bench_cache(work, str(bin_dir / "pylockenv"), count)
    print("plan(spec) with N local extra deps, in process")
    print(plans)
    for report in caches:
        print()
        print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(repeats(default=10, quick=3)))
