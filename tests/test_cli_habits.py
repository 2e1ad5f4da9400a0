"""The command line's habits (uv's and pipx's): global options anywhere, -V, `--` said
when it was forgotten, "did you mean", a warning for shell syntax in a command, and
messages that name what a person needs (the directory searched, yes/no not False).

The pure hints (`core.hints`) are checked directly; every CLI behaviour through the
harness's runners: `run_main` for what runs nothing, `run_pylockenv` for a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import PY_VERSION, make_app, probe_report
from harness import (
    CacheDir,
    MainRunner,
    ProvisionedEnv,
    run_pylockenv,
    uv_calls,
    write_uv_wrapper,
)
from hypothesis import given
from hypothesis import strategies as st

from pylockenv.core.hints import (
    MAX_SUGGESTIONS,
    SHELL_OPERATORS,
    close_matches,
    did_you_mean,
    edit_distance,
    shell_syntax,
    shell_syntax_warning,
)

EXIT_USAGE = 2
WORDS = st.text(alphabet="abcdefgh_", min_size=0, max_size=12)


# --- the pure hints -------------------------------------------------------------------


def test_a_near_miss_is_suggested_and_a_far_word_is_not() -> None:
    keys = ["pylock", "command", "python_version", "refresh"]
    assert close_matches("pylcok", keys) == ["pylock"]  # two letters swapped: one edit
    assert close_matches("Refresh", keys) == ["refresh"]  # case is no difference
    assert close_matches("bogus", keys) == []


def test_a_prefix_is_suggested_before_near_misses_and_at_most_three() -> None:
    names = ["1cb66ab14e4efea4", "1cb66ab14e4efea5", "1cb6ffff00000000", "1cb7000000000000"]
    assert close_matches("1cb66ab1", names) == ["1cb66ab14e4efea4", "1cb66ab14e4efea5"]
    assert len(close_matches("1", names)) == MAX_SUGGESTIONS


def test_did_you_mean_quotes_the_matches_or_says_nothing() -> None:
    assert did_you_mean("proces", ["process", "report"]) == " (did you mean 'process'?)"
    assert did_you_mean("rep", ["report", "repair"]) == " (did you mean 'repair' or 'report'?)"
    assert did_you_mean("zzz", ["process"]) == ""


@given(WORDS, WORDS)
def test_edit_distance_is_symmetric_and_zero_only_for_equal_words(a: str, b: str) -> None:
    assert edit_distance(a, b) == edit_distance(b, a)
    assert (edit_distance(a, b) == 0) == (a == b)
    assert edit_distance(a, b) <= max(len(a), len(b))


@given(st.text(alphabet="abcdefgh", min_size=3, max_size=12), st.data())
def test_one_edit_away_is_distance_one_and_is_suggested(word: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(word) - 2))
    edits = [
        word[:i] + word[i + 1 :],  # a letter dropped
        word[:i] + "z" + word[i:],  # a letter added
        word[:i] + "z" + word[i + 1 :],  # a letter changed
        word[:i] + word[i + 1] + word[i] + word[i + 2 :],  # two letters swapped
    ]
    for typo in edits:
        if typo != word:
            assert edit_distance(typo, word) == 1
            assert word in close_matches(typo, [word, "unrelated-name"])


@pytest.mark.parametrize("word", [*sorted(SHELL_OPERATORS), "$(date)", "`date`"])
def test_each_shell_operator_and_substitution_is_found(word: str) -> None:
    assert shell_syntax(["tool", "a", word, "b"]) == [word]


def test_shell_syntax_inside_a_word_is_no_shell_syntax() -> None:
    # shlex keeps a quoted "a | b" as one word, and "a|b" or "x>y" are plain arguments.
    assert shell_syntax(["tool", "a | b", "a|b", "x>y", "$HOME", "cost$(x"]) == []
    assert shell_syntax_warning(["tool", "--flag"], "app.yml") is None


@given(st.lists(st.text(alphabet="abc-_=./ ", max_size=8), min_size=1, max_size=6))
def test_words_without_shell_syntax_get_no_warning(words: list[str]) -> None:
    assert shell_syntax_warning(words, "app.yml") is None


def test_the_shell_syntax_warning_names_the_words_and_what_to_do() -> None:
    warning = shell_syntax_warning(["tool", "|", "cat", "&&", "|"], "app.yml: commands.a")
    assert warning is not None
    assert "\n" not in warning
    assert warning.startswith("app.yml: commands.a: command: '|' '&&' are passed as arguments")
    assert "not run by a shell" in warning
    assert "/bin/sh -c" in warning


# --- global options before or after the subcommand ------------------------------------


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_silences_provision_before_or_after_the_subcommand(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner, where: str
) -> None:
    env = provisioned.copy_to(cache)
    args = ["provision", "-q", str(provisioned.spec)]
    if where == "before":
        args = ["-q", "provision", str(provisioned.spec)]
    code, out, err = run_main(*args)
    assert (code, out, err) == (0, f"{env}\n", "")


def test_verbose_before_the_subcommand_shows_uvs_output(
    tmp_path: Path, run_main: MainRunner
) -> None:
    spec = make_app(tmp_path / "app", extra_spec=f'python_version: "{PY_VERSION}"\n')
    code, _, err = run_main("-v", "provision", str(spec))
    assert code == 0, err
    assert "Using CPython" in err  # uv venv's own line, kept back without -v


def test_uv_before_the_subcommand_chooses_the_uv_executable(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    wrapper = write_uv_wrapper(tmp_path / "bin", log=log)
    environ["PYLOCKENV_UV"] = str(tmp_path / "not-this-uv")
    result = run_pylockenv(environ, "--uv", str(wrapper), "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert len(uv_calls(log, "venv")) == 1


@pytest.mark.parametrize(
    "args",
    [["-q", "run", "SPEC", "-v"], ["-v", "-q", "run", "SPEC"], ["-qv", "provision", "SPEC"]],
    ids=["split", "both-before", "combined"],
)
def test_quiet_and_verbose_together_are_a_usage_error_wherever_given(
    tmp_path: Path, cache: CacheDir, run_main: MainRunner, args: list[str]
) -> None:
    spec = make_app(tmp_path / "app")
    code, _, err = run_main(*[str(spec) if arg == "SPEC" else arg for arg in args])
    assert code == EXIT_USAGE
    assert "-q/--quiet: not allowed with argument -v/--verbose" in err
    assert not cache.root.exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["-q", "show", "0123456789abcdef"], "show takes no -q/--quiet"),
        (["--uv", "/bin/true", "apply", "plan.json"], "apply takes no --uv"),
        (["--uv", "/bin/true", "gc"], "gc takes no --uv"),
    ],
    ids=["show-quiet", "apply-uv", "gc-uv"],
)
def test_a_global_option_the_subcommand_does_not_take_is_a_usage_error(
    run_main: MainRunner, args: list[str], said: str
) -> None:
    code, _, err = run_main(*args)
    assert code == EXIT_USAGE
    assert err.startswith(f"usage: pylockenv {said.split()[0]} ")
    assert said in err


def test_a_warm_run_takes_quiet_before_the_subcommand(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app", command="probe env")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0  # keeps its plan
    warm = run_pylockenv(environ, "-q", "run", str(spec), "--", "x")
    assert warm.returncode == 0, warm.stderr
    assert warm.stderr == ""
    assert probe_report(warm.stdout)["args"] == ["x"]


# --- -V --------------------------------------------------------------------------------


def test_version_names_the_uv_given_by_the_flag(tmp_path: Path, environ: dict[str, str]) -> None:
    wrapper = write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log")
    result = run_pylockenv(environ, "--uv", str(wrapper), "-V")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].endswith(f" at {wrapper} (given by --uv)")


def test_version_with_a_uv_that_does_not_run_says_so_and_fails(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    environ["PYLOCKENV_UV"] = str(tmp_path / "no-such-uv")
    result = run_pylockenv(environ, "--version")
    assert result.returncode == 125
    assert result.stdout.startswith("pylockenv ")
    assert result.stderr.startswith("pylockenv: error: cannot run uv at ")
    assert "Traceback" not in result.stderr


# --- `--` and usage lines ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["run", "SPEC", "process", "examples/data"], ["apply", "plan.json", "data"]],
    ids=["run", "apply"],
)
def test_extra_positionals_say_to_put_them_after_the_double_dash(
    tmp_path: Path, cache: CacheDir, run_main: MainRunner, args: list[str]
) -> None:
    spec = make_app(tmp_path / "app")
    code, _, err = run_main(*[str(spec) if arg == "SPEC" else arg for arg in args])
    assert code == EXIT_USAGE
    assert f"unrecognized arguments: {args[-1]}; put the command's arguments after '--'" in err
    assert not cache.root.exists()


@pytest.mark.parametrize(
    ("subcommand", "takes_args"),
    [("run", True), ("apply", True), ("provision", False), ("gc", False)],
)
def test_usage_lines_show_the_double_dash_where_it_passes_arguments(
    run_main: MainRunner, subcommand: str, takes_args: bool
) -> None:
    code, out, _ = run_main(subcommand, "--help")
    assert code == 0
    usage = out.split("\n\n")[0]
    assert usage.endswith(" [-- ARGS...]") == takes_args


def test_a_misspelt_subcommand_gets_a_suggestion(run_main: MainRunner) -> None:
    code, _, err = run_main("rnu", "app.yml")
    assert code == EXIT_USAGE
    assert "invalid choice: 'rnu' (did you mean 'run'?)" in err


# --- did you mean: spec keys, command names, env hashes ----------------------------------


def _two_commands(root: Path) -> Path:
    """A spec file with the commands `process` and `report`, both of the probe app."""
    make_app(root)
    spec = root / "app.yml"
    command = "{type: python_env, pylock: pylock.toml, command: probe env}"
    spec.write_text(f"commands:\n  process: {command}\n  report: {command}\n")
    return spec


def test_a_misspelt_spec_key_gets_a_suggestion(tmp_path: Path, run_main: MainRunner) -> None:
    spec = make_app(tmp_path / "app", extra_spec="refesh: true\n")
    code, _, err = run_main("provision", str(spec))
    assert code == 125
    assert "unknown key(s) refesh (did you mean 'refresh'?)" in err


def test_a_misspelt_command_name_gets_a_suggestion(tmp_path: Path, run_main: MainRunner) -> None:
    spec = _two_commands(tmp_path / "app")
    code, _, err = run_main("show", str(spec), "proces")
    assert code == 125
    assert "has no command named 'proces' (did you mean 'process'?)" in err


@pytest.mark.parametrize("subcommand", ["show", "gc"])
def test_a_short_hash_is_not_taken_but_suggested(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner, subcommand: str
) -> None:
    env = provisioned.copy_to(cache)
    code, out, err = run_main(subcommand, provisioned.env_hash[:8])
    assert code == (1 if subcommand == "show" else 125)
    assert out == ""
    assert f"(did you mean '{provisioned.env_hash}'?)" in err
    assert env.exists()


@pytest.mark.parametrize("subcommand", ["show", "gc"])
def test_a_mistyped_hash_gets_the_close_env_suggested(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner, subcommand: str
) -> None:
    env = provisioned.copy_to(cache)
    typo = provisioned.env_hash[:-1] + ("0" if provisioned.env_hash[-1] != "0" else "1")
    code, _, err = run_main(subcommand, typo)
    assert code == 1
    assert f"no environment {typo} (did you mean '{provisioned.env_hash}'?) in " in err
    assert env.exists()


def test_a_short_hash_that_is_a_file_is_read_as_a_spec(
    provisioned: ProvisionedEnv, cache: CacheDir, tmp_path: Path, run_main: MainRunner
) -> None:
    provisioned.copy_to(cache)
    (tmp_path / provisioned.env_hash[:8]).write_text("command: x\npylock: pylock.toml\n")
    code, _, err = run_main("show", provisioned.env_hash[:8])
    assert code == 125  # read as a spec: its pylock does not exist
    assert "did you mean" not in err


# --- shell syntax in a command -----------------------------------------------------------


def _spec_of_the_provisioned_env(provisioned: ProvisionedEnv, root: Path, command: str) -> Path:
    """A spec whose env is the provisioned one (same pylock, extra, Python), running
    `command`; the command is no part of the env's hash."""
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "spec.yml"
    spec.write_text(
        f"command: {json.dumps(command)}\npylock: {provisioned.pylock}\n"
        f'python_version: "{PY_VERSION}"\nlocal_extra_deps:\n  - {provisioned.extra_wheel}\n'
    )
    return spec


