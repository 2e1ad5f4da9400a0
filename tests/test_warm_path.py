"""A warm `pylockenv run` does only what reusing an env needs, and only while that is safe.

The first run of a spec stores its plan under the cache root; a later run of the
same spec reads that one file, checks that every fact the plan was made from
still holds, takes the env's in-use lock and execs the command, importing a set
of light modules asserted exactly here (no attrs, cattrs, PyYAML, filelock,
subprocess or argparse). Each run is audited in its own process with
`sys.addaudithook`: the "open", "subprocess.Popen" and "os.exec" events, and the
modules pylockenv loaded on top of a bare interpreter's. Any change to any input
the plan was made from sends the run down the full path (which stores the plan
again), and that is checked input by input.
"""

from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from attrs import frozen
from builders import PY_VERSION, make_app, probe_report
from damage import marshal_values, places, replaced
from harness import CacheDir, process_environ, pylockenv_argv, run_pylockenv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylockenv.core.plan_format import kept_plan_key, kept_plan_words
from pylockenv.shell.warm import WARM_FORMS, given_flags, parse_warm_arguments

# Runs the `pylockenv` console script's main() under an audit hook and writes what it saw
# to REPORT, just before it execs the command (or when main() returns).
AUDITED_RUN = """\
import sys

loaded_before = set(sys.modules)
import os

opened, started = [], []


def write_report(code):
    seen = {"code": code, "opened": list(opened), "started": list(started)}
    seen["modules"] = sorted(set(sys.modules) - loaded_before)
    import json

    with open(sys.argv[1], "w") as stream:
        json.dump(seen, stream)


def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        opened.append(os.fsdecode(args[0]))
    elif event in ("subprocess.Popen", "os.exec"):
        started.append([os.fsdecode(word) for word in args[1]])
        if event == "os.exec":
            write_report("exec")


sys.addaudithook(audit)
from pylockenv.shell.launcher import main

write_report(main(sys.argv[2:]))
"""

# What a warm run loads beyond a bare interpreter: pylockenv's light modules, and fcntl
# and the SHA-256 module (hashlib's own, without hashlib: the layout check hashes the env's
# hash input, and the kept plan's name is a digest) from the standard library. Nothing
# else, exactly (no json, typing, re, zlib or hashlib either).
WARM_MODULES = {
    "pylockenv",
    "pylockenv.core",
    "pylockenv.core.errors",
    "pylockenv.core.layout",
    "pylockenv.core.made_from",
    "pylockenv.core.plan_format",
    "pylockenv.core.plan_rules",
    "pylockenv.shell",
    "pylockenv.shell.cachefiles",
    "pylockenv.shell.envlocks",
    "pylockenv.shell.errors",
    "pylockenv.shell.facts",
    "pylockenv.shell.launcher",
    "pylockenv.shell.process_env",
    "pylockenv.shell.uvbin",
    "pylockenv.shell.warm",
    "fcntl",
    "_sha2" if sys.version_info >= (3, 12) else "_sha256",
}
HEAVY = ("attr", "attrs", "cattrs", "yaml", "filelock", "subprocess", "argparse", "tomllib")


