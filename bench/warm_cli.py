"""Warm CLI: `pylockenv run SPEC NAME` (command `-c pass`) against `<env>/bin/python -c pass`.

Usage: python bench/warm_cli.py [REPEATS]   (default 40; target: ratio <= 6x)

The env is provisioned once beforehand, so every measured run is warm. Both
sides run as child processes of this script, interleaved, output discarded.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import (
    APP_NAME,
    base_environ,
    env_dirs,
    install_pylockenv,
    interleaved,
    make_app,
    run_quiet,
    table,
)

TARGET = 6.0


def main(repeats: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-warm-cli-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        spec = make_app(work / "app")
        env = base_environ(work)
        pylockenv = [str(bin_dir / "pylockenv"), "run", str(spec), APP_NAME]
        run_quiet(pylockenv, env)  # provisions the env
        (env_path,) = env_dirs(work / "xdg")
        direct = [str(env_path / "bin" / "python"), "-c", "pass"]
        for _ in range(3):  # the .pyc files of both sides are written here, untimed
            run_quiet(pylockenv, env)
            run_quiet(direct, env)

        def run(argv: list[str]) -> None:
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        times = interleaved(
            {
                "pylockenv run SPEC NAME": lambda: run(pylockenv),
                "<env>/bin/python -c pass": lambda: run(direct),
            },
            repeats,
            before=lambda: None,
        )
    print(f"warm CLI, {repeats} interleaved repetitions each (target <= {TARGET:g}x)")
    print(table(times, baseline="<env>/bin/python -c pass"))
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