def test_shell_syntax_in_a_command_is_warned_of_and_still_passed_on(
    provisioned: ProvisionedEnv, cache: CacheDir, tmp_path: Path, environ: dict[str, str]
) -> None:
    provisioned.copy_to(cache)
    spec = _spec_of_the_provisioned_env(provisioned, tmp_path / "app", "probe env | cat")
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 0, done.stderr
    [warning] = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warning.startswith(f"pylockenv: warning: {spec}: command: '|' is passed as an")
    assert probe_report(done.stdout)["args"] == ["|", "cat"]


def test_quiet_silences_the_shell_syntax_warning(
    provisioned: ProvisionedEnv, cache: CacheDir, tmp_path: Path, environ: dict[str, str]
) -> None:
    provisioned.copy_to(cache)
    spec = _spec_of_the_provisioned_env(provisioned, tmp_path / "app", "probe env && ls")
    done = run_pylockenv(environ, "-q", "run", str(spec), "--print-plan")
    assert done.returncode == 0
    assert done.stderr == ""


# --- messages that name what a person needs -------------------------------------------


def test_a_missing_relative_script_names_the_directory_searched(
    provisioned: ProvisionedEnv, cache: CacheDir, tmp_path: Path, environ: dict[str, str]
) -> None:
    provisioned.copy_to(cache)
    spec = _spec_of_the_provisioned_env(provisioned, tmp_path / "app", "scripts/job.py")
    workdir = tmp_path / "work"
    workdir.mkdir()
    done = run_pylockenv(environ, "run", str(spec), cwd=workdir)
    assert done.returncode == 127
    assert f"nor a file for Python to run in the working directory {workdir};" in done.stderr


