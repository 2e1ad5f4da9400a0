"""uv does what the plan says, nothing else: no configuration file it finds, no uv setting
off the allow-list (`core.provisioning.uv_setting_kept`), files copied into the env.

The shell's tests run the real uv on real files: a pyproject.toml with
`[tool.uv.pip] target = ...` in the working directory, a uv.toml in a parent, a
user's uv.toml, a UV_CONFIG_FILE, and UV_LINK_MODE=symlink from the caller and the spec.
Each would have sent the install elsewhere (or made the env links into a uv cache) and
an empty env would have been marked ready.
"""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import attrs
import pytest
from builders import EXTRA_VERSION, build_wheel, make_app, probe_report
from harness import NODE7, REAL_UV, CacheDir, run_pylockenv, write_uv_wrapper
from hypothesis import given
from hypothesis import strategies as st

from pylockenv.core import FileFact, load_spec, plan
from pylockenv.core.lock_contents import Wanted, missing, wanted_from_extra, wanted_from_lock
from pylockenv.core.provisioning import UV_STEP_FLAGS, isolated_argv, uv_setting_kept

TARGET_CONFIG = '[pip]\ntarget = "{target}"\n'
PYPROJECT_TARGET = (
    '[project]\nname = "caller"\nversion = "1"\n\n[tool.uv.pip]\ntarget = "{target}"\n'
)


def _env_site_packages(env: Path) -> Path:
    [site] = env.glob("lib/python*/site-packages")
    return site


def _run_probe(environ: dict[str, str], spec: Path, cwd: Path) -> dict[str, object]:
    done = run_pylockenv(environ, "run", str(spec), cwd=cwd)
    assert done.returncode == 0, done.stderr
    return probe_report(done.stdout)


