"""Which environments `pylockenv gc` removes, and why: a decision per observed env.

The shell decides twice: once over the scan (what a dry run prints), and again
for each env after taking its locks, from a fresh look, so that an env that
changed in between is judged as it is now.
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen

from .duration import format_duration
from .envstate import EnvObservation, env_state

# "failed" is never decided, only reported: the shell could not carry out a removal.
GcAction = Literal["remove", "skip", "keep", "failed"]


@frozen(kw_only=True)
class GcPolicy:
    """What to collect: ready envs unused for `older_than` seconds before `now`, or,
    when `only` is given, exactly the envs named there (whatever their age)."""

    now: float
    older_than: float
    only: frozenset[str] | None = None


@frozen(kw_only=True)
class GcDecision:
    """What gc does with one env and the reason it prints."""

    name: str
    action: GcAction
    reason: str


def gc_decision(env: EnvObservation, policy: GcPolicy) -> GcDecision:
    """Decide whether gc removes `env`.

    Never removes an env that is being provisioned or used by a running command
    (those are skipped with a note); always removes partial, broken and orphaned
    ephemeral envs; removes a ready env unused for at least `older_than`.
    """

    def decide(action: GcAction, reason: str) -> GcDecision:
        return GcDecision(name=env.name, action=action, reason=reason)

    if policy.only is not None and env.name not in policy.only:
        return decide("keep", "not named on the command line")
    state = env_state(env)
    if state == "in provisioning":
        return decide("skip", "in provisioning: its lock is held; try again later")
    if env.in_use:
        return decide("skip", "in use by a running command")
    if state == "orphaned ephemeral":
        return decide("remove", "orphaned ephemeral env: the run that made it is gone")
    if state == "partial":
        return decide("remove", "partial: no marker, and nobody is provisioning it")
    if state == "broken":
        return decide("remove", "broken: its interpreter bin/python does not resolve")
    if policy.only is not None:
        return decide("remove", "named on the command line")
    if env.last_used is None:
        return decide("remove", "no record of any use")
    idle = policy.now - env.last_used
    threshold = format_duration(policy.older_than)
    if idle >= policy.older_than:
        return decide("remove", f"unused for {format_duration(idle)} (threshold {threshold})")
    return decide("keep", f"used {format_duration(idle)} ago (threshold {threshold})")
