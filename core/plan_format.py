"""A plan's data form, owned here: plan <-> plain data, a plan file (JSON), a kept plan (marshal).

A plan file is what `pylockenv run ... --print-plan --json` prints and
`pylockenv apply` runs: the plan's plain data, its format version and the
record of what it was made from (`core.made_from`). The warm path of `run`
keeps the same three under the cache root as marshal data and reads them back
as a `LightPlan`: the parts of a plan that checking it and starting its command
need, every value's type checked, without attrs.

The version: `PLAN_FILE_VERSION` names the data form, and `PLAN_SCHEMAS` holds
the fingerprint of each version's form (field names and types of the plan's
classes and of the record, see `schema_fingerprint`). A test fails when the form
changes and the version does not. A plan file of another version is refused
with a sentence; a kept plan of another version is only a missed shortcut.

Light: the warm path decides with `marshal` and the SHA-256 module only; `json`, `attrs` and
`cattrs` load when a plan file is read or written, never on a warm run.
"""

from __future__ import annotations

import marshal

from .errors import PlanFileError as PlanFileError  # its home is core.errors
from .plan_rules import short_digest

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from .planning import Plan

    # (check, path, argv): how one way to start the command is tested, then started.
    Candidate = tuple[str, str | None, tuple[str, ...]]

PLAN_FILE_VERSION = 5
# The fingerprint of each version's data form. Version 1 (pylockenv before this
# table) had `run.script`, `script_argv`, `python_argv` and a record without `cwd`
# for a spec file's plan. Version 3: the plan's `interpreter`, the record's
# `interpreters` (the Python of pylockenv itself is no longer a fact). Version 4:
# `run.shell_syntax_warning`, and a kept plan's `kept_for`. Version 5: an ephemeral
# env is named by the pattern `ephemeral/env_<random>`, drawn when the env is made,
# and `lock_path` is the lock file beside every env.
PLAN_SCHEMAS = {
    2: "b1194c2c0536a299",
    3: "def604a9d54ba70f",
    4: "5bf808b52fd196db",
    5: "fa9d3b0e0de036cf",
}
VERSION_KEY = "plan_file_version"
MADE_FROM_KEY = "made_from"
KEPT_FOR_KEY = "kept_for"
# A plan is a few kilobytes; a file far larger than this is no plan file.
PLAN_FILE_SIZE_LIMIT = 1 << 20

_MAKE_ONE = "make one with 'pylockenv run SPEC [NAME] --print-plan --json > plan.json'"


# --- plan <-> plain data --------------------------------------------------------------------


def plan_to_data(plan: Plan) -> dict[str, Any]:
    """The plan as plain data (tuples stay tuples; JSON writes them as lists), keys in
    declaration order."""
    import attrs

    return attrs.asdict(plan)


