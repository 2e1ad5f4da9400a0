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
from attrs import frozen
from builders import make_app, probe_report
from damage import marshal_values, places, replaced
from goldenio import GOLDEN_DIR, case_names, plan_case
from harness import CacheDir, files_under, run_pylockenv, uv_calls, write_uv_wrapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylockenv.core.made_from import HOST_FACTS, what_changed
from pylockenv.core.plan_format import (
    PLAN_FILE_VERSION,
    PLAN_SCHEMAS,
    LightPlan,
    PlanFileError,
    decode_kept_plan,
    encode_kept_plan,
    kept_plan_key,
    kept_plan_words,
    light_plan,
    light_view,
    plan_from_data,
    plan_is_kept,
    plan_to_data,
    schema_fingerprint,
)
from pylockenv.core.plan_rules import layout_problem
from pylockenv.core.provenance import (
    PROVENANCE_FORMAT,
    PROVENANCE_SCHEMAS,
    Provenance,
    parse_marker,
)


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
        (f'{{"plan_file_version": {PLAN_FILE_VERSION}}}', "without the facts it was made from"),
        ('{"plan_file_version": 4, "made_from": {}}', "of version 4, made by an older pylockenv"),
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
        for key in ("host", "uv", "files", "interpreters", "spec", "plan_file")
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
    # NaN is never equal to itself (a dict holding one NaN object still equals itself:
    # containers compare by identity first, so `now != now` would not tell)
    assert what_changed(now, now) == [] or "NaN" in json.dumps(now)


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


# --- the data form: one owner, a version that follows its schema ---------------------------

# The fingerprint of each plan-file version's data form, copied here on purpose: a change
# of the form fails the first test below until PLAN_FILE_VERSION is bumped and the new
# version's fingerprint is added to core.plan_format.PLAN_SCHEMAS and to this table.
KNOWN_SCHEMAS = {
    2: "b1194c2c0536a299",
    3: "def604a9d54ba70f",
    4: "5bf808b52fd196db",
    5: "fa9d3b0e0de036cf",
}


def test_the_plan_schema_is_the_one_its_version_names() -> None:
    fingerprint = schema_fingerprint()
    assert fingerprint == PLAN_SCHEMAS[PLAN_FILE_VERSION], (
        f"the plan's data form changed (fingerprint {fingerprint}): bump PLAN_FILE_VERSION, "
        "add the new version's fingerprint to PLAN_SCHEMAS and to KNOWN_SCHEMAS"
    )
    assert PLAN_SCHEMAS == KNOWN_SCHEMAS  # no version's fingerprint edited in place
    assert max(PLAN_SCHEMAS) == PLAN_FILE_VERSION


@frozen(kw_only=True)
class _Inner:
    words: tuple[str, ...]


@frozen(kw_only=True)
class _Outer:
    name: str
    inner: _Inner


@frozen(kw_only=True)
class _InnerRenamed:
    argv: tuple[str, ...]


@frozen(kw_only=True)
class _OuterRenamed:
    name: str
    inner: _InnerRenamed


@frozen(kw_only=True)
class _OuterRetyped:
    name: str | None
    inner: _Inner


class _Record(dict):  # type: ignore[type-arg]
    path: str


class _RecordRetyped(dict):  # type: ignore[type-arg]
    path: int


def test_the_fingerprint_follows_field_names_and_types_down_the_tree() -> None:
    fingerprint = schema_fingerprint(_Outer, (_Record,))
    assert schema_fingerprint(_Outer, (_Record,)) == fingerprint
    assert schema_fingerprint(_OuterRenamed, (_Record,)) != fingerprint  # a nested field
    assert schema_fingerprint(_OuterRetyped, (_Record,)) != fingerprint
    assert schema_fingerprint(_Outer, (_RecordRetyped,)) != fingerprint


def _golden_kept_plan(name: str = "full-cached") -> tuple[dict[str, Any], dict[str, Any]]:
    """A kept plan's two parts for a golden case: the plan's data, as a plan file holds it
    (lists), and its record."""
    record = json.loads((GOLDEN_DIR / name / "facts.json").read_text())
    return json.loads(json.dumps(plan_to_data(plan_case(name)))), record


def test_a_plan_read_back_from_its_data_is_the_same_plan() -> None:
    for name in case_names():
        the_plan = plan_case(name)
        assert plan_from_data(json.loads(json.dumps(plan_to_data(the_plan))), name) == the_plan


def test_a_kept_plan_reads_back_as_its_light_view() -> None:
    plan_data, record = _golden_kept_plan()
    kept = decode_kept_plan(encode_kept_plan(plan_data, record, KEPT_FOR), KEPT_FOR)
    assert kept is not None
    light, made_from = kept
    assert made_from == record
    the_plan = plan_case("full-cached")
    assert (light.env_path, light.env_hash, light.words) == (
        the_plan.env_path,
        the_plan.env_hash,
        the_plan.run.words,
    )
    assert light.candidates == tuple((c.check, c.path, c.argv) for c in the_plan.run.candidates)
    assert light.set_env == the_plan.run.env.set_env