def test_a_pyproject_with_a_uv_pip_target_in_the_working_directory_is_not_read(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    del environ["UV_NO_CONFIG"]  # the harness's own guard; pylockenv must not need it
    spec = make_app(tmp_path / "app")
    target, parent_target = tmp_path / "target", tmp_path / "parent-target"
    work = tmp_path / "parent" / "work"
    work.mkdir(parents=True)
    (work / "pyproject.toml").write_text(PYPROJECT_TARGET.format(target=target))
    (work.parent / "uv.toml").write_text(TARGET_CONFIG.format(target=parent_target))

    report = _run_probe(environ, spec, work)

    assert not target.exists()
    assert not parent_target.exists()
    assert (_env_site_packages(Path(str(report["prefix"]))) / "probe_app.py").is_file()


def test_uv_config_file_and_the_users_uv_toml_are_not_read(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    del environ["UV_NO_CONFIG"]
    spec = make_app(tmp_path / "app")
    by_variable, by_user = tmp_path / "by-variable", tmp_path / "by-user"
    config = tmp_path / "config.toml"
    config.write_text(TARGET_CONFIG.format(target=by_variable))
    user_config = tmp_path / "xdg-config" / "uv" / "uv.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(TARGET_CONFIG.format(target=by_user))
    environ.update(UV_CONFIG_FILE=str(config), XDG_CONFIG_HOME=str(tmp_path / "xdg-config"))

    report = _run_probe(environ, spec, tmp_path)

    assert not by_variable.exists()
    assert not by_user.exists()
    assert (_env_site_packages(Path(str(report["prefix"]))) / "probe_app.py").is_file()
    # The command itself still sees the caller's environment, UV_CONFIG_FILE included.
    environ_seen = report["environ"]
    assert isinstance(environ_seen, dict)
    assert environ_seen["UV_CONFIG_FILE"] == str(config)


@pytest.mark.parametrize("where", ["caller", "spec"])
def test_uv_link_mode_symlink_gives_an_env_of_copies(
    tmp_path: Path, environ: dict[str, str], where: str
) -> None:
    extra = "\nenv:\n  UV_LINK_MODE: symlink\n" if where == "spec" else ""
    spec = make_app(tmp_path / "app", extra_spec=extra)
    if where == "caller":
        environ["UV_LINK_MODE"] = "symlink"

    report = _run_probe(environ, spec, tmp_path)

    installed = _env_site_packages(Path(str(report["prefix"]))) / "probe_app.py"
    st = installed.lstat()
    assert stat.S_ISREG(st.st_mode), "a link into the uv cache"
    assert st.st_nlink == 1, "a hard link into the uv cache (not a copy)"


def test_uv_gets_the_allowed_settings_and_none_of_the_others(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    log = tmp_path / "uv.log"
    wrapper = write_uv_wrapper(tmp_path / "bin", log=log)
    # The wrapper logs its arguments; a line more logs the uv settings it was given.
    text = wrapper.read_text().replace(
        "exec ", f'env | grep ^UV_ | sort | sed "s/^/ENV /" >> "{log}"\nexec ', 1
    )
    wrapper.write_text(text)
    environ.update(
        PYLOCKENV_UV=str(wrapper),
        UV_VENV_CLEAR="1",
        UV_SYSTEM_PYTHON="1",
        UV_BREAK_SYSTEM_PACKAGES="1",
        UV_PYTHON_PREFERENCE="only-managed",
        UV_COMPILE_BYTECODE="1",
        UV_INDEX_URL="https://index.example/simple",
        UV_INDEX_LAB_PASSWORD="secret",
    )
    spec = make_app(tmp_path / "app", extra_spec="env:\n  UV_CONSTRAINT: /nonexistent.txt\n")

    _run_probe(environ, spec, tmp_path)

    # Each call's line, then the uv settings it had; `uv --version` is not a uv step.
    calls: list[str] = []
    seen: set[str] = set()
    call = ""
    for line in log.read_text().splitlines():
        if not line.startswith("ENV "):
            call = line
            calls.append(call)
        elif call.startswith(("venv", "pip install")):
            seen.add(line.split()[1].split("=")[0])
    assert len([call for call in calls if call.startswith(("venv", "pip install"))]) == 2
    for call in calls:
        if call.startswith(("venv", "pip install")):
            assert " --no-config --link-mode copy " in f" {call} ", call
    assert {"UV_INDEX_URL", "UV_INDEX_LAB_PASSWORD", "UV_CACHE_DIR", "UV_OFFLINE"} <= seen
    refused = {
        "UV_VENV_CLEAR",
        "UV_SYSTEM_PYTHON",
        "UV_BREAK_SYSTEM_PACKAGES",
        "UV_PYTHON_PREFERENCE",
        "UV_COMPILE_BYTECODE",
        "UV_CONSTRAINT",
        "UV_NO_CONFIG",
    }
    assert not seen & refused


# The decision, in core.

NEVER_TO_UV = [
    "UV_VENV_CLEAR",
    "UV_CONFIG_FILE",
    "UV_NO_CONFIG",
    "UV_LINK_MODE",
    "UV_SYSTEM_PYTHON",
    "UV_BREAK_SYSTEM_PACKAGES",
    "UV_PYTHON",
    "UV_PYTHON_PREFERENCE",
    "UV_COMPILE_BYTECODE",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_EXCLUDE_NEWER",
    "UV_NO_BUILD_ISOLATION",
    "UV_SOME_FUTURE_SETTING",
]
ALWAYS_TO_UV = [
    "UV_CACHE_DIR",
    "UV_OFFLINE",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX_STRATEGY",
    "UV_INDEX_MYCORP_USERNAME",
    "UV_INDEX_MYCORP_PASSWORD",
    "UV_NATIVE_TLS",
    "UV_PYTHON_DOWNLOADS",
    "SSL_CERT_FILE",
    "HTTPS_PROXY",
    "PATH",
]


@pytest.mark.parametrize("name", NEVER_TO_UV)
def test_uv_settings_that_change_where_or_what_uv_installs_never_reach_it(name: str) -> None:
    assert not uv_setting_kept(name)


@pytest.mark.parametrize("name", ALWAYS_TO_UV)
def test_index_certificate_cache_and_offline_settings_reach_uv(name: str) -> None:
    assert uv_setting_kept(name)


def test_every_step_of_a_plan_reads_no_config_and_copies() -> None:
    wheel = "/srv/x-1-py3-none-any.whl"
    facts = attrs.evolve(
        NODE7,
        files={
            "/srv/pylock.toml": FileFact(kind="file", mtime=1.0, size=10),
            wheel: FileFact(kind="file", mtime=2.0, size=5),
        },
    )
    document = {
        "command": "probe",
        "pylock": "pylock.toml",
        "local_extra_deps": [wheel],
        "env": {"UV_LINK_MODE": "symlink", "UV_INDEX_URL": "https://i/simple"},
    }
    spec = load_spec(document, "spec.yml", None, "/srv")
    made = plan(spec, facts)
    for step in made.steps:
        subcommand = step.argv[1:3] if step.argv[1] == "pip" else step.argv[1:2]
        after = step.argv[1 + len(subcommand) : 1 + len(subcommand) + len(UV_STEP_FLAGS)]
        assert after == UV_STEP_FLAGS, step.argv
        assert step.env.set_env == {"UV_INDEX_URL": "https://i/simple"}
    assert made.run.env.set_env["UV_LINK_MODE"] == "symlink"  # the command's env is the spec's


def test_isolated_argv_puts_the_flags_after_the_subcommand() -> None:
    assert isolated_argv(("/uv", "venv", "-p", "3.11", "/e")) == (
        "/uv", "venv", *UV_STEP_FLAGS, "-p", "3.11", "/e"
    )  # fmt: skip
    assert isolated_argv(("/uv", "pip", "install", "-r", "p")) == (
        "/uv", "pip", "install", *UV_STEP_FLAGS, "-r", "p"
    )  # fmt: skip


# Check before marking ready: the env holds what the lock asked for on its Python.


def _uv_that_installs_nothing(tmp_path: Path) -> Path:
    """A uv whose `pip install` exits 0 having done nothing (as uv did when a config file
    sent the install elsewhere)."""
    wrapper = tmp_path / "bin" / "uv-lazy"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in "pip install"*) exit 0;; esac\nexec "{REAL_UV}" "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def test_an_install_that_exits_0_but_installs_nothing_is_never_marked_ready(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app", local_extra=True)
    environ["PYLOCKENV_UV"] = str(_uv_that_installs_nothing(tmp_path))

    done = run_pylockenv(environ, "run", str(spec))

    assert done.returncode == 125, done.stderr
    assert "failed its check before being marked ready" in done.stderr
    assert "probe-app 1.0 (packages[0]): not installed" in done.stderr
    assert f"extra-app {EXTRA_VERSION} (local extra " in done.stderr
    assert "Traceback" not in done.stderr
    assert cache.env_dirs() == []  # removed, not left half-made


def test_a_package_at_another_version_than_the_lock_pins_fails_the_provisioning(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app")
    (tmp_path / "older").mkdir()
    older = build_wheel(tmp_path / "older", "probe-app", "0.9")
    wrapper = tmp_path / "bin" / "uv-swapping"
    wrapper.parent.mkdir(parents=True)
    # After the lock's install, the probe is replaced by its 0.9 (as a stale or wrong
    # install would leave it).
    wrapper.write_text(
        "#!/bin/sh\n"
        f'"{REAL_UV}" "$@" || exit $?\n'
        'case "$*" in *" -r "*) '
        f' for a in "$@"; do case "$a" in */bin/python) py="$a";; esac; done;'
        f' "{REAL_UV}" pip install --no-config -q -p "$py" --no-deps --reinstall "{older}";;\n'
        "esac\n"
    )
    wrapper.chmod(0o755)
    environ["PYLOCKENV_UV"] = str(wrapper)

    done = run_pylockenv(environ, "run", str(spec))

    assert done.returncode == 125, done.stderr
    assert "probe-app 1.0 (packages[0]): installed is 0.9" in done.stderr
    assert cache.env_dirs() == []


def test_the_marker_records_what_the_env_held_when_it_was_marked_ready(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path / "app", local_extra=True)
    done = run_pylockenv(environ, "provision", str(spec))
    assert done.returncode == 0, done.stderr
    [env] = cache.env_dirs()
    provenance = json.loads((env / ".provisioned").read_text())
    assert provenance["format"] == 2
    assert {"name": "probe-app", "version": "1.0"} in provenance["installed"]
    assert {"name": "extra-app", "version": EXTRA_VERSION} in provenance["installed"]


def test_a_lock_package_whose_marker_does_not_apply_is_not_asked_for(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app")
    pylock = spec.parent / "pylock.toml"
    windows_only = build_wheel(spec.parent / "wheels", "windows-only", "3.0")
    digest = hashlib.sha256(windows_only.read_bytes()).hexdigest()
    pylock.write_text(
        pylock.read_text()
        + '\n[[packages]]\nname = "windows-only"\nversion = "3.0"\n'
        + "marker = \"sys_platform == 'win32'\"\n"
        + f'wheels = [{{ name = "{windows_only.name}", path = "wheels/{windows_only.name}", '
        + f'hashes = {{ sha256 = "{digest}" }} }}]\n'
    )
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 0, done.stderr


# The decisions, in core (no uv).

LINUX_311 = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.11.7",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "sys_platform": "linux",
}

PYLOCK = """\
lock-version = "1.0"
created-by = "test"
default-groups = ["main"]

[[packages]]
name = "Always_There"
version = "1.0"

[[packages]]
name = "win"
version = "2"
marker = "sys_platform == 'win32'"

[[packages]]
name = "old-python"
version = "3"
requires-python = "<3.8"

[[packages]]
name = "in-main"
version = "4"
marker = "'main' in dependency_groups"

[[packages]]
name = "in-dev"
marker = "'dev' in dependency_groups"

[[packages]]
name = "with-extra"
marker = "'gpu' in extras"

[[packages]]
name = "unversioned"
"""


def test_the_lock_asks_for_the_packages_whose_markers_hold_on_the_envs_python() -> None:
    wanted = wanted_from_lock(PYLOCK, "pylock", LINUX_311)
    assert [(w.name, w.version, w.origin) for w in wanted] == [
        ("always-there", "1.0", "packages[0]"),
        ("in-main", "4", "packages[3]"),
        ("unversioned", None, "packages[6]"),
    ]


def test_a_requirements_file_asks_for_each_named_line_and_pins_only_one_equals() -> None:
    text = (
        "# a comment\n"
        "--index-url https://example/simple\n"
        "alpha==1.2 \\\n"
        "    --hash=sha256:0000\n"
        "beta>=2  # not a pin\n"
        "gamma==3.0; sys_platform == 'win32'\n"
        "delta @ https://example/delta-1.0.tar.gz\n"
        "-e ./local\n"
        "epsilon==1.*\n"
    )
    wanted = wanted_from_lock(text, "requirements", LINUX_311)
    assert [(w.name, w.version, w.origin) for w in wanted] == [
        ("alpha", "1.2", "line 3"),
        ("beta", None, "line 5"),
        ("delta", None, "line 7"),
        ("epsilon", None, "line 9"),
    ]


@pytest.mark.parametrize(
    ("path", "project", "expected"),
    [
        ("/w/My_App-1.0-py3-none-any.whl", None, ("my-app", "1.0")),
        ("/w/tool-2.0.tar.gz", None, ("tool", "2.0")),
        ("/src/plugin", "Plugin.Name", ("plugin-name", None)),
        ("/src/setup-py-only", None, None),
        ("/w/not-a-wheel.whl", None, None),
    ],
)
def test_a_local_extra_is_asked_for_by_what_its_name_or_project_says(
    path: str, project: str | None, expected: tuple[str, str | None] | None
) -> None:
    wish = wanted_from_extra(path, project_name=project)
    assert (None if wish is None else (wish.name, wish.version)) == expected


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True),
        st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True),
        min_size=1,
        max_size=8,
    ),
    st.data(),
)
def test_an_env_lacks_exactly_what_was_taken_out_of_it(
    pins: dict[str, str], data: st.DataObject
) -> None:
    wanted = tuple(Wanted(name=n, version=v, origin=f"p[{n}]") for n, v in pins.items())
    assert missing(wanted, pins) == ()
    gone = data.draw(st.sampled_from(sorted(pins)))
    changed = data.draw(st.sampled_from(sorted(pins)))
    installed = {n: v for n, v in pins.items() if n != gone}
    if changed != gone:
        installed[changed] = pins[changed] + ".1"
    problems = missing(wanted, installed)
    assert f"{gone} {pins[gone]} (p[{gone}]): not installed" in problems
    expected = 1 if changed == gone else 2
    assert len(problems) == expected
    if changed != gone:
        assert (
            f"{changed} {pins[changed]} (p[{changed}]): installed is {pins[changed]}.1" in problems
        )


def test_versions_compare_as_versions_and_names_as_pep_503_names() -> None:
    wanted = (Wanted(name="foo-bar", version="1.0", origin="packages[0]"),)
    assert missing(wanted, {"foo-bar": "1.0.0"}) == ()
