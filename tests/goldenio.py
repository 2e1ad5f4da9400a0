"""Reading a golden case: its spec, its host facts as JSON, and where the spec pretends to live.

A golden case is a directory under `golden/` holding `spec.yml`, `facts.json`
(the record a plan is made from, `core.made_from.MadeFrom`, as the shell gathers
it), `case.json` (`spec_path`, `name`, optional `source`, and for an app.yml `app`: its
version, app_id and app_name) and the expected renderings `plan.json` and `plan.sh`.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import yaml

from pylockenv.core.appspec import AppVariables, load_app_spec
from pylockenv.core.facts import HostFacts, host_facts
from pylockenv.core.planning import Plan, plan
from pylockenv.core.spec import Spec, is_app_document, load_spec

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden"


def facts_from_json(text: str) -> HostFacts:
    """The planner's facts from the record written as JSON in `text`; a fact the
    planner does not know, or one missing, is an error (TypeError)."""
    record: Any = json.loads(text)
    return host_facts(record)


def case_names() -> list[str]:
    """The golden cases, sorted by name."""
    return sorted(p.name for p in GOLDEN_DIR.iterdir() if (p / "case.json").is_file())


def load_case(name: str) -> tuple[Spec, HostFacts]:
    """The spec and facts of the golden case `name`."""
    directory = GOLDEN_DIR / name
    case = json.loads((directory / "case.json").read_text(encoding="utf-8"))
    spec_path: str = case["spec_path"]
    document = yaml.safe_load((directory / "spec.yml").read_text(encoding="utf-8"))
    source, base_dir = case.get("source", spec_path), posixpath.dirname(spec_path)
    if is_app_document(document):  # an app.yml: `app` holds its AppVariables
        variables = AppVariables(**case.get("app", {}))
        spec = load_app_spec(document, source, case["name"], app_dir=base_dir, variables=variables)
    else:
        spec = load_spec(document, source, case["name"], base_dir)
    facts = facts_from_json((directory / "facts.json").read_text(encoding="utf-8"))
    return spec, facts


def plan_case(name: str) -> Plan:
    """The plan of the golden case `name`."""
    return plan(*load_case(name))