@pytest.mark.parametrize(
    "case", ["several-commands", "missing-spec", "missing-pylock", "args-after-dash"]
)
def test_provision_errors_do_not_suggest_run(
    tmp_path: Path, run_main: MainRunner, case: str
) -> None:
    spec = _two_commands(tmp_path / "app")
    args = {
        "several-commands": ["provision", str(spec)],
        "missing-spec": ["provision", str(tmp_path / "nowhere.yml")],
        "missing-pylock": ["provision", "--pylock", "nope/pylock.toml", "--command", "x"],
        "args-after-dash": ["provision", str(spec), "process", "--", "data"],
    }[case]
    code, _, err = run_main(*args)
    assert code in (EXIT_USAGE, 125)
    assert err
    assert "pylockenv run" not in err
    assert "'run" not in err


def test_show_prints_booleans_and_nothing_as_a_tool_does(
    provisioned: ProvisionedEnv, cache: CacheDir, run_main: MainRunner
) -> None:
    env = provisioned.copy_to(cache)
    (env / ".provisioned").write_text("")  # the reference's marker: no host recorded
    code, out, _ = run_main("show", provisioned.env_hash)
    assert code == 0
    env_lines = out.split("\nreused by")[0]
    assert "\n  in use: no" in env_lines
    assert "\n  host: -" in env_lines
    for python_word in ("False", "True", "None"):
        assert python_word not in env_lines
