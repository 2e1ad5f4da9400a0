"""Warm CLI: `pylockenv run SPEC NAME`, `run --pylock P --command C ...` and `apply plan.json`
against the env's python.

Usage: [BENCH_COMPARE=REV] python bench/warm_cli.py [--quick] [REPEATS]   (default 40,
quick 10; targets: run by flags <= 3.5x, run SPEC NAME and apply <= 2.0x, no launcher
process)

The command is `-c pass`. The env is provisioned by the spec's first run,
untimed, so every measured run is a later run of a spec seen before (the warm
path). The run by flags names the same pylock and local extra by absolute path
(the same env). Every row runs as a child process of this script, interleaved,
output discarded; the ratios compare each row with the last one. The indented rows
say where the time goes: a run when PYLOCKENV_UV is not set (pylockenv looks
for its bundled uv, as an installed pylockenv does by default; a spec file of
its own, so that each row keeps its own stored plan), pylockenv's interpreter
importing the libraries a warm run should not need, that interpreter
starting with nothing to do, and that interpreter exec'ing the env's python
-c pass at once: the floor of any launcher written in Python that execs.

`apply` runs the JSON plan printed by `pylockenv run SPEC NAME --print-plan --json`;
where this pylockenv has no `apply` command its rows say so.

A second table says whether a warm run leaves a launcher process beside the
command: the command prints its own pid (`os.getpid()`), which is compared
with the pid of the process this script started.

BENCH_COMPARE=<git revision> measures that revision of pylockenv side by side
with this one, in the same run: it is built from `git archive` as BENCH_REVISION
builds one, installed into a venv of its own, and its env is provisioned by its
own first run (untimed) in a cache of its own under the work directory, from the
same spec and lock. Its rows (run SPEC NAME, run by flags, apply where it has
it), marked `at REV`, stand under this pylockenv's and are interleaved with every
other row; a last table gives each of this pylockenv's medians over the
revision's (<= 1.00x: no slower), and the launcher table has its rows too.
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
    PID_NAME,
    PY_VERSION,
    ROOT,
    LockedApp,
    base_environ,
    has_command,
    install_pylockenv,
    interleaved,
    make_app,
    plan_json,
    printed_plan,
    repeats,
    run_quiet,
    table,
)

TARGET_FLAGS = 3.5
TARGET_RUN = 2.0
TARGET_APPLY = 2.0
HEAVY = ("yaml", "attrs", "cattrs", "filelock", "subprocess")
PID_CHECKS = 5
# The floor of a launcher written in Python that execs the command: its interpreter's
# start, then the command's (a warm run does this plus reading and checking its plan).
EXEC_ONLY = "import os; os.execv({python!r}, [{python!r}, '-c', 'pass'])"


def launcher_left(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether the command `argv` starts (it prints its pid) ran in another process than argv's."""
    started = subprocess.Popen(
        list(argv), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    printed, _ = started.communicate()
    if started.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({started.returncode})")
    return int(printed.strip()) != started.pid


def launcher_report(argv: Sequence[str], env: Mapping[str, str]) -> str:
    """'no' or 'yes', with how many of PID_CHECKS warm runs had the pid that was started."""
    run_quiet(argv, env)  # the first run of this command is not a warm one
    left = sum(launcher_left(argv, env) for _ in range(PID_CHECKS))
    verdict = "no" if left == 0 else "yes" if left == PID_CHECKS else "sometimes"
    return f"{verdict} (the command had the pid started: {PID_CHECKS - left} of {PID_CHECKS} runs)"


def flags_of(app: LockedApp, command: str) -> list[str]:
    """`run` by flags of the app's env: its pylock and local extras, by absolute path."""
    words = ["run", "--pylock", str(app.pylock), "--command", command]
    words += ["--python-version", PY_VERSION]
    return words + [word for wheel in app.extras for word in ("--local-extra-dep", str(wheel))]


Row = tuple[list[str], dict[str, str]]


def pylockenv_rows(
    pylockenv: str, app: LockedApp, env: dict[str, str], plans: Path
) -> tuple[dict[str, Row | str], dict[str, Row | str]]:
    """The measured rows of one pylockenv whose env is ready, and its launcher checks.

    The plans `apply` runs are written into the directory `plans`, made here.
    """
    run = [pylockenv, "run", str(app.spec), APP_NAME]
    rows: dict[str, Row | str] = {
        "pylockenv run SPEC NAME": (run, env),
        "pylockenv run --pylock P --command C ...": (
            [pylockenv, *flags_of(app, "-c pass")],
            env,
        ),
    }
    checks: dict[str, Row | str] = {
        "pylockenv run SPEC NAME": ([pylockenv, "run", str(app.spec), PID_NAME], env),
        "pylockenv run --pylock P --command C ...": (
            [pylockenv, *flags_of(app, "-c 'import os; print(os.getpid())'")],
            env,
        ),
    }
    if has_command(pylockenv, "apply"):
        plans.mkdir()
        files = {}
        for name in (APP_NAME, PID_NAME):
            files[name] = plans / f"plan-{name}.json"
            files[name].write_text(plan_json(pylockenv, app.spec, name, env))
        rows["pylockenv apply plan.json"] = ([pylockenv, "apply", str(files[APP_NAME])], env)
        checks["pylockenv apply plan.json"] = ([pylockenv, "apply", str(files[PID_NAME])], env)
    else:
        rows["pylockenv apply plan.json"] = "this pylockenv has no apply command"
        checks["pylockenv apply plan.json"] = "this pylockenv has no apply command"
    return rows, checks


def side_by_side(ours: Mapping[str, object], theirs: Mapping[str, object], label: str) -> list[str]:
    """Our row names, each followed by the same row of `theirs` (named `<name> at <label>`)."""
    names = []
    for name in ours:
        names.append(name)
        if name in theirs:
            names.append(f"{name} at {label}")
    return names


def short_revision(revision: str) -> str:
    """`revision` as git's short hash, or as given when git does not know it."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", revision], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else revision


def main(count: int) -> int:
    compare = os.environ.get("BENCH_COMPARE") or None
    label = short_revision(compare) if compare else ""
    with tempfile.TemporaryDirectory(prefix="bench-warm-cli-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        pylockenv = str(bin_dir / "pylockenv")
        app = make_app(work / "app")
        other_spec = shutil.copy(app.spec, app.spec.with_name("spec-default-uv.yml"))
        env = base_environ(work)
        default_env = {k: v for k, v in env.items() if k != "PYLOCKENV_UV"}
        # The spec's first run provisions the env (and may keep its plan); every measured
        # run comes after it, and after three more untimed runs of every row.
        run_quiet([pylockenv, "run", str(app.spec), APP_NAME], env)
        plan = printed_plan(pylockenv, app.spec, APP_NAME, env)
        python = str(Path(str(plan["env_path"])) / "bin" / "python")
        ours, pid_checks = pylockenv_rows(pylockenv, app, env, work / "plans")
        ours = {
            "pylockenv run SPEC NAME": ours.pop("pylockenv run SPEC NAME"),
            "  the same, uv looked up": (
                [pylockenv, "run", str(other_spec), APP_NAME],
                default_env,
            ),
            **ours,
        }
        theirs: dict[str, Row | str] = {}
        their_checks: dict[str, Row | str] = {}
        if compare:
            other = work / "compare"  # its venv, its cache, its plans
            their_pylockenv = str(install_pylockenv(other, compare) / "pylockenv")
            their_env = base_environ(work, XDG_CACHE_HOME=str(other / "xdg"))
            run_quiet([their_pylockenv, "run", str(app.spec), APP_NAME], their_env)
            theirs, their_checks = pylockenv_rows(their_pylockenv, app, their_env, other / "plans")
        rows: dict[str, Row | str] = {}
        for name in side_by_side(ours, theirs, label):
            rows[name] = ours[name] if name in ours else theirs[name.removesuffix(f" at {label}")]
        rows |= {
            f"  python -c 'import {', '.join(HEAVY[:3])}, ...'": (
                [str(bin_dir / "python"), "-c", f"import {', '.join(HEAVY)}"],
                env,
            ),
            "  pylockenv's python -c pass": ([str(bin_dir / "python"), "-c", "pass"], env),
            "  pylockenv's python exec'ing <env>/bin/python -c pass": (
                [str(bin_dir / "python"), "-c", EXEC_ONLY.format(python=python)],
                env,
            ),
            "<env>/bin/python -c pass": ([python, "-c", "pass"], env),
        }
        measured = {name: row for name, row in rows.items() if not isinstance(row, str)}
        for _ in range(3):  # the .pyc files of every row are written here, untimed
            for argv, environ in measured.values():
                run_quiet(argv, environ)
        actions: dict[str, Callable[[], object]] = {
            name: partial(run_quiet, argv, environ) for name, (argv, environ) in measured.items()
        }
        times = interleaved(actions, count, before=lambda: None)
        checks = {
            name: pid_checks[name]
            if name in pid_checks
            else their_checks[name.removesuffix(f" at {label}")]
            for name in side_by_side(pid_checks, their_checks, label)
        }
        launchers = {
            name: f"not available: {check}" if isinstance(check, str) else launcher_report(*check)
            for name, check in checks.items()
        }
    print(
        f"warm CLI, {count} interleaved repetitions each "
        f"(targets: run by flags <= {TARGET_FLAGS:g}x, run SPEC NAME <= {TARGET_RUN:g}x, "
        f"apply <= {TARGET_APPLY:g}x)"
        + (f"; rows 'at {label}': pylockenv at BENCH_COMPARE={compare}" if compare else "")
    )
    results = {name: row if isinstance(row, str) else times[name] for name, row in rows.items()}
    print(table(results, baseline="<env>/bin/python -c pass"))
    print(f"the imports: {', '.join(HEAVY)}")
    if compare:
        print()
        print(f"this pylockenv against {label}: median over median (<= 1.00x: no slower)")
        print(versus(results, theirs, label))
    print()
    print("a warm cached run leaves a launcher process beside the command (target: no)")
    width = max(len(name) for name in launchers)
    for name, report in launchers.items():
        print(f"{name:<{width}}  {report}")
    return 0


def versus(
    results: Mapping[str, Sequence[float] | str], theirs: Mapping[str, object], label: str
) -> str:
    """Per row both pylockenvs measured: our median over theirs."""
    lines = []
    width = max(len(name) for name in theirs)
    for name in theirs:
        ours, other = results[name], results[f"{name} at {label}"]
        if isinstance(ours, str) or isinstance(other, str):
            lines.append(
                f"{name:<{width}}  not available: {other if isinstance(other, str) else ours}"
            )
            continue
        lines.append(f"{name:<{width}}  {statistics.median(ours) / statistics.median(other):.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(repeats(default=40, quick=10)))
