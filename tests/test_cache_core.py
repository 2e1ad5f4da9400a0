"""The pure decisions of cache management: durations, env states, gc, staleness."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import evolve
from pylockenv.core.cacheview import format_size, iso_utc
from pylockenv.core.duration import DurationError, format_duration, parse_duration
from pylockenv.core.envstate import EnvObservation, env_state, reachability, reuse_verdict
from pylockenv.core.gc import GcPolicy, gc_decision
from pylockenv.core.plan import LocalDep
from pylockenv.core.staleness import changed_extras

NOW = 2_000_000_000.0
DAY = 86400.0

READY = EnvObservation(
    name="0123456789abcdef",
    kind="cached",
    path="/cache/envs/0123456789abcdef",
    marker={},
    interpreter_ok=True,
    provisioning=False,
    in_use=False,
    created=NOW - 100 * DAY,
    last_used=NOW - 10 * DAY,
    python_version="3.11.7",
    usage=None,
)
EPHEMERAL = evolve(READY, name="env_ab", kind="ephemeral", path="/cache/ephemeral/env_ab")


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


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "ready"),
        ({"marker": None}, "partial"),
        ({"interpreter_ok": False}, "broken"),
        ({"provisioning": True}, "in provisioning"),
        ({"provisioning": True, "marker": None}, "in provisioning"),
    ],
)
def test_cached_env_states(changes: dict[str, Any], state: str) -> None:
    assert env_state(evolve(READY, **changes)) == state


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({"in_use": True}, "ephemeral in use"),
        ({}, "orphaned ephemeral"),
    ],
)
def test_ephemeral_env_states(changes: dict[str, Any], state: str) -> None:
    assert env_state(evolve(EPHEMERAL, **changes)) == state


def decide(env: EnvObservation, older_than: float = 30 * DAY, **policy: Any) -> str:
    return gc_decision(env, GcPolicy(now=NOW, older_than=older_than, **policy)).action


def test_gc_removes_a_ready_env_unused_past_the_threshold() -> None:
    assert decide(READY, older_than=10 * DAY) == "remove"
    assert decide(READY, older_than=11 * DAY) == "keep"


def test_gc_skips_envs_in_use_or_in_provisioning_whatever_their_age() -> None:
    assert decide(evolve(READY, in_use=True), older_than=0) == "skip"
    assert decide(evolve(READY, provisioning=True, marker=None), older_than=0) == "skip"
    assert decide(evolve(EPHEMERAL, in_use=True), older_than=0) == "skip"


def test_gc_removes_partial_broken_and_orphaned_envs_whatever_their_age() -> None:
    for env in (evolve(READY, marker=None), evolve(READY, interpreter_ok=False), EPHEMERAL):
        assert decide(evolve(env, last_used=NOW)) == "remove"


def test_gc_with_names_removes_only_those_whatever_their_age() -> None:
    fresh = evolve(READY, last_used=NOW)
    assert decide(fresh, only=frozenset({READY.name})) == "remove"
    assert decide(evolve(READY, marker=None), only=frozenset({"other"})) == "keep"


def test_reuse_needs_a_cached_ready_env() -> None:
    assert reuse_verdict("cached", READY).startswith("yes")
    assert reuse_verdict("cached", None).startswith("no")
    assert reuse_verdict("cached", evolve(READY, interpreter_ok=False)).startswith("no")
    assert reuse_verdict("ephemeral", READY).startswith("no")


WHEEL = LocalDep(path="/w/app.whl", kind="file", size=900, mtime=1.5)
RECORDED = {"local_extra_deps": [{"path": "/w/app.whl", "kind": "file", "size": 900, "mtime": 1.5}]}


def test_an_unchanged_extra_is_not_stale() -> None:
    assert changed_extras((WHEEL,), RECORDED) == ()


@pytest.mark.parametrize("changes", [{"size": 901}, {"mtime": 2.5}, {"kind": "missing"}])
def test_an_extra_whose_size_mtime_or_kind_changed_is_stale(changes: dict[str, Any]) -> None:
    (changed,) = changed_extras((evolve(WHEEL, **changes),), RECORDED)
    assert changed.path == WHEEL.path


def test_directories_and_unrecorded_extras_are_never_stale() -> None:
    directory = LocalDep(path="/src", kind="directory", size=4096, mtime=9.0)
    recorded = {"local_extra_deps": [{"path": "/src", "kind": "directory"}]}
    assert changed_extras((directory,), recorded) == ()
    assert changed_extras((evolve(WHEEL, size=1),), {}) == ()


PROVENANCE = {"host": "node1", "pylock": {"path": "/p/pylock.toml", "mtime": 5.0}}


def test_an_env_is_reachable_while_its_host_and_pylock_are_as_recorded() -> None:
    env = evolve(READY, marker=PROVENANCE)
    assert reachability(env, hostname="node1", pylock_mtime=5.0).startswith("yes")


@pytest.mark.parametrize(
    ("hostname", "mtime", "reason"),
    [
        ("node2", 5.0, "made on host node1"),
        ("node1", 6.0, "changed since"),
        ("node1", None, "gone"),
    ],
)
def test_an_env_is_unreachable_once_host_or_pylock_differ(
    hostname: str, mtime: float | None, reason: str
) -> None:
    verdict = reachability(evolve(READY, marker=PROVENANCE), hostname=hostname, pylock_mtime=mtime)
    assert verdict.startswith("no: ")
    assert reason in verdict


def test_reachability_of_an_env_without_provenance_is_unknown() -> None:
    assert reachability(READY, hostname="node1", pylock_mtime=5.0).startswith("unknown")
