"""Saved plans: `run --print-plan --json` makes one, `apply` runs it while it is fresh.

A plan file carries its format version and every fact the plan was made from;
`apply` gathers those facts again and refuses a stale plan with what changed,
before anything is created. The plans `run` stores for its warm path are
collected by gc with their env.
"""

from __future__ import annotations

import json
import marshal
import os
from pathlib import Path
from typing import Any

import pytest
from builders import make_app, probe_report
from harness import CacheDir, files_under, run_pylockenv, uv_calls, write_uv_wrapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylockenv.core.made_from import HOST_FACTS, what_changed
from pylockenv.core.plan_format import PLAN_FILE_VERSION


def save_plan(environ: dict[str, str], spec: Path, target: Path, *names: str) -> dict[str, Any]:
    made = run_pylockenv(environ, "run", str(spec), *names, "--print-plan", "--json")
    assert made.returncode == 0, made.stderr
    target.write_text(made.stdout)
    document: dict[str, Any] = json.loads(made.stdout)
    return document


def test_a_plan_file_is_the_plan_with_its_version_and_facts(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, local_extra=True)
    document = save_plan(environ, spec, tmp_path / "plan.json")
    assert document["plan_file_version"] == PLAN_FILE_VERSION
    made_from = document["made_from"]
    assert made_from["host"]["hostname"] == document["host"]
    assert str(tmp_path / "pylock.toml") in made_from["files"]
    assert made_from["spec"]["path"] == str(spec)
    assert files_under(cache.root) == []  # a dry run creates nothing


def test_apply_provisions_if_needed_and_runs_the_plan_with_arguments(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path)
    plan_file = tmp_path / "plan.json"
    document = save_plan(environ, spec, plan_file)
    for _ in range(2):  # cold (provisions), then warm
        done = run_pylockenv(environ, "apply", str(plan_file), "--", "x", "y")
        assert done.returncode == 0, done.stderr
        seen = probe_report(done.stdout)
        assert seen["args"] == ["x", "y"]
        assert seen["prefix"] == document["env_path"]
    assert "reusing" in done.stderr


def touch(path: Path) -> None:
    os.utime(path, (1_000_000_000, 1_000_000_000))