def plan_from_data(data: Mapping[str, Any], where: str) -> Plan:
    """The plan whose plain data is `data`; PlanFileError naming `where` and the first bad
    field when `data` is not a plan of this version's form."""
    import cattrs

    from .planning import Plan

    try:
        return cattrs.Converter(forbid_extra_keys=True).structure(data, Plan)
    except cattrs.BaseValidationError as exc:
        problems = cattrs.transform_error(exc, path="plan")
        raise PlanFileError(
            f"{where} is a plan file whose plan cannot be read ({problems[0]}); make the plan "
            "again with this pylockenv."
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise PlanFileError(
            f"{where} is a plan file whose plan cannot be read ({exc}); make the plan again "
            "with this pylockenv."
        ) from None


# --- the plan file (JSON) -------------------------------------------------------------------


def plan_file_text(plan: Plan, made_from: Mapping[str, Any]) -> str:
    """The plan file of `plan`, made from `made_from`, as JSON text with a trailing newline."""
    import json

    document = {**plan_to_data(plan), VERSION_KEY: PLAN_FILE_VERSION, MADE_FROM_KEY: made_from}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def parse_plan_file(data: bytes, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan (its plain-data form) and the facts it was made from, read from `data`.

    Raises PlanFileError naming `where` when `data` is not a plan file or one of a
    version this pylockenv does not read.
    """
    import json

    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise PlanFileError(f"{where} is not a plan file (not JSON); {_MAKE_ONE}.") from None
    if not isinstance(document, dict) or VERSION_KEY not in document:
        raise PlanFileError(f"{where} is not a plan file (no {VERSION_KEY}); {_MAKE_ONE}.")
    version = document.pop(VERSION_KEY)
    if version != PLAN_FILE_VERSION:
        older = isinstance(version, int) and 0 < version < PLAN_FILE_VERSION
        made_by = "an older" if older else "another"
        raise PlanFileError(
            f"{where} is a plan file of version {version!r}, made by {made_by} pylockenv, and "
            f"this pylockenv reads version {PLAN_FILE_VERSION} only; make the plan again with "
            "this pylockenv ('pylockenv run SPEC [NAME] --print-plan --json > plan.json')."
        )
    made_from = document.pop(MADE_FROM_KEY, None)
    if not isinstance(made_from, dict):
        raise PlanFileError(f"{where} is a plan file without the facts it was made from.")
    return document, made_from


# --- the kept plan (marshal) and its light view ---------------------------------------------


def encode_kept_plan(
    plan_data: Mapping[str, Any], made_from: Mapping[str, Any], kept_for: Sequence[str]
) -> bytes:
    """A plan kept for warm runs: marshal data, which the warm path reads without json,
    with the command line it is kept for (`kept_plan_words`)."""
    document = {VERSION_KEY: PLAN_FILE_VERSION, "plan": dict(plan_data)}
    document |= {MADE_FROM_KEY: dict(made_from), KEPT_FOR_KEY: tuple(kept_for)}
    return marshal.dumps(document)


def decode_kept_plan(
    data: bytes, kept_for: Sequence[str] | None = None
) -> tuple[LightPlan, dict[str, Any]] | None:
    """The plan and its record from a kept plan; None when `data` is not one of this
    version whose every value the warm path reads has its type (damage of any shape), or,
    given `kept_for`, is kept for another command line (a name shared by two digests)."""
    try:
        document = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None
    if not isinstance(document, dict) or document.get(VERSION_KEY) != PLAN_FILE_VERSION:
        return None
    if kept_for is not None and document.get(KEPT_FOR_KEY) != tuple(kept_for):
        return None
    plan, made_from = light_plan(document.get("plan")), document.get(MADE_FROM_KEY)
    if plan is None or not isinstance(made_from, dict):
        return None
    return plan, made_from


class LightPlan:
    """The parts of a plan that checking its cache paths and starting its command need,
    as plain values: made from a plan's plain data by `light_plan` only."""

    __slots__ = (
        "cache_root",
        "candidates",
        "env_hash",
        "env_path",
        "hash_input",
        "in_use_path",
        "lock_path",
        "marker_path",
        "mode",
        "path_value",
        "set_env",
        "shell_syntax_warning",
        "source",
        "words",
    )

    def __init__(self, data: Mapping[str, Any], run: Mapping[str, Any]) -> None:
        self.source: str = data["source"]
        self.mode: str = data["mode"]
        self.env_hash: str = data["env_hash"]
        self.hash_input: str = data["hash_input"]
        self.cache_root: str = data["cache_root"]
        self.env_path: str = data["env_path"]
        self.marker_path: str = data["marker_path"]
        self.lock_path: str | None = data["lock_path"]
        self.in_use_path: str | None = data["in_use_path"]
        self.words: tuple[str, ...] = tuple(run["words"])
        self.candidates: tuple[Candidate, ...] = tuple(
            (check, path, tuple(argv)) for check, path, argv in run["candidates"]
        )
        self.path_value: str = run["env"]["path_value"]
        self.set_env: dict[str, str] = dict(run["env"]["set_env"])
        self.shell_syntax_warning: str | None = run["shell_syntax_warning"]


_STRINGS = ("source", "mode", "env_hash", "hash_input", "cache_root", "env_path", "marker_path")


def light_plan(data: object) -> LightPlan | None:
    """The LightPlan of a plan's plain data (from `plan_to_data`, JSON or marshal); None
    when any value it reads is missing or of another type."""
    if not isinstance(data, dict):
        return None
    run = data.get("run")
    if not isinstance(run, dict) or not all(isinstance(data.get(k), str) for k in _STRINGS):
        return None
    if not all(_is_str_or_none(data.get(k, 0)) for k in ("lock_path", "in_use_path")):
        return None
    env, candidates = run.get("env"), run.get("candidates")
    if not isinstance(env, dict) or not isinstance(env.get("path_value"), str):
        return None
    set_env = env.get("set_env")
    if not isinstance(set_env, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in set_env.items()
    ):
        return None
    if not _is_words(run.get("words")) or not isinstance(candidates, list | tuple):
        return None
    if not _is_str_or_none(run.get("shell_syntax_warning", 0)):
        return None
    for candidate in candidates:
        if not isinstance(candidate, dict):
            return None
        check, path, argv = (candidate.get(k, 0) for k in ("check", "path", "argv"))
        if not isinstance(check, str) or not _is_str_or_none(path) or not _is_words(argv):
            return None
    run = {**run, "candidates": [(c["check"], c["path"], c["argv"]) for c in candidates]}
    return LightPlan(data, run)


_LIGHT_KEYS = (*_STRINGS, "lock_path", "in_use_path")


def light_view(plan: Plan) -> LightPlan:
    """The LightPlan of a `Plan` itself: what `light_plan(plan_to_data(plan))` gives,
    without converting the whole plan to plain data (`execute` reads it on every run)."""
    run = plan.run
    return LightPlan(
        {key: getattr(plan, key) for key in _LIGHT_KEYS},
        {
            "words": run.words,
            "candidates": [(c.check, c.path, c.argv) for c in run.candidates],
            "env": {"path_value": run.env.path_value, "set_env": run.env.set_env},
            "shell_syntax_warning": run.shell_syntax_warning,
        },
    )


def _is_str_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _is_words(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(word, str) for word in value)
    )


# --- which plans are kept, and under which name ---------------------------------------------


def plan_is_kept(mode: str) -> bool:
    """Whether a plan that has run is kept for warm runs: only a cached env's (an
    ephemeral env is made for one run), whatever form the command line gave it in."""
    return mode == "cached"


def kept_plan_words(
    verb: str,
    source_file: str | None,
    name: str | None,
    cwd: str,
    given: Sequence[str] = (),
    *,
    user: int,
) -> tuple[str, ...]:
    """What names a kept plan: the subcommand (`verb`: run or apply), the absolute path
    of SPEC or PLAN (`source_file`; None for a spec given by flags), NAME, the working
    directory, the spec's flags as `shell.warm.given_flags` spells them (`given`:
    --pylock, --command, ... or an app.yml's --app-*), and the user (uid) running it:
    the users of a shared cache each keep their own plan (their homes, PATHs and so
    their facts differ), instead of rewriting one another's on every run."""
    return (f"uid={user}", verb, source_file or "", "" if name is None else f"={name}", cwd, *given)


def kept_plan_key(words: Sequence[str]) -> str:
    """The name under which the warm path keeps the plan of the command line `words`
    (`kept_plan_words`): 16 hex digits of SHA-256 (the module the layout check loads
    anyway). The kept plan records its words, so a name two command lines share only
    costs speed. No word holds a NUL (argv cannot), so the joined text names one line."""
    return short_digest("\0".join(words).encode("utf-8", "surrogateescape"))


# --- the data form's fingerprint ------------------------------------------------------------


def schema_fingerprint(root: type | None = None, records: tuple[type, ...] | None = None) -> str:
    """16 hex digits naming the data form: every field name and type of the plan's classes
    (from `root`, `Plan`, down) and of the record's (`records`, `core.made_from`'s), and the
    kinds of file a record names. Not for the warm path."""
    import hashlib
    import typing

    import attrs

    from . import facts, made_from, planning

    lines: list[str] = []
    pending: list[type] = [planning.Plan if root is None else root]
    seen: set[type] = set()
    while pending:
        cls = pending.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        hints = typing.get_type_hints(cls)
        for field in attrs.fields(cls):
            lines.append(f"{cls.__name__}.{field.name}: {hints[field.name]!r}")
            pending += _attrs_classes_in(hints[field.name])
    for record in made_from.RECORD_CLASSES if records is None else records:
        lines += [f"{record.__name__}.{k}: {v}" for k, v in record.__annotations__.items()]
    lines.append(f"FileKind: {typing.get_args(facts.FileKind)!r}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _attrs_classes_in(hint: object) -> list[type]:
    import typing

    import attrs

    found = [hint] if isinstance(hint, type) and attrs.has(hint) else []
    for arg in typing.get_args(hint):
        found += _attrs_classes_in(arg)
    return found
