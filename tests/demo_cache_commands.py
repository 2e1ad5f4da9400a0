"""Print real output of `list`, `show` and `gc --dry-run` on a small demo cache (for the README).

The cache holds one env provisioned for real, and copies of it standing for an
env last used 40 days ago, one made by the reference (empty marker), one whose
provisioning was killed (no marker) and an ephemeral env whose run is gone.

    python tests/demo_cache_commands.py
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from harness import provision_env, run_pylockenv, set_last_use


def show(args: list[str], environ: Mapping[str, str], scratch: str) -> None:
    done = run_pylockenv(environ, *args)
    assert done.returncode == 0, done.stderr
    print(f"$ pylockenv {' '.join(args)}")
    print(done.stdout.replace(scratch, "/scratch").rstrip("\n"))
    print()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = os.path.realpath(scratch)
        provisioned = provision_env(Path(scratch), Path(scratch) / "uv-cache")
        cache = provisioned.cache
        set_last_use(provisioned.copy_to(cache, "5c2e0a61d9b7f3e4"), 40 * 86400)
        (provisioned.copy_to(cache, "a17f03c2b88e9d10") / ".provisioned").write_text("")
        (provisioned.copy_to(cache, "e9d4c7b2a1f06358") / ".provisioned").unlink()
        dead = provisioned.copy_to(cache, "env_3fa9c1d2e4b5a6f7", kind="ephemeral")
        (dead / ".in-use").touch()
        environ = provisioned.environ
        show(["list"], environ, scratch)
        show(["show", provisioned.env_hash], environ, scratch)
        show(["gc", "--dry-run"], environ, scratch)
        print(f"(spec used by the envs: {str(provisioned.spec).replace(scratch, '/scratch')})")


if __name__ == "__main__":
    main()
