"""Measuring an env's disk usage in one walk, counting hard-linked files once."""

from __future__ import annotations

import os

from pylockenv.core.envstate import DiskUsage

BLOCK_BYTES = 512  # st_blocks is counted in 512-byte units on Linux and macOS


def disk_usage(root: str) -> DiskUsage:
    """Bytes on disk under `root` (symlinks not followed), each inode once.

    `freed` sums the inodes all of whose links were seen under `root`, so
    it is what removing `root` frees; files uv hard-linked from its cache are
    in `total` only. A directory that vanishes during the walk counts as empty.
    """
    seen: dict[tuple[int, int], list[int]] = {}  # inode -> [bytes, links, links seen]
    freed = 0
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
            st = os.lstat(directory)
        except OSError:
            continue
        freed += st.st_blocks * BLOCK_BYTES
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            record = seen.get(key)
            if record is None:
                seen[key] = [st.st_blocks * BLOCK_BYTES, st.st_nlink, 1]
            else:
                record[2] += 1
    total = freed  # directories so far: each is one inode, only linked here
    for size, links, links_seen in seen.values():
        total += size
        if links_seen >= links:
            freed += size
    return DiskUsage(total=total, freed=freed)
