"""Warm CLI: `pylockenv run SPEC NAME`, `run --pylock P --command C ...` and `apply plan.json`
against the env's python.

Usage: python bench/warm_cli.py [--quick] [REPEATS]   (default 40, quick 10;
targets: run by flags <= 3.5x, run SPEC NAME and apply <= 2.0x, no launcher process)

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
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from benchkit import (
    APP_NAME,
    PID_NAME,
    PY_VERSION,
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


def main(count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-warm-cli-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        pylockenv = str(bin_dir / "pylockenv")
        app = make_app(work / "app")
        spec = app.spec
        other_spec = shutil.copy(spec, spec.with_name("spec-default-uv.yml"))
        env = base_environ(work)
        default_env = {k: v for k, v in env.items() if k != "PYLOCKENV_UV"}
        run = [pylockenv, "run", str(spec), APP_NAME]
        # The spec's first run provisions the env (and may keep its plan); every measured
        # run comes after it, and after three more untimed runs of every row.
        run_quiet(run, env)
        plan = printed_plan(pylockenv, spec, APP_NAME, env)
        python = str(Path(str(plan["env_path"])) / "bin" / "python")
        rows: dict[str, tuple[list[str], dict[str, str]] | str] = {
            "pylockenv run SPEC NAME": (run, env),
            "  the same, uv looked up": (
                [pylockenv, "run", str(other_spec), APP_NAME],
                default_env,
            ),
            "pylockenv run --pylock P --command C ...": (
                [pylockenv, *flags_of(app, "-c pass")],
                env,
            ),
        }
        pid_checks: dict[str, list[str] | str] = {
            "pylockenv run SPEC NAME": [pylockenv, "run", str(spec), PID_NAME],
            "pylockenv run --pylock P --command C ...": [
                pylockenv,
                *flags_of(app, "-c 'import os; print(os.getpid())'"),
            ],
        }
        if has_command(pylockenv, "apply"):
            plans = {}
            for name in (APP_NAME, PID_NAME):
                plans[name] = work / f"plan-{name}.json"
                plans[name].write_text(plan_json(pylockenv, spec, name, env))
            rows["pylockenv apply plan.json"] = ([pylockenv, "apply", str(plans[APP_NAME])], env)
            pid_checks["pylockenv apply plan.json"] = [pylockenv, "apply", str(plans[PID_NAME])]
        else:
            rows["pylockenv apply plan.json"] = "this pylockenv has no apply command"
            pid_checks["pylockenv apply plan.json"] = rows["pylockenv apply plan.json"]
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
            name: (lambda argv=argv, environ=environ: run_quiet(argv, environ))
            for name, (argv, environ) in measured.items()
        }
        times = interleaved(actions, count, before=lambda: None)
        launchers = {
            name: f"not available: {check}"
            if isinstance(check, str)
            else launcher_report(check, env)
            for name, check in pid_checks.items()
        }
    print(
        f"warm CLI, {count} interleaved repetitions each "
        f"(targets: run by flags <= {TARGET_FLAGS:g}x, run SPEC NAME <= {TARGET_RUN:g}x, "
        f"apply <= {TARGET_APPLY:g}x)"
    )
    results = {name: row if isinstance(row, str) else times[name] for name, row in rows.items()}
    print(table(results, baseline="<env>/bin/python -c pass"))
    print(f"the imports: {', '.join(HEAVY)}")
    print()
    print("a warm cached run leaves a launcher process beside the command (target: no)")
    width = max(len(name) for name in launchers)
    for name, report in launchers.items():
        print(f"{name:<{width}}  {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(repeats(default=40, quick=10)))