@pytest.mark.parametrize("name", case_names())
def test_a_plans_light_view_is_the_light_plan_of_its_data(name: str) -> None:
    the_plan = plan_case(name)
    viewed, read = light_view(the_plan), light_plan(plan_to_data(the_plan))
    assert read is not None
    assert {k: getattr(viewed, k) for k in LightPlan.__slots__} == {
        k: getattr(read, k) for k in LightPlan.__slots__
    }


@pytest.mark.parametrize("name", case_names())
def test_every_golden_plan_places_its_env_and_command_as_the_layout_does(name: str) -> None:
    plan_data, record = _golden_kept_plan(name)
    light = light_plan(plan_data)
    assert light is not None
    host = record["host"]
    assert layout_problem(light, xdg_cache_home=host["xdg_cache_home"], home=host["home"]) is None


def _tampered(change: str) -> dict[str, Any]:
    plan_data, _ = _golden_kept_plan()
    run = plan_data["run"]
    if change == "env_path":
        plan_data["env_path"] = "/home/alice/precious"
    elif change == "env_hash":
        plan_data["env_hash"] = "0" * 16
    elif change == "cache_root":
        plan_data["cache_root"] = "/tmp/elsewhere"
    elif change == "in_use_path":
        plan_data["in_use_path"] = "/tmp/in-use"
    elif change == "argv":
        run["candidates"][0]["argv"] = ["/bin/sh", "-c", "echo pwned"]
    elif change == "check":
        run["candidates"][1]["check"] = "always"
    elif change == "candidate added":
        run["candidates"].insert(0, {"check": "always", "path": None, "argv": ["/bin/true"]})
    else:
        run["words"] = ["another-program"]
    return plan_data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("env_path", "env paths are not the cache layout's"),
        ("env_hash", "env_hash is not the hash of its hash_input"),
        ("cache_root", "is not this cache"),
        ("in_use_path", "env paths are not the cache layout's"),
        ("argv", "candidates are not the ones its words give"),
        ("check", "candidates are not the ones its words give"),
        ("candidate added", "candidates are not the ones its words give"),
        ("words", "candidates are not the ones its words give"),
    ],
)
def test_a_plan_whose_cache_paths_or_command_are_not_the_layouts_is_refused(
    change: str, words: str
) -> None:
    light = light_plan(_tampered(change))
    assert light is not None
    problem = layout_problem(light, xdg_cache_home="/scratch/alice/cache", home="/home/alice")
    assert problem is not None
    assert words in problem


PLAN_DATA, PLAN_RECORD = _golden_kept_plan()
KEPT_FOR = kept_plan_words("run", "/srv/apps/demo/app.yml", "process", "/srv/work", user=1000)
PLACES = places(PLAN_DATA)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(PLACES), new=marshal_values)
def test_a_kept_plan_damaged_anywhere_reads_as_none_or_as_a_well_typed_plan(
    place: tuple[object, ...], new: object
) -> None:
    damaged = replaced(PLAN_DATA, place, new)
    document = {"plan_file_version": PLAN_FILE_VERSION, "plan": damaged, "made_from": PLAN_RECORD}
    kept = decode_kept_plan(marshal.dumps(document))
    if kept is not None:
        light, _ = kept
        assert all(isinstance(word, str) for word in light.words)
        assert all(isinstance(argv, tuple) and argv for _, _, argv in light.candidates)
        assert all(isinstance(v, str) for v in light.set_env.values())
        # and whatever it holds, checking it against the layout says a sentence or nothing
        problem = layout_problem(light, xdg_cache_home="/scratch/alice/cache", home="/h")
        assert problem is None or isinstance(problem, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=marshal_values)
def test_any_marshal_data_reads_as_none_unless_it_is_a_kept_plan(value: Any) -> None:
    assert decode_kept_plan(marshal.dumps(value)) is None
    document = {"plan_file_version": PLAN_FILE_VERSION, "plan": value, "made_from": {}}
    assert decode_kept_plan(marshal.dumps(document)) is None


def test_every_truncation_of_a_kept_plan_reads_as_none() -> None:
    data = encode_kept_plan(PLAN_DATA, PLAN_RECORD, KEPT_FOR)
    assert decode_kept_plan(data) is not None
    assert [n for n in range(len(data)) if decode_kept_plan(data[:n]) is not None] == []


def test_a_kept_plan_of_another_version_reads_as_none() -> None:
    document = {"plan_file_version": 1, "plan": PLAN_DATA, "made_from": PLAN_RECORD}
    assert decode_kept_plan(marshal.dumps(document)) is None


