"""`pylockenv show`: one env's provenance and state, and for a spec the plan and reuse verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cachekit import Template, copy_env, make_project, provision_template, run_cli


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return provision_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty cache for this test (the CLI runs in this process)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


def test_show_hash_prints_state_and_provenance(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    code, out, _ = run_cli(capsys, "show", template.env_hash)
    assert code == 0
    assert out.startswith(f"env {template.env_hash} (cached): ready\n")
    assert f'"path": "{template.project.pylock}"' in out


def test_show_hash_says_whether_its_spec_still_reaches_it(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    code, out, _ = run_cli(capsys, "show", "--json", template.env_hash)
    assert code == 0
    assert json.loads(out)["reachable"] == "reachable"


def test_show_hash_of_an_env_whose_pylock_changed_says_nothing_reuses_it(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = copy_env(template, xdg)
    marker = env / ".provisioned"
    provenance = json.loads(marker.read_text())
    provenance["pylock"]["mtime"] -= 1.0
    marker.write_text(json.dumps(provenance))
    code, out, _ = run_cli(capsys, "show", template.env_hash)
    assert code == 0
    assert "reused by its spec's next run: no: its pylock" in out


def test_show_hash_of_a_reference_env_says_no_provenance_was_recorded(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy_env(template, xdg) / ".provisioned").write_text("")
    code, out, _ = run_cli(capsys, "show", template.env_hash)
    assert code == 0
    assert "provenance: none recorded" in out


def test_show_of_an_unknown_hash_fails_with_a_message(
    xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "show", "0123456789abcdef")
    assert (code, out) == (1, "")
    assert "no environment 0123456789abcdef" in err


def test_show_spec_of_a_ready_env_says_it_is_reused_and_prints_the_plan(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    code, out, _ = run_cli(capsys, "show", str(template.project.spec))
    assert code == 0
    assert "would be reused: yes" in out
    assert "plan (what 'pylockenv run' does now):\n#!/bin/sh\n" in out


def test_show_spec_json_holds_env_verdict_and_plan(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy_env(template, xdg)
    code, out, _ = run_cli(capsys, "show", "--json", str(template.project.spec))
    assert code == 0
    shown = json.loads(out)
    assert shown["env"]["name"] == template.env_hash
    assert shown["would_be_reused"] == "ready"
    assert shown["plan"]["env_hash"] == template.env_hash
    assert shown["provenance"]["env_hash"] == template.env_hash


def test_show_spec_before_any_run_says_the_next_run_provisions(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    code, out, _ = run_cli(capsys, "show", str(project.spec))
    assert code == 0
    assert out.startswith("env: not on disk\nwould be reused: no: there is no env yet")


def test_show_spec_of_a_partial_env_says_it_is_provisioned_again(
    template: Template, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy_env(template, xdg) / ".provisioned").unlink()
    code, out, _ = run_cli(capsys, "show", str(template.project.spec))
    assert code == 0
    assert "would be reused: no: it has no marker" in out


def test_show_spec_with_refresh_says_every_run_is_fresh(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "project")
    project.spec.write_text(project.spec.read_text() + "refresh: true\n")
    code, out, _ = run_cli(capsys, "show", str(project.spec))
    assert code == 0
    assert "would be reused: no: refresh is true" in out


def test_show_of_a_bad_spec_is_a_pylockenv_error(
    tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "show", str(tmp_path / "missing.yml"))
    assert code == 125
    assert err.startswith("pylockenv: error: ")
