"""Warm CLI: `pylockenv run SPEC NAME` (command `-c pass`) against `<env>/bin/python -c pass`.

Usage: python bench/warm_cli.py [REPEATS]   (default 40; target: ratio <= 6x)

The env is provisioned once beforehand, so every measured run is warm. Every
row runs as a child process of this script, interleaved, output discarded.
The target compares the first row with the last. The other rows say where the
time goes: the same run when PYLOCKENV_UV is not set (so pylockenv looks for
its bundled uv, as an installed pylockenv does by default), and pylockenv's
interpreter importing only the libraries a warm run cannot do without (PyYAML,
attrs, cattrs and the standard modules it uses), which is the floor of this design.
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
FLOOR = ("yaml", "attrs", "cattrs", "subprocess", "argparse", "hashlib", "shlex", "json")


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
        floor = [str(bin_dir / "python"), "-c", f"import {', '.join(FLOOR)}"]
        default_env = {k: v for k, v in env.items() if k != "PYLOCKENV_UV"}
        for _ in range(3):  # the .pyc files of both sides are written here, untimed
            run_quiet(pylockenv, env)
            run_quiet(direct, env)

        def run(argv: list[str], environ: dict[str, str] = env) -> None:
            done = subprocess.run(
                argv, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            assert done.returncode == 0

        times = interleaved(
            {
                "pylockenv run SPEC NAME": lambda: run(pylockenv),
                "  the same, uv looked up": lambda: run(pylockenv, default_env),
                "  python -c 'import <floor>'": lambda: run(floor),
                "<env>/bin/python -c pass": lambda: run(direct),
            },
            repeats,
            before=lambda: None,
        )
    print(f"warm CLI, {repeats} interleaved repetitions each (target <= {TARGET:g}x)")
    print(table(times, baseline="<env>/bin/python -c pass"))
    print(f"<floor>: {', '.join(FLOOR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
