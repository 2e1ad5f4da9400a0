"""The app runner's own app.yml (issue 17): versions, template variables as data, the
reference's path order, and the command types pylockenv recognises but does not run.

The pure part (`core.appspec`, `core.templates`) is tested on documents and hand-made
host facts; the CLI part on files, in this process, with nothing provisioned.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import attrs
import pytest
from builders import PY_VERSION, build_probe_wheel, probe_report, write_pylock
from harness import NODE7, CacheDir, MainRunner, run_pylockenv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylockenv.core import (
    AppVariables,
    FileFact,
    HostFacts,
    SpecError,
    load_app_spec,
    load_spec,
    plan,
)
from pylockenv.core.appspec import safe_app_name
from pylockenv.core.templates import TemplateRefused, parse_template, render

APP_DIR = "/srv/app"
SOURCE = "app.yml"


def _process(**fields: object) -> dict[str, object]:
    return {"type": "python_env", "pylock": "pylock.toml", "command": "-m app", **fields}


def _document(*versions: dict[str, object]) -> dict[str, object]:
    return {"bfabric": {"app_runner": "0.9.1"}, "versions": list(versions)}


def _version(version: object = "1.0", **commands: object) -> dict[str, object]:
    slots: dict[str, object] = {"dispatch": {"type": "exec", "command": "dispatch.sh"}}
    slots["process"] = commands.pop("process", _process())
    slots.update(commands)
    return {"version": version, "commands": slots}


def _load(
    document: dict[str, object],
    name: str | None = "process",
    **variables: str | None,
) -> Any:
    return load_app_spec(
        document, SOURCE, name, app_dir=APP_DIR, variables=AppVariables(**variables)
    )


def _refusal(document: dict[str, object], name: str | None = "process", **variables: str) -> str:
    with pytest.raises(SpecError) as caught:
        _load(document, name, **variables)
    message = str(caught.value)
    assert "\n" not in message  # one paragraph
    assert message.startswith(f"{SOURCE}:")
    return message


def _with_process(**fields: object) -> dict[str, object]:
    return _document(_version(process=_process(**fields)))


# -- variables ---------------------------------------------------------------------------


def test_the_four_variables_are_substituted_in_every_string() -> None:
    document = _document(
        _version(
            "2.1",
            process=_process(
                command="-m app --version ${app.version} --id ${app.id}",
                env={"DATA": "${app.dir}/data", "WHO": "${ app.name }"},
                python_version="3.${app.id}",
            ),
        )
    )
    spec = _load(document, app_id="11", app_name="demo")
    assert spec.command.command == "-m app --version 2.1 --id 11"
    assert spec.command.env == {"DATA": "/srv/app/data", "WHO": "demo"}
    assert spec.command.python_version == "3.11"


@pytest.mark.parametrize(
    ("given", "rendered"),
    [("My App (v2)", "My_App_v2_"), ("ümlaut", "_mlaut"), ("a..b", "a_b"), ("ok-1_x", "ok-1_x")],
)
def test_the_app_name_is_made_safe_as_the_reference_makes_it(given: str, rendered: str) -> None:
    assert safe_app_name(given) == rendered
    spec = _load(_with_process(command="-m app ${app.name}"), app_name=given)
    assert spec.command.command == f"-m app {rendered}"


@pytest.mark.parametrize(("given", "rendered"), [("007", "7"), ("+3", "3"), ("-2", "-2")])
def test_the_app_id_is_written_as_the_integer_it_is(given: str, rendered: str) -> None:
    spec = _load(_with_process(command="-m app ${app.id}"), app_id=given)
    assert spec.command.command == f"-m app {rendered}"


@pytest.mark.parametrize("given", ["7.0", "seven", "", " 7", "1_000", "٣"])
def test_an_app_id_that_is_not_a_whole_number_is_refused(given: str) -> None:
    with pytest.raises(SpecError, match=r"--app-id .*expected a whole number"):
        _load(_with_process(command="-m app"), app_id=given)  # even where it is not used


@pytest.mark.parametrize(("variable", "flag"), [("id", "--app-id"), ("name", "--app-name")])
def test_a_variable_without_a_value_names_the_flag_that_gives_it(variable: str, flag: str) -> None:
    message = _refusal(_with_process(env={"X": f"${{app.{variable}}}"}))
    assert message.startswith("app.yml: versions[0].commands.process.env['X']: uses ")
    assert f"give it with {flag}" in message


def test_a_variable_is_needed_only_where_it_is_used() -> None:
    document = _document(_version(dispatch={"type": "exec", "command": "run ${app.id}"}))
    assert _load(document).command.command == "-m app"


def test_a_literal_dollar_brace_is_written_in_a_text_block_and_comes_through() -> None:
    spec = _load(_with_process(env={"HOME_REF": "<%text>${HOME}</%text>/x"}))
    assert spec.command.env["HOME_REF"] == "${HOME}/x"


def test_mapping_keys_are_not_templates() -> None:
    spec = _load(_with_process(env={"${app.name}": "v"}))
    assert spec.command.env == {"${app.name}": "v"}


# -- templates that would be code ----------------------------------------------------------

CODE = [
    ("${1 + 1}", "${1 + 1}"),
    ("${app.id | h}", "${app.id | h}"),
    ("${app.__class__}", "${app.__class__}"),
    ("${app}", "${app}"),
    ("${workunit.id}", "${workunit.id}"),
    ("x ${__import__('os').system('id')}", "${__import__('os').system('id')}"),
    ("<% import os %>", "<% import os %>"),
    ("<%! import os %>", "<%! import os %>"),
    ("<%doc>note</%doc>", "<%doc>"),
    ('<%def name="f()">x</%def>', '<%def name="f()">'),
    ("</%text>", "</%text>"),
    ("<%text>never closed", "<%text>never closed"),
    ("a<%text></%text>b", "<%text></%text>"),
    ("% if True:", "% if True:"),
    ("a\n  % for x in y:", "  % for x in y:"),
    ("%% not a percent", "%% not a percent"),
    ("## a comment", "## a comment"),
    ("one\\\ntwo", "one\\\n"),
    ("# -*- coding: latin-1 -*-\n-m app", "# -*- coding: latin-1 -*-"),
]


@pytest.mark.parametrize(("text", "found"), CODE)
def test_what_mako_would_evaluate_is_refused_with_the_field_and_the_text(
    text: str, found: str
) -> None:
    message = _refusal(_with_process(command=text))
    assert message.startswith("app.yml: versions[0].commands.process.command: holds ")
    assert repr(found)[1:-1] in message


def test_a_template_in_a_command_not_run_is_refused_too() -> None:
    document = _document(_version(collect={"type": "exec", "command": "${os.getcwd()}"}))
    message = _refusal(document)
    assert message.startswith("app.yml: versions[0].commands.collect.command: holds '${os.")


@pytest.mark.parametrize(
    "text", ["50%", "a ## b", "$HOME", "{x}", "$ {x}", "a < % b", "a %>", "x\n y%"]
)
def test_plain_text_that_only_looks_special_comes_through(text: str) -> None:
    spec = _load(_with_process(env={"X": text}))
    assert spec.command.env["X"] == text


# -- paths: the reference's order ------------------------------------------------------------


def _facts(*paths: str) -> HostFacts:
    return attrs.evolve(
        NODE7, files={path: FileFact(kind="file", mtime=1.5, size=10) for path in paths}
    )


def test_relative_paths_are_joined_to_the_app_dir_before_substitution() -> None:
    document = _with_process(
        pylock="locks/pylock.toml", local_extra_deps=["dist/app-${app.version}-py3-none-any.whl"]
    )
    spec = _load(document)
    lock, wheel = "/srv/app/locks/pylock.toml", "/srv/app/dist/app-1.0-py3-none-any.whl"
    the_plan = plan(spec, _facts(lock, wheel))
    assert (the_plan.pylock, [dep.path for dep in the_plan.local_extra_deps]) == (lock, [wheel])
    assert the_plan.hash_input == f"node7:3.13:{lock}:1.5:{wheel}"


def test_tilde_and_absolute_paths_are_not_joined() -> None:
    document = _with_process(
        pylock="~/locks/${app.version}/pylock.toml", local_extra_deps=["/opt/${app.name}.whl"]
    )
    spec = _load(document, app_name="x")
    lock, wheel = "/home/alice/locks/1.0/pylock.toml", "/opt/x.whl"
    the_plan = plan(spec, _facts(lock, wheel))
    assert (the_plan.pylock, the_plan.local_extra_deps[0].path) == (lock, wheel)


def test_a_relative_path_using_app_dir_is_refused_since_the_reference_doubles_it() -> None:
    message = _refusal(_with_process(pylock="${app.dir}/pylock.toml"))
    assert message.startswith(
        "app.yml: versions[0].commands.process.pylock: '${app.dir}/pylock.toml' is a relative "
        "path that uses ${app.dir}"
    )


def test_a_path_starting_with_a_percent_is_plain_once_joined_to_the_app_dir() -> None:
    # Mako sees '/srv/app/%x', where the '%' does not start a line.
    spec = _load(_with_process(pylock="%x/pylock.toml"))
    assert spec.command.pylock == "/srv/app/%x/pylock.toml"


# -- versions ------------------------------------------------------------------------------


def test_one_version_needs_no_version_to_be_chosen() -> None:
    assert _load(_document(_version("3.0"))).source == "app.yml: versions[0].commands.process"


def test_a_version_list_gives_each_version_the_same_commands() -> None:
    document = _document(
        _version(["1.0", "1.1"], process=_process(command="-m app ${app.version}"))
    )
    assert _load(document, version="1.1").command.command == "-m app 1.1"
    assert _load(document, version="1.0").command.command == "-m app 1.0"


def test_several_versions_without_a_choice_are_listed() -> None:
    document = _document(_version(["1.0", "1.1"]), _version("2.0"))
    message = _refusal(document)
    assert message == (
        "app.yml: defines several versions ('1.0', '1.1', '2.0'); choose one with "
        "--app-version (for example --app-version 2.0)."
    )


def test_an_unknown_version_is_refused_with_the_versions_there_are() -> None:
    message = _refusal(_document(_version("1.0"), _version("2.0")), version="3.0")
    assert message == (
        "app.yml: has no version '3.0'; its versions are '1.0', '2.0'; give one of them with "
        "--app-version."
    )


def test_a_version_given_twice_names_both_places() -> None:
    message = _refusal(_document(_version(["1.0", "1.1"]), _version("1.1")), version="1.0")
    assert message == (
        "app.yml: versions: the version '1.1' is defined twice, at versions[0].version[1] and "
        "at versions[1].version; keep one of them (the reference refuses this too)."
    )


def test_a_version_that_is_a_number_must_be_quoted() -> None:
    message = _refusal(_document(_version(1.0)))
    assert message.startswith("app.yml: versions[0].version: expected a string such as")


def test_a_version_with_a_variable_is_refused() -> None:
    message = _refusal(_document(_version("${app.id}")))
    assert "versions[0].version: '${app.id}' uses a variable" in message


# -- commands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slot", "command", "words"),
    [
        ("dispatch", {"type": "exec", "command": "x"}, "dispatch is an exec command"),
        ("collect", {"type": "shell", "command": "x"}, "collect is a shell command"),
        ("collect", {"type": "docker", "image": "i", "command": "x"}, "collect is a docker"),
    ],
)
def test_exec_shell_and_docker_commands_are_recognised_and_refused(
    slot: str, command: dict[str, object], words: str
) -> None:
    document = _document(_version(**{slot: command}))
    message = _refusal(document, slot)
    assert f"app.yml: versions[0].commands (version '1.0'): {words}" in message
    assert "pylockenv runs python_env commands only" in message


def test_without_a_name_the_one_python_env_command_is_picked() -> None:
    assert _load(_document(_version()), None).source == "app.yml: versions[0].commands.process"


def test_a_command_name_is_chosen_by_the_rule_a_spec_file_follows() -> None:
    # the same function (core.spec.choose_command) says it for both kinds of file
    unknown = _refusal(_document(_version()), "proces")
    assert "has no command named 'proces' (did you mean 'process'?)" in unknown
    assert "its commands are dispatch, process." in unknown
    several = _refusal(_document(_version(collect=_process())), None)
    assert "holds several python_env commands (process, collect)" in several
    assert "e.g. 'app.yml process'" in several


@pytest.mark.parametrize(
    ("document", "where", "words"),
    [
        ({**_document(_version()), "extra": 1}, "app.yml: ", "unknown key(s) extra"),
        (
            _document({**_version(), "name": "x"}),
            "app.yml: versions[0]: ",
            "unknown key(s) name; the keys of a version are version, commands",
        ),
        (
            {"bfabric": {"app_runner": "0.9.1", "x": 1}, "versions": [_version()]},
            "app.yml: bfabric: ",
            "unknown key(s) x",
        ),
        (
            _document(_version(setup={"type": "exec", "command": "x"})),
            "app.yml: versions[0].commands: ",
            "unknown key(s) setup; the keys of a version's commands are dispatch, process, collect",
        ),
        (
            _document(_version(dispatch={"type": "exec", "command": "x", "cwd": "/"})),
            "app.yml: versions[0].commands.dispatch: ",
            "unknown key(s) cwd; the keys of a exec command are type, command, env, prepend_paths",
        ),
        (
            _with_process(workdir="/"),
            "app.yml: versions[0].commands.process: ",
            "unknown key(s) workdir; the keys of a python_env command are",
        ),
        (
            _document(
                _version(
                    collect={"type": "docker", "image": "i", "command": "c", "mounts": {"x": 1}}
                )
            ),
            "app.yml: versions[0].commands.collect.mounts: ",
            "unknown key(s) x",
        ),
        (
            _document(_version(collect={"command": "x"})),
            "app.yml: versions[0].commands.collect.type: ",
            "expected one of exec, shell, docker, python_env, got no type",
        ),
        (
            {"versions": [_version()]},
            "app.yml: bfabric: ",
            "this required section is missing",
        ),
        (
            _document({"version": "1.0", "commands": {"process": _process()}}),
            "app.yml: versions[0].commands.dispatch: ",
            "this required command is missing",
        ),
        (_document(), "app.yml: versions: ", "expected a list of versions"),
    ],
)
def test_the_shape_of_the_whole_file_is_checked(
    document: dict[str, object], where: str, words: str
) -> None:
    message = _refusal(document)
    assert message.startswith(where), message
    assert words in message, message


def test_load_spec_points_an_app_spec_to_load_app_spec() -> None:
    with pytest.raises(SpecError, match=r"is an app spec .*load_app_spec"):
        load_spec(_document(_version()), SOURCE, "process", APP_DIR)


# -- Hypothesis: the template grammar ---------------------------------------------------------

PIECES = ["${", "}", "app.", "id", "name", "version", "dir", "app", " ", "\t", "\n", "\r"]
PIECES += ["<%", "%>", "</%", "<%text>", "</%text>", "%", "%%", "##", "#", "\\", "|", "h"]
PIECES += ["${app.id}", "${app.dir}", "${ app.name }", "${app.version}", "x", "coding:", "$"]
templates = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
VALUES = {"id": "7", "name": "demo", "version": "1.0", "dir": "/srv/app"}
_TEXT_BLOCK = re.compile(r"<%text>(.*?)</%text>", re.S)
_VARIABLE = re.compile(r"\$\{[ \t]*app\.(id|name|version|dir)[ \t]*\}")


def _oracle(text: str) -> str | None:
    """What a string renders to by an independent reading of the rules, or None for one
    to refuse: split at the text blocks, then judge what lies outside them with regexes."""
    if re.match(r"#.*coding[:=]\s*[-\w.]+.*\r?\n", text):
        return None
    out, start = [], 0
    for block in [*_TEXT_BLOCK.finditer(text), None]:
        outside = text[start : len(text) if block is None else block.start()]
        lines = outside.split("\n")
        # a line starts after each line break, and at the very start of the string
        if any(line.lstrip().startswith(("%", "##")) for line in lines[0 if start == 0 else 1 :]):
            return None
        bare = _VARIABLE.sub("", outside)
        if "${" in bare or "<%" in bare or "</%" in bare or re.search(r"\\\r?\n", outside):
            return None
        out.append(_VARIABLE.sub(lambda m: VALUES[m.group(1)], outside))
        if block is None:
            return "".join(out)
        if not block.group(1):
            return None  # an empty text block
        out.append(block.group(1))
        start = block.end()
    raise AssertionError("unreachable")


@settings(max_examples=400)
@given(templates)
def test_a_template_renders_as_the_rules_say_or_is_refused(text: str) -> None:
    expected = _oracle(text)
    if expected is None:
        with pytest.raises(TemplateRefused):
            parse_template(text)
    else:
        assert render(parse_template(text), VALUES) == expected


@settings(max_examples=200)
@given(templates, st.sampled_from(["command", "python_version", "env"]))
def test_any_template_in_a_field_loads_or_is_one_paragraph_naming_the_field(
    text: str, field: str
) -> None:
    value: object = {"X": text} if field == "env" else text
    document = _with_process(**{field: value})
    try:
        spec = _load(copy.deepcopy(document), app_id="7", app_name="demo")
    except SpecError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(f"app.yml: versions[0].commands.process.{field}")
        return
    got = spec.command.env["X"] if field == "env" else getattr(spec.command, field)
    assert got == _oracle(text)


# -- the command line ----------------------------------------------------------------------

APP_YML = """\
bfabric:
  app_runner: "0.9.1"
