"""The command line under hostile use: closed streams, `--`, odd numbers, usage errors,
names that look like files, and an `env` too large to start a program with; and the one
subcommand mechanism (`shell/commands`) that fails loudly when a subcommand is incomplete.

Each case runs the real CLI in its own process and checks the exit code, that the
message is one `pylockenv: error:` paragraph (or the subcommand's usage), that no
traceback shows, and what was or was not removed.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import subprocess
from pathlib import Path

import pytest
from builders import make_app
from harness import CacheDir, MainRunner, ProvisionedEnv, pylockenv_argv, run_pylockenv

from pylockenv.core.errors import EXIT_CODES
from pylockenv.core.spec import command_from_flags
from pylockenv.shell import commands
from pylockenv.shell.cli import build_parser
from pylockenv.shell.commands.base import Command, IncompleteCommandError
from pylockenv.shell.commands.spec_arguments import FLAG_FIELDS, FLAGS_GROUP
from pylockenv.shell.warm import SHORT_OPTIONS, WARM_FORMS


def run_with_closed(
    environ: dict[str, str], fd: int, *args: str
) -> subprocess.CompletedProcess[bytes]:
    """Run `pylockenv ARGS` with file descriptor `fd` (1 or 2) closed, as `>&-` does."""
    keep = "1" if fd == 2 else "2"
    return subprocess.run(
        ["sh", "-c", f'"$@" {fd}>&- {keep}>&{keep}', "sh", *pylockenv_argv(*args)],
        env=environ,
        stdout=subprocess.PIPE if fd == 2 else None,
        stderr=subprocess.PIPE if fd == 1 else None,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [["list"], ["gc", "--dry-run"], ["run", "SPEC", "--print-plan"], ["show", "SPEC"]],
    ids=["list", "gc --dry-run", "print-plan", "show"],
)
def test_a_command_whose_result_goes_to_a_closed_stdout_says_so(
    tmp_path: Path, environ: dict[str, str], args: list[str]
) -> None:
    spec = make_app(tmp_path / "app")
    args = [str(spec) if arg == "SPEC" else arg for arg in args]
    done = run_with_closed(environ, 1, *args)
    assert done.returncode == 125
    assert done.stderr.startswith(b"pylockenv: error: standard output is closed")
    assert done.stderr.count(b"\n") == 1
    assert b"Traceback" not in done.stderr


def test_errors_never_go_to_stdout_when_stderr_is_closed(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    missing = tmp_path / "no-such-spec.yml"
    done = run_with_closed(environ, 2, "run", str(missing))
    assert done.returncode == 125
    assert done.stdout == b""


def test_gc_after_a_double_dash_removes_only_the_env_it_names(
    provisioned: ProvisionedEnv, cache: CacheDir, environ: dict[str, str]
) -> None:
    named = provisioned.copy_to(cache)
    other = provisioned.copy_to(cache, "0123456789abcdef")
    done = run_pylockenv(environ, "gc", "--older-than", "0s", "--", named.name)
    assert done.returncode == 0, done.stderr
    assert not named.exists()
    assert other.exists()


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1", "soon"])
def test_a_lock_timeout_must_be_a_finite_number_of_seconds(
    tmp_path: Path, environ: dict[str, str], seconds: str
) -> None:
    spec = make_app(tmp_path / "app")
    done = run_pylockenv(environ, "run", "--lock-timeout", seconds, str(spec))
    assert done.returncode == 2
    assert done.stderr.startswith("usage: pylockenv run ")
    assert "argument --lock-timeout:" in done.stderr


@pytest.mark.parametrize("subcommand", ["run", "provision", "apply", "list", "show", "gc"])
def test_a_usage_error_shows_the_subcommands_usage(
    environ: dict[str, str], subcommand: str
) -> None:
    done = run_pylockenv(environ, subcommand, "--no-such-option", "x")
    assert done.returncode == 2
    assert done.stderr.startswith(f"usage: pylockenv {subcommand} ")
    assert "unrecognized arguments: --no-such-option" in done.stderr


def test_show_of_an_env_name_never_reads_a_file_of_that_name(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    name = "0123456789abcdef"
    (tmp_path / name).write_text("type: python_env\ncommand: -c pass\npylock: pylock.toml\n")
    done = run_pylockenv(environ, "show", name, cwd=tmp_path)
    assert done.returncode == 1
    assert f"no environment {name}" in done.stderr
    forced = run_pylockenv(environ, "show", "--spec", name, cwd=tmp_path)
    assert forced.returncode == 125  # read as a spec now: its pylock does not exist
    assert "pylock" in forced.stderr


def test_an_env_entry_too_large_to_start_a_program_with_is_refused_before_anything(
    tmp_path: Path, cache: CacheDir, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app", extra_spec=f"env:\n  BIG: {'x' * 200_000}\n")
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 125
    assert "(E2BIG)" in done.stderr
    assert "x" * 100 not in done.stderr  # the value is quoted cut short
    assert not cache.root.exists()


def test_readme_shows_the_exit_codes_help_prints(environ: dict[str, str]) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    shown = run_pylockenv(environ, "--help").stdout
    for code, meaning in EXIT_CODES:
        assert f"| {code} | {meaning} |" in readme
        assert meaning.split(":")[0] in shown


@pytest.mark.parametrize("fd", [1, 2])
def test_a_warm_run_with_a_closed_standard_stream_still_runs_its_command(
    tmp_path: Path, environ: dict[str, str], fd: int
) -> None:
    spec = make_app(tmp_path / "app", command="probe exit 0")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0  # keeps its plan
    done = run_with_closed(environ, fd, "run", str(spec))
    assert done.returncode == 0
    assert b"Traceback" not in (done.stderr or b"") + (done.stdout or b"")


# --- the one subcommand mechanism (shell/commands) -------------------------------------


def _record(**changes: object) -> dict[str, object]:
    """The fields of a complete Command record, with `changes` made."""
    fields: dict[str, object] = {
        "name": "demo",
        "summary": "a demo",
        "description": "A demo subcommand.",
        "add_arguments": lambda parser: None,
        "run": lambda invocation: 0,
        "exit_codes": ("125", "2"),
        "options": {},
        "double_dash": "parsed",
        "prints_result": lambda ns: True,
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not _LEFT_OUT}


_LEFT_OUT = object()


def test_every_command_module_is_registered() -> None:
    defined = {}
    for module in pkgutil.iter_modules(commands.__path__):
        loaded = importlib.import_module(f"{commands.__name__}.{module.name}")
        if hasattr(loaded, "COMMAND"):
            defined[module.name] = loaded.COMMAND
    assert defined, "no module of shell/commands defines a COMMAND"
    assert sorted(c.name for c in defined.values()) == sorted(commands.COMMANDS)
    assert all(commands.COMMANDS[c.name] is c for c in defined.values())


@pytest.mark.parametrize(
    "field", ["name", "summary", "description", "add_arguments", "run", "exit_codes", "options"]
)
def test_a_command_record_without_a_field_fails_when_it_is_made(field: str) -> None:
    with pytest.raises(TypeError, match=field):
        Command(**_record(**{field: _LEFT_OUT}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"exit_codes": ("125", "2", "7")}, "not in core.errors.EXIT_CODES"),
        ({"exit_codes": ("125",)}, "usage errors"),
        ({"exit_codes": ()}, "list the exit paths"),
        ({"summary": " "}, "summary"),
        ({"run": "not a function"}, "run"),
        ({"options": {"color": "colours"}}, "options"),
        ({"double_dash": "maybe"}, "double_dash"),
        ({"name": "Run"}, "lowercase word"),
    ],
    ids=[
        "unknown-exit-code",
        "no-usage-exit",
        "no-exit-codes",
        "blank-summary",
        "run-not-callable",
        "unknown-global-option",
        "unknown-double-dash",
        "name-not-lowercase",
    ],
)
def test_a_command_record_that_breaks_a_rule_fails_when_it_is_made(
    changes: dict[str, object], said: str
) -> None:
    with pytest.raises(IncompleteCommandError, match=said):
        Command(**_record(**changes))  # type: ignore[arg-type]


def test_two_commands_of_one_name_cannot_both_be_registered() -> None:
    with pytest.raises(IncompleteCommandError, match="two subcommands are named 'demo'"):
        commands.register(Command(**_record()), Command(**_record()))  # type: ignore[arg-type]


def test_the_warm_paths_forms_are_what_the_full_parser_accepts() -> None:
    parser, parsers = build_parser()
    for verb, (counts, flags) in WARM_FORMS.items():
        assert verb in commands.COMMANDS
        for count in counts:
            _, unknown = parser.parse_known_args([verb, *["x"] * count])
            assert unknown == [], (verb, count)
        _, unknown = parser.parse_known_args([verb, *["x"] * (max(counts) + 1)])
        assert unknown == ["x"], verb
        actions = {a.option_strings[-1]: a for a in parsers[verb]._actions if a.option_strings}
        for flag, repeated in flags.items():
            action = actions[flag]  # a flag of the table is the parser's, spelt in full ...
            assert action.nargs is None  # ... taking one value ...
            assert isinstance(action, argparse._AppendAction) is repeated  # ... or a list
            assert action.dest == flag[2:].replace("-", "_")  # where given_flags reads it


def test_every_flag_that_gives_a_spec_names_the_plan_a_run_keeps() -> None:
    # The other direction: a spec flag missing from the warm table would keep its plan
    # under the command line without it, and that line's warm runs would run it.
    _, parsers = build_parser()
    spec_groups = [
        group
        for group in parsers["run"]._action_groups
        if group.title
        in ("a spec given by flags instead of SPEC", "an app.yml's version and template variables")
    ]
    assert len(spec_groups) == 2
    spec_flags = {
        action.option_strings[-1] for group in spec_groups for action in group._group_actions
    }
    never_kept = {"--refresh"}  # a refresh run's env is ephemeral: no plan is kept
    assert spec_flags - never_kept == set(WARM_FORMS["run"][1])


def test_every_flag_that_gives_a_spec_reaches_command_from_flags() -> None:
    _, parsers = build_parser()
    (group,) = [g for g in parsers["run"]._action_groups if g.title == FLAGS_GROUP]
    assert list(FLAG_FIELDS) == [action.option_strings[-1] for action in group._group_actions]
    assert set(FLAG_FIELDS.values()) == set(inspect.signature(command_from_flags).parameters)


@pytest.mark.parametrize("flag", [f for f in FLAG_FIELDS if f not in ("--pylock", "--command")])
def test_a_flag_that_gives_a_spec_is_refused_beside_spec_by_its_name(
    run_main: MainRunner, tmp_path: Path, flag: str
) -> None:
    value = [] if flag == "--refresh" else ["x=1"]
    code, _, err = run_main("run", str(tmp_path / "spec.yml"), flag, *value)
    assert code == 2
    assert f"{flag} describes a command given by --pylock and --command" in err
    assert list(tmp_path.iterdir()) == []


def test_the_warm_paths_short_options_are_every_parsers_one_letter_options() -> None:
    parser, parsers = build_parser()
    one_letter = {
        option
        for each in (parser, *(parsers[verb] for verb in WARM_FORMS))
        for action in each._actions
        for option in action.option_strings
        if len(option) == 2
    }
    assert one_letter == set(SHORT_OPTIONS)


@pytest.mark.parametrize("name", list(commands.COMMANDS))
def test_each_subcommands_help_lists_its_exit_codes_from_the_one_table(
    run_main: MainRunner, name: str
) -> None:
    code, out, _ = run_main(name, "--help")
    assert code == 0
    meanings = dict(EXIT_CODES)
    listed = out.split("exit codes:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(commands.COMMANDS[name].exit_codes)
    for line in listed:
        assert line.split(None, 1)[1] == meanings[line.split()[0]]


def test_the_top_level_help_lists_every_subcommand_and_global_option(
    run_main: MainRunner,
) -> None:
    code, out, _ = run_main("--help")
    assert code == 0
    flat = " ".join(out.split())
    for command in commands.COMMANDS.values():
        assert f"{command.name} {command.summary}" in flat
    for flag in ("-V, --version", "-q, --quiet", "-v, --verbose", "--uv PATH"):
        assert flag in out
