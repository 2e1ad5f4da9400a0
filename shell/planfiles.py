"""Plan files on disk: made by `run --print-plan --json`, run by `apply`, kept for warm runs.

The format and the freshness rule are `core.planfile`'s; this module records
the facts a plan was made from, writes the stored plan of a spec under the cache
root, and turns a plan file back into a `Plan` once it is known to be fresh.
"""

from __future__ import annotations

import os
from typing import Any

from attrs import asdict

from pylockenv.core.facts import HostFacts
from pylockenv.core.layout import PLANS_DIR, CacheLayout, cache_layout, staging_name
from pylockenv.core.planfile import (
    PLAN_FILE_SIZE_LIMIT,
    PlanFileError,
    encode_stored_plan,
    parse_plan_file,
    plan_file,
    stored_plan_key,
    what_changed,
)
from pylockenv.core.planning import Plan, layout_problem
from pylockenv.core.planning import plan as core_plan
from pylockenv.core.spec import Spec

from .cachefiles import CacheFileError, open_cache_dir, read_regular, write_atomically
from .facts import gather_facts
from .hostfacts import HOST_FACT_NAMES, facts_now, file_fact, uv_fact


def plan_with_facts(spec: Spec, *, uv: str | None = None) -> tuple[Plan, HostFacts]:
    """Gather this host's facts, plan `spec`, and keep the facts the plan was made from."""
    facts = gather_facts(spec, uv=uv)
    return core_plan(spec, facts), facts


def made_from(
    facts: HostFacts,
    *,
    uv_flag: bool = False,
    spec_path: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The facts a plan file records: those `facts` hold (as the warm path reads them
    again, see `hostfacts.facts_now`), the uv executable (`uv_flag`: named by --uv), and
    with `spec_path` the spec file's stat. The working directory is recorded only for a
    spec given by flags: a spec file's relative paths are read from its own directory."""
    host = {key: getattr(facts, key) for key in HOST_FACT_NAMES}
    if spec_path is not None:
        del host["cwd"]
    recorded: dict[str, Any] = {
        "host": host,
        "uv": uv_fact(facts.uv, given_by_flag=uv_flag),
        "files": {
            path: {"kind": fact.kind, "mtime": fact.mtime, "size": fact.size}
            for path, fact in facts.files.items()
        },
    }
    if spec_path is not None:
        recorded["spec"] = {"path": spec_path, "name": name, "file": file_fact(spec_path)}
    return recorded


def plan_document(plan: Plan, recorded: dict[str, Any]) -> dict[str, Any]:
    """The plan file of `plan`, made from `recorded`."""
    return plan_file(asdict(plan), recorded)


def store_plan(
    plan: Plan, facts: HostFacts, *, uv_flag: bool, spec_path: str, name: str | None
) -> None:
    """Keep the plan of `run SPEC [NAME]` for the warm path, if the cache can be written."""
    if plan.mode != "cached":
        return
    spec_path = os.path.abspath(spec_path)
    recorded = made_from(facts, uv_flag=uv_flag, spec_path=spec_path, name=name)
    key = stored_plan_key("run", spec_path, name, facts.cwd)
    _keep(facts, key, asdict(plan), recorded)


def store_applied_plan(
    plan: Plan, document: dict[str, Any], recorded: dict[str, Any], plan_file: str
) -> None:
    """Keep the plan of `apply PLAN` for the warm path (which then reads no JSON)."""
    if plan.mode != "cached":
        return
    plan_file = os.path.abspath(plan_file)
    facts_then = recorded.get("host") or {}
    recorded = {**recorded, "plan_file": {"path": plan_file, "file": file_fact(plan_file)}}
    key = stored_plan_key("apply", plan_file, None, os.getcwd())
    cache = cache_layout(xdg_cache_home=facts_then.get("xdg_cache_home"), home=facts_then["home"])
    _write_kept(cache, key, document, recorded)


def _keep(facts: HostFacts, key: str, plan: dict[str, Any], recorded: dict[str, Any]) -> None:
    cache = cache_layout(xdg_cache_home=facts.xdg_cache_home, home=facts.home)
    _write_kept(cache, key, plan, recorded)


def _write_kept(
    cache: CacheLayout, key: str, plan: dict[str, Any], recorded: dict[str, Any]
) -> None:
    """Written to a temporary name and renamed, so a concurrent warm run reads a whole
    plan or none; any failure (a read-only cache, a full disk) only costs speed."""
    target = cache.stored_plan(key)
    name = os.path.basename(target)
    try:
        data = encode_stored_plan(plan, recorded)
        plans = open_cache_dir(cache.root, PLANS_DIR, create=True)  # never through a link
        try:
            write_atomically(
                plans, name, data, staging=staging_name(name, os.getpid()), path=target, fsync=False
            )
        finally:
            os.close(plans)
    except (OSError, ValueError, CacheFileError):
        pass


def load_plan_file(path: str) -> tuple[Plan, dict[str, Any], dict[str, Any]]:
    """The plan in the plan file at `path`, once every fact it was made from still holds;
    with the plan's plain data and the facts, as read (for `store_applied_plan`).

    Raises PlanFileError when the file cannot be read, is no plan file, is of an
    unknown version, or is stale (the message lists what changed).
    """
    try:
        data = read_regular(path, PLAN_FILE_SIZE_LIMIT)
    except (OSError, CacheFileError) as exc:
        raise PlanFileError(f"cannot read the plan file {path} ({exc}).") from None
    if data is None:
        raise PlanFileError(f"the plan file {path} does not exist.")
    if len(data) > PLAN_FILE_SIZE_LIMIT:
        raise PlanFileError(
            f"{path} is larger than {PLAN_FILE_SIZE_LIMIT} bytes, so it is no plan file."
        )
    document, recorded = parse_plan_file(data, path)
    changes = what_changed(recorded, facts_now(recorded))
    if changes:
        listed = "".join(f"\n    {change}" for change in changes)
        raise PlanFileError(
            f"the plan in {path} is stale: what it was made from has changed since:{listed}\n"
            "Make the plan again ('pylockenv run ... --print-plan --json > plan.json') and "
            "review it."
        )
    import cattrs  # only here: a run that applies no plan file does not load it

    try:
        plan = cattrs.Converter(forbid_extra_keys=True).structure(document, Plan)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError) as exc:
        raise PlanFileError(
            f"{path} is a plan file whose plan cannot be read ({type(exc).__name__}); make the "
            "plan again with this pylockenv."
        ) from None
    host = recorded.get("host")
    home = host.get("home") if isinstance(host, dict) else None
    xdg = host.get("xdg_cache_home") if isinstance(host, dict) else None
    if not isinstance(home, str) or not isinstance(xdg, str | None):
        raise PlanFileError(f"{path} is a plan file whose facts name no home directory.")
    problem = layout_problem(plan, xdg_cache_home=xdg, home=home)
    if problem is not None:
        raise PlanFileError(
            f"the plan in {path} does not match the cache layout: {problem}. pylockenv removes "
            "and provisions only what it would have planned itself; make the plan again."
        )
    return plan, document, recorded
