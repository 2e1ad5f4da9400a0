"""What every benchmark shares: an installed pylockenv, a tiny app, timing and a table.

pylockenv is measured as users get it: built as a wheel from a copy of the
project (the working tree, or the revision named by BENCH_REVISION; warm_cli.py
also builds the one named by BENCH_COMPARE) and installed into a fresh venv, not
the editable dev install (whose import hook alone costs ~15 ms at start-up).
The venv finds the dependencies (attrs, cattrs, PyYAML, ...) through a `.pth`
line naming this interpreter's site-packages. Benchmarks that call pylockenv
in-process import that same installed copy (`import_installed`).

What is built (tiny wheels, the lock, the spec, the borrowing venv, the project's
copy) comes from the tests' builders, tests/builders.py: this module appends the
repository's tests/ directory to sys.path, so that the benchmarks and the tests
build with one set of functions and cannot drift apart (a lock bench measures is
one the tests' builders make and the suite runs). builders imports only the
standard library, so nothing of pylockenv is loaded before `import_installed`.

Every measured process runs with bytecode caching on, in a private
PYTHONPYCACHEPREFIX (an installed package has its .pyc files; a
PYTHONDONTWRITEBYTECODE=1 in the caller's environment would otherwise make
every start-up compile from source), UV_OFFLINE=1, and a private UV_CACHE_DIR
and XDG_CACHE_HOME.

Every script takes `[--quick] [REPEATS]`; BENCH_QUICK=1 means --quick.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))

from builders import (  # found through the line above
    PROJECT_FILES,
    PY_VERSION,
    ROOT,
    LockedApp,
    compile_pylock,
    copy_project,
    make_locked_app,
    site_packages,
    venv_borrowing_dependencies,
    write_commands_spec,
)

APP_NAME = "bench"
PID_NAME = "pid"  # a command of the same app that prints its own process id

# What the benchmarks take from builders through this module (so that it is on the path).
__all__ = [
    "PROJECT_FILES",
    "PY_VERSION",
    "ROOT",
    "LockedApp",
    "compile_pylock",
    "write_commands_spec",
]


def is_quick() -> bool:
    """Whether fewer repetitions were asked for: --quick on the command line or BENCH_QUICK=1."""
    return "--quick" in sys.argv[1:] or os.environ.get("BENCH_QUICK", "") not in ("", "0")


def repeats(default: int, quick: int) -> int:
    """The repetitions asked for on the command line: `[--quick] [REPEATS]`.

    REPEATS wins; otherwise `quick` if is_quick(), else `default`.
    """
    numbers = [arg for arg in sys.argv[1:] if arg != "--quick"]
    if numbers:
        return int(numbers[0])
    return quick if is_quick() else default


def find_real_uv() -> str:
    """The uv that pylockenv would run: PYLOCKENV_UV, else the `uv` package's, else uv on PATH.

    Found without importing pylockenv, which `import_installed` must import first.
    """
    chosen = os.environ.get("PYLOCKENV_UV")
    if chosen:
        return chosen
    try:
        from uv import find_uv_bin

        return os.fsdecode(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("no uv found: install pylockenv's dependencies or set PYLOCKENV_UV")
    return found


def base_environ(work: Path, **more: str) -> dict[str, str]:
    """The environment of every measured process: offline uv, private caches, .pyc on."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "PYLOCKENV_", "PYTHON", "BENCH_")) and k != "XDG_CACHE_HOME"
    }
    env.update(
        UV_OFFLINE="1",
        UV_CACHE_DIR=str(work / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        XDG_CACHE_HOME=str(work / "xdg"),
        PYTHONPYCACHEPREFIX=str(work / "pyc"),
        PYLOCKENV_UV=find_real_uv(),
    )
    env.update(more)
    return env


def install_pylockenv(work: Path, revision: str | None = None) -> Path:
    """Build pylockenv's wheel and install it into a fresh venv in `work`; return its bin/.

    The wheel is built from git at `revision`, else at BENCH_REVISION, else from the
    working tree.
    """
    source = copy_project(work / "src", revision or os.environ.get("BENCH_REVISION") or None)
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("pylockenv-*.whl")
    venv = work / "pylockenv-venv"
    python = venv_borrowing_dependencies(venv)
    subprocess.run(
        [find_real_uv(), "pip", "install", "--python", str(python), "--no-deps", str(wheel)],
        env={**os.environ, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(work / "uv-cache")},
        check=True,
        capture_output=True,
    )
    return venv / "bin"


def import_installed(bin_dir: Path) -> None:
    """Make `import pylockenv` in this process load the copy installed next to `bin_dir`.

    Call it before the first import of pylockenv; it fails if another copy is loaded.
    """
    if "pylockenv" in sys.modules:
        raise RuntimeError("pylockenv was imported before import_installed()")
    sys.path.insert(0, str(site_packages(bin_dir.parent)))
    import pylockenv.shell

    where = Path(pylockenv.shell.__file__).resolve()
    if not where.is_relative_to(bin_dir.parent.resolve()):
        raise RuntimeError(f"pylockenv was imported from {where}, not the installed wheel")


def make_app(root: Path, *, extras: int = 1) -> LockedApp:
    """The benchmarks' app: a spec with two commands on one env, APP_NAME and PID_NAME.

    APP_NAME runs `-c pass`; PID_NAME prints its own process id. The env locks 3
    tiny wheels by `uv pip compile --format pylock.toml`, as a user makes a lock,
    and adds `extras` more as local extra deps (builders.make_locked_app). The
    commands name the running interpreter's X.Y (not the 3.13 default): the
    baselines run this Python.
    """
    commands = {APP_NAME: "-c pass", PID_NAME: "-c 'import os; print(os.getpid())'"}
    offline = {**os.environ, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(root / "lock-uv-cache")}
    return make_locked_app(root, commands, uv=find_real_uv(), environ=offline, extras=extras)


def plan_json(pylockenv: str, spec: Path, name: str, env: Mapping[str, str]) -> str:
    """What `pylockenv run SPEC NAME --print-plan --json > plan.json` writes into plan.json."""
    return subprocess.run(
        [pylockenv, "run", str(spec), name, "--print-plan", "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def printed_plan(
    pylockenv: str, spec: Path, name: str, env: Mapping[str, str]
) -> dict[str, object]:
    """The plan of `pylockenv run SPEC NAME`, read from `--print-plan --json`."""
    plan: dict[str, object] = json.loads(plan_json(pylockenv, spec, name, env))
    return plan


def has_command(pylockenv: str, command: str) -> bool:
    """Whether this pylockenv knows the subcommand `command` (its --help exits 0)."""
    done = subprocess.run(
        [pylockenv, command, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return done.returncode == 0


def run_quiet(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Run argv to completion, output discarded; fail loudly if it fails."""
    result = subprocess.run(
        list(argv), env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr!r}")


def timed(action: Callable[[], object]) -> float:
    """Seconds `action()` took, by time.perf_counter."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def interleaved(
    actions: Mapping[str, Callable[[], object]], repeats: int, *, before: Callable[[], object]
) -> dict[str, list[float]]:
    """Time each action `repeats` times, alternating them (A B A B ...), `before` each untimed."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for i in range(repeats):
        # Alternate which goes first, so neither always follows the other.
        names = list(actions) if i % 2 == 0 else list(actions)[::-1]
        for name in names:
            before()
            times[name].append(timed(actions[name]))
    return times


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile); all three are the value when there is one."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def table(
    times: Mapping[str, Sequence[float] | str],
    *,
    baseline: str,
    unit: float = 1e-3,
    unit_name: str = "ms",
) -> str:
    """A small table: median, IQR, min-max per row, and each median's ratio to `baseline`'s.

    A row whose value is a string could not be measured: the string says why.
    """
    base_values = times[baseline]
    assert not isinstance(base_values, str), "the baseline must have been measured"
    base = statistics.median(base_values)
    width = max(len(name) for name in times)
    head = f"{'':<{width}}  {'n':>4}  {'median':>9}  {'IQR':>19}  {'min-max':>19}  {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for name, values in times.items():
        if isinstance(values, str):
            lines.append(f"{name:<{width}}  not available: {values}")
            continue
        q1, median, q3 = quartiles(values)
        iqr = f"{q1 / unit:.1f}-{q3 / unit:.1f}"
        span = f"{min(values) / unit:.1f}-{max(values) / unit:.1f}"
        lines.append(
            f"{name:<{width}}  {len(values):>4}  {median / unit:>7.1f}{unit_name}  "
            f"{iqr:>17}{unit_name}  {span:>17}{unit_name}  {median / base:>5.2f}x"
        )
    return "\n".join(lines)
