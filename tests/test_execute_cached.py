"""Running commands in cached environments with the real uv: cold, warm, what the child sees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from envtools import (
    cli,
    env_dirs,
    make_app,
    pylockenv_argv,
    run_env,
    uv_calls,
    write_uv_wrapper,
)


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


def child_report(stdout: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return report


def test_cold_run_provisions_the_env_and_runs_the_command_in_it(
    tmp_path: Path, uv_cache: Path
) -> None:
    spec = make_app(tmp_path)
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == 0, result.stderr
    [env_dir] = env_dirs(tmp_path)
    assert (env_dir / ".provisioned").is_file()
    assert child_report(result.stdout)["prefix"] == str(env_dir)
    assert "provisioning" in result.stderr
    assert "install-pylock" in result.stderr


def test_warm_run_starts_no_uv(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path)
    log = tmp_path / "uv.log"
    env = run_env(tmp_path, uv_cache, uv=str(write_uv_wrapper(tmp_path / "bin", log=log)))
    assert cli(env, "run", str(spec)).returncode == 0
    assert uv_calls(log, "venv")
    log.unlink()
    warm = cli(env, "run", str(spec))
    assert warm.returncode == 0, warm.stderr
    assert uv_calls(log) == []
    assert "reusing" in warm.stderr


def test_warm_run_does_not_read_the_pylock(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path)
    env = run_env(tmp_path, uv_cache)
    assert cli(env, "run", str(spec)).returncode == 0
    pylock = tmp_path / "pylock.toml"
    stat = pylock.stat()
    pylock.write_text("this is [not toml\n")
    os.utime(pylock, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: same env hash
    warm = cli(env, "run", str(spec))
    assert warm.returncode == 0, warm.stderr


def test_warm_execute_does_not_import_filelock(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path)
    env = run_env(tmp_path, uv_cache)
    assert cli(env, "run", str(spec)).returncode == 0
    check = (
        "import sys; from pylockenv.shell import execute, load, plan;"
        " code = execute(plan(load(sys.argv[1])));"
        " assert 'filelock' not in sys.modules, 'filelock imported'; sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(spec)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_local_extra_deps_are_installed(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, local_extra=True)
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert child_report(result.stdout)["extra"] == "2.5"
    assert "install-local-extras" in result.stderr


def test_child_sees_env_bin_then_prepend_paths_first_on_path_and_the_spec_env(
    tmp_path: Path, uv_cache: Path
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    spec = make_app(
        tmp_path, extra_spec=f"prepend_paths:\n  - {tools}\nenv:\n  GREETING: hello there\n"
    )
    env = run_env(tmp_path, uv_cache, PATH="/usr/bin:/bin")
    result = cli(env, "run", str(spec))
    assert result.returncode == 0, result.stderr
    [env_dir] = env_dirs(tmp_path)
    environ = child_report(result.stdout)["environ"]
    assert environ["PATH"] == f"{env_dir}/bin:{tools}:/usr/bin:/bin"
    assert environ["GREETING"] == "hello there"


def test_console_script_runs_directly(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe env")
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    [env_dir] = env_dirs(tmp_path)
    assert child_report(result.stdout)["argv0"] == f"{env_dir}/bin/probe"


def test_dash_m_command_runs_with_the_env_python(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="-m probe_app env")
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == 0, result.stderr
    report = child_report(result.stdout)
    assert report["argv0"].endswith("probe_app.py")
    assert report["prefix"] == str(env_dirs(tmp_path)[0])


def test_arguments_after_double_dash_are_appended(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe env")
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec), "--", "a b", "--flag")
    assert child_report(result.stdout)["args"] == ["a b", "--flag"]


def test_command_exit_status_passes_through(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 3")
    assert cli(run_env(tmp_path, uv_cache), "run", str(spec)).returncode == 3


def test_command_killed_by_a_signal_kills_the_run_with_it(tmp_path: Path, uv_cache: Path) -> None:
    # The CLI execs the command: its death by a signal is the process's own, and a shell
    # reports it as 128+N.
    spec = make_app(tmp_path, command=f"probe kill-self {int(signal.SIGUSR1)}")
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == -signal.SIGUSR1
    shell = subprocess.run(
        ["sh", "-c", '"$@"; echo "status $?"', "sh", *pylockenv_argv("run", str(spec))],
        env=run_env(tmp_path, uv_cache),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.stdout.endswith(f"status {128 + signal.SIGUSR1}\n")


def test_unknown_command_exits_127_with_a_message(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="no-such-tool --x")
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == 127
    assert "'no-such-tool' is neither a console script" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_that_is_not_executable_exits_126(tmp_path: Path, uv_cache: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("not a program\n")
    spec = make_app(tmp_path, command=str(data))
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    assert result.returncode == 126
    assert f"cannot execute {data}" in result.stderr


def test_normal_output_hides_uv_warnings_and_verbose_shows_them(
    tmp_path: Path, uv_cache: Path
) -> None:
    spec = make_app(tmp_path, refresh=True)
    env = run_env(tmp_path, uv_cache)
    normal = cli(env, "run", str(spec))
    verbose = cli(env, "run", "-v", str(spec))
    assert "experimental" not in normal.stderr
    assert "experimental" in verbose.stderr
    assert "Installed 1 package" in verbose.stderr


def test_quiet_prints_nothing_but_the_command_output(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    result = cli(run_env(tmp_path, uv_cache), "run", "-q", str(spec))
    assert result.returncode == 0
    assert result.stderr == ""


def test_progress_names_the_env_each_step_with_its_duration_and_the_total(
    tmp_path: Path, uv_cache: Path
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    result = cli(run_env(tmp_path, uv_cache), "run", str(spec))
    [env_dir] = env_dirs(tmp_path)
    lines = result.stderr.splitlines()
    assert lines[0] == f"pylockenv: env {env_dir.name}: provisioning {env_dir}"
    assert lines[1].startswith("pylockenv:   create-venv ")
    assert lines[1].endswith("s")
    assert lines[-1].startswith(f"pylockenv: env {env_dir.name}: ready in ")


def test_provision_prepares_the_env_and_prints_its_path(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 5")
    env = run_env(tmp_path, uv_cache)
    result = cli(env, "provision", str(spec))
    assert result.returncode == 0, result.stderr
    [env_dir] = env_dirs(tmp_path)
    assert result.stdout == f"{env_dir}\n"
    assert (env_dir / ".provisioned").is_file()


def test_marker_records_provenance_as_json(tmp_path: Path, uv_cache: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    assert cli(run_env(tmp_path, uv_cache), "provision", str(spec)).returncode == 0
    [env_dir] = env_dirs(tmp_path)
    record = json.loads((env_dir / ".provisioned").read_text())
    assert record["env_hash"] == env_dir.name
