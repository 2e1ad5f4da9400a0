"""Which envs `pylockenv gc` removes, and why: observations and a policy in, a gc plan out.

`--dry-run` prints the plan; otherwise the shell applies it env by env. Before
removing one it takes the env's locks and looks again, and asks `decide` again
about that fresh look, so an env that changed in between (a run started, a
provisioning finished) is judged as it is now. Durations (`--older-than 30d`, and
the "45d" of `list`) are read and written here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from attrs import frozen

from .envstate import EnvObservation, env_state
from .errors import EXIT_CACHE_FAILED, EXIT_GC_SKIPPED, DurationError

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> int:
    """The number of seconds a duration such as `30d`, `12h`, `90m`, `45s` or `2w` stands for."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise DurationError(
            f"{text!r} is not a duration; write a whole number and a unit, "
            "s, m, h, d or w (for example 30d, 12h, 90m or 0s)."
        )
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def format_duration(seconds: float) -> str:
    """A rough human form of `seconds` in its largest whole unit: 45d, 5h, 12m, 40s."""
    seconds = max(0.0, seconds)
    for unit in ("d", "h", "m"):
        if seconds >= UNIT_SECONDS[unit]:
            return f"{int(seconds // UNIT_SECONDS[unit])}{unit}"
    return f"{int(seconds)}s"


GcAction = Literal["remove", "skip", "keep"]
GcReason = Literal[
    "not named",
    "other host",
    "in provisioning",
    "in use",
    "orphaned",
    "partial",
    "broken",
    "not a directory",
    "named",
    "unused",
    "recently used",
    "no use recorded",
    "dated in the future",
    "unlocked ephemeral, old",
    "unlocked ephemeral, recent",
]
# Clocks of NFS clients and servers differ by seconds, so a time a little ahead is
# "just now"; one more than a day ahead is no record to judge by.
FUTURE_SLACK = 86400.0


@frozen(kw_only=True)
class GcPolicy:
    """What to collect.

    Ready envs unused for `older_than` seconds before `now`; when `only` is
    given, exactly the envs named there (whatever their age). `host` limits gc
    to the envs of one host (None: every host); an env whose host is unknown
    belongs to this host's view (`this_host`), since only locks and ages judge it.
    """

    now: float
    older_than: float
    this_host: str
    host: str | None
    only: frozenset[str] | None = None


# What plans/ keeps besides plans: answers a cold run would otherwise ask again (uv's
# version, the interpreter uv found). Each is named by what it answers for, so one whose
# uv or environment is gone is never read again; gc forgets those written longer ago
# than --older-than (an answer still good costs the next cold run one question).
KEPT_ANSWERS = frozenset({"uv version", "interpreter"})


def kept_answer_due(kind: str | None, mtime: float, policy: GcPolicy) -> bool:
    """Whether gc under `policy` forgets the entry of plans/ of `kind` (`plans_entry_kind`)
    written at `mtime`: a kept answer older than `older_than`, unless gc was given names
    (then it removes exactly those envs and nothing else)."""
    return kind in KEPT_ANSWERS and policy.only is None and policy.now - mtime >= policy.older_than


@frozen(kw_only=True)
class GcEntry:
    """What gc does with one env, and why (`idle`: seconds since its last use or making,
    when the reason is about age)."""

    env: EnvObservation
    action: GcAction
    reason: GcReason
    idle: float | None = None


@frozen(kw_only=True)
class GcPlan:
    """One entry per env in view, by name."""

    policy: GcPolicy
    entries: tuple[GcEntry, ...]

    @property
    def removals(self) -> tuple[GcEntry, ...]:
        return tuple(entry for entry in self.entries if entry.action == "remove")


def in_view(env: EnvObservation, *, host: str | None, this_host: str) -> bool:
    """Whether `env` belongs to the envs of `host` (None: every host)."""
    if host is None:
        return True
    return env.host == host or (env.host is None and host == this_host)


