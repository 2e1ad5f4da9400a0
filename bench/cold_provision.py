"""Cold provisioning: `pylockenv provision SPEC NAME` against the plan's bare uv commands in sh.

Usage: python bench/cold_provision.py [REPEATS]   (default 10; target: ratio <= 1.25x)

The app locks 3 tiny wheels and adds 1 local extra wheel. uv's cache is warmed
once beforehand and shared by both sides; every repetition of either side gets a
fresh XDG_CACHE_HOME, so each one really creates and fills a new env. The bare
side is a shell script holding exactly the plan's uv steps (argv and PATH from
`pylockenv run --print-plan --json`, written before the clock starts) and an
empty marker written last, as the reference writes it.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import (
    APP_NAME,
    base_environ,
    install_pylockenv,
    interleaved,
    make_app,
    run_quiet,
    table,
)

TARGET = 1.25


def bare_script(plan: dict[str, object], path: Path) -> Path:
    """A shell script running the plan's uv steps one after the other, then the marker."""
    lines = ["#!/bin/sh", "set -e"]
    steps = plan["steps"]
    assert isinstance(steps, list)
    for step in steps:
        argv = " ".join(shlex.quote(word) for word in step["argv"])
        lines.append(f"PATH={shlex.quote(step['env']['path'])} {argv} >/dev/null 2>&1")
    lines.append(f": > {shlex.quote(str(plan['marker_path']))}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path


def main(repeats: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-cold-provision-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        spec = make_app(work / "app")
        pylockenv = str(bin_dir / "pylockenv")
        run_quiet([pylockenv, "provision", str(spec), APP_NAME], base_environ(work))  # uv's cache
        fresh = iter(range(10**6))
        current: dict[str, object] = {}

        def prepare() -> None:
            """A new cache location for each side; the bare script for its own one."""
            n = next(fresh)
            env = base_environ(work, XDG_CACHE_HOME=str(work / f"xdg-{n}"))
            printed = subprocess.run(
                [pylockenv, "run", str(spec), APP_NAME, "--print-plan", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            current["env"] = env
            current["script"] = bare_script(json.loads(printed), work / f"bare-{n}.sh")

        def provision() -> None:
            run_quiet([pylockenv, "provision", str(spec), APP_NAME], current["env"])  # type: ignore[arg-type]

        def bare() -> None:
            run_quiet([str(current["script"])], current["env"])  # type: ignore[arg-type]

        for _ in range(2):  # .pyc files and page cache, untimed
            prepare()
            provision()
            prepare()
            bare()
        times = interleaved(
            {"pylockenv provision": provision, "bare uv steps (sh)": bare},
            repeats,
            before=prepare,
        )
    print(
        f"cold provisioning (3 locked wheels + 1 local extra), {repeats} interleaved "
        f"repetitions each (target <= {TARGET:g}x)"
    )
    print(table(times, baseline="bare uv steps (sh)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
