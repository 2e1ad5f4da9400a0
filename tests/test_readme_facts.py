"""README's tables and numbers that the code also says: held to the code, so that a new
spec field, subcommand or plan-file version cannot leave README behind unnoticed."""

from __future__ import annotations

import re
from pathlib import Path

from pylockenv.core.plan_format import PLAN_FILE_VERSION
from pylockenv.core.planning import DEFAULT_PYTHON_VERSION
from pylockenv.core.provisioning import MIN_UV_VERSION
from pylockenv.core.spec import FIELD_NAMES
from pylockenv.shell.commands import COMMANDS

README_PATH = Path(__file__).resolve().parent.parent / "README.md"
README = README_PATH.read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of README's `## title` or `### title` section, up to the next heading."""
    match = re.search(rf"^#{{2,3}} {re.escape(title)}\n(.*?)(?=^#{{1,3}} |\Z)", README, re.S | re.M)
    assert match is not None, title
    return match.group(1)


def first_cells(text: str) -> list[str]:
    """The first cell of each body row of the tables in `text`."""
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    cells = [row.split("|")[1].strip() for row in rows]
    return [cell for cell in cells if cell not in ("field", "command", "---")]


def test_the_spec_table_lists_every_field_of_a_command_in_order() -> None:
    names = [cell.strip("`") for cell in first_cells(section("The spec"))]
    assert names == list(FIELD_NAMES)


def test_the_spec_table_gives_the_default_python() -> None:
    (row,) = [
        line for line in section("The spec").splitlines() if line.startswith("| `python_version`")
    ]
    assert f"`{DEFAULT_PYTHON_VERSION}`" in row


def test_the_commands_table_names_every_subcommand_and_no_other() -> None:
    named = {cell.strip("`").split()[1] for cell in first_cells(section("The commands"))}
    assert named == set(COMMANDS)


def test_the_plan_file_version_readme_quotes_is_the_codes() -> None:
    quoted = re.findall(r"`plan_file_version` \((\d+)", README)
    assert quoted == [str(PLAN_FILE_VERSION)]


def test_the_oldest_uv_readme_names_is_the_one_pylockenv_accepts() -> None:
    oldest = ".".join(map(str, MIN_UV_VERSION))
    assert f"({oldest}, `MIN_UV_VERSION`)" in README
    assert f'"uv>={oldest}"' in (README_PATH.parent / "pyproject.toml").read_text()
