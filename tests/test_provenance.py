"""The provenance a real provisioning writes into the marker, and staleness warnings on reuse."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from builders import EXTRA_VERSION, build_wheel, make_app, probe_report
from harness import REAL_UV, ProvisionedEnv, provision_env, run_pylockenv

from pylockenv.core.provenance import ExtraRecord
from pylockenv.shell import load, plan
from pylockenv.shell.provenance import read_marker, record_provenance, staleness_warnings


@pytest.fixture
def provenance(provisioned: ProvisionedEnv) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((provisioned.path / ".provisioned").read_text())
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_records_the_hash_inputs(
    provisioned: ProvisionedEnv, provenance: dict[str, Any]
) -> None:
    assert provenance["env_hash"] == provisioned.env_hash
    assert provenance["hash_input"].startswith(f"{provenance['host']}:")
    assert provenance["python_version_requested"] == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_provenance_records_the_interpreter_and_the_version_uv_wrote_in_pyvenv_cfg(
    provenance: dict[str, Any],
) -> None:
    # The interpreter uv found for the request (not necessarily pylockenv's own: another
    # build of the same X.Y may come first on PATH).
    interpreter = provenance["interpreter"]
    asked = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert provenance["python_version"] == asked.stdout.strip()


def test_provenance_records_the_uv_the_tests_run(provenance: dict[str, Any]) -> None:
    # REAL_UV is PYLOCKENV_TEST_UV where set (CI's run with the oldest uv accepted): this
    # says the env was made by that uv, not by the one installed with pylockenv.
    printed = subprocess.run([REAL_UV, "--version"], capture_output=True, text=True, check=True)
    assert provenance["uv"] == REAL_UV
    assert provenance["uv_version"] == printed.stdout.strip()


def test_provenance_records_the_pylock_path_mtime_and_sha256(
    provisioned: ProvisionedEnv, provenance: dict[str, Any]
) -> None:
    pylock = provisioned.pylock
    assert provenance["pylock"] == {
        "path": str(pylock),
        "mtime": pylock.stat().st_mtime,
        "sha256": sha256(pylock),
    }


def test_provenance_records_each_file_extra_with_size_mtime_and_sha256(
    provisioned: ProvisionedEnv, provenance: dict[str, Any]
) -> None:
    wheel = provisioned.extra_wheel
    assert provenance["local_extra_deps"] == [
        {
            "path": str(wheel),
            "kind": "file",
            "size": wheel.stat().st_size,
            "mtime": wheel.stat().st_mtime,
            "sha256": sha256(wheel),
        }
    ]


@pytest.mark.usefixtures("in_process")
def test_provenance_records_a_directory_extra_by_path_only(tmp_path: Path) -> None:
    (tmp_path / "srctree").mkdir()
    spec = make_app(tmp_path, extra_spec="local_extra_deps: [srctree]\n")
    recorded = record_provenance(
        plan(load(str(spec))), started=0.0, duration=1.0, uv_version="uv 0.13.9"
    )
    assert recorded.local_extra_deps[0] == ExtraRecord(
        path=str(tmp_path / "srctree"), kind="directory"
    )


def test_provenance_records_uv_timing_and_pylockenv_version(provenance: dict[str, Any]) -> None:
    assert re.fullmatch(r"uv \d+\.\d+\.\d+.*", provenance["uv_version"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", provenance["started"])
    started = datetime.strptime(provenance["started"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    since_started = datetime.now(UTC).timestamp() - started.timestamp()
    # a duration, not a time of day: no longer than the time since provisioning started
    assert 0 < provenance["duration_seconds"] <= since_started + 1
    assert provenance["pylockenv_version"]


@pytest.fixture
def in_provisioned_cache(
    provisioned: ProvisionedEnv, in_process: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ProvisionedEnv:
    """Plan in this process against the provisioned env's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(provisioned.cache.xdg))
    return provisioned


def test_reusing_an_env_whose_extra_is_unchanged_warns_nothing(
    in_provisioned_cache: ProvisionedEnv,
) -> None:
    the_plan = plan(load(str(in_provisioned_cache.spec)))
    assert the_plan.env_path == str(in_provisioned_cache.path)
    assert staleness_warnings(the_plan, read_marker(the_plan.env)) == []


def test_touching_the_extra_wheel_warns_on_reuse(in_provisioned_cache: ProvisionedEnv) -> None:
    wheel = in_provisioned_cache.extra_wheel
    before = wheel.stat()
    try:
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        the_plan = plan(load(str(in_provisioned_cache.spec)))
        (warning,) = staleness_warnings(the_plan, read_marker(the_plan.env))
        assert str(wheel) in warning
    finally:
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_empty_reference_marker_gives_no_staleness_warnings(
    in_provisioned_cache: ProvisionedEnv,
) -> None:
    marker = in_provisioned_cache.path / ".provisioned"
    wheel = in_provisioned_cache.extra_wheel
    saved, before = marker.read_text(), wheel.stat()
    try:
        marker.write_text("")
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
        the_plan = plan(load(str(in_provisioned_cache.spec)))
        assert staleness_warnings(the_plan, read_marker(the_plan.env)) == []
    finally:
        marker.write_text(saved)
        os.utime(wheel, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_reuse_after_the_extra_wheel_was_rebuilt_warns_once_naming_it(
    tmp_path: Path, uv_cache: Path
) -> None:
    # Its own env: this test changes the app.
    provisioned = provision_env(tmp_path / "own", uv_cache)
    rebuilt = build_wheel(
        tmp_path, "extra-app", EXTRA_VERSION, modules={"extra_app.py": 'VERSION = "rebuilt"\n'}
    )
    provisioned.extra_wheel.write_bytes(rebuilt.read_bytes())
    done = run_pylockenv(provisioned.environ, "run", str(provisioned.spec))
    warnings = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    assert str(provisioned.extra_wheel) in warnings[0]
    assert "refresh: true" in warnings[0]
    assert f"pylockenv gc {provisioned.env_hash}" in warnings[0]
    # the env is reused as it is, not switched: it still holds the extra as first installed
    assert probe_report(done.stdout)["extra"] == EXTRA_VERSION
