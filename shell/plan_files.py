"""Plan files on disk: made by `run --print-plan --json`, run by `apply`, kept for warm runs.

The data form is `core.plan_format`'s and the freshness rule `core.made_from`'s;
this module plans a spec with the record of what it was made from, keeps a plan
under the cache root, and reads a plan file back into a `Plan` once it is known
to be fresh and to place its env as the layout does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from pylockenv.core.facts import host_facts
from pylockenv.core.layout import PLANS_DIR, cache_layout, staging_name
from pylockenv.core.made_from import MadeFrom, what_changed
from pylockenv.core.plan_format import (
    PLAN_FILE_SIZE_LIMIT,
    PlanFileError,
    encode_kept_plan,
    kept_plan_key,
    kept_plan_words,
    light_plan,
    parse_plan_file,
    plan_file_text,
    plan_from_data,
    plan_is_kept,
    plan_to_data,
)
from pylockenv.core.plan_rules import layout_problem
from pylockenv.core.planning import Plan
from pylockenv.core.planning import plan as core_plan
from pylockenv.core.spec import Spec

from .cachefiles import CacheFileError, open_cache_dir, read_regular, write_atomically
from .facts import (
    absolute,
    file_record,
    gather_again,
    gather_made_from,
    working_directory,
)


def plan_with_facts(
    spec: Spec,
    *,
    uv: str | None = None,
    spec_path: str | None = None,
    name: str | None = None,
    may_download: bool = False,
) -> tuple[Plan, MadeFrom]:
    """Gather this host's facts, plan `spec`, and keep the record the plan was made from
    (with the stat of `spec_path`, the spec file, when there is one). `may_download`:
    a missing interpreter may be downloaded first, where uv may download (a run or a
    provisioning; never a printed plan)."""
    record = gather_made_from(
        spec, uv=uv, spec_file=spec_path, name=name, may_download=may_download
    )
    return core_plan(spec, host_facts(record)), record


def plan(spec: Spec, *, uv: str | None = None) -> Plan:
    """Gather this host's facts and plan `spec`, with no side effects (the public API).

    Raises a `PylockenvError` subclass with a user-facing message on bad input.
    """
    the_plan, _ = plan_with_facts(spec, uv=uv)
    return the_plan


def plan_document(plan: Plan, made_from: MadeFrom) -> str:
    """The plan file of `plan`, made from `made_from`, as JSON text."""
    return plan_file_text(plan, made_from)


def store_plan(
    plan: Plan,
    made_from: MadeFrom,
    *,
    spec_path: str | None,
    name: str | None,
    given: Sequence[str] = (),
) -> None:
    """Keep the plan of `run SPEC [NAME]`, or of `run` with a spec given by flags
    (`spec_path` None), for the warm path, if it is one that is kept and the cache can be
    written; `given` are the spec's flags (`shell.warm.given_flags`), part of its name."""
    if plan_is_kept(plan.mode):
        host = made_from["host"]
        source = None if spec_path is None else absolute(spec_path)
        words = kept_plan_words("run", source, name, host["cwd"], given, user=os.getuid())
        _write_kept(host, words, plan_to_data(plan), made_from)


def store_applied_plan(
    plan: Plan, document: dict[str, Any], recorded: dict[str, Any], plan_file: str
) -> None:
    """Keep the plan of `apply PLAN` for the warm path (which then reads no JSON)."""
    plan_file = absolute(plan_file)
    if not plan_is_kept(plan.mode):
        return
    words = kept_plan_words("apply", plan_file, None, working_directory(), user=os.getuid())
    recorded = {**recorded, "plan_file": {"path": plan_file, "file": file_record(plan_file)}}
    _write_kept(recorded["host"], words, document, recorded)


def _write_kept(
    host: Any,
    words: tuple[str, ...],
    plan_data: dict[str, Any],
    made_from: dict[str, Any] | MadeFrom,
) -> None:
    """Written to a temporary name and renamed, so a concurrent warm run reads a whole
    plan or none; any failure (a read-only cache, a full disk) only costs speed."""
    cache = cache_layout(xdg_cache_home=host.get("xdg_cache_home"), home=host["home"])
    target = cache.stored_plan(kept_plan_key(words))
    name = os.path.basename(target)
    try:
        data = encode_kept_plan(plan_data, dict(made_from), words)
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
    """The plan in the plan file at `path`, once every fact it was made from still holds
    and its cache paths and command are the layout's; with the plan's plain data and the
    facts, as read (for `store_applied_plan`).

    Raises PlanFileError when the file cannot be read, is no plan file, is of an
    unknown version, is stale (the message lists what changed), or names paths or a
    command pylockenv would not have planned.
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
    changes = what_changed(recorded, gather_again(recorded))
    if changes:
        listed = "".join(f"\n    {change}" for change in changes)
        raise PlanFileError(
            f"the plan in {path} is stale: what it was made from has changed since:{listed}\n"
            "Make the plan again ('pylockenv run ... --print-plan --json > plan.json') and "
            "review it."
        )
    plan = plan_from_data(document, path)
    host = recorded.get("host")
    home = host.get("home") if isinstance(host, dict) else None
    xdg = host.get("xdg_cache_home") if isinstance(host, dict) else None
    if not isinstance(home, str) or not isinstance(xdg, str | None):
        raise PlanFileError(f"{path} is a plan file whose facts name no home directory.")
    light = light_plan(plan_to_data(plan))
    assert light is not None  # a Plan's own data always reads
    problem = layout_problem(light, xdg_cache_home=xdg, home=home)
    if problem is not None:
        raise PlanFileError(
            f"the plan in {path} does not match the cache layout: {problem}. pylockenv removes "
            "and provisions only what it would have planned itself; make the plan again."
        )
    return plan, document, recorded
