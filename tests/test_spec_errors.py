"""Every mistake in a spec is reported in one sentence naming the file, the field and the fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from harness import CacheDir, run_pylockenv

from pylockenv.core import SpecError, command_from_flags, load_spec

VALID: dict[str, object] = {"pylock": "pylock.toml", "command": "-m app"}


def _error(document: object, name: str | None = None) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(document, "app.yml", name, "/srv/app")
    return str(caught.value)


# (document, NAME, the start of the message)
FIELD_ERRORS = {
    "unknown-key": (
        {**VALID, "pylocks": "x"},
        None,
        "app.yml: unknown key(s) pylocks (did you mean 'pylock'?); the keys of a python_env "
        "command are type, pylock,",
    ),
    "missing-pylock": ({"command": "-m app"}, None, "app.yml: pylock: this required field"),
    "missing-command": ({"pylock": "p.toml"}, None, "app.yml: command: this required field"),
    "empty-command": ({**VALID, "command": "  "}, None, "app.yml: command: is empty; give what"),
    "unsplittable-command": (
        {**VALID, "command": "app 'unclosed"},
        None,
        "app.yml: command: cannot be split into words (No closing quotation)",
    ),
    "empty-pylock": ({**VALID, "pylock": ""}, None, "app.yml: pylock: is empty; give the path"),
    "type-other-than-python-env": (
        {**VALID, "type": "exec"},
        None,
        "app.yml: type: expected 'python_env', got 'exec'",
    ),
    "type-not-a-string": (
        {**VALID, "type": 1},
        None,
        "app.yml: type: expected 'python_env', got 1",
    ),
    "pylock-number": ({**VALID, "pylock": 3}, None, "app.yml: pylock: expected a string, got 3"),
    "pylock-null": (
        {**VALID, "pylock": None},
        None,
        "app.yml: pylock: expected a string, got nothing (null)",
    ),
    "command-list": (
        {**VALID, "command": ["-m", "app"]},
        None,
        "app.yml: command: expected a string, got a list",
    ),
    "python-version-number": (
        {**VALID, "python_version": 3.11},
        None,
        'app.yml: python_version: expected a string such as "3.11", got 3.11',
    ),
    "python-version-empty": (
        {**VALID, "python_version": ""},
        None,
        "app.yml: python_version: is empty",
    ),
    "extras-given-as-string": (
        {**VALID, "local_extra_deps": "app.whl"},
        None,
        "app.yml: local_extra_deps: expected a list of strings, got the string 'app.whl'",
    ),
    "extras-given-as-mapping": (
        {**VALID, "local_extra_deps": {"a": "b"}},
        None,
        "app.yml: local_extra_deps: expected a list of strings, got a mapping",
    ),
    "extras-item-number": (
        {**VALID, "local_extra_deps": ["a.whl", 3]},
        None,
        "app.yml: local_extra_deps[1]: expected a string, got 3",
    ),
    "extras-item-empty": (
        {**VALID, "local_extra_deps": ["a.whl", ""]},
        None,
        "app.yml: local_extra_deps[1]: is empty",
    ),
    "env-given-as-list": (
        {**VALID, "env": ["A=1"]},
        None,
        "app.yml: env: expected a mapping of names to strings, got a list",
    ),
    "env-value-number": (
        {**VALID, "env": {"DATA": "/d", "THREADS": 4}},
        None,
        "app.yml: env['THREADS']: expected a string, got 4",
    ),
    "env-value-null": (
        {**VALID, "env": {"DATA": None}},
        None,
        "app.yml: env['DATA']: expected a string, got nothing (null)",
    ),
    "env-value-bool": (
        {**VALID, "env": {"DEBUG": True}},
        None,
        "app.yml: env['DEBUG']: expected a string, got a boolean (true)",
    ),
    "env-name-with-equals": (
        {**VALID, "env": {"A=B": "1"}},
        None,
        "app.yml: env['A=B']: is not a valid environment variable name",
    ),
    "prepend-paths-given-as-string": (
        {**VALID, "prepend_paths": "/opt/bin"},
        None,
        "app.yml: prepend_paths: expected a list of strings, got the string '/opt/bin'",
    ),
    "prepend-paths-item-bool": (
        {**VALID, "prepend_paths": [False]},
        None,
        "app.yml: prepend_paths[0]: expected a string, got a boolean (false)",
    ),
    "refresh-given-as-string": (
        {**VALID, "refresh": "true"},
        None,
        "app.yml: refresh: expected true or false, got the string 'true'",
    ),
    "refresh-given-as-number": (
        {**VALID, "refresh": 1},
        None,
        "app.yml: refresh: expected true or false, got 1",
    ),
    "document-not-a-mapping": (
        ["pylock.toml"],
        None,
        "app.yml: expected a mapping with the keys of a python_env command",
    ),
    "empty-document": (None, None, "app.yml: expected a mapping with the keys"),
    "field-path-inside-commands": (
        {"commands": {"process": {**VALID, "local_extra_deps": ["a.whl", 3]}}},
        "process",
        "app.yml: commands.process.local_extra_deps[1]: expected a string, got 3",
    ),
    "unknown-key-inside-commands": (
        {"commands": {"process": {**VALID, "bogus": 1}}},
        "process",
        "app.yml: commands.process: unknown key(s) bogus",
    ),
    "missing-name-with-several-commands": (
        {"commands": {"process": VALID, "report": VALID}},
        None,
        "app.yml: holds several python_env commands (process, report); name the one to run",
    ),
    "unknown-name": (
        {"commands": {"process": VALID, "report": VALID}},
        "plot",
        "app.yml: has no command named 'plot'; its commands are process, report",
    ),
    "name-given-for-a-single-command-file": (
        VALID,
        "process",
        "app.yml: holds a single command, not a 'commands:' section",
    ),
    "commands-given-as-list": (
        {"commands": [VALID]},
        None,
        "app.yml: commands: expected a mapping of command names to commands, got a list",
    ),
    "only-command-of-another-type": (
        {"commands": {"a": {"type": "exec"}}},
        None,
        "app.yml: commands.a.type: expected 'python_env', got 'exec'",
    ),
    "no-command-of-type-python-env": (
        {"commands": {"a": {"type": "exec"}, "b": {"type": "exec"}}},
        None,
        "app.yml: none of its commands (a, b) is of type python_env",
    ),
    "command-name-twice-as-number-and-string": (
        {"commands": {1: VALID, "1": VALID}},
        "1",
        "app.yml: commands: two commands are named 1 (once as a number, once as a string)",
    ),
    "command-named-by-null": (
        {"commands": {None: VALID}},
        None,
        "app.yml: commands: a command is named by nothing (null), not by a string; quote",
    ),
    "pylock-holding-nul": (
        {**VALID, "pylock": "a\0.toml"},
        None,
        "app.yml: pylock: 'a\\x00.toml' holds a NUL byte",
    ),
    "env-value-not-utf8": (
        {**VALID, "env": {"A": "\udcff"}},
        None,
        "app.yml: env['A']: '\\udcff' holds the byte 0xff, which is not UTF-8 text",
    ),
    "extra-holding-a-hash": (
        {**VALID, "local_extra_deps": ["dist/a#b.whl"]},
        None,
        "app.yml: local_extra_deps[0]: 'dist/a#b.whl' holds '#', which uv reads as requirement",
    ),
    "command-starting-with-an-empty-word": (
        {**VALID, "command": "'' -m app"},
        None,
        "app.yml: command: \"'' -m app\" starts with an empty word",
    ),
    "long-value-is-cut-short": (
        {**VALID, "refresh": "x" * 10_000},
        None,
        "app.yml: refresh: expected true or false, got the string 'xxxxxxxx",
    ),
}


@pytest.mark.parametrize(
    ("document", "name", "expected"), FIELD_ERRORS.values(), ids=FIELD_ERRORS.keys()
)
def test_a_spec_mistake_is_reported_with_file_and_field(
    document: object, name: str | None, expected: str
) -> None:
    message = _error(document, name)
    assert message.startswith(expected), message


@pytest.mark.parametrize("expected", list(FIELD_ERRORS.values()), ids=FIELD_ERRORS.keys())
def test_a_spec_error_is_one_sentence_ending_in_a_full_stop(
    expected: tuple[object, str | None, str],
) -> None:
    message = _error(expected[0], expected[1])
    assert "\n" not in message
    assert message.endswith(".")


def test_an_echoed_value_is_cut_at_80_characters_with_its_length() -> None:
    message = _error({**VALID, "refresh": "x" * 10_000})
    assert "x" * 81 not in message
    assert "... (10,000 characters)" in message


def test_a_command_named_by_a_number_is_found_by_its_text() -> None:
    spec = load_spec({"commands": {7: VALID}}, "app.yml", "7", "/srv/app")
    assert spec.source == "app.yml: commands.7"


def test_all_wrong_fields_are_reported_at_once() -> None:
    message = _error({"pylock": 3, "command": 4})
    assert "pylock: expected a string, got 3" in message
    assert "command: expected a string, got 4" in message


def test_the_unknown_key_message_lists_every_valid_key() -> None:
    message = _error({**VALID, "refesh": True})
    listed = message.removesuffix(".").split(" are ", 1)[1].split(", ")
    keys = ["type", "pylock", "command", "python_version", "local_extra_deps", "env"]
    assert sorted(listed) == sorted([*keys, "prepend_paths", "refresh"])


def test_an_empty_commands_section_says_it_is_empty() -> None:
    message = _error({"commands": {}})
    assert message.startswith("app.yml: commands: ")
    assert "empty" in message


def test_a_flag_form_env_without_equals_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"^command line: --env 'DATA': expected KEY=VALUE"):
        command_from_flags(pylock="pylock.toml", command="-m app", env=["DATA"])


def test_a_flag_form_env_with_empty_name_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"^command line: --env '=1': expected KEY=VALUE"):
        command_from_flags(pylock="pylock.toml", command="-m app", env=["=1"])


def test_a_flag_form_env_value_may_hold_equals_signs() -> None:
    spec = command_from_flags(pylock="pylock.toml", command="-m app", env=["OPTS=a=b"])
    assert spec.command.env == {"OPTS": "a=b"}


def test_a_flag_form_empty_command_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"^command line: command: is empty"):
        command_from_flags(pylock="pylock.toml", command="")


# Through the command line: exit status 125, the message on stderr, no traceback, and
# nothing created in the cache.


def _run_cli(environ: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pylockenv run ARGS` from `cwd`, with a uv that does not exist (nor is needed)."""
    return run_pylockenv(
        {**environ, "PYLOCKENV_UV": "/nonexistent/uv"}, "run", *args, cwd=cwd, timeout=60
    )


