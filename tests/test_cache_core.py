"""The pure decisions of cache management: durations, markers, env states, gc plans, staleness."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import pytest
from attrs import evolve
from harness import NODE7
from hypothesis import given
from hypothesis import strategies as st

from pylockenv.core.cache_display import format_size, iso_utc, printable, render_env_table
from pylockenv.core.envstate import EnvObservation, env_state, reach_of, reuse_of
from pylockenv.core.errors import DurationError
from pylockenv.core.facts import FileFact, HostFacts
from pylockenv.core.gc import (
    FUTURE_SLACK,
    GcOutcome,
    GcPolicy,
    decide,
    format_duration,
    gc_exit_code,
    kept_answer_due,
    parse_duration,
    plan_gc,
)
from pylockenv.core.layout import (
    cache_layout,
    kept_uv_version_name,
    plans_entry_kind,
    staging_name,
)
from pylockenv.core.planning import LocalDep, plan
from pylockenv.core.provenance import (
    ExtraRecord,
    Marker,
    Provenance,
    PylockRecord,
    changed_extras,
    parse_marker,
    render_marker,
)
from pylockenv.core.provisioning import (
    EntryAtEnv,
    checks_before,
    hashed_paths,
    provenance_of,
    remake_reason,
    step_postcondition,
    uv_refusal,
)
from pylockenv.core.spec import command_from_flags

NOW = 2_000_000_000.0
DAY = 86400.0
HERE = "node1"

PROVENANCE = Provenance(host=HERE, pylock=PylockRecord(path="/p/pylock.toml", mtime=5.0))
READY = EnvObservation(
    name="0123456789abcdef",
    kind="cached",
    path="/cache/envs/0123456789abcdef",
    marker=Marker(kind="provenance", provenance=PROVENANCE),
    interpreter_ok=True,
    provisioning=False,
    in_use=False,
    created=NOW - 100 * DAY,
    last_used=NOW - 10 * DAY,
    python_version="3.11.7",
    usage=None,
)
EMPTY_MARKER = Marker(kind="empty")
EPHEMERAL = evolve(
    READY,
    name="env_0123456789abcdef",
    kind="ephemeral",
    path="/cache/ephemeral/env_0123456789abcdef",
    maker="pylockenv",
)
REFERENCE_EPHEMERAL = evolve(
    EPHEMERAL, name="env_ab3_x9zq", path="/cache/ephemeral/env_ab3_x9zq", maker="reference"
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("45s", 45), ("90m", 5400), ("12h", 43200), ("30d", 2592000), ("2w", 1209600)],
)
def test_durations_are_a_whole_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "1.5h", "-1d", "3x", "1d2h"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError, match="is not a duration"):
        parse_duration(text)


def test_durations_print_in_their_largest_whole_unit() -> None:
    assert [format_duration(s) for s in (5, 600, 7200, 45 * DAY)] == ["5s", "10m", "2h", "45d"]


def test_sizes_print_in_binary_units() -> None:
    assert [format_size(s) for s in (None, 512, 4096, 5 * 2**20)] == ["-", "512B", "4.0K", "5.0M"]


def test_times_print_as_iso_utc() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00Z"


# --- markers -------------------------------------------------------------------------------


def test_a_marker_round_trips_through_its_text() -> None:
    provenance = evolve(
        PROVENANCE,
        local_extra_deps=(ExtraRecord(path="/w/a.whl", kind="file", size=3, mtime=1.0),),
    )
    marker = parse_marker(render_marker(provenance).encode())
    assert marker == Marker(kind="provenance", provenance=provenance)


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t"])
def test_an_empty_marker_is_the_references(data: bytes) -> None:
    assert parse_marker(data) == Marker(kind="empty")


def test_an_older_or_richer_marker_still_reads() -> None:
    old = {"host": "n2", "hash_input": "n2:3.11:/p:1.0", "future_field": [1, 2]}
    marker = parse_marker(json.dumps(old).encode())
    assert marker.provenance is not None
    assert marker.provenance.host == "n2"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"garbage", "neither empty nor JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"host": 7}', "not provenance"),
        (b'{"pylock": {"path": "/p", "mtime": true}}', "not provenance"),
        (b"[" * 100_000, "neither empty nor JSON"),
    ],
)
def test_a_damaged_marker_is_unreadable_never_empty(data: bytes, problem: str) -> None:
    marker = parse_marker(data)
    assert marker.kind == "unreadable"
    assert problem in (marker.problem or "")


# --- env states ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "ready"),
        ({"marker": None}, "partial"),
        ({"interpreter_ok": False}, "broken"),
        ({"provisioning": True}, "in provisioning"),
        ({"provisioning": True, "marker": None}, "in provisioning"),
        ({"entry": "not a directory", "marker": None}, "not a directory"),
    ],
)
def test_cached_env_states(changes: dict[str, Any], state: str) -> None:
    assert env_state(evolve(READY, **changes), this_host=HERE) == state


def test_another_hosts_interpreter_is_never_judged_from_here() -> None:
    dangling = evolve(READY, interpreter_ok=False)
    assert env_state(dangling, this_host="node2") == "ready"
    unknown_host = evolve(dangling, marker=EMPTY_MARKER)
    assert env_state(unknown_host, this_host=HERE) == "ready"


@pytest.mark.parametrize(
    ("env", "state"),
    [
        (evolve(EPHEMERAL, in_use=True), "ephemeral in use"),
        (EPHEMERAL, "orphaned ephemeral"),
        (REFERENCE_EPHEMERAL, "unlocked ephemeral"),
    ],
)
def test_ephemeral_env_states(env: EnvObservation, state: str) -> None:
    assert env_state(env, this_host=HERE) == state


# --- gc plans ------------------------------------------------------------------------------


def policy(older_than: float = 30 * DAY, **changes: Any) -> GcPolicy:
    settings: dict[str, Any] = {"host": HERE, **changes}
    return GcPolicy(now=NOW, older_than=older_than, this_host=HERE, **settings)


def action(env: EnvObservation, older_than: float = 30 * DAY, **changes: Any) -> str:
    return decide(env, policy(older_than, **changes)).action


def test_gc_removes_a_ready_env_unused_past_the_threshold() -> None:
    assert action(READY, older_than=10 * DAY) == "remove"
    assert action(READY, older_than=11 * DAY) == "keep"


def test_gc_skips_envs_in_use_or_in_provisioning_whatever_their_age() -> None:
    assert action(evolve(READY, in_use=True), older_than=0) == "skip"
    assert action(evolve(READY, provisioning=True, marker=None), older_than=0) == "skip"
    assert action(evolve(EPHEMERAL, in_use=True), older_than=0) == "skip"


def test_gc_removes_partial_broken_orphaned_and_blocking_entries_whatever_their_age() -> None:
    for env in (
        evolve(READY, marker=None),
        evolve(READY, interpreter_ok=False),
        EPHEMERAL,
        evolve(READY, entry="not a directory", marker=None),
    ):
        assert action(evolve(env, last_used=NOW)) == "remove"


def test_gc_judges_a_reference_ephemeral_env_by_age_never_as_an_orphan() -> None:
    recent = evolve(REFERENCE_EPHEMERAL, created=NOW - 3600)
    assert decide(recent, policy()).reason == "unlocked ephemeral, recent"
    assert action(recent) == "keep"
    assert action(recent, older_than=60) == "remove"


def test_gc_leaves_other_hosts_envs_to_them_unless_asked() -> None:
    theirs = evolve(
        READY, marker=Marker(kind="provenance", provenance=evolve(PROVENANCE, host="n2"))
    )
    assert decide(theirs, policy(0)).reason == "other host"
    assert action(theirs, 0, host=None) == "remove"
    assert action(theirs, 0, host="n2") == "remove"
    broken_there = evolve(theirs, interpreter_ok=False, last_used=NOW)
    assert action(broken_there, host=None) == "keep"


def test_an_env_of_unknown_host_belongs_to_this_hosts_view() -> None:
    reference = evolve(READY, marker=EMPTY_MARKER)
    assert action(reference, 0) == "remove"
    assert action(reference, 0, host="n2") == "keep"


def test_gc_with_names_removes_only_those_whatever_their_age_or_host() -> None:
    fresh = evolve(READY, last_used=NOW)
    assert action(fresh, only=frozenset({READY.name})) == "remove"
    assert action(evolve(READY, marker=None), only=frozenset({"other"})) == "keep"
    assert action(evolve(fresh, in_use=True), only=frozenset({READY.name})) == "skip"


def test_a_time_far_in_the_future_is_no_record_a_little_ahead_is_now() -> None:
    assert decide(evolve(READY, last_used=NOW + 2 * FUTURE_SLACK), policy()).reason == (
        "dated in the future"
    )
    assert action(evolve(READY, last_used=NOW + 60)) == "keep"


def test_a_gc_plan_has_one_entry_per_env_by_name() -> None:
    other = evolve(READY, name="fedcba9876543210", last_used=NOW)
    plan = plan_gc([other, READY], policy(10 * DAY))
    assert [entry.env.name for entry in plan.entries] == [READY.name, other.name]
    assert [entry.env.name for entry in plan.removals] == [READY.name]


@pytest.mark.parametrize(
    ("results", "code"),
    [
        ((), 0),
        (("removed", "gone", "kept"), 0),
        (("removed", "skipped"), 3),
        (("skipped", "failed"), 1),
    ],
)
def test_gc_exit_code_says_what_was_left_undone(results: tuple[str, ...], code: int) -> None:
    entry = decide(READY, policy(0))
    outcomes = [GcOutcome(entry=entry, result=result) for result in results]  # type: ignore[arg-type]
    assert gc_exit_code(outcomes) == code


# --- what the next run does, and whether a spec still reaches its env -----------------------


def test_reuse_needs_a_cached_ready_env() -> None:
    assert reuse_of("cached", READY, this_host=HERE) == "ready"
    assert reuse_of("cached", None, this_host=HERE) == "absent"
    assert reuse_of("cached", evolve(READY, interpreter_ok=False), this_host=HERE) == "broken"
    assert reuse_of("ephemeral", READY, this_host=HERE) == "refresh"


def test_an_env_is_reachable_while_its_host_and_pylock_are_as_recorded() -> None:
    assert reach_of(READY, this_host=HERE, pylock_mtime=5.0) == "reachable"


@pytest.mark.parametrize(
    ("hostname", "mtime", "reach"),
    [("node2", 5.0, "other host"), (HERE, 6.0, "pylock changed"), (HERE, None, "pylock gone")],
)
def test_an_env_is_unreachable_once_host_or_pylock_differ(
    hostname: str, mtime: float | None, reach: str
) -> None:
    assert reach_of(READY, this_host=hostname, pylock_mtime=mtime) == reach


def test_reachability_of_an_env_without_provenance_is_unknown() -> None:
    assert reach_of(evolve(READY, marker=EMPTY_MARKER), this_host=HERE, pylock_mtime=5.0) == (
        "unknown"
    )


# --- kept answers in plans/ ---------------------------------------------------------------


@given(
    kind=st.sampled_from(["uv version", "interpreter", "plan", "plan lock", "staging", None]),
    age=st.floats(min_value=-1e6, max_value=1e9, allow_nan=False),
    older_than=st.integers(min_value=0, max_value=10**8),
    named=st.booleans(),
)
def test_gc_forgets_a_kept_answer_exactly_when_it_is_older_than_asked(
    kind: str | None, age: float, older_than: int, named: bool
) -> None:
    policy = GcPolicy(
        now=1e9,
        older_than=older_than,
        this_host="node7",
        host=None,
        only=frozenset({"0123456789abcdef"}) if named else None,
    )
    due = kept_answer_due(kind, policy.now - age, policy)
    assert due == (kind in ("uv version", "interpreter") and not named and age >= older_than)


# --- staleness -----------------------------------------------------------------------------

WHEEL = LocalDep(path="/w/app.whl", kind="file", size=900, mtime=1.5)
RECORDED = Provenance(
    local_extra_deps=(ExtraRecord(path="/w/app.whl", kind="file", size=900, mtime=1.5),)
)


def test_an_unchanged_extra_is_not_stale() -> None:
    assert changed_extras((WHEEL,), RECORDED) == ()


@pytest.mark.parametrize("changes", [{"size": 901}, {"mtime": 2.5}, {"kind": "missing"}])
def test_an_extra_whose_size_mtime_or_kind_changed_is_stale(changes: dict[str, Any]) -> None:
    (changed,) = changed_extras((evolve(WHEEL, **changes),), RECORDED)
    assert changed.path == WHEEL.path


def test_directories_and_unrecorded_extras_are_never_stale() -> None:
    directory = LocalDep(path="/src", kind="directory", size=4096, mtime=9.0)
    recorded = Provenance(local_extra_deps=(ExtraRecord(path="/src", kind="directory"),))
    assert changed_extras((directory,), recorded) == ()
    assert changed_extras((evolve(WHEEL, size=1),), Provenance()) == ()
    assert changed_extras((WHEEL,), None) == ()


# --- what reaches the terminal ---------------------------------------------------------------


def test_names_from_disk_are_printed_escaped() -> None:
    assert printable("env_\x1b[2Jx\ny") == "env_\\x1b[2Jx\\ny"
    hostile = evolve(READY, name="0123456789abcdef", path="/c/\x1b]0;pwned\x07")
    table = render_env_table(
        [hostile], now=NOW, cache_root="/c\n", this_host=HERE, others=["/c/envs/a\x1bb"]
    )
    assert "\x1b" not in table
    assert "/c\\n" in table


@given(
    xdg=st.one_of(st.none(), st.text(alphabet="/.ab", max_size=12)),
    home=st.text(alphabet="/.ab", min_size=1, max_size=12),
)
def test_the_cache_root_is_spelled_as_pathlib_spells_it(xdg: str | None, home: str) -> None:
    base = PurePosixPath(xdg) if xdg and xdg.startswith("/") else PurePosixPath(home) / ".cache"
    expected = str(base / "bfabric_app_runner")
    assert cache_layout(xdg_cache_home=xdg, home=home).root == expected


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b'{"format": 3}', "its format is 3, newer than the format 2 this pylockenv reads"),
        (b'{"format": 0}', "its format is '0', which no pylockenv writes (this one writes 2)"),
        (b'{"format": "1"}', "its format is '1', which no pylockenv writes"),
    ],
)
def test_a_marker_of_an_unknown_format_is_unreadable_with_a_sentence(
    document: bytes, problem: str
) -> None:
    marker = parse_marker(document)
    assert marker.kind == "unreadable"
    assert marker.problem is not None
    assert marker.problem.startswith(problem)


def test_a_marker_of_this_format_an_older_one_or_without_one_reads() -> None:
    assert parse_marker(b'{"format": 2, "host": "n"}').provenance == Provenance(host="n")
    assert parse_marker(b'{"host": "n"}').provenance == Provenance(host="n")
    # Format 1 had no `interpreter` nor `installed`: it reads as this format's without them.
    older = parse_marker(b'{"format": 1, "host": "n"}').provenance
    assert older == Provenance(format=1, host="n", installed=())


# What provisioning decides (core/provisioning.py) and the names of plans/ (core/layout.py).


@pytest.mark.parametrize(
    ("entry", "marker_present", "reason"),
    [
        ("missing", False, None),
        ("missing", True, None),
        ("not a directory", False, "it is not a directory"),
        ("not a directory", True, "it is not a directory"),
        ("directory", False, "it has no marker (an earlier provisioning was killed or failed)"),
        ("directory", True, "its bin/python no longer resolves (its base interpreter was removed)"),
    ],
)
def test_why_an_envs_place_is_cleared(
    entry: EntryAtEnv, marker_present: bool, reason: str | None
) -> None:
    assert remake_reason(entry=entry, marker_present=marker_present) == reason


@pytest.mark.parametrize(
    ("returncode", "stdout", "refusal"),
    [
        (0, "uv 0.13.9 (x86_64-unknown-linux-gnu)\n", None),
        (0, "uv 0.6.15\n", None),
        (0, "uv 1.0.0+3\n", None),
        (0, "uv 0.6.14\n", "uv at '/u' is version 0.6.14, but installing from pylock.toml"),
        (0, "ruff 0.6.0\n", "'/u' is not a working uv: '/u --version' exited with 0"),
        (2, "", "'/u' is not a working uv: '/u --version' exited with 2"),
    ],
)
def test_which_uv_is_accepted(returncode: int, stdout: str, refusal: str | None) -> None:
    said = uv_refusal("/u", returncode=returncode, stdout=stdout, stderr="", how="get uv")
    if refusal is None:
        assert said is None
    else:
        assert said is not None
        assert said.startswith(refusal)
        assert said.endswith("; get uv.")


APP_FILES = {
    "/app/pylock.toml": FileFact(kind="file", mtime=1.5, size=10),
    "/app/req.txt": FileFact(kind="file", mtime=2.5, size=10),
}


def _app_plan(pylock: str = "/app/pylock.toml") -> Any:
    facts: HostFacts = evolve(NODE7, files=APP_FILES)
    return plan(command_from_flags(pylock=pylock, command="probe"), facts)


def test_a_pylock_is_checked_before_uv_and_a_requirements_file_only_read() -> None:
    assert checks_before(_app_plan()) == ("read pylock", "check pylock", "check uv")
    assert checks_before(_app_plan("/app/req.txt")) == ("read pylock", "check uv")


def test_only_the_venv_step_has_a_postcondition() -> None:
    the_plan = _app_plan()
    conditions = {step.name: step_postcondition(step.name, the_plan.env) for step in the_plan.steps}
    assert conditions == {"create-venv": f"{the_plan.env_path}/bin", "install-pylock": None}


def test_the_provenance_records_the_plan_and_what_the_shell_gathered() -> None:
    the_plan = _app_plan()
    recorded = provenance_of(
        the_plan,
        started=0.0,
        duration=1.23456,
        uv_version="uv 0.13.9",
        python_version="3.11.9",
        sha256={the_plan.pylock: "ab" * 32},
        pylockenv_version="9.9",
    )
    assert recorded.env_hash == the_plan.env_hash
    assert recorded.host == "node7"
    assert recorded.pylock == PylockRecord(
        path=the_plan.pylock, mtime=the_plan.pylock_mtime, sha256="ab" * 32
    )
    assert (recorded.started, recorded.duration_seconds) == ("1970-01-01T00:00:00Z", 1.235)
    assert (recorded.python_version, recorded.uv_version) == ("3.11.9", "uv 0.13.9")
    assert hashed_paths(the_plan) == (the_plan.pylock,)


@given(st.text(alphabet="0123456789abcdef", min_size=1, max_size=20), st.integers(0, 2**32 - 1))
def test_the_layout_names_every_file_it_puts_in_plans(key: str, crc: int) -> None:
    cache = cache_layout(xdg_cache_home="/c", home="/h")
    plan_name = PurePosixPath(cache.stored_plan(key)).name
    uv_name = kept_uv_version_name(crc)
    assert plans_entry_kind(plan_name) == "plan"
    assert plans_entry_kind(PurePosixPath(cache.plan_lock(key)).name) == "plan lock"
    assert plans_entry_kind(uv_name) == "uv version"
    for name in (plan_name, uv_name):
        assert plans_entry_kind(staging_name(name, 4242)) == "staging"


@pytest.mark.parametrize(
    "name",
    [
        *("README.txt", "uv-1234.version", "uv-123456789.version", "x.plan.7.bak", ".tmp"),
        *("a.tmp", ".plan.lock", "x.lock"),
    ],
)
def test_anything_else_in_plans_is_not_pylockenvs(name: str) -> None:
    assert plans_entry_kind(name) is None
