"""Measure `pylockenv list` and `gc --dry-run` on a cache of N real envs (default 500).

One env is provisioned for real (offline, tiny wheels), then copied N-1 times
under other hashes, hard links to uv's cache kept as copies would not be; each
command runs in a fresh process, as a user would run it.

    python tests/measure_cache_list.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cachekit import cache_environ, cache_root, provision_template


def copy_linked(source: Path, target: Path) -> None:
    """Copy an env the way uv lays it out: directories and symlinks anew, files hard-linked."""
    shutil.copytree(source, target, symlinks=True, copy_function=os.link)


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pylockenv.shell.cli", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as scratch:
        template = provision_template(Path(scratch))
        envs = cache_root(template.xdg) / "envs"
        for i in range(1, count):
            copy_linked(template.env_path, envs / f"{i:016x}")
        files = sum(len(f) for _, _, f in os.walk(template.env_path))
        env = cache_environ(template.xdg, template.uv_cache)
        print(f"{count} envs of {files} files each, Python {sys.version.split()[0]}")
        for args in (["list"], ["list", "--no-size"], ["list", "--json"], ["gc", "--dry-run"]):
            print(f"pylockenv {' '.join(args)}: {timed(args, env):.2f}s")


if __name__ == "__main__":
    main()