versions:
  - version: ["1.0.0", "1.0.1"]
    commands:
      dispatch: {type: exec, command: "dispatch ${app.id}"}
      process:
        type: python_env
        pylock: pylock.toml
        command: "-m app ${app.version} ${app.name}"
        env: {LITERAL: "<%text>${HOME}</%text>"}
  - version: "2.0.0"
    commands:
      dispatch: {type: exec, command: "dispatch"}
      process: {type: python_env, pylock: pylock.toml, command: "-m app two", refresh: true}
"""


@pytest.fixture
def app_yml(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "pylock.toml").write_text('lock-version = "1.0"\ncreated-by = "test"\n')
    (app / "app.yml").write_text(APP_YML)
    return app / "app.yml"


def _printed_plan(run_main: MainRunner, *args: str) -> dict[str, Any]:
    code, out, err = run_main("run", *args, "--print-plan", "--json")
    assert code == 0, err
    the_plan: dict[str, Any] = json.loads(out)
    return the_plan


def test_the_cli_runs_a_chosen_version_with_its_variables(
    run_main: MainRunner, app_yml: Path, cache: CacheDir
) -> None:
    the_plan = _printed_plan(
        run_main, str(app_yml), "process", "--app-version", "1.0.1", "--app-name", "my app"
    )
    assert the_plan["run"]["words"][-3:] == ["app", "1.0.1", "my_app"]
    assert the_plan["run"]["env"]["set_env"]["LITERAL"] == "${HOME}"
    assert the_plan["pylock"] == str(app_yml.parent / "pylock.toml")
    assert not cache.root.exists()


def test_the_cli_says_which_versions_there_are(run_main: MainRunner, app_yml: Path) -> None:
    code, out, err = run_main("run", str(app_yml), "process")
    assert (code, out) == (125, "")
    assert err == (
        f"pylockenv: error: {app_yml}: defines several versions ('1.0.0', '1.0.1', '2.0.0'); "
        "choose one with --app-version (for example --app-version 2.0.0).\n"
    )


def test_the_cli_refuses_an_exec_command_with_a_sentence(
    run_main: MainRunner, app_yml: Path
) -> None:
    code, _, err = run_main("run", str(app_yml), "dispatch", "--app-version", "2.0.0")
    assert code == 125
    assert "dispatch is an exec command, and pylockenv runs python_env commands only" in err


def test_app_flags_without_an_app_spec_are_refused(run_main: MainRunner, tmp_path: Path) -> None:
    (tmp_path / "spec.yml").write_text("pylock: pylock.toml\ncommand: -m app\n")
    code, _, err = run_main("run", str(tmp_path / "spec.yml"), "--app-version", "1")
    assert code == 125
    assert "is not an app spec (no 'versions:')" in err
    code, _, err = run_main("run", "--pylock", "p", "--command", "c", "--app-id", "1")
    assert code == 2
    assert "--app-version, --app-id and --app-name go with an app.yml" in err


def test_show_and_provision_take_the_app_flags(run_main: MainRunner, app_yml: Path) -> None:
    code, out, err = run_main(
        "show", "--spec", str(app_yml), "process", "--app-version", "2.0.0", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["plan"]["mode"] == "ephemeral"
    code, _, err = run_main("provision", str(app_yml), "process", "--app-version", "9")
    assert code == 125
    assert "has no version '9'" in err


def test_a_plan_file_made_from_an_app_yml_is_stale_when_its_pylock_changes(
    run_main: MainRunner, app_yml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_main(
        "run",
        str(app_yml),
        "process",
        "--app-version",
        "1.0.0",
        "--app-name",
        "x",
        "--print-plan",
        "--json",
    )
    assert code == 0, err
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    (app_yml.parent / "pylock.toml").touch()  # so the plan is stale, and says so
    code, _, err = run_main("apply", str(plan_file))
    assert code == 125
    assert "is stale" in err
    assert "pylock.toml" in err


@pytest.mark.parametrize("version", ["1.0.0", "dev"])
def test_the_bundled_example_plans_its_python_env_commands(
    run_main: MainRunner, version: str
) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "app.yml"
    the_plan = _printed_plan(run_main, str(example), "process", "--app-version", version)
    assert the_plan["mode"] == ("cached" if version == "1.0.0" else "ephemeral")
    assert the_plan["pylock"] == str(example.parent / "pylock.toml")
    assert [dep["path"] for dep in the_plan["local_extra_deps"]] == [
        str(example.parent / "demo-app")
    ]
    # The Quickstart's Python, which every machine that follows it has (README says why).
    assert (the_plan["python_version"], the_plan["requires_python_check"][:5]) == ("3.11", "3.11.")


@pytest.mark.parametrize("slot", ["dispatch", "collect"])
def test_the_bundled_examples_exec_commands_are_refused(run_main: MainRunner, slot: str) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "app.yml"
    code, _, err = run_main("run", str(example), slot, "--app-version", "1.0.0")
    assert code == 125
    assert f"{slot} is an exec command" in err


# Hostile versions and variable values, through the whole command line.
hostile = st.lists(
    st.one_of(
        st.sampled_from(["${", "<%", "%", "\n", "\\", "'", "\0", "/", ".."]), st.characters()
    ),
    max_size=10,
).map("".join)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(version=hostile, chosen=st.one_of(st.none(), hostile), app_id=hostile, app_name=hostile)
def test_hostile_versions_and_values_give_a_plan_or_one_paragraph(
    run_main: MainRunner,
    cache: CacheDir,
    version: str,
    chosen: str | None,
    app_id: str,
    app_name: str,
) -> None:
    document = _document(
        _version(version, process=_process(command="-m app ${app.id} ${app.name} ${app.version}"))
    )
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "app.yml").write_text(json.dumps(document))
        (root / "pylock.toml").write_text('lock-version = "1.0"\n')
        args = ["run", str(root / "app.yml"), "process", "--print-plan"]
        args += [f"--app-id={app_id}", f"--app-name={app_name}"]
        args += [] if chosen is None else [f"--app-version={chosen}"]
        code, out, err = run_main(*args)
    assert code in (0, 125), err
    if code == 125:
        assert out == ""
        assert err.startswith("pylockenv: error: "), err
        assert err.count("\n") == 1, err
    else:
        assert out.startswith("#!/bin/sh\n")
    assert not cache.root.exists()


# One real run and one real apply of a plan made from an app.yml (the probe app, uv offline).


def test_an_app_yml_runs_and_its_saved_plan_applies(
    environ: dict[str, str], cache: CacheDir, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    (app / "wheels").mkdir(parents=True)
    write_pylock(app / "pylock.toml", [build_probe_wheel(app / "wheels")])
    document = _document(
        _version(
            ["1.0", "1.1"],
            process=_process(
                command="probe env",
                python_version=PY_VERSION,
                env={"PROBE_APP": "${app.name} ${app.version} ${app.dir}"},
            ),
        )
    )
    (app / "app.yml").write_text(json.dumps(document))
    args = ["--app-version", "1.1", "--app-name", "probe!"]
    ran = run_pylockenv(environ, "run", str(app / "app.yml"), "process", *args, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    report = probe_report(ran.stdout)
    [env] = cache.env_dirs()
    assert report["prefix"] == str(env)
    assert report["environ"]["PROBE_APP"] == f"probe_ 1.1 {app}"

    printed = run_pylockenv(
        environ, "run", str(app / "app.yml"), "process", *args, "--print-plan", "--json", cwd=app
    )
    assert printed.returncode == 0, printed.stderr
    (tmp_path / "plan.json").write_text(printed.stdout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    applied = run_pylockenv(environ, "apply", str(tmp_path / "plan.json"), cwd=elsewhere)
    assert applied.returncode == 0, applied.stderr
    assert probe_report(applied.stdout)["prefix"] == str(env)
    assert cache.env_dirs() == [env]
