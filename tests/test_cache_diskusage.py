"""Disk usage of an env: each inode once, and what removing it would free."""

from __future__ import annotations

import os
from pathlib import Path

from pylockenv.shell.cache import disk_usage

BLOB = 64 * 1024


def blocks_of(path: Path) -> int:
    return os.lstat(path).st_blocks * 512


def test_a_file_hard_linked_twice_inside_the_env_counts_once(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.mkdir()
    (env / "a").write_bytes(b"x" * BLOB)
    before = disk_usage(str(env))
    os.link(env / "a", env / "b")
    after = disk_usage(str(env))
    assert after.total == before.total
    assert after.freed == before.freed >= BLOB


def test_a_file_also_linked_from_outside_counts_in_total_but_is_not_freed(tmp_path: Path) -> None:
    env, outside = tmp_path / "env", tmp_path / "uv-cache"
    env.mkdir()
    outside.mkdir()
    (outside / "a").write_bytes(b"x" * BLOB)
    os.link(outside / "a", env / "a")
    usage = disk_usage(str(env))
    assert usage.total == blocks_of(env) + blocks_of(env / "a")
    assert usage.freed == blocks_of(env)


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    env, big = tmp_path / "env", tmp_path / "big"
    env.mkdir()
    big.mkdir()
    (big / "a").write_bytes(b"x" * BLOB)
    (env / "link").symlink_to(big)
    assert disk_usage(str(env)).total < BLOB


def test_a_missing_directory_measures_nothing(tmp_path: Path) -> None:
    usage = disk_usage(str(tmp_path / "gone"))
    assert (usage.total, usage.freed) == (0, 0)
