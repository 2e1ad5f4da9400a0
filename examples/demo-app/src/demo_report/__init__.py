"""A tiny app run by pylockenv: reports on the files in a directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import humanize
from tabulate import tabulate


def main() -> int:
    """Print a table of the files in the directory given (default: the working directory)."""
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    title = os.environ.get("DEMO_TITLE", "demo-report")
    rows = [
        (entry.name, humanize.naturalsize(entry.stat().st_size))
        for entry in sorted(target.iterdir())
        if entry.is_file()
    ]
    print(f"{title}: {target} (Python {sys.version.split()[0]}, {sys.executable})")
    print(tabulate(rows, headers=["file", "size"]))
    return 0
