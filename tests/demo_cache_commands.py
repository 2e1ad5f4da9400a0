"""Print real output of `list`, `show` and `gc --dry-run` on a small demo cache (for the README).

The cache holds one env provisioned for real, and copies of it standing for an
env last used 40 days ago, one made by the reference (empty marker), one whose
provisioning was killed (no marker) and an ephemeral env whose run is gone.

    python tests/demo_cache_commands.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cachekit import cache_environ, copy_env, provision_template, set_last_use


def show(args: list[str], env: dict[str, str], scratch: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pylockenv.shell.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    print(f"$ pylockenv {' '.join(args)}")
    print(done.stdout.replace(scratch, "/scratch").rstrip("\n"))
    print()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = os.path.realpath(scratch)
        template = provision_template(Path(scratch))
        set_last_use(copy_env(template, template.xdg, "5c2e0a61d9b7f3e4"), 40 * 86400)
        (copy_env(template, template.xdg, "a17f03c2b88e9d10") / ".provisioned").write_text("")
        (copy_env(template, template.xdg, "e9d4c7b2a1f06358") / ".provisioned").unlink()
        dead = copy_env(template, template.xdg, "env_3fa9c1d2e4b5a6f7", kind="ephemeral")
        (dead / ".in-use").touch()
        env = cache_environ(template.xdg, template.uv_cache)
        spec = str(template.project.spec)
        show(["list"], env, scratch)
        show(["show", template.env_hash], env, scratch)
        show(["gc", "--dry-run"], env, scratch)
        print(f"(spec used by the envs: {spec.replace(scratch, '/scratch')})")


if __name__ == "__main__":
    main()
