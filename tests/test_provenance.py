"""The provenance a real provisioning writes into the marker, and staleness warnings on reuse."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import build_wheel
from cachekit import Template, make_project, provision_template, pylockenv

from pylockenv.core.provenance import ExtraRecord
from pylockenv.shell import load, plan
from pylockenv.shell.marker import read_marker
from pylockenv.shell.provenance import record_provenance, staleness_warnings


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return provision_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def provenance(template: Template) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((template.env_path / ".provisioned").read_text())
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_records_the_hash_inputs(template: Template, provenance: dict[str, Any]) -> None:
    assert provenance["env_hash"] == template.env_hash
    assert provenance["hash_input"].startswith(f"{provenance['host']}:")
    assert provenance["python_version_requested"] == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_provenance_records_the_interpreter_version_uv_wrote_in_pyvenv_cfg(
    provenance: dict[str, Any],
) -> None:
    assert provenance["python_version"] == "{}.{}.{}".format(*sys.version_info[:3])


def test_provenance_records_the_pylock_path_mtime_and_sha256(
    template: Template, provenance: dict[str, Any]
) -> None:
    pylock = template.project.pylock
    assert provenance["pylock"] == {
        "path": str(pylock),
        "mtime": pylock.stat().st_mtime,
        "sha256": sha256(pylock),
    }


def test_provenance_records_each_file_extra_with_size_mtime_and_sha256(
    template: Template, provenance: dict[str, Any]
) -> None:
    wheel = template.project.app_wheel
    assert provenance["local_extra_deps"] == [
        {
            "path": str(wheel),
            "kind": "file",
            "size": wheel.stat().st_size,
            "mtime": wheel.stat().st_mtime,
            "sha256": sha256(wheel),
        }
    ]


def test_provenance_records_a_directory_extra_by_path_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    project = make_project(tmp_path)
    (tmp_path / "srctree").mkdir()
    spec = tmp_path / "dir.yml"
    spec.write_text(project.spec.read_text().replace("[dist/", "[srctree, dist/"))
    recorded = record_provenance(
        plan(load(str(spec))), started=0.0, duration=1.0, uv_version="uv 0.13.9"
    )
    assert recorded.local_extra_deps[0] == ExtraRecord(
        path=str(tmp_path / "srctree"), kind="directory"
    )


def test_provenance_records_uv_timing_and_pylockenv_version(provenance: dict[str, Any]) -> None:
    assert re.fullmatch(r"uv \d+\.\d+\.\d+.*", provenance["uv_version"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", provenance["started"])
    assert 0 < provenance["duration_seconds"] < 120
    assert provenance["pylockenv_version"]


def rebuild_app(template: Template, tmp_path: Path, *, content: str) -> None:
    """Build a different app wheel and put it at the template's extra path."""
    fresh = build_wheel(tmp_path, "app", modules={"app.py": content})
    wheel = template.project.app_wheel
    wheel.write_bytes(fresh.read_bytes())


@pytest.fixture
def in_template_cache(template: Template, monkeypatch: pytest.MonkeyPatch) -> Template:
    """Plan in this process against the template's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(template.xdg))
    return template


def test_reusing_an_env_whose_extra_is_unchanged_warns_nothing(
    in_template_cache: Template,
) -> None:
    the_plan = plan(load(str(in_template_cache.project.spec)))
    assert the_plan.env_path == str(in_template_cache.env_path)
    assert staleness_warnings(the_plan, read_marker(the_plan.env)) == []


def test_touching_the_extra_wheel_warns_on_reuse(in_template_cache: Template) -> None:
    wheel = in_template_cache.project.app_wheel
    before = wheel.stat()
    try:
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        the_plan = plan(load(str(in_template_cache.project.spec)))
        (warning,) = staleness_warnings(the_plan, read_marker(the_plan.env))
        assert str(wheel) in warning
    finally:
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_empty_reference_marker_gives_no_staleness_warnings(
    in_template_cache: Template,
) -> None:
    marker = in_template_cache.env_path / ".provisioned"
    wheel = in_template_cache.project.app_wheel
    saved, before = marker.read_text(), wheel.stat()
    try:
        marker.write_text("")
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        the_plan = plan(load(str(in_template_cache.project.spec)))
        assert staleness_warnings(the_plan, read_marker(the_plan.env)) == []
    finally:
        marker.write_text(saved)
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_reuse_after_the_extra_wheel_was_rebuilt_warns_once_naming_it(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Its own template: this test changes the project.
    template = provision_template(tmp_path_factory.mktemp("stale"))
    rebuild_app(template, tmp_path, content='print("new build")\n')
    done = pylockenv(
        "run", str(template.project.spec), xdg=template.xdg, uv_cache=template.uv_cache
    )
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    assert str(template.project.app_wheel) in warnings[0]
    assert "refresh: true" in warnings[0]
    assert f"pylockenv gc {template.env_hash}" in warnings[0]
    assert done.stdout == "app ran\n"  # the env is reused as it is, not switched
