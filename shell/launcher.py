"""The `pylockenv` console script: the warm path first, the whole command line after.

This is the one place that decides what a run imports. Until the warm path has
decided (see `shell.warm`), only light modules of the standard library and of
pylockenv are loaded; argparse, attrs, cattrs, PyYAML, filelock, subprocess and
the provisioning code load only when the full command line takes over. The
packages `pylockenv.core` and `pylockenv.shell` load their public names lazily
for the same reason.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pylockenv` console script; returns the exit code (or execs)."""
    args = list(sys.argv[1:] if argv is None else argv)
    from .warm import forget_plan_lock, try_warm_path

    try_warm_path(args)
    from .cli import main as full_command_line

    try:
        code = full_command_line(args)
    except SystemExit as exc:  # a usage error (or --help, which exits 0)
        if exc.code not in (0, None):
            forget_plan_lock()
        raise
    if code != 0:
        forget_plan_lock()  # a failed run leaves no lock it made on disk
    return code


if __name__ == "__main__":
    sys.exit(main())
