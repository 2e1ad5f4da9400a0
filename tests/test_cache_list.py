"""`pylockenv list`: every env on disk with its state, against a cache made by real provisioning."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cachekit import (
    PYLOCKENV_EPHEMERAL,
    REFERENCE_EPHEMERAL,
    Template,
    cache_root,
    copy_env,
    holding_directory,
    provision_template,
    pylockenv,
    run_cli,
    set_last_use,
)
from filelock import FileLock

from pylockenv.core.cacheview import SIZE_NOTE


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return provision_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty cache for this test (the CLI runs in this process)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def listed(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    code, out, _ = run_cli(capsys, "list", "--json")
    assert code == 0
    return {env["name"]: env for env in json.loads(out)["envs"]}


def test_list_of_a_missing_cache_says_there_is_nothing(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert out == f"no environments in {cache_root(xdg)}\n"
    assert listed(capsys) == {}


def test_list_shows_a_provisioned_env_as_ready_with_its_provenance(template: Template) -> None:
    done = pylockenv("list", "--json", xdg=template.xdg, uv_cache=template.uv_cache)
    (env,) = json.loads(done.stdout)["envs"]
    assert env["name"] == template.env_hash
    assert env["state"] == "ready"
    assert env["pylock"] == str(template.project.pylock)
    assert env["python_version"].startswith(f"{sys.version_info.major}.")
    assert env["size_bytes"] >= env["freed_bytes"] > 0


def test_list_table_has_one_row_per_env_and_explains_the_size(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    copy_env(template, xdg, "0123456789abcdef")
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["ENV", "STATE"]
    assert sorted(line.split()[0] for line in lines[2:4]) == sorted(
        ["0123456789abcdef", template.env_hash]
    )
    assert "\n".join(lines[-2:]) == SIZE_NOTE


def test_an_env_with_the_reference_empty_marker_is_ready_without_provenance(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    (env / ".provisioned").write_text("")
    entry = listed(capsys)[template.env_hash]
    assert entry["state"] == "ready"
    assert entry["pylock"] is None
    assert entry["python_version"] is not None  # read from pyvenv.cfg instead


def test_an_env_without_marker_is_partial(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    (env / ".provisioned").unlink()
    assert listed(capsys)[template.env_hash]["state"] == "partial"


def test_an_env_whose_interpreter_points_nowhere_is_broken(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").symlink_to("/nonexistent/python3")
    assert listed(capsys)[template.env_hash]["state"] == "broken"


def test_an_env_whose_provisioning_lock_is_held_is_in_provisioning(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    with FileLock(f"{env}.lock"):
        assert listed(capsys)[template.env_hash]["state"] == "in provisioning"
    assert listed(capsys)[template.env_hash]["state"] == "ready"


def test_an_ephemeral_env_nobody_holds_is_orphaned(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    entry = listed(capsys)[PYLOCKENV_EPHEMERAL]
    assert (entry["kind"], entry["state"]) == ("ephemeral", "orphaned ephemeral")


def test_a_reference_ephemeral_env_is_unlocked_not_orphaned(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg, REFERENCE_EPHEMERAL, kind="ephemeral")
    assert listed(capsys)[REFERENCE_EPHEMERAL]["state"] == "unlocked ephemeral"


def test_an_ephemeral_env_whose_directory_is_locked_is_in_use(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg, PYLOCKENV_EPHEMERAL, kind="ephemeral")
    with holding_directory(env):
        assert listed(capsys)[PYLOCKENV_EPHEMERAL]["state"] == "ephemeral in use"


def test_envs_are_sorted_most_recently_used_first(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, days in (("aaaaaaaaaaaaaaaa", 3), ("bbbbbbbbbbbbbbbb", 1), ("cccccccccccccccc", 2)):
        set_last_use(copy_env(template, xdg, name), days * 86400)
    assert list(listed(capsys)) == ["bbbbbbbbbbbbbbbb", "cccccccccccccccc", "aaaaaaaaaaaaaaaa"]


def test_listing_leaves_the_last_use_of_an_env_unchanged(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    marker_mtime = (env / ".provisioned").stat().st_mtime
    listed(capsys)
    assert not (env / ".in-use").exists()
    assert (env / ".provisioned").stat().st_mtime == marker_mtime


def test_list_without_sizes_leaves_them_out(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    code, out, _ = run_cli(capsys, "list", "--json", "--no-size")
    assert code == 0
    (env,) = json.loads(out)["envs"]
    assert env["size_bytes"] is None


def test_list_reads_500_envs(xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Minimal envs (marker, pyvenv.cfg, interpreter link): this times the scan, not the disk.
    envs = cache_root(xdg) / "envs"
    for i in range(500):
        env = envs / f"{i:016x}"
        (env / "bin").mkdir(parents=True)
        (env / "bin" / "python").symlink_to(sys.executable)
        (env / "pyvenv.cfg").write_text("version_info = 3.11.7\n")
        (env / ".provisioned").write_text("{}")
    entries = listed(capsys)
    assert len(entries) == 500
    assert {entry["state"] for entry in entries.values()} == {"ready"}


def test_an_unreadable_cache_is_a_one_line_error(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = cache_root(xdg)
    root.mkdir(parents=True)
    (root / "envs").symlink_to("envs")  # a loop: reading it fails like a denied directory
    code, out, err = run_cli(capsys, "list")
    assert (code, out) == (125, "")
    assert err.startswith(f"pylockenv: error: cannot read the cache directory {root}/envs")
