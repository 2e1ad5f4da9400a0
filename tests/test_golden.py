"""Golden plans: each case under golden/ renders exactly as its reviewed files say.

Run `pytest --update-golden tests/test_golden.py` to rewrite the expected
renderings after an intended change, then review the diff like code.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import attrs
import pytest
from goldenio import GOLDEN_DIR, case_names, load_case, plan_case

from pylockenv.core.facts import FileFact
from pylockenv.core.planning import Plan, plan
from pylockenv.core.render import render_json, render_shell

RENDERINGS: dict[str, Callable[[Plan], str]] = {
    "plan.json": render_json,
    "plan.sh": render_shell,
}


def _compare(name: str, file_name: str, actual: str, update: bool) -> str | None:
    """Rewrite or compare one rendering; return a unified diff when it differs."""
    path = GOLDEN_DIR / name / file_name
    if update:
        path.write_text(actual, encoding="utf-8")
        return None
    expected = path.read_text(encoding="utf-8") if path.exists() else ""
    if expected == actual:
        return None
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"golden/{name}/{file_name} (expected)",
            tofile=f"golden/{name}/{file_name} (actual)",
        )
    )


@pytest.mark.parametrize("name", case_names())
def test_golden_plan_renders_as_recorded(name: str, update_golden: bool) -> None:
    the_plan = plan_case(name)
    diffs = [
        diff
        for file_name, render in RENDERINGS.items()
        if (diff := _compare(name, file_name, render(the_plan), update_golden)) is not None
    ]
    if diffs:
        pytest.fail(
            "the plan differs from the golden files (rerun with --update-golden if intended):\n"
            + "\n".join(diffs),
            pytrace=False,
        )


def test_a_plan_is_a_frozen_value() -> None:
    the_plan = plan_case("full-cached")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(the_plan, "env_hash", "0" * 16)  # noqa: B010


def test_a_changed_pylock_mtime_changes_the_plan_and_its_hash() -> None:
    spec, facts = load_case("full-cached")
    before = plan(spec, facts)
    files = dict(facts.files)
    old = files[before.pylock]
    files[before.pylock] = FileFact(kind="file", mtime=(old.mtime or 0) + 1.0, size=old.size)
    after = plan(spec, attrs.evolve(facts, files=files))
    assert after.env_hash != before.env_hash
    assert after.env_path != before.env_path
