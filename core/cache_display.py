"""How `list`, `show` and `gc` present the cache: tables for people, dicts for JSON.

Every value that came from the disk (a directory name, a path, a host) is shown
through `printable`, so a name holding terminal escapes or newlines cannot
rewrite the operator's screen or forge a line of output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from .envstate import EnvObservation, Reach, Reuse, env_state
from .gc import GcEntry, GcOutcome, GcPlan, GcReason, format_duration
from .provenance import iso_utc as iso_utc  # said in provenance, which provisioning loads
from .provenance import provenance_to_dict

SIZE_NOTE = (
    "SIZE counts each inode once. uv hard-links installed files from its own cache,\n"
    "so removing an env frees only FREED: the files no other env or cache links to."
)


def printable(text: str) -> str:
    """`text` with every non-printable character escaped (\\n, \\x1b, ...), for a terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


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


def env_to_dict(env: EnvObservation, *, this_host: str) -> dict[str, Any]:
    """The JSON form of one env, as `list --json` prints it."""
    return {
        "name": env.name,
        "kind": env.kind,
        "state": env_state(env, this_host=this_host),
        "host": env.host,
        "in_use": env.in_use,
        "path": env.path,
        "python_version": env.python_version,
        "python_requested": None
        if env.provenance is None
        else env.provenance.python_version_requested,
        "interpreter": None if env.provenance is None else env.provenance.interpreter,
        "pylock": env.pylock,
        "size_bytes": None if env.usage is None else env.usage.total,
        "freed_bytes": None if env.usage is None else env.usage.freed,
        "created": None if env.created is None else iso_utc(env.created),
        "last_used": None if env.last_used is None else iso_utc(env.last_used),
    }