CLI_ERRORS = {
    "wrong-type": (
        "pylock: pylock.toml\ncommand: -m app\nlocal_extra_deps: [a.whl, 3]\n",
        (),
        "app.yml: local_extra_deps[1]: expected a string, got 3",
    ),
    "bad-yaml": (
        "pylock: pylock.toml\ncommand: [unclosed\n",
        (),
        "app.yml: line 3, column 1: not valid YAML",
    ),
    "bad-yaml-tab": (
        "pylock: pylock.toml\n\tcommand: -m app\n",
        (),
        "app.yml: line 2, column 1: not valid YAML",
    ),
    "missing-name": (
        "commands:\n"
        "  a: {pylock: pylock.toml, command: x}\n"
        "  b: {pylock: pylock.toml, command: y}\n",
        (),
        "app.yml: holds several python_env commands (a, b)",
    ),
    "unknown-name": (
        "commands:\n  a: {pylock: pylock.toml, command: x}\n",
        ("zzz",),
        "app.yml: has no command named 'zzz'",
    ),
    "bool-as-string": (
        "pylock: pylock.toml\ncommand: -m app\nrefresh: 'yes'\n",
        (),
        "app.yml: refresh: expected true or false, got the string 'yes'",
    ),
}


@pytest.mark.parametrize(("text", "extra", "expected"), CLI_ERRORS.values(), ids=CLI_ERRORS.keys())
def test_the_cli_reports_a_spec_error_without_traceback_or_side_effects(
    tmp_path: Path,
    environ: dict[str, str],
    cache: CacheDir,
    text: str,
    extra: tuple[str, ...],
    expected: str,
) -> None:
    (tmp_path / "app.yml").write_text(text)
    (tmp_path / "pylock.toml").write_text('lock-version = "1.0"\n')

    result = _run_cli(environ, tmp_path, "app.yml", *extra)

    assert result.returncode == 125, result.stderr
    assert result.stderr.startswith(f"pylockenv: error: {expected}"), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not cache.xdg.exists()


def test_the_cli_reports_a_flag_form_env_without_equals(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    (tmp_path / "pylock.toml").write_text('lock-version = "1.0"\n')

    result = _run_cli(
        environ, tmp_path, "--pylock", "pylock.toml", "--command", "-m app", "--env", "DATA"
    )

    assert result.returncode == 125
    assert result.stderr.startswith("pylockenv: error: command line: --env 'DATA': expected")
    assert "Traceback" not in result.stderr
    assert not cache.xdg.exists()


def test_the_cli_reports_a_missing_spec_file(tmp_path: Path, environ: dict[str, str]) -> None:
    result = _run_cli(environ, tmp_path, "nowhere.yml")

    assert result.returncode == 125
    assert result.stderr.startswith("pylockenv: error: nowhere.yml: no such spec file")
    assert "Traceback" not in result.stderr
