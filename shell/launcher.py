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
    from .warm import try_warm_path

    try_warm_path(args)
    from .cli import main as full_command_line

    return full_command_line(args)


if __name__ == "__main__":
    sys.exit(main())
