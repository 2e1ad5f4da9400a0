"""`pylockenv list`: every env on disk with its state, against a cache made by real provisioning."""

from __future__ import annotations

import json
import sys
from typing import Any

from filelock import FileLock
from harness import (
    PYLOCKENV_EPHEMERAL,
    REFERENCE_EPHEMERAL,
    CacheDir,
    MainRunner,
    ProvisionedEnv,
    holding_directory,
    run_pylockenv,
    set_last_use,
)

from pylockenv.core.cache_display import SIZE_NOTE


def listed(run_main: MainRunner) -> dict[str, dict[str, Any]]:
    code, out, _ = run_main("list", "--json")
    assert code == 0
    return {env["name"]: env for env in json.loads(out)["envs"]}


def test_list_of_a_missing_cache_says_there_is_nothing(
    cache: CacheDir, run_main: MainRunner
) -> None:
    code, out, _ = run_main("list")
    assert code == 0
    assert out == f"no environments in {cache.root}\n"
    assert listed(run_main) == {}


def test_list_shows_a_provisioned_env_as_ready_with_its_provenance(
    provisioned: ProvisionedEnv,
) -> None:
    done = run_pylockenv(provisioned.environ, "list", "--json")
    (env,) = json.loads(done.stdout)["envs"]
    assert env["name"] == provisioned.env_hash
    assert env["state"] == "ready"
    assert env["pylock"] == str(provisioned.pylock)
    assert env["python_version"].startswith(f"{sys.version_info.major}.")
    assert env["size_bytes"] >= env["freed_bytes"] > 0


def test_list_table_has_one_row_per_env_and_explains_the_size(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    provisioned.copy_to(cache, "0123456789abcdef")
    code, out, _ = run_main("list")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["ENV", "STATE"]
    assert sorted(line.split()[0] for line in lines[2:4]) == sorted(
        ["0123456789abcdef", provisioned.env_hash]
    )
    assert "\n".join(lines[-2:]) == SIZE_NOTE


def test_an_env_with_the_reference_empty_marker_is_ready_without_provenance(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / ".provisioned").write_text("")
    entry = listed(run_main)[provisioned.env_hash]
    assert entry["state"] == "ready"
    assert entry["pylock"] is None
    assert entry["python_version"] is not None  # read from pyvenv.cfg instead


def test_an_env_without_marker_is_partial(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / ".provisioned").unlink()
    assert listed(run_main)[provisioned.env_hash]["state"] == "partial"


def test_an_env_whose_interpreter_points_nowhere_is_broken(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").symlink_to("/nonexistent/python3")
    assert listed(run_main)[provisioned.env_hash]["state"] == "broken"


def test_an_env_whose_provisioning_lock_is_held_is_in_provisioning(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    with FileLock(f"{env}.lock"):
        assert listed(run_main)[provisioned.env_hash]["state"] == "in provisioning"
    assert listed(run_main)[provisioned.env_hash]["state"] == "ready"


def test_an_ephemeral_env_nobody_holds_is_orphaned(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    entry = listed(run_main)[PYLOCKENV_EPHEMERAL]
    assert (entry["kind"], entry["state"]) == ("ephemeral", "orphaned ephemeral")


def test_a_reference_ephemeral_env_is_unlocked_not_orphaned(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache, REFERENCE_EPHEMERAL, kind="ephemeral")
    assert listed(run_main)[REFERENCE_EPHEMERAL]["state"] == "unlocked ephemeral"


def test_an_ephemeral_env_whose_directory_is_locked_is_in_use(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    with holding_directory(env):
        assert listed(run_main)[PYLOCKENV_EPHEMERAL]["state"] == "ephemeral in use"


def test_envs_are_sorted_most_recently_used_first(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    for name, days in (("aaaaaaaaaaaaaaaa", 3), ("bbbbbbbbbbbbbbbb", 1), ("cccccccccccccccc", 2)):
        set_last_use(provisioned.copy_to(cache, name), days * 86400)
    assert list(listed(run_main)) == ["bbbbbbbbbbbbbbbb", "cccccccccccccccc", "aaaaaaaaaaaaaaaa"]


def test_listing_leaves_the_last_use_of_an_env_unchanged(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    marker_mtime = (env / ".provisioned").stat().st_mtime
    listed(run_main)
    assert not (env / ".in-use").exists()
    assert (env / ".provisioned").stat().st_mtime == marker_mtime


def test_list_without_sizes_leaves_them_out(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    code, out, _ = run_main("list", "--json", "--no-size")
    assert code == 0
    (env,) = json.loads(out)["envs"]
    assert env["size_bytes"] is None


def test_list_reads_500_envs(cache: CacheDir, run_main: MainRunner) -> None:
    # Minimal envs (marker, pyvenv.cfg, interpreter link); bench/scale.py measures the time.
    envs = cache.root / "envs"
    for i in range(500):
        env = envs / f"{i:016x}"
        (env / "bin").mkdir(parents=True)
        (env / "bin" / "python").symlink_to(sys.executable)
        (env / "pyvenv.cfg").write_text("version_info = 3.11.7\n")
        (env / ".provisioned").write_text("{}")
    entries = listed(run_main)
    assert len(entries) == 500
    assert {entry["state"] for entry in entries.values()} == {"ready"}


def test_a_link_at_envs_is_reported_and_never_followed(
    cache: CacheDir, run_main: MainRunner
) -> None:
    root = cache.root
    root.mkdir(parents=True)
    (root / "envs").symlink_to("envs")  # a loop: following it would fail
    code, out, err = run_main("list")
    assert code == 0
    assert out.startswith("no environments in ")
    assert err.startswith(f"pylockenv: warning: {root}/envs is a symbolic link, where the cache")
    assert "Nothing under it is listed or removed." in err