@pytest.mark.parametrize("what", ["pylock", "spec", "home"])
def test_apply_refuses_a_stale_plan_with_what_changed(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, what: str
) -> None:
    spec = make_app(tmp_path)
    plan_file = tmp_path / "plan.json"
    save_plan(environ, spec, plan_file)
    if what == "pylock":
        touch(tmp_path / "pylock.toml")
        expected = f"'{tmp_path}/pylock.toml': file"
    elif what == "spec":
        spec.write_text(spec.read_text() + "# edited\n")
        expected = f"spec '{spec}'"
    else:
        environ["HOME"] = str(tmp_path / "elsewhere")
        expected = "home directory:"
    done = run_pylockenv(environ, "apply", str(plan_file))
    assert done.returncode == 125
    assert "is stale" in done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert files_under(cache.root) == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "is not a plan file (not JSON)"),
        ('{"env_path": "/x"}', "is not a plan file (no plan_file_version)"),
        ('{"plan_file_version": 99, "made_from": {}}', "of version 99"),
        ('{"plan_file_version": 2}', "without the facts it was made from"),
        ('{"plan_file_version": 1, "made_from": {}}', "of version 1, made by an older pylockenv"),
    ],
)
def test_apply_of_what_is_no_plan_file_is_a_clear_error(
    tmp_path: Path, environ: dict[str, str], content: str, words: str
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(content)
    done = run_pylockenv(environ, "apply", str(plan_file))
    assert done.returncode == 125
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_apply_of_a_missing_file_or_a_fifo_is_a_clear_error(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    missing = run_pylockenv(environ, "apply", str(tmp_path / "nope.json"))
    assert (missing.returncode, "does not exist" in missing.stderr) == (125, True)
    os.mkfifo(tmp_path / "fifo.json")
    fifo = run_pylockenv(environ, "apply", str(tmp_path / "fifo.json"), timeout=30)
    assert fifo.returncode == 125
    assert "FIFO" in fifo.stderr


def test_gc_collects_stored_plans_with_their_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    plans = cache.root / "plans"
    [stored] = plans.glob("*.plan")
    assert marshal.loads(stored.read_bytes())["plan"]["env_path"] == str(cache.env_dirs()[0])
    assert run_pylockenv(environ, "gc", "--older-than", "1d").returncode == 0
    assert stored.exists()  # its env is kept, so is its plan
    assert run_pylockenv(environ, "gc", "--older-than", "0s").returncode == 0
    assert list(plans.glob("*.plan")) == []


def test_a_second_apply_reads_the_plan_it_kept_and_a_changed_plan_file_is_read_again(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    plan_file = tmp_path / "plan.json"
    save_plan(environ, spec, plan_file)
    assert run_pylockenv(environ, "apply", str(plan_file)).returncode == 0
    kept = list((cache.root / "plans").glob("*.plan"))
    assert len(kept) == 1
    plan_file.write_text("not a plan any more")
    damaged = run_pylockenv(environ, "apply", str(plan_file))
    assert damaged.returncode == 125
    assert "is not a plan file" in damaged.stderr


def test_uv_is_asked_its_version_once_per_executable(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    log = tmp_path / "uv.log"
    wrapper = write_uv_wrapper(tmp_path / "bin", log=log)
    environ["PYLOCKENV_UV"] = str(wrapper)
    for name in ("one", "two"):
        spec = make_app(tmp_path / name, command="probe exit 0")
        assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    assert uv_calls(log, "--version") == ["--version"]
    wrapper.write_text(wrapper.read_text() + "\n")  # another executable at the same path
    spec = make_app(tmp_path / "three", command="probe exit 0")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    assert uv_calls(log, "--version") == ["--version", "--version"]


def test_a_plan_of_a_spec_file_applies_from_any_working_directory(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    # Its relative paths were read from the spec's own directory, so the working
    # directory is no fact it depends on.
    spec = make_app(tmp_path / "app", command="probe exit 0")
    plan_file = tmp_path / "plan.json"
    save_plan(environ, spec, plan_file)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_pylockenv(environ, "apply", str(plan_file), cwd=elsewhere)
    assert done.returncode == 0, done.stderr


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
made_from_like = st.fixed_dictionaries(
    {},
    optional={
        key: json_values | st.dictionaries(st.sampled_from(sorted(HOST_FACTS)), json_values)
        for key in ("host", "uv", "files", "spec", "plan_file")
    },
)


# The first examples of a fresh run (no example database yet) are slow to draw on a
# loaded machine; the property is cheap, so only the drawing is allowed to be slow.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recorded=made_from_like, now=made_from_like)
def test_what_changed_reads_any_damaged_facts_in_one_line_each_and_never_raises(
    recorded: dict[str, Any], now: dict[str, Any]
) -> None:
    changes = what_changed(recorded, now)
    assert all(isinstance(change, str) and change.isprintable() for change in changes)
    assert what_changed(now, now) == [] or now != now  # NaN is never equal to itself


def test_a_plan_file_whose_paths_leave_the_cache_layout_is_refused(
    tmp_path: Path, cache: CacheDir, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app", command="probe exit 0")
    plan_file = tmp_path / "plan.json"
    document = save_plan(environ, spec, plan_file)
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "data").write_text("mine\n")
    document["env_path"] = str(victim)
    plan_file.write_text(json.dumps(document))
    done = run_pylockenv(environ, "apply", str(plan_file))
    assert done.returncode == 125
    assert "does not match the cache layout" in done.stderr
    assert (victim / "data").read_text() == "mine\n"
    assert not cache.root.exists()
