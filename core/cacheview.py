"""How `list`, `show` and `gc` present the cache: tables for people, dicts for JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .duration import format_duration
from .envstate import EnvObservation, env_state
from .gc import GcDecision

SIZE_NOTE = (
    "SIZE counts each inode once. uv hard-links installed files from its own cache,\n"
    "so removing an env frees only OWN: the files no other env or cache links to."
)


def iso_utc(timestamp: float) -> str:
    """`timestamp` as ISO 8601 in UTC, to the second: 2026-11-24T14:20:39Z."""
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def format_size(size: int | None) -> str:
    """Bytes in a short binary unit: 512B, 4.0K, 12.3M, 1.1G; "-" when not measured."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{int(value)}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def by_last_use(envs: Iterable[EnvObservation]) -> list[EnvObservation]:
    """Most recently used first; envs with no recorded use last, by name."""
    return sorted(envs, key=lambda env: (env.last_used is None, -(env.last_used or 0), env.name))


def env_to_dict(env: EnvObservation) -> dict[str, Any]:
    """The JSON form of one env, as `list --json` prints it."""
    return {
        "name": env.name,
        "kind": env.kind,
        "state": env_state(env),
        "in_use": env.in_use,
        "path": env.path,
        "python_version": env.python_version,
        "pylock": env.pylock,
        "size_bytes": None if env.usage is None else env.usage.total,
        "own_bytes": None if env.usage is None else env.usage.exclusive,
        "created": None if env.created is None else iso_utc(env.created),
        "last_used": None if env.last_used is None else iso_utc(env.last_used),
    }


def _ago(timestamp: float | None, now: float) -> str:
    return "-" if timestamp is None else f"{format_duration(now - timestamp)} ago"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    head = "  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))
    return "\n".join(line.rstrip() for line in [head, *lines]) + "\n"


def render_env_table(envs: Sequence[EnvObservation], *, now: float, cache_root: str) -> str:
    """The `pylockenv list` table: one row per env, most recently used first."""
    if not envs:
        return f"no environments in {cache_root}\n"
    rows = [
        (
            env.name,
            env_state(env) + (", in use" if env.in_use and env.kind == "cached" else ""),
            env.python_version or "-",
            format_size(None if env.usage is None else env.usage.total),
            format_size(None if env.usage is None else env.usage.exclusive),
            "-" if env.created is None else iso_utc(env.created)[:16].replace("T", " "),
            _ago(env.last_used, now),
            env.pylock or "-",
        )
        for env in by_last_use(envs)
    ]
    header = ("ENV", "STATE", "PYTHON", "SIZE", "OWN", "CREATED (UTC)", "LAST USED", "PYLOCK")
    text = f"{cache_root}: {_count(len(envs), 'environment')}\n" + _table(header, rows)
    if any(env.usage is not None for env in envs):
        text += SIZE_NOTE + "\n"
    return text


def render_show(
    env: EnvObservation | None,
    *,
    verdict: tuple[str, str],
    warnings: Sequence[str] = (),
    plan_text: str | None = None,
) -> str:
    """What `pylockenv show` prints: the env, the verdict (a label and its text),
    warnings, the provenance, and the plan's shell rendering when there is one."""
    lines = []
    if env is None:
        lines.append("env: not on disk")
    else:
        described = env_to_dict(env)
        lines.append(f"env {env.name} ({env.kind}): {described['state']}")
        lines += [
            f"  {key}: {described[key]}"
            for key in ("path", "python_version", "created", "last_used", "in_use")
        ]
        lines.append(f"  size: {described['size_bytes']} bytes ({described['own_bytes']} own)")
    lines.append(f"{verdict[0]}: {verdict[1]}")
    lines += [f"warning: {warning}" for warning in warnings]
    if env is not None and env.marker:
        provenance = json.dumps(env.marker, indent=2, sort_keys=True)
        lines.append("provenance:\n  " + provenance.replace("\n", "\n  "))
    elif env is not None and env.marker is not None:
        lines.append("provenance: none recorded (an empty marker, as bfabric-app-runner writes)")
    if plan_text is not None:
        lines.append("plan (what 'pylockenv run' does now):")
        lines.append(plan_text.rstrip("\n"))
    return "\n".join(lines) + "\n"


def decision_to_dict(decision: GcDecision, env: EnvObservation) -> dict[str, Any]:
    """The JSON form of one gc decision about `env`."""
    return {
        "name": env.name,
        "kind": env.kind,
        "path": env.path,
        "action": decision.action,
        "reason": decision.reason,
        "freed_bytes": None if env.usage is None else env.usage.exclusive,
    }


def _freed(outcomes: Sequence[tuple[GcDecision, EnvObservation]]) -> int:
    return sum(
        env.usage.exclusive
        for decision, env in outcomes
        if decision.action == "remove" and env.usage is not None
    )


def gc_report_to_dict(
    outcomes: Sequence[tuple[GcDecision, EnvObservation]],
    *,
    cache_root: str,
    dry_run: bool,
    kept: int,
) -> dict[str, Any]:
    """What `pylockenv gc --json` prints: each removal and skip, the count kept, bytes freed."""
    return {
        "cache_root": cache_root,
        "dry_run": dry_run,
        "kept": kept,
        "envs": [decision_to_dict(decision, env) for decision, env in outcomes],
        "freed_bytes": _freed(outcomes),
    }


def render_gc_report(
    outcomes: Sequence[tuple[GcDecision, EnvObservation]], *, dry_run: bool, kept: int
) -> str:
    """What `pylockenv gc` prints: each removal and skip with its reason, then the total."""
    verb = "would remove" if dry_run else "removed"
    lines = []
    for decision, env in outcomes:
        if decision.action == "remove":
            size = env.usage.exclusive if env.usage is not None else 0
            lines.append(f"{verb} {env.name} ({format_size(size)}): {decision.reason}")
        elif decision.action == "skip":
            lines.append(f"skipped {env.name}: {decision.reason}")
        elif decision.action == "failed":
            lines.append(f"failed to remove {env.name}: {decision.reason}")
    removed = sum(1 for decision, _ in outcomes if decision.action == "remove")
    lines.append(
        f"{verb} {_count(removed, 'environment')}, {'freeing' if dry_run else 'freed'} "
        f"{format_size(_freed(outcomes))}; kept {kept}."
    )
    return "\n".join(lines) + "\n"
