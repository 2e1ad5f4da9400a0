"""What every benchmark shares: an installed pylockenv, a tiny app, timing and a table.

pylockenv is measured as users get it: built as a wheel from a copy of the
project and installed into a fresh venv (not the editable dev install, whose
import hook alone costs ~15 ms at start-up). The venv finds the dependencies
(attrs, cattrs, PyYAML, ...) through a `.pth` line naming this interpreter's
site-packages, as tests/test_packaging.py does.

Every measured process runs with bytecode caching on, in a private
PYTHONPYCACHEPREFIX (an installed package has its .pyc files; this machine's
PYTHONDONTWRITEBYTECODE=1 would otherwise make every start-up compile from
source), UV_OFFLINE=1, and a private UV_CACHE_DIR and XDG_CACHE_HOME.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from builders import (  # noqa: E402
    PY_VERSION,
    build_wheel,
    venv_borrowing_dependencies,
    write_pylock,
)

__all__ = ["PY_VERSION", "build_wheel", "write_pylock"]

PROJECT_FILES = ("pyproject.toml", "README.md", "core", "shell")


def find_real_uv() -> str:
    """The uv that pylockenv would run (PYLOCKENV_UV, the bundled uv, or uv on PATH)."""
    from pylockenv.shell.uvbin import find_uv

    return find_uv()


def base_environ(work: Path, **more: str) -> dict[str, str]:
    """The environment of every measured process: offline uv, private caches, .pyc on."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "PYLOCKENV_", "PYTHON")) and k != "XDG_CACHE_HOME"
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


def install_pylockenv(work: Path) -> Path:
    """Build pylockenv's wheel and install it into a fresh venv; return the venv's bin/."""
    source = work / "src"
    source.mkdir()
    for name in PROJECT_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
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


APP_NAME = "bench"


def make_app(root: Path, *, command: str = "-c pass", extras: int = 1, wheels: int = 3) -> Path:
    """A spec file whose command APP_NAME locks `wheels` tiny wheels and adds `extras` more.

    The extras are local extra deps (wheels installed with --no-deps).
    """
    wheel_dir = root / "wheels"
    wheel_dir.mkdir(parents=True, exist_ok=True)
    locked = [build_wheel(wheel_dir, f"bench-dep-{i}") for i in range(wheels)]
    write_pylock(root / "pylock.toml", locked)
    lines = ["commands:", f"  {APP_NAME}:", f"    command: {command}", "    pylock: pylock.toml"]
    if extras:
        lines.append("    local_extra_deps:")
        for i in range(extras):
            extra = build_wheel(wheel_dir, f"bench-app-{i}", "2.0")
            lines.append(f"      - {extra.relative_to(root)}")
    spec = root / "spec.yml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def env_dirs(xdg: Path) -> list[Path]:
    """The cached env directories under the cache at `xdg`."""
    envs = xdg / "bfabric_app_runner" / "envs"
    return sorted(p for p in envs.iterdir() if p.is_dir()) if envs.exists() else []


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
    """(first quartile, median, third quartile)."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def table(
    times: Mapping[str, Sequence[float]],
    *,
    baseline: str,
    unit: float = 1e-3,
    unit_name: str = "ms",
) -> str:
    """A small table: median, IQR, min-max per row, and each median's ratio to `baseline`'s."""
    base = statistics.median(times[baseline])
    width = max(len(name) for name in times)
    head = f"{'':<{width}}  {'n':>4}  {'median':>9}  {'IQR':>19}  {'min-max':>19}  {'ratio':>6}"
    lines = [head, "-" * len(head)]
    for name, values in times.items():
        q1, median, q3 = quartiles(values)
        iqr = f"{q1 / unit:.1f}-{q3 / unit:.1f}"
        span = f"{min(values) / unit:.1f}-{max(values) / unit:.1f}"
        lines.append(
            f"{name:<{width}}  {len(values):>4}  {median / unit:>7.1f}{unit_name}  "
            f"{iqr:>17}{unit_name}  {span:>17}{unit_name}  {median / base:>5.2f}x"
        )
    return "\n".join(lines)