def audited_run(
    environ: Mapping[str, str], report: Path, *args: str, cwd: Path | None = None
) -> dict[str, Any]:
    """Run `pylockenv ARGS` audited; return what it opened, started and imported."""
    done = subprocess.run(
        [sys.executable, "-c", AUDITED_RUN, str(report), *args],
        env=dict(environ),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(report.read_text())
    assert seen["code"] == "exec"
    seen["stderr"] = done.stderr
    return seen


def is_warm(seen: dict[str, Any]) -> bool:
    return not any(name.split(".")[0] in HEAVY for name in seen["modules"])


@frozen(kw_only=True)
class WarmApp:
    """A probe app whose env one cold run provisioned, with the cache and environment of it."""

    spec: Path
    cache: CacheDir
    environ: Mapping[str, str]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> WarmApp:
    """A probe app with a local extra, its env provisioned (cold) by one ordinary run."""
    root = tmp_path_factory.mktemp("warm")
    spec = make_app(root, command="-c pass", local_extra=True)
    cache = CacheDir(root / "xdg")
    environ = process_environ(cache, uv_cache)
    cold = run_pylockenv(environ, "run", str(spec))
    assert cold.returncode == 0, cold.stderr
    return WarmApp(spec=spec, cache=cache, environ=environ)


@pytest.fixture(scope="module")
def warm(app: WarmApp) -> dict[str, Any]:
    return audited_run(app.environ, app.spec.parent / "warm-report.json", "run", str(app.spec))


def _ours(paths: list[str], root: Path) -> set[str]:
    """The opened paths under the app's directory (the spec, the wheels, the cache)."""
    return {path for path in paths if path.startswith(f"{root}/")}


def test_a_warm_run_loads_exactly_the_light_modules(warm: dict[str, Any]) -> None:
    assert set(warm["modules"]) == WARM_MODULES


def test_a_warm_run_opens_only_its_stored_plan_and_the_in_use_lock(
    app: WarmApp, warm: dict[str, Any]
) -> None:
    [env_dir] = app.cache.env_dirs()
    # The stored plan is reached from the cache root without following a link: the root,
    # then plans/ and the plan's name relative to their directories' descriptors.
    relative = [path for path in warm["opened"] if not path.startswith("/")]
    [stored] = (name for name in relative if name.endswith(".plan"))
    assert relative == ["plans", stored]
    assert _ours(warm["opened"], app.spec.parent) == {str(app.cache.root), f"{env_dir}/.in-use"}


def test_a_warm_run_execs_the_command_and_starts_nothing_else(
    app: WarmApp, warm: dict[str, Any]
) -> None:
    [env_dir] = app.cache.env_dirs()
    assert warm["started"] == [[f"{env_dir}/bin/python", "-c", "pass"]]
    assert "reusing" in warm["stderr"]


def test_the_probe_sees_uv_yaml_and_the_pylock_on_a_cold_run(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="-c pass")

    cold = audited_run(environ, tmp_path / "cold-report.json", "run", str(spec))

    assert any(argv[0] == environ["PYLOCKENV_UV"] for argv in cold["started"])
    assert "yaml" in cold["modules"]
    assert str(tmp_path / "pylock.toml") in cold["opened"]
    assert not is_warm(cold)


# --- every input the plan was made from, changed in turn ------------------------------------


def _edit_spec(spec: Path, environ: dict[str, str]) -> None:
    spec.write_text(spec.read_text() + "# edited\n")


def _touch_pylock(spec: Path, environ: dict[str, str]) -> None:
    pylock = spec.parent / "pylock.toml"
    pylock.write_text(pylock.read_text())
    os.utime(pylock, (1_000_000_000, 1_000_000_000))


def _touch_extra(spec: Path, environ: dict[str, str]) -> None:
    [wheel] = (spec.parent / "wheels").glob("extra_app-*.whl")
    os.utime(wheel, (1_000_000_000, 1_000_000_000))


def _change_path(spec: Path, environ: dict[str, str]) -> None:
    environ["PATH"] = f"{spec.parent}:{environ['PATH']}"


def _change_home(spec: Path, environ: dict[str, str]) -> None:
    environ["HOME"] = str(spec.parent / "home")


def _replace_uv(spec: Path, environ: dict[str, str]) -> None:
    uv = spec.parent / "uv-copy"
    shutil.copy2(environ["PYLOCKENV_UV"], uv)
    environ["PYLOCKENV_UV"] = str(uv)


def _touch_prepend_path(spec: Path, env: dict[str, str]) -> None:
    os.utime(spec.parent / "tools", (1_000_000_000, 1_000_000_000))


def _change_cache_home(spec: Path, env: dict[str, str]) -> None:
    env["XDG_CACHE_HOME"] = str(spec.parent / "another-cache")


CHANGES = {
    "spec edited": _edit_spec,
    "prepend path touched": _touch_prepend_path,
    "XDG_CACHE_HOME changed": _change_cache_home,
    "pylock touched": _touch_pylock,
    "local extra touched": _touch_extra,
    "PATH changed": _change_path,
    "HOME changed": _change_home,
    "uv changed": _replace_uv,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_changed_input_sends_the_run_down_the_full_path(
    tmp_path: Path, environ: dict[str, str], change: str
) -> None:
    (tmp_path / "tools").mkdir()
    spec = make_app(
        tmp_path, command="-c pass", local_extra=True, extra_spec="prepend_paths: [tools]\n"
    )
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    assert is_warm(audited_run(environ, tmp_path / "before.json", "run", str(spec)))
    CHANGES[change](spec, environ)
    after = audited_run(environ, tmp_path / "after.json", "run", str(spec))
    assert not is_warm(after)
    again = audited_run(environ, tmp_path / "again.json", "run", str(spec))
    assert is_warm(again)  # the full path stored the plan again


def test_another_working_directory_or_name_has_a_plan_of_its_own(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="-c pass")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = audited_run(environ, tmp_path / "first.json", "run", str(spec), cwd=elsewhere)
    assert not is_warm(first)
    assert is_warm(audited_run(environ, tmp_path / "second.json", "run", str(spec), cwd=elsewhere))


@pytest.mark.usefixtures("uts_namespace")
def test_another_host_name_sends_the_run_down_the_full_path(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="-c pass")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    report = tmp_path / "other-host.json"
    script = f'hostname node-b && exec "$0" -c "$1" {report} run {spec}'
    done = subprocess.run(
        ["unshare", "-u", "sh", "-c", script, sys.executable, AUDITED_RUN],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not is_warm(json.loads(report.read_text()))


def test_a_warm_run_passes_arguments_and_the_spec_env(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="probe env", extra_spec="env:\n  GREETING: hello\n")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    warm_run = run_pylockenv(environ, "run", "-q", str(spec), "--", "a b", "--flag")
    assert warm_run.returncode == 0, warm_run.stderr
    assert warm_run.stderr == ""
    seen = probe_report(warm_run.stdout)
    assert seen["args"] == ["a b", "--flag"]
    assert seen["environ"]["GREETING"] == "hello"


def test_a_second_apply_of_a_saved_plan_is_warm(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path, command="-c pass")
    plan_file = tmp_path / "plan.json"
    made = run_pylockenv(environ, "run", str(spec), "--print-plan", "--json")
    plan_file.write_text(made.stdout)
    first = audited_run(environ, tmp_path / "first.json", "apply", str(plan_file))
    assert not is_warm(first)
    second = audited_run(environ, tmp_path / "second.json", "apply", str(plan_file))
    assert set(second["modules"]) == WARM_MODULES


# --- a kept plan is checked as apply checks a plan file, and read whatever its shape -------


def _kept_plan(cache: CacheDir) -> Path:
    [kept] = (cache.root / "plans").glob("*.plan")
    return kept


def _rewrite_plan(kept: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = marshal.loads(kept.read_bytes())
    change(document["plan"])
    kept.write_bytes(marshal.dumps(document))


def _elsewhere(tmp_path: Path) -> Callable[[dict[str, Any]], None]:
    """Point the kept plan at a ready-looking env outside the cache (marker, bin/python)."""
    victim = tmp_path / "victim"
    (victim / "bin").mkdir(parents=True)
    (victim / ".provisioned").write_text("")
    (victim / "bin" / "python").symlink_to(sys.executable)

    def change(plan: dict[str, Any]) -> None:
        old = plan["env_path"]
        for key in ("env_path", "marker_path", "lock_path", "in_use_path"):
            plan[key] = plan[key].replace(old, str(victim))
        for candidate in plan["run"]["candidates"]:
            candidate["argv"] = [word.replace(old, str(victim)) for word in candidate["argv"]]

    return change


def _other_program(plan: dict[str, Any]) -> None:
    plan["run"]["candidates"] = [{"check": "always", "path": None, "argv": ["/bin/sh", "-c", ":"]}]


@pytest.mark.parametrize("tampering", ["cache paths elsewhere", "another program"])
def test_the_warm_path_refuses_a_kept_plan_the_layout_would_not_have_made(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, tampering: str
) -> None:
    spec = make_app(tmp_path / "app", command="-c pass")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    [env_dir] = cache.env_dirs()
    change = _elsewhere(tmp_path) if tampering == "cache paths elsewhere" else _other_program
    _rewrite_plan(_kept_plan(cache), change)

    refused = audited_run(environ, tmp_path / "refused.json", "run", str(spec))

    assert not is_warm(refused)  # the full path planned it again ...
    assert refused["started"][-1] == [f"{env_dir}/bin/python", "-c", "pass"]  # ... and ran it
    assert is_warm(audited_run(environ, tmp_path / "again.json", "run", str(spec)))


@pytest.fixture(scope="module")
def pristine_plan(app: WarmApp) -> bytes:
    """The plan the cold run of `app` kept, as it kept it."""
    return _kept_plan(app.cache).read_bytes()


# A run each example (a few hundred milliseconds): enough examples to reach every part.
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_kept_plan_damaged_in_any_way_sends_the_run_down_the_full_path(
    app: WarmApp, pristine_plan: bytes, data: st.DataObject
) -> None:
    kept = _kept_plan(app.cache)
    original = pristine_plan  # a damage the warm path could still run stays on disk
    how = data.draw(st.sampled_from(["a value replaced", "truncated", "other bytes"]))
    if how == "a value replaced":
        document = marshal.loads(original)
        place = data.draw(st.sampled_from(places(document)))
        damaged = marshal.dumps(replaced(document, place, data.draw(marshal_values)))
    elif how == "truncated":
        damaged = original[: data.draw(st.integers(0, len(original) - 1))]
    else:
        damaged = data.draw(st.binary(max_size=64))
    kept.write_bytes(damaged)

    done = run_pylockenv(app.environ, "run", str(app.spec))

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "reusing" in done.stderr


# --- a run given by flags, and an app.yml's --app-* flags -----------------------------------


def _flags(root: Path) -> list[str]:
    """`run` of the probe app's command by flags, every path relative to `root` (the cwd)."""
    [extra] = (root / "wheels").glob("extra_app-*.whl")
    return [
        "run",
        "--pylock",
        "pylock.toml",
        "--command=-c pass",
        "--local-extra-dep",
        str(extra.relative_to(root)),
        "--env",
        "GREETING=hello",
        "--env=OTHER=1",
        "--prepend-path",
        "tools",
    ]


def _flags_app(root: Path) -> list[str]:
    (root / "tools").mkdir(parents=True)
    make_app(root, command="-c pass", local_extra=True)  # its spec.yml is not used
    return _flags(root)


def test_a_second_run_by_flags_is_warm(tmp_path: Path, environ: dict[str, str]) -> None:
    args = _flags_app(tmp_path)
    cold = audited_run(environ, tmp_path / "cold.json", *args, cwd=tmp_path)
    assert not is_warm(cold)

    warm_run = audited_run(environ, tmp_path / "warm.json", *args, cwd=tmp_path)

    assert set(warm_run["modules"]) == WARM_MODULES
    [env_dir] = CacheDir(tmp_path / "xdg").env_dirs()
    assert warm_run["started"] == [[f"{env_dir}/bin/python", "-c", "pass"]]
    assert "reusing" in warm_run["stderr"]


def test_a_warm_run_by_flags_passes_arguments_and_the_flags_env(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    make_app(tmp_path)
    args = ["run", "--pylock", "pylock.toml", "--command", "probe env", "--env", "GREETING=hi"]
    assert run_pylockenv(environ, *args, cwd=tmp_path).returncode == 0
    assert is_warm(audited_run(environ, tmp_path / "warm.json", *args, cwd=tmp_path))
    warm_run = run_pylockenv(environ, "-q", *args, "--", "a b", "--flag", cwd=tmp_path)
    assert warm_run.returncode == 0, warm_run.stderr
    assert warm_run.stderr == ""
    seen = probe_report(warm_run.stdout)
    assert seen["args"] == ["a b", "--flag"]
    assert seen["environ"]["GREETING"] == "hi"


def _flag_changed(flag: str, value: str) -> Callable[[list[str]], list[str]]:
    def change(args: list[str]) -> list[str]:
        at = args.index(flag) + 1
        return [*args[:at], value, *args[at + 1 :]]

    return change


def _flag_added(*words: str) -> Callable[[list[str]], list[str]]:
    return lambda args: [*args, *words]


def _envs_swapped(args: list[str]) -> list[str]:
    at = args.index("--env")
    return [*args[:at], "--env=OTHER=1", "--env", "GREETING=hello", *args[at + 3 :]]


# Each changes the command line: another plan, kept under a name of its own.
FLAG_CHANGES: dict[str, Callable[[list[str]], list[str]]] = {
    "--env's value": _flag_changed("--env", "GREETING=bye"),
    "--env given in another order": _envs_swapped,
    "--command's value": lambda args: [w.replace("-c pass", "-c pass;") for w in args],
    "--python-version added": _flag_added("--python-version", PY_VERSION),
    "--prepend-path given twice": _flag_added("--prepend-path", "tools"),
    "--prepend-path's value": _flag_changed("--prepend-path", "./tools"),
}


@pytest.mark.parametrize("change", sorted(set(CHANGES) - {"spec edited"}))
def test_any_changed_input_sends_a_run_by_flags_down_the_full_path(
    tmp_path: Path, environ: dict[str, str], change: str
) -> None:
    args = _flags_app(tmp_path)
    assert run_pylockenv(environ, *args, cwd=tmp_path).returncode == 0
    assert is_warm(audited_run(environ, tmp_path / "before.json", *args, cwd=tmp_path))
    CHANGES[change](tmp_path / "spec.yml", environ)
    after = audited_run(environ, tmp_path / "after.json", *args, cwd=tmp_path)
    assert not is_warm(after)
    assert is_warm(audited_run(environ, tmp_path / "again.json", *args, cwd=tmp_path))


@pytest.mark.parametrize("change", sorted(FLAG_CHANGES))
def test_another_flag_or_value_has_a_plan_of_its_own(
    tmp_path: Path, environ: dict[str, str], change: str
) -> None:
    args = _flags_app(tmp_path)
    assert run_pylockenv(environ, *args, cwd=tmp_path).returncode == 0
    assert is_warm(audited_run(environ, tmp_path / "before.json", *args, cwd=tmp_path))
    changed = FLAG_CHANGES[change](args)
    after = audited_run(environ, tmp_path / "after.json", *changed, cwd=tmp_path)
    assert not is_warm(after)
    assert is_warm(audited_run(environ, tmp_path / "again.json", *changed, cwd=tmp_path))
    assert is_warm(audited_run(environ, tmp_path / "first.json", *args, cwd=tmp_path))


def test_a_run_by_flags_in_another_working_directory_is_planned_there(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    args = _flags_app(tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    assert run_pylockenv(environ, *args, cwd=tmp_path / "one").returncode == 0
    # The same relative flags name other files there: another env, another plan.
    there = audited_run(environ, tmp_path / "there.json", *args, cwd=tmp_path / "two")
    assert not is_warm(there)
    assert len(CacheDir(tmp_path / "xdg").env_dirs()) == 2
    assert is_warm(audited_run(environ, tmp_path / "again.json", *args, cwd=tmp_path / "two"))
    assert is_warm(audited_run(environ, tmp_path / "back.json", *args, cwd=tmp_path / "one"))


APP_YML = """\
bfabric: {app_runner: "0.9.1"}
versions:
  - version: ["1.0", "1.1"]
    commands:
      dispatch: {type: exec, command: "dispatch.sh"}
      process:
        type: python_env
        pylock: pylock.toml
        command: "probe env"
        env: {PROBE_APP: "${app.version} ${app.name} ${app.id}"}
"""


def test_an_app_yml_run_with_its_flags_is_warm_for_those_flags_only(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    make_app(tmp_path)
    (tmp_path / "app.yml").write_text(APP_YML)
    one = ["run", str(tmp_path / "app.yml"), "process", "--app-version", "1.0", "--app-id=7"]
    one += ["--app-name", "x"]
    other = [*one[:4], "1.1", "--app-name", "y", one[5]]
    assert run_pylockenv(environ, *one).returncode == 0
    assert is_warm(audited_run(environ, tmp_path / "one.json", *one))
    assert not is_warm(audited_run(environ, tmp_path / "other.json", *other))
    warm_other = run_pylockenv(environ, *other)
    assert probe_report(warm_other.stdout)["environ"]["PROBE_APP"] == "1.1 y 7"
    warm_one = audited_run(environ, tmp_path / "one-again.json", *one)
    assert is_warm(warm_one)
    (tmp_path / "app.yml").write_text(APP_YML.replace("${app.id}", "id ${app.id}"))
    assert not is_warm(audited_run(environ, tmp_path / "edited.json", *one))


def test_the_warm_path_says_the_shell_syntax_warning_unless_quiet(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="-c pass | cat")
    cold = run_pylockenv(environ, "run", str(spec))
    [cold_warning] = [line for line in cold.stderr.splitlines() if "warning" in line]
    warm_run = audited_run(environ, tmp_path / "warm.json", "run", str(spec))
    assert is_warm(warm_run)
    [warning] = [line for line in warm_run["stderr"].splitlines() if "warning" in line]
    assert warning == cold_warning
    assert warning.startswith(f"pylockenv: warning: {spec}: command: '|' is passed as an")
    quiet = audited_run(environ, tmp_path / "quiet.json", "run", "-q", str(spec))
    assert is_warm(quiet)
    assert quiet["stderr"] == ""


# --- the warm path reads a command line as the full path's parser does ---------------------

_VALUES = st.sampled_from(
    [
        *("p", "", "A=1", "x y", "-m app", "-c x=1", "-q x", "-v y", "-h z", "-V w", "--x y"),
        *("-1", "-1 2", "-", "-q", "--", "spec.yml", "run", "--pylock", "a b=c", "=", "-x=1 y"),
    ]
)
_FLAGS = st.sampled_from([flag for _, flags in WARM_FORMS.values() for flag in flags])
_NOISE = st.sampled_from(["--pyl", "--refresh", "--uv", "-qv", "--json", "--lock-timeout", "-"])
_ITEM = st.one_of(
    st.tuples(_FLAGS, _VALUES).map(list),  # --flag value
    st.tuples(_FLAGS, _VALUES).map(lambda pair: ["=".join(pair)]),  # --flag=value
    st.sampled_from(["-q", "-v", "--quiet", "--verbose"]).map(lambda word: [word]),
    _VALUES.map(lambda word: [word]),  # a positional, or a stray value
    _NOISE.map(lambda word: [word]),
)


@st.composite
def _command_lines(draw: st.DrawFn) -> list[str]:
    """Command lines near the warm forms: global flags, a verb, items, maybe `-- ARGS`."""
    before = draw(st.lists(st.sampled_from(["-q", "-v", "--quiet"]), max_size=2))
    verb = draw(st.sampled_from([*WARM_FORMS, "show"]))
    items = [word for item in draw(st.lists(_ITEM, max_size=7)) for word in item]
    after = draw(st.none() | st.lists(_VALUES, max_size=2))
    return [*before, verb, *items, *([] if after is None else ["--", *after])]


def _full_parse(argv: list[str]) -> tuple[Any, list[str]] | None:
    """What the full path's parser reads from `argv`: its namespace and the command's
    arguments; None when it refuses the command line."""
    import contextlib
    import io

    from pylockenv.shell.cli import _check_global_options, _split_command_args, build_parser

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            named, own, command_args = _split_command_args(argv)
            if named is None:
                return None
            parser, parsers = build_parser({named.name: named})
            ns, unknown = parser.parse_known_args(own)
            if unknown:
                return None
            _check_global_options(named, ns, parsers[named.name])
        except SystemExit:
            return None
    return ns, command_args


@settings(max_examples=1500, deadline=None)
@given(argv=_command_lines())
def test_a_command_line_the_warm_path_reads_is_read_alike_by_the_full_parser(
    argv: list[str],
) -> None:
    warm_reading = parse_warm_arguments(argv)
    full = _full_parse(argv)
    if warm_reading is None or full is None:
        return  # the full path reads it (and keeps its plan under the full path's reading)
    verb, positionals, given_words, quiet, extra = warm_reading
    ns, command_args = full
    assert ns.subcommand == verb
    names = ("spec", "name") if verb == "run" else ("plan_file",)
    read = [getattr(ns, name) for name in names]
    assert read == [*positionals, *[None] * (len(names) - len(positionals))]
    assert given_flags(verb, ns) == given_words
    assert bool(getattr(ns, "quiet", False)) == quiet
    assert command_args == extra


def test_the_warm_path_reads_the_forms_it_is_for() -> None:
    flags = ["run", "--pylock", "p", "--command", "-m app", "--env=A=1", "--env", "B=2", "-q"]
    assert parse_warm_arguments([*flags, "--", "x"]) == (
        "run",
        [],
        ["--pylock", "p", "--command", "-m app", "--env", "A=1", "--env", "B=2"],
        True,
        ["x"],
    )
    app = ["-v", "run", "app.yml", "process", "--app-version", "1.0"]
    assert parse_warm_arguments(app) == (
        "run",
        ["app.yml", "process"],
        ["--app-version", "1.0"],
        False,
        [],
    )
    for refused in (
        ["run", "--pylock", "p", "--pylock", "q"],  # given twice: argparse keeps the last
        ["run", "--command", "-q"],  # an option to argparse
        ["run", "--command", "-q x"],  # -q with its value, to argparse
        ["run", "--uv", "u", "spec.yml"],
        ["run"],
        ["apply", "plan.json", "--env", "A=1"],
    ):
        assert parse_warm_arguments(refused) is None, refused


# --- runs of one command line at once: one plans and provisions, the others wait lightly ----


def _audited_crowd(
    environ: Mapping[str, str], tmp_path: Path, args: list[str], count: int
) -> list[dict[str, Any]]:
    """Start `count` audited runs of `pylockenv ARGS` at once; what each saw, once all end."""
    reports = [tmp_path / f"crowd-{i}.json" for i in range(count)]
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", AUDITED_RUN, str(report), *args],
            env=dict(environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for report in reports
    ]
    outcomes = [(job.communicate(timeout=120)[1], job.returncode) for job in jobs]
    assert [code for _, code in outcomes] == [0] * count, outcomes
    seen = [json.loads(report.read_text()) for report in reports]
    for each, (stderr, _) in zip(seen, outcomes, strict=True):
        each["stderr"] = stderr
    return seen


def test_runs_of_one_command_line_at_once_load_the_full_path_once(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="-c pass", local_extra=True)

    crowd = _audited_crowd(environ, tmp_path, ["run", str(spec)], 4)

    full = [seen for seen in crowd if not is_warm(seen)]
    assert len(full) == 1  # the one that planned and provisioned ...
    waited = [seen for seen in crowd if is_warm(seen)]
    assert all(set(seen["modules"]) == WARM_MODULES for seen in waited)  # ... the rest ran warm
    [env_dir] = CacheDir(tmp_path / "xdg").env_dirs()
    assert all(seen["started"][-1] == [f"{env_dir}/bin/python", "-c", "pass"] for seen in crowd)
    said = [seen for seen in waited if "waiting for another pylockenv" in seen["stderr"]]
    assert all("reusing" in seen["stderr"] for seen in said)


@pytest.mark.parametrize("quiet", [False, True], ids=["said", "quiet"])
def test_a_run_waiting_for_the_plan_lock_says_so_and_goes_on_when_it_is_free(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, quiet: bool
) -> None:
    spec = make_app(tmp_path / "app", command="-c pass")
    key = kept_plan_key(kept_plan_words("run", str(spec), None, str(tmp_path), user=os.getuid()))
    plans = cache.root / "plans"
    plans.mkdir(parents=True)
    lock = plans / f"{key}.plan.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "1"])  # as a run making the plan
    try:
        while not lock.exists():
            pass
        done = run_pylockenv(environ, *(["-q"] if quiet else []), "run", str(spec), cwd=tmp_path)
    finally:
        holder.wait()
    assert done.returncode == 0, done.stderr
    if quiet:
        assert done.stderr == ""
    else:
        said = done.stderr.splitlines()[0]
        assert said == (
            "pylockenv: waiting for another pylockenv that runs the same command to make its "
            f"env ready ({lock})"
        )


def test_a_run_waiting_for_the_plan_lock_can_be_interrupted(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    import signal
    import time

    spec = make_app(tmp_path / "app", command="-c pass")
    key = kept_plan_key(kept_plan_words("run", str(spec), None, str(tmp_path), user=os.getuid()))
    plans = cache.root / "plans"
    plans.mkdir(parents=True)
    lock = plans / f"{key}.plan.lock"
    holder = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        while not lock.exists():
            time.sleep(0.01)
        waiting = subprocess.Popen(
            pylockenv_argv("run", str(spec)),
            env=environ,
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stderr is not None
        assert "waiting for another pylockenv" in waiting.stderr.readline()
        waiting.send_signal(signal.SIGINT)
        rest = waiting.communicate(timeout=30)[1]
    finally:
        holder.kill()
        holder.wait()
    assert waiting.returncode == 130
    assert rest == "pylockenv: interrupted\n"