def test_only_a_cached_plan_is_kept() -> None:
    assert plan_is_kept("cached")  # from a spec file, a plan file or flags alike
    assert not plan_is_kept("ephemeral")  # made for one run


def test_a_kept_plan_is_read_only_for_the_command_line_it_was_kept_for() -> None:
    data = encode_kept_plan(PLAN_DATA, PLAN_RECORD, KEPT_FOR)
    assert decode_kept_plan(data, KEPT_FOR) is not None
    other = kept_plan_words(
        "run", None, None, "/srv/work", ["--pylock", "p", "--command", "d"], user=1000
    )
    assert decode_kept_plan(data, other) is None  # a name two digests share


_WORD = st.text(st.characters(blacklist_characters="\0", codec="utf-8"), max_size=8)


@given(
    first=st.tuples(st.sampled_from(["run", "apply"]), st.none() | _WORD, st.none() | _WORD),
    second=st.tuples(st.sampled_from(["run", "apply"]), st.none() | _WORD, st.none() | _WORD),
    cwds=st.tuples(_WORD, _WORD),
    given_words=st.tuples(st.lists(_WORD, max_size=4), st.lists(_WORD, max_size=4)),
)
def test_two_command_lines_share_a_kept_plans_words_only_when_they_are_the_same(
    first: tuple[str, str | None, str | None],
    second: tuple[str, str | None, str | None],
    cwds: tuple[str, str],
    given_words: tuple[list[str], list[str]],
) -> None:
    words = [
        kept_plan_words(*line, cwd, given, user=1000)
        for line, cwd, given in zip((first, second), cwds, given_words, strict=True)
    ]
    same = (first, cwds[0], given_words[0]) == (second, cwds[1], given_words[1])
    # None and "" name the same source file (no file), as no absolute path is ""
    blank = [
        (v, s or "", n, c, tuple(g))
        for (v, s, n), c, g in zip((first, second), cwds, given_words, strict=True)
    ]
    assert (words[0] == words[1]) == (blank[0] == blank[1])
    assert (kept_plan_key(words[0]) == kept_plan_key(words[1])) == (words[0] == words[1])
    assert same <= (words[0] == words[1])


def test_a_damaged_plan_file_is_refused_with_the_field_not_a_class_name() -> None:
    plan_data, _ = _golden_kept_plan()
    del plan_data["run"]["not_found"]
    with pytest.raises(PlanFileError) as raised:
        plan_from_data(plan_data, "plan.json")
    message = str(raised.value)
    assert "plan.run.not_found" in message
    assert "ValidationError" not in message


# --- the marker's provenance: versioned the same way -----------------------------------------

KNOWN_PROVENANCE_SCHEMAS = {1: "e7f88ae6a0f78f12", 2: "afbe54b19839ecde"}


def test_the_provenance_schema_is_the_one_its_format_names() -> None:
    fingerprint = schema_fingerprint(Provenance, ())
    assert fingerprint == PROVENANCE_SCHEMAS[PROVENANCE_FORMAT], (
        f"the marker's provenance changed (fingerprint {fingerprint}): bump PROVENANCE_FORMAT "
        "and add the new format's fingerprint to PROVENANCE_SCHEMAS and here"
    )
    assert PROVENANCE_SCHEMAS == KNOWN_PROVENANCE_SCHEMAS
    assert max(PROVENANCE_SCHEMAS) == PROVENANCE_FORMAT


def test_a_marker_of_a_newer_format_is_unreadable_with_why() -> None:
    newer = json.dumps({"format": PROVENANCE_FORMAT + 1, "env_hash": "0" * 16}).encode()
    marker = parse_marker(newer)
    assert (marker.kind, marker.provenance) == ("unreadable", None)
    assert f"its format is {PROVENANCE_FORMAT + 1}, newer than the format" in str(marker.problem)
    assert parse_marker(json.dumps({"format": PROVENANCE_FORMAT}).encode()).kind == "provenance"


@pytest.mark.parametrize("fact", HOST_FACTS)
def test_every_declared_host_fact_counts_for_freshness(fact: str) -> None:
    recorded = json.loads((GOLDEN_DIR / "full-cached" / "facts.json").read_text())
    recorded.pop("spec", None)  # a plan by flags: the working directory counts too
    now = json.loads(json.dumps(recorded))
    now["host"][fact] = "something else"
    [change] = what_changed(recorded, now)
    assert change.endswith("-> 'something else'")


@pytest.mark.parametrize("key", ["hash_input", "env_hash", "cache_root", "env_path"])
def test_a_kept_plan_with_text_no_utf8_encodes_is_refused_not_raised(key: str) -> None:
    plan_data, _ = _golden_kept_plan()
    plan_data[key] += "\ud800"  # marshal keeps a lone surrogate; UTF-8 cannot encode it
    light = light_plan(plan_data)
    assert light is not None
    problem = layout_problem(light, xdg_cache_home="/scratch/alice/cache", home="/home/alice")
    assert problem is not None
