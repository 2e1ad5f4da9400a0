"""In-process: `execute(plan(spec))` against `subprocess.run([<env>/bin/python, "-c", "pass"])`.

Usage: python bench/in_process.py [--quick] [REPEATS]   (default 200, quick 40;
target: ratio <= 1.02x)

Both run from this one Python process, interleaved, against an env provisioned
beforehand (warm). The spec is loaded once, as an app runner holding its spec
would; each repetition plans it afresh (host facts, stat of the pylock, hash)
and executes the plan (marker check, in-use lock, signal relay, the command).
pylockenv's progress line goes to /dev/null. The second row is the same with
PYLOCKENV_UV unset, so that planning looks for the bundled uv (an app runner's
default); the target compares the first row with the last. pylockenv is
imported from the installed wheel (benchkit.import_installed), not from the
development tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchkit import (
    APP_NAME,
    base_environ,
    import_installed,
    install_pylockenv,
    interleaved,
    make_app,
    printed_plan,
    repeats,
    table,
)

TARGET = 1.02


def main(count: int) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-in-process-") as tmp:
        work = Path(tmp)
        bin_dir = install_pylockenv(work)
        spec_path = make_app(work / "app").spec
        # This process is the caller: it gets the same private caches as a CLI run would.
        environ = base_environ(work)
        os.environ.clear()
        os.environ.update(environ)
        import_installed(bin_dir)
        from pylockenv.shell import execute, load, plan
        from pylockenv.shell.progress import Progress

        spec = load(str(spec_path), APP_NAME)
        with open(os.devnull, "w") as devnull:
            progress = Progress(stream=devnull)
            assert execute(plan(spec), progress=progress) == 0  # provisions the env
            printed = printed_plan(str(bin_dir / "pylockenv"), spec_path, APP_NAME, environ)
            direct = [str(Path(str(printed["env_path"])) / "bin" / "python"), "-c", "pass"]
            for _ in range(5):
                execute(plan(spec), progress=progress)
                subprocess.run(direct)
            uv = os.environ["PYLOCKENV_UV"]

            def uv_looked_up() -> None:
                del os.environ["PYLOCKENV_UV"]  # as an app runner that never set it
                try:
                    execute(plan(spec), progress=progress)
                finally:
                    os.environ["PYLOCKENV_UV"] = uv

            uv_looked_up()
            times = interleaved(
                {
                    "execute(plan(spec))": lambda: execute(plan(spec), progress=progress),
                    "  the same, uv looked up": uv_looked_up,
                    "subprocess.run(python -c pass)": lambda: subprocess.run(direct),
                },
                count,
                before=lambda: None,
            )
    print(f"in-process, {count} interleaved repetitions each (target <= {TARGET:g}x)")
    print(table(times, baseline="subprocess.run(python -c pass)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(repeats(default=200, quick=40)))
