"""The decisions of `core.plan`, one per test, from hand-made host facts (no disk, no uv)."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from goldenio import GOLDEN_DIR
from harness import NODE7
from hypothesis import given
from hypothesis import strategies as st

from pylockenv.core import (
    FileFact,
    HostFacts,
    Plan,
    PlanError,
    PylockError,
    SpecError,
    command_from_flags,
    load_spec,
    plan,
)
from pylockenv.core.facts import Interpreter, host_facts
from pylockenv.core.made_from import HOST_FACTS
from pylockenv.core.plan_format import LightPlan, light_plan, plan_to_data
from pylockenv.core.plan_rules import command_candidates, layout_problem
from pylockenv.core.planning import CommandCandidate, with_ephemeral_suffix
from pylockenv.core.provisioning import UV_STEP_FLAGS
from pylockenv.core.pylock import check_pylock_text

CACHE = "/cache/bfabric_app_runner"
LOCK = "/srv/app/pylock.toml"
WHEEL = "/srv/app/dist/app-1.0-py3-none-any.whl"
SOURCE_TREE = "/srv/plugin"
TOOLS = "/opt/tools/bin"


def _facts(**changes: Any) -> HostFacts:
    facts = attrs.evolve(
        NODE7,
        files={
            LOCK: FileFact(kind="file", mtime=1700000000.5, size=100),
            WHEEL: FileFact(kind="file", mtime=1700000100.25, size=2048),
            SOURCE_TREE: FileFact(kind="directory", mtime=1700000200.0, size=4096),
            TOOLS: FileFact(kind="directory", mtime=1.0, size=4096),
            "/home/alice/work/pylock.toml": FileFact(kind="file", mtime=2.0, size=10),
            "/srv/app/requirements.txt": FileFact(kind="file", mtime=3.0, size=10),
            "/srv/app/pylock.dev.toml": FileFact(kind="file", mtime=4.0, size=10),
            "/srv/app/lock.toml": FileFact(kind="file", mtime=5.0, size=10),
        },
    )
    return attrs.evolve(facts, **changes)


def _plan(facts: HostFacts | None = None, **fields: object) -> Plan:
    document = {"pylock": "pylock.toml", "command": "-m app", **fields}
    return plan(load_spec(document, "app.yml", None, "/srv/app"), facts or _facts())


def test_a_cached_plan_keeps_its_env_under_envs_named_by_the_hash() -> None:
    result = _plan()
    assert result.mode == "cached"
    assert result.env_path == f"{CACHE}/envs/{result.env_hash}"
    assert result.lock_path == f"{CACHE}/envs/{result.env_hash}.lock"
    assert result.marker_path == f"{CACHE}/envs/{result.env_hash}/.provisioned"
    assert result.cleanup == "keep"


def test_a_refresh_plan_names_its_ephemeral_env_by_the_pattern_drawn_when_it_is_made() -> None:
    result = _plan(refresh=True)
    assert result.mode == "ephemeral"
    assert result.env_path == f"{CACHE}/ephemeral/env_<random>"
    assert result.lock_path == f"{CACHE}/ephemeral/env_<random>.lock"
    assert result.in_use_path is None
    assert result.cleanup == "remove-after-run"


SUFFIXES = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)


@given(suffix=SUFFIXES)
def test_an_ephemeral_plan_placed_in_its_drawn_env_names_that_env_everywhere(suffix: str) -> None:
    pattern = _plan(
        refresh=True,
        command="app-cli --out x",
        local_extra_deps=["dist/app-1.0-py3-none-any.whl"],
        prepend_paths=[TOOLS],
        env={"PATH": "/base"},
    )
    placed = with_ephemeral_suffix(pattern, suffix)
    env = f"{CACHE}/ephemeral/env_{suffix}"
    assert (placed.env_path, placed.lock_path, placed.marker_path) == (
        env,
        f"{env}.lock",
        f"{env}/.provisioned",
    )
    assert [step.argv for step in placed.steps] == [
        ("/opt/uv", "venv", *UV_STEP_FLAGS, "-p", "/usr/bin/python3.13", env),
        (
            "/opt/uv",
            "pip",
            "install",
            *UV_STEP_FLAGS,
            "-p",
            f"{env}/bin/python",
            "-r",
            LOCK,
            "--reinstall",
        ),
        (
            "/opt/uv",
            "pip",
            "install",
            *UV_STEP_FLAGS,
            "-p",
            f"{env}/bin/python",
            "--no-deps",
            "--reinstall",
            WHEEL,
        ),
    ]
    assert placed.run.env.set_env["VIRTUAL_ENV"] == env  # as an activated env has it
    assert placed.run.candidates == tuple(
        CommandCandidate(check=check, path=path, argv=argv)  # type: ignore[arg-type]
        for check, path, argv in command_candidates(placed.run.words, placed.env)
    )
    assert placed.run.env.path_value == f"{env}/bin:{TOOLS}:/base"
    assert placed.run.env.prepend_path == (f"{env}/bin", TOOLS)
    assert f"{env}/bin nor" in placed.run.not_found
    assert "<random>" not in repr(placed)

    # Nothing but the env's paths moved.
    def unplaced(the_plan: Plan) -> Plan:
        return attrs.evolve(
            the_plan, env_path="", lock_path="", marker_path="", steps=(), run=pattern.run
        )

    assert unplaced(placed) == unplaced(pattern)


def test_two_suffixes_place_one_plan_in_two_envs() -> None:
    pattern = _plan(refresh=True)
    first, second = (with_ephemeral_suffix(pattern, s * 16) for s in "ab")
    assert first.env_path != second.env_path
    assert layout_problem(light(pattern), xdg_cache_home="/cache", home="/home/alice") is None


def test_only_an_ephemeral_plans_pattern_env_can_be_placed() -> None:
    with pytest.raises(PlanError, match="names no ephemeral env to make"):
        with_ephemeral_suffix(_plan(), "ab" * 8)
    placed = with_ephemeral_suffix(_plan(refresh=True), "ab" * 8)
    with pytest.raises(PlanError, match="names no ephemeral env to make"):
        with_ephemeral_suffix(placed, "cd" * 8)
    with pytest.raises(ValueError, match="16 hex digits"):
        with_ephemeral_suffix(_plan(refresh=True), "../../etc")


def test_a_placed_ephemeral_plan_is_not_one_the_layout_check_accepts() -> None:
    placed = with_ephemeral_suffix(_plan(refresh=True), "ab" * 8)
    problem = layout_problem(light(placed), xdg_cache_home="/cache", home="/home/alice")
    assert problem is not None
    assert "is not the pattern" in problem


def light(the_plan: Plan) -> LightPlan:
    found = light_plan(plan_to_data(the_plan))
    assert found is not None
    return found


def test_provisioning_creates_the_venv_then_installs_the_lock_then_the_extras() -> None:
    result = _plan(local_extra_deps=["dist/app-1.0-py3-none-any.whl", SOURCE_TREE])
    python = f"{result.env_path}/bin/python"
    assert [step.argv for step in result.steps] == [
        ("/opt/uv", "venv", *UV_STEP_FLAGS, "-p", "/usr/bin/python3.13", result.env_path),
        ("/opt/uv", "pip", "install", *UV_STEP_FLAGS, "-p", python, "-r", LOCK),
        (
            "/opt/uv",
            "pip",
            "install",
            *UV_STEP_FLAGS,
            "-p",
            python,
            "--no-deps",
            WHEEL,
            SOURCE_TREE,
        ),
    ]
    assert [step.name for step in result.steps] == [
        "create-venv",
        "install-pylock",
        "install-local-extras",
    ]


def test_without_extras_there_is_no_extras_step() -> None:
    assert [step.name for step in _plan().steps] == ["create-venv", "install-pylock"]


def test_refresh_reinstalls_both_the_lock_and_the_extras() -> None:
    result = _plan(refresh=True, local_extra_deps=[WHEEL])
    assert "--reinstall" not in result.steps[0].argv
    assert result.steps[1].argv[-1] == "--reinstall"
    assert result.steps[2].argv[-2:] == ("--reinstall", WHEEL)


def test_a_cached_plan_never_reinstalls() -> None:
    result = _plan(local_extra_deps=[WHEEL])
    assert all("--reinstall" not in step.argv for step in result.steps)


def test_the_uv_steps_run_with_the_prepend_paths_and_the_commands_env() -> None:
    result = _plan(prepend_paths=[TOOLS], env={"DATA": "/data"})
    for step in result.steps:
        assert step.env.path_value == f"{TOOLS}:/usr/bin:/bin"
        assert step.env.set_env == {"DATA": "/data"}


def test_the_command_path_is_env_bin_then_prepend_paths_in_order_then_the_old_path() -> None:
    result = _plan(prepend_paths=[TOOLS, SOURCE_TREE])
    assert result.run.env.path_value == f"{result.env_path}/bin:{TOOLS}:{SOURCE_TREE}:/usr/bin:/bin"
    assert result.run.env.prepend_path == (f"{result.env_path}/bin", TOOLS, SOURCE_TREE)


def test_an_empty_old_path_adds_no_empty_entry() -> None:
    result = _plan(_facts(path=""))
    assert result.run.env.path_value == f"{result.env_path}/bin"


def test_an_unset_old_path_adds_no_empty_entry() -> None:
    result = _plan(_facts(path=None), prepend_paths=[TOOLS])
    assert result.steps[0].env.path_value == TOOLS
    assert result.run.env.path_value == f"{result.env_path}/bin:{TOOLS}"


def test_a_path_in_the_commands_env_replaces_the_old_path_behind_the_env_bin() -> None:
    result = _plan(env={"PATH": "/opt/site/bin", "A": "1"}, prepend_paths=[TOOLS])
    assert result.run.env.path_value == f"{result.env_path}/bin:{TOOLS}:/opt/site/bin"
    assert result.run.env.set_env == {"VIRTUAL_ENV": result.env_path, "A": "1"}


def test_the_uv_steps_keep_the_callers_path_when_the_commands_env_sets_path() -> None:
    # A spec PATH that hides the host's Python would send uv looking for (downloading) one.
    result = _plan(env={"PATH": "/opt/site/bin", "A": "1"}, prepend_paths=[TOOLS])
    assert all(step.env.path_value == f"{TOOLS}:/usr/bin:/bin" for step in result.steps)
    assert all(step.env.set_env == {"A": "1"} for step in result.steps)


def test_the_commands_env_is_set_for_the_command() -> None:
    result = _plan(env={"A": "1", "B": ""})
    assert result.run.env.set_env == {"VIRTUAL_ENV": result.env_path, "A": "1", "B": ""}


def _candidates(result: Plan) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(c.check, c.path, c.argv) for c in result.run.candidates]


def test_a_console_script_runs_from_the_env_bin_with_python_as_the_fallback() -> None:
    result = _plan(command="app-cli --fast 'two words'")
    script = f"{result.env_path}/bin/app-cli"
    python = f"{result.env_path}/bin/python"
    assert _candidates(result) == [
        ("exists-or-link", script, (script, "--fast", "two words")),
        ("exists", "app-cli", (python, "app-cli", "--fast", "two words")),
    ]


def test_a_dash_m_command_goes_to_the_envs_python() -> None:
    result = _plan(command="-m app.main --verbose")
    python = f"{result.env_path}/bin/python"
    assert _candidates(result) == [("always", None, (python, "-m", "app.main", "--verbose"))]


def test_an_absolute_first_word_is_its_own_script_and_has_no_python_fallback() -> None:
    result = _plan(command="/usr/local/bin/tool -x")
    tool = "/usr/local/bin/tool"
    assert _candidates(result) == [("exists-or-link", tool, (tool, "-x"))]


def test_a_relative_first_word_is_joined_to_bin_as_pathlib_joins_it() -> None:
    result = _plan(command="./sub//tool.py -x")
    assert result.run.candidates[0].path == f"{result.env_path}/bin/sub/tool.py"
    assert result.run.candidates[1].path == "./sub//tool.py"  # for Python, as written


def test_not_found_names_the_command_and_the_envs_bin() -> None:
    result = _plan(command="no-such-tool")
    assert f"'no-such-tool' is neither a console script in {result.env_path}/bin" in (
        result.run.not_found
    )


def test_a_given_python_version_is_said_to_come_from_the_spec_and_resolved() -> None:
    result = _plan(python_version="3.12")
    assert (result.python_version, result.python_version_source) == ("3.12", "spec")
    assert (result.interpreter, result.requires_python_check) == ("/usr/bin/python3.12", "3.12.9")
    argv = result.steps[0].argv  # the venv: made from exactly that one
    assert argv[argv.index("-p") + 1] == "/usr/bin/python3.12"


def test_without_python_version_the_references_default_3_13_is_used() -> None:
    result = _plan()
    assert (result.python_version, result.python_version_source) == ("3.13", "default")
    assert result.interpreter == "/usr/bin/python3.13"


@pytest.mark.parametrize("xdg", [None, "", "relative/cache", "."])
def test_without_an_absolute_xdg_cache_home_the_cache_is_in_home_dot_cache(
    xdg: str | None,
) -> None:
    result = _plan(_facts(xdg_cache_home=xdg))
    assert result.cache_root == "/home/alice/.cache/bfabric_app_runner"


def test_an_absolute_xdg_cache_home_is_normalised_like_a_path() -> None:
    assert _plan(_facts(xdg_cache_home="/cache/")).cache_root == CACHE


def test_a_missing_pylock_is_a_plan_error_naming_the_field() -> None:
    with pytest.raises(PlanError, match=r"^app\.yml: pylock: /srv/app/nope/pylock\.toml does not"):
        _plan(pylock="nope/pylock.toml")


def test_a_pylock_that_is_a_directory_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match=r"^app\.yml: pylock: /opt/tools/bin is a directory"):
        _plan(pylock=TOOLS)


def test_a_missing_extra_is_a_plan_error_naming_its_index() -> None:
    with pytest.raises(PlanError, match=r"^app\.yml: local_extra_deps\[1\]: /srv/app/gone\.whl"):
        _plan(local_extra_deps=[WHEEL, "gone.whl"])


def test_a_prepend_path_that_is_not_a_directory_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match=r"^app\.yml: prepend_paths\[0\]: .* is a file, not a dir"):
        _plan(prepend_paths=[WHEEL])


def test_a_tilde_user_path_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match=r"^app\.yml: pylock: '~bob/pylock\.toml' uses the '~user'"):
        _plan(pylock="~bob/pylock.toml")


def test_a_lock_file_uv_would_refuse_by_name_is_refused_before_anything_is_made() -> None:
    with pytest.raises(PylockError, match=r"named 'lock\.toml'"):
        _plan(pylock="lock.toml")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pylock.toml", "pylock"),
        ("pylock.dev.toml", "pylock"),
        ("requirements.txt", "requirements"),
    ],
)
def test_the_lock_format_follows_the_file_name(name: str, expected: str) -> None:
    assert _plan(pylock=name).pylock_format == expected


def test_the_plan_records_what_stat_said_of_each_extra() -> None:
    (wheel, tree) = _plan(local_extra_deps=[WHEEL, SOURCE_TREE]).local_extra_deps
    assert (wheel.path, wheel.kind, wheel.size, wheel.mtime) == (WHEEL, "file", 2048, 1700000100.25)
    assert (tree.path, tree.kind) == (SOURCE_TREE, "directory")


def test_a_flag_form_spec_resolves_relative_paths_against_the_working_directory() -> None:
    spec = command_from_flags(pylock="pylock.toml", command="-m app")
    assert plan(spec, _facts()).pylock == "/home/alice/work/pylock.toml"


def test_equal_inputs_give_equal_and_equally_hashed_plans() -> None:
    first, second = _plan(env={"A": "1"}), _plan(env={"A": "1"})
    assert first == second
    assert hash(first) == hash(second)


def test_a_different_env_value_gives_a_different_plan_with_the_same_hash() -> None:
    first, second = _plan(env={"A": "1"}), _plan(env={"A": "2"})
    assert first != second
    assert first.env_hash == second.env_hash


@pytest.mark.parametrize(
    "request_",
    ["3.12", "3.12.1", "3", "cpython3.12", ">=3.11", "python3.12", "/opt/py/bin/python3.12"],
)
def test_every_form_of_request_is_checked_with_the_full_version_of_what_uv_finds(
    request_: str,
) -> None:
    found = Interpreter(path="/opt/py/bin/python3.12", version="3.12.1")
    result = _plan(_facts(interpreters={request_: found}), python_version=request_)
    assert (result.python_version, result.interpreter) == (request_, found.path)
    assert result.requires_python_check == "3.12.1"
    argv = result.steps[0].argv
    assert argv[argv.index("-p") + 1] == found.path
    assert request_ in result.hash_input.split(":")  # the hash covers the request as written


def test_a_request_no_interpreter_matches_is_refused_saying_what_the_host_has() -> None:
    missing = Interpreter(
        path=None,
        version=None,
        installed=("3.10.13", "3.11.7"),
        no_download="uv is offline here (UV_OFFLINE)",
    )
    with pytest.raises(PlanError) as raised:
        _plan(_facts(interpreters={"3.14": missing}), python_version="3.14")
    message = str(raised.value)
    assert message.startswith("app.yml: python_version: no Python matching '3.14' is installed")
    assert "(it has: 3.10.13, 3.11.7), and uv is offline here (UV_OFFLINE)" in message
    assert "'uv python install 3.14'" in message
    assert "Nothing was created." in message


def test_the_default_no_interpreter_matches_is_named_as_the_default() -> None:
    with pytest.raises(
        PlanError, match=r"python_version \(not set\): no Python matching '3.13' \(the default when"
    ):
        _plan(_facts(interpreters={}))


@pytest.mark.parametrize("version", ["3.11 ", " 3.11", "3.11\n", "\t3"])
def test_a_python_version_with_white_space_around_it_is_refused(version: str) -> None:
    with pytest.raises(SpecError, match="has white space around it"):
        _plan(python_version=version)


def test_a_lock_whose_requires_python_excludes_the_version_is_refused() -> None:
    with pytest.raises(PylockError, match=r"requires Python >=3\.12, but the environment would"):
        check_pylock_text(
            'lock-version = "1.0"\nrequires-python = ">=3.12"\npackages = []\n',
            path=LOCK,
            where="app.yml",
            check_version="3.11.9",
        )


def test_a_toml_file_without_packages_is_refused_as_not_a_pep_751_lock() -> None:
    with pytest.raises(PylockError, match=r"not a PEP 751 lock file: it has no 'packages'"):
        check_pylock_text(
            'lock-version = "1.0"\ncreated-by = "x"\n',
            path=LOCK,
            where="app.yml",
            check_version="3.11.9",
        )


def test_a_lock_that_is_not_toml_is_refused() -> None:
    with pytest.raises(PylockError, match=r"is not valid TOML"):
        check_pylock_text(
            "lock-version = ",
            path=LOCK,
            where="app.yml",
            check_version="3.11.9",
        )


# --- the planner's facts come from the one record the shell gathers ------------------------


def _record() -> Any:
    return json.loads((GOLDEN_DIR / "full-cached" / "facts.json").read_text())


def test_every_host_fact_the_planner_reads_is_declared_by_the_record() -> None:
    not_host_facts = {"uv", "files", "interpreters"}
    assert set(attrs.fields_dict(HostFacts)) - not_host_facts <= set(HOST_FACTS)


def test_the_planners_facts_are_the_records_values() -> None:
    record = _record()
    facts = host_facts(record)
    assert {name: getattr(facts, name) for name in record["host"]} == record["host"]
    assert facts.uv == record["uv"]["path"]
    assert {path: attrs.asdict(fact) for path, fact in facts.files.items()} == record["files"]


def test_a_record_holding_a_fact_no_declaration_names_is_refused() -> None:
    record = _record()
    record["host"]["hostnmae"] = "typo"
    with pytest.raises(TypeError, match="hostnmae"):
        host_facts(record)
