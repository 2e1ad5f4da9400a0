"""Which uv versions install from a pylock.toml? Evidence for pyproject's `uv>=` bound.

Usage: python tests/probe_uv_versions.py UV_BINARY [UV_BINARY...]

Get the binaries with, for example,
`pip download --no-deps --only-binary=:all: -d dl uv==0.6.15` and unzip
`uv-*.data/scripts/uv` from each wheel. For every binary this builds a tiny wheel
and a pylock.toml that lists it by path, then runs, offline,
`uv venv` and `uv pip install -p <env>/bin/python -r pylock.toml` (what a plan runs)
and prints one line: the version, whether the install worked, and uv's last error line.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from builders import PY_VERSION, build_wheel, write_pylock
from harness import CacheDir, process_environ


def probe(uv: str, work: Path) -> str:
    """One line saying whether `uv` installs the pylock in `work`."""
    version = subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
    env = process_environ(CacheDir(work / "xdg"), work / "uv-cache")
    venv = work / f"env-{version.replace(' ', '-')}"
    steps = [
        [uv, "venv", "-p", PY_VERSION, str(venv)],
        [uv, "pip", "install", "-p", str(venv / "bin" / "python"), "-r", str(work / "pylock.toml")],
    ]
    for argv in steps:
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if "error" in line]
            return f"{version}: FAILS at {argv[1]}: {errors[0] if errors else result.stderr}"
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import probe_pkg; print(probe_pkg.VERSION)"],
        capture_output=True,
        text=True,
    )
    return f"{version}: {'works' if check.stdout.strip() == '1.0' else 'installs nothing'}"


def main(uvs: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wheels = work / "wheels"
        wheels.mkdir()
        write_pylock(work / "pylock.toml", [build_wheel(wheels, "probe-pkg")])
        for uv in uvs:
            print(probe(uv, work))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
