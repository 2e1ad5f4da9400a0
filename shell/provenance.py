"""What the marker records about how an environment was made (filled in by the cache issue)."""

from __future__ import annotations

from typing import Any

from pylockenv.core.plan import Plan


def record_provenance(plan: Plan, *, started: float, duration: float) -> dict[str, Any]:
    """The provenance written into the marker of a freshly provisioned env."""
    return {
        "env_hash": plan.env_hash,
        "hash_input": plan.hash_input,
        "started": started,
        "duration_seconds": round(duration, 3),
    }


def staleness_warnings(plan: Plan) -> list[str]:
    """One warning per local extra dep that changed since the reused env was provisioned."""
    return []
