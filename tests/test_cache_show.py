"""`pylockenv show`: one env's provenance and state, and for a spec the plan and reuse verdict."""

from __future__ import annotations

import json
from pathlib import Path

from builders import make_app
from harness import CacheDir, MainRunner, ProvisionedEnv


def test_show_hash_prints_state_and_provenance(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    code, out, _ = run_main("show", provisioned.env_hash)
    assert code == 0
    assert out.startswith(f"env {provisioned.env_hash} (cached): ready\n")
    assert f'"path": "{provisioned.pylock}"' in out


def test_show_hash_says_whether_its_spec_still_reaches_it(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    code, out, _ = run_main("show", "--json", provisioned.env_hash)
    assert code == 0
    assert json.loads(out)["reachable"] == "reachable"


def test_show_hash_of_an_env_whose_pylock_changed_says_nothing_reuses_it(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    marker = env / ".provisioned"
    provenance = json.loads(marker.read_text())
    provenance["pylock"]["mtime"] -= 1.0
    marker.write_text(json.dumps(provenance))
    code, out, _ = run_main("show", provisioned.env_hash)
    assert code == 0
    assert "reused by its spec's next run: no: its pylock" in out


def test_show_hash_of_a_reference_env_says_no_provenance_was_recorded(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    (provisioned.copy_to(cache) / ".provisioned").write_text("")
    code, out, _ = run_main("show", provisioned.env_hash)
    assert code == 0
    assert "provenance: none recorded" in out


def test_show_of_an_unknown_hash_fails_with_a_message(run_main: MainRunner) -> None:
    code, out, err = run_main("show", "0123456789abcdef")
    assert (code, out) == (1, "")
    assert "no environment 0123456789abcdef" in err


def test_show_spec_of_a_ready_env_says_it_is_reused_and_prints_the_plan(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    code, out, _ = run_main("show", str(provisioned.spec))
    assert code == 0
    assert "would be reused: yes" in out
    assert "plan (what 'pylockenv run' does now):\n#!/bin/sh\n" in out


def test_show_spec_json_holds_env_verdict_and_plan(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    code, out, _ = run_main("show", "--json", str(provisioned.spec))
    assert code == 0
    shown = json.loads(out)
    assert shown["env"]["name"] == provisioned.env_hash
    assert shown["would_be_reused"] == "ready"
    assert shown["plan"]["env_hash"] == provisioned.env_hash
    assert shown["provenance"]["env_hash"] == provisioned.env_hash


def test_show_spec_before_any_run_says_the_next_run_provisions(
    tmp_path: Path, run_main: MainRunner
) -> None:
    spec = make_app(tmp_path / "app")
    code, out, _ = run_main("show", str(spec))
    assert code == 0
    assert out.startswith("env: not on disk\nwould be reused: no: there is no env yet")


def test_show_spec_of_a_partial_env_says_it_is_provisioned_again(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    (provisioned.copy_to(cache) / ".provisioned").unlink()
    code, out, _ = run_main("show", str(provisioned.spec))
    assert code == 0
    assert "would be reused: no: it has no marker" in out


def test_show_spec_with_refresh_says_every_run_is_fresh(
    tmp_path: Path, run_main: MainRunner
) -> None:
    spec = make_app(tmp_path / "app", refresh=True)
    code, out, _ = run_main("show", str(spec))
    assert code == 0
    assert "would be reused: no: refresh is true" in out


def test_show_of_a_bad_spec_is_a_pylockenv_error(tmp_path: Path, run_main: MainRunner) -> None:
    code, _, err = run_main("show", str(tmp_path / "missing.yml"))
    assert code == 125
    assert err.startswith("pylockenv: error: ")