def decide(env: EnvObservation, policy: GcPolicy) -> GcEntry:
    """Decide whether gc removes `env`.

    Never removes an env that is being provisioned or used by a running command
    (those are skipped); removes partial, broken and orphaned ephemeral envs and
    anything that is not a directory at an env's path; removes a ready env unused
    for at least `older_than`, and an ephemeral env the reference made (it takes
    no lock) once it is that old.
    """

    def entry(action: GcAction, reason: GcReason, idle: float | None = None) -> GcEntry:
        return GcEntry(env=env, action=action, reason=reason, idle=idle)

    if policy.only is not None and env.name not in policy.only:
        return entry("keep", "not named")
    if policy.only is None and not in_view(env, host=policy.host, this_host=policy.this_host):
        return entry("keep", "other host")
    state = env_state(env, this_host=policy.this_host)
    if state == "in provisioning":
        return entry("skip", "in provisioning")
    if env.in_use:
        return entry("skip", "in use")
    if state == "not a directory":
        return entry("remove", "not a directory")
    if state == "orphaned ephemeral":
        return entry("remove", "orphaned")
    if state == "partial":
        return entry("remove", "partial")
    if state == "broken":
        return entry("remove", "broken")
    if policy.only is not None:
        return entry("remove", "named")
    if state == "unlocked ephemeral":
        age = _age(env.created, policy.now)
        if age is None or age >= policy.older_than:
            return entry("remove", "unlocked ephemeral, old", age)
        return entry("keep", "unlocked ephemeral, recent", age)
    if env.last_used is None:
        return entry("remove", "no use recorded")
    idle = _age(env.last_used, policy.now)
    if idle is None:
        return entry("remove", "dated in the future")
    if idle >= policy.older_than:
        return entry("remove", "unused", idle)
    return entry("keep", "recently used", idle)


def swept_by_a_run(entry: GcEntry, *, this_host: str) -> bool:
    """Whether a cold run's sweep (the safety net behind jobs killed before they could
    remove their refresh env) removes the env of `entry`: only an ephemeral env gc would
    remove as orphaned, whose lock file names this host. An env whose host cannot be
    told (a lock file gone or empty, an older pylockenv's) is left to `pylockenv gc`."""
    return entry.reason == "orphaned" and entry.env.lock_host == this_host


def _age(timestamp: float | None, now: float) -> float | None:
    """Seconds from `timestamp` to `now`; a little in the future is 0, far is None."""
    if timestamp is None:
        return None
    if timestamp > now + FUTURE_SLACK:
        return None
    return max(0.0, now - timestamp)


def plan_gc(envs: Iterable[EnvObservation], policy: GcPolicy) -> GcPlan:
    """The gc plan for the observed `envs` under `policy`, one entry per env, by name."""
    entries = tuple(decide(env, policy) for env in sorted(envs, key=lambda env: env.name))
    return GcPlan(policy=policy, entries=entries)


GcResult = Literal["removed", "would remove", "skipped", "failed", "gone", "kept"]


@frozen(kw_only=True)
class GcOutcome:
    """What became of one env the plan meant to remove (or skipped).

    "gone": someone else (another gc, its own run) removed it first; this gc
    counts only its own removals. "kept": a fresh look under its locks no longer
    found it due. `error` says why a removal failed; `freed` is the bytes this
    removal freed (None when not measured).
    """

    entry: GcEntry
    result: GcResult
    error: str | None = None
    freed: int | None = None


def gc_exit_code(outcomes: Iterable[GcOutcome]) -> int:
    """0 when every env due was removed; 1 when a removal failed; 3 when nothing failed
    but an env due was skipped (in use or in provisioning)."""
    results = {outcome.result for outcome in outcomes}
    if "failed" in results:
        return EXIT_CACHE_FAILED
    if "skipped" in results:
        return EXIT_GC_SKIPPED
    return 0