def _ago(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "-"
    if timestamp > now + 1:
        return "in the future"
    return f"{format_duration(now - timestamp)} ago"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    head = "  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))
    return "\n".join(line.rstrip() for line in [head, *lines]) + "\n"


def render_env_table(
    envs: Sequence[EnvObservation],
    *,
    now: float,
    cache_root: str,
    this_host: str,
    others: Sequence[str] = (),
) -> str:
    """The `pylockenv list` table: one row per env, most recently used first.

    `others` are entries of the cache that are no env (shown by `list -v`).
    """
    root = printable(cache_root)
    text = f"no environments in {root}\n"
    if envs:
        rows = [
            (
                printable(env.name),
                env_state(env, this_host=this_host)
                + (", in use" if env.in_use and env.kind == "cached" else ""),
                printable(env.host) if env.host is not None else "-",
                _python_cell(env),
                format_size(None if env.usage is None else env.usage.total),
                format_size(None if env.usage is None else env.usage.freed),
                "-" if env.created is None else iso_utc(env.created)[:16].replace("T", " "),
                _ago(env.last_used, now),
                printable(env.pylock or "-"),
            )
            for env in by_last_use(envs)
        ]
        header = (
            "ENV",
            "STATE",
            "HOST",
            "PYTHON",
            "SIZE",
            "FREED",
            "CREATED (UTC)",
            "LAST USED",
            "PYLOCK",
        )
        text = f"{root}: {_count(len(envs), 'environment')}\n" + _table(header, rows)
        if any(env.usage is not None for env in envs):
            text += SIZE_NOTE + "\n"
    if others:
        text += "not environments (left alone by gc):\n"
        text += "".join(f"  {printable(path)}\n" for path in others)
    return text


_REUSE_WORDS: dict[Reuse, str] = {
    "ready": "yes: its marker is present and its interpreter bin/python resolves",
    "refresh": "no: refresh is true, so every run provisions a fresh ephemeral env",
    "absent": "no: there is no env yet; the next run provisions it",
    "partial": "no: it has no marker; the next run removes it and provisions again",
    "broken": (
        "no: its interpreter bin/python does not resolve (its base Python is gone); "
        "the next run removes it and provisions again"
    ),
    "not a directory": (
        "no: something that is not a directory is in its place; the next run removes it "
        "and provisions again"
    ),
    "busy": "no: it is being provisioned now; the next run waits for that and then reuses it",
}


def word_reach(reach: Reach, env: EnvObservation, *, this_host: str) -> str:
    """A sentence for whether the spec that made `env` still reaches it."""
    pylock = printable(env.pylock or "?")
    if reach == "reachable":
        return "yes, if its spec is unchanged: same host, and its pylock is as it was"
    if reach == "unknown":
        return "unknown: no provenance recorded (an env made by bfabric-app-runner)"
    if reach == "other host":
        return f"no: it was made on host {printable(env.host or '?')}, this is {this_host}"
    if reach == "pylock gone":
        return f"no: its pylock {pylock} is gone"
    return f"no: its pylock {pylock} changed since, so runs of its spec use a new env"


def render_show(
    env: EnvObservation | None,
    *,
    this_host: str,
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
        described = env_to_dict(env, this_host=this_host)
        lines.append(f"env {printable(env.name)} ({env.kind}): {described['state']}")
        lines += [
            f"  {key.replace('_', ' ')}: {shown_value(described[key])}"
            for key in (
                "path",
                "host",
                "python_version",
                "python_requested",
                "interpreter",
                "created",
                "last_used",
                "in_use",
            )
        ]
        lines.append(f"  size: {_bytes(described['size_bytes'], described['freed_bytes'])}")
    lines.append(f"{verdict[0]}: {verdict[1]}")
    lines += [f"warning: {warning}" for warning in warnings]
    if env is not None and env.marker is not None:
        lines.append(marker_text(env))
    if plan_text is not None:
        lines.append("plan (what 'pylockenv run' does now):")
        lines.append(plan_text.rstrip("\n"))
    return "\n".join(lines) + "\n"


def shown_value(value: object) -> str:
    """A value as a tool prints it: "yes"/"no" for a boolean, "-" for none, else its text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else printable(str(value))


def _python_cell(env: EnvObservation) -> str:
    """The env's Python version, and what was asked for when the provenance says and it
    is not the same text: `3.12.1 (3.12)`."""
    version = env.python_version or "-"
    requested = None if env.provenance is None else env.provenance.python_version_requested
    if requested is None or requested == version:
        return printable(version)
    return printable(f"{version} ({requested})")


def _bytes(size: int | None, freed: int | None) -> str:
    if size is None:
        return "not measured"
    return f"{size} bytes ({'?' if freed is None else freed} freed)"


def marker_text(env: EnvObservation) -> str:
    """The provenance section of `show` (JSON escapes every control character itself)."""
    marker = env.marker
    if marker is None:
        return "provenance: none (no marker)"
    if marker.kind == "empty":
        return "provenance: none recorded (an empty marker, as bfabric-app-runner writes)"
    if marker.kind == "unreadable" or marker.provenance is None:
        return f"provenance: unreadable: {printable(marker.problem or 'unknown problem')}"
    text = json.dumps(provenance_to_dict(marker.provenance), indent=2, sort_keys=True)
    return "provenance:\n  " + text.replace("\n", "\n  ")


def reuse_words(reuse: Reuse) -> str:
    """A sentence for what the next run does with the env."""
    return _REUSE_WORDS[reuse]


def word_reason(entry: GcEntry, threshold: float) -> str:
    """Why gc removes, skips or keeps the env of `entry`, in words."""
    limit = format_duration(threshold)
    idle = "?" if entry.idle is None else format_duration(entry.idle)
    words: dict[GcReason, str] = {
        "not named": "not named on the command line",
        "other host": f"made on host {printable(entry.env.host or '?')} (use --host to include it)",
        "in provisioning": "in provisioning: its lock is held; try again later",
        "in use": "in use by a running command",
        "orphaned": "orphaned ephemeral env: the run that made it is gone",
        "partial": "partial: no marker, and nobody is provisioning it",
        "broken": "broken: its interpreter bin/python does not resolve",
        "not a directory": "not a directory: something else is in an env's place",
        "named": "named on the command line",
        "unused": f"unused for {idle} (threshold {limit})",
        "recently used": f"used {idle} ago (threshold {limit})",
        "no use recorded": "no record of any use",
        "dated in the future": "its last use is dated more than a day in the future",
        "unlocked ephemeral, old": (
            f"ephemeral env of bfabric-app-runner (which takes no lock), made {idle} ago "
            f"(threshold {limit})"
        ),
        "unlocked ephemeral, recent": (
            f"ephemeral env of bfabric-app-runner (which takes no lock), made {idle} ago: "
            f"its run may still be going (threshold {limit})"
        ),
    }
    return words[entry.reason]


def _freed(outcomes: Sequence[GcOutcome]) -> int:
    return sum(
        outcome.freed or 0 for outcome in outcomes if outcome.result in ("removed", "would remove")
    )


def gc_report_to_dict(
    plan: GcPlan, outcomes: Sequence[GcOutcome], *, cache_root: str, dry_run: bool
) -> dict[str, Any]:
    """What `pylockenv gc --json` prints: each outcome, the count kept, bytes freed."""
    threshold = plan.policy.older_than
    return {
        "cache_root": cache_root,
        "dry_run": dry_run,
        "kept": sum(1 for entry in plan.entries if entry.action == "keep")
        + sum(1 for outcome in outcomes if outcome.result == "kept"),
        "envs": [
            {
                "name": outcome.entry.env.name,
                "kind": outcome.entry.env.kind,
                "host": outcome.entry.env.host,
                "path": outcome.entry.env.path,
                "result": outcome.result,
                "reason": outcome.entry.reason,
                "reason_text": word_reason(outcome.entry, threshold),
                "error": outcome.error,
                "freed_bytes": outcome.freed,
            }
            for outcome in outcomes
        ],
        "freed_bytes": _freed(outcomes),
    }


def render_gc_report(plan: GcPlan, outcomes: Sequence[GcOutcome], *, dry_run: bool) -> str:
    """What `pylockenv gc` prints: each removal and skip with its reason, then the total."""
    threshold = plan.policy.older_than
    lines = []
    for outcome in outcomes:
        name = printable(outcome.entry.env.name)
        reason = word_reason(outcome.entry, threshold)
        if outcome.result in ("removed", "would remove"):
            lines.append(f"{outcome.result} {name} ({format_size(outcome.freed)}): {reason}")
        elif outcome.result == "skipped":
            lines.append(f"skipped {name}: {reason}")
        elif outcome.result == "failed":
            lines.append(f"failed to remove {name}: {printable(outcome.error or '')}")
        elif outcome.result == "gone":
            lines.append(f"{name} was already removed by another process")
        elif outcome.result == "kept":
            lines.append(f"kept {name}: it changed since the scan ({reason})")
    removed = sum(1 for outcome in outcomes if outcome.result in ("removed", "would remove"))
    kept = sum(1 for entry in plan.entries if entry.action == "keep") + sum(
        1 for outcome in outcomes if outcome.result == "kept"
    )
    verb = "would remove" if dry_run else "removed"
    lines.append(
        f"{verb} {_count(removed, 'environment')}, {'freeing' if dry_run else 'freed'} "
        f"{format_size(_freed(outcomes))}; kept {kept}."
    )
    return "\n".join(lines) + "\n"
