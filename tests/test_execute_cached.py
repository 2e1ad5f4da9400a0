"""Running commands in cached environments with the real uv: cold, warm, what the child sees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from builders import EXTRA_VERSION, make_app, probe_report
from harness import CacheDir, pylockenv_argv, run_pylockenv, uv_calls, write_uv_wrapper


def test_cold_run_provisions_the_env_and_runs_the_command_in_it(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path)
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    [env_dir] = cache.env_dirs()
    assert (env_dir / ".provisioned").is_file()
    assert probe_report(result.stdout)["prefix"] == str(env_dir)
    assert "provisioning" in result.stderr
    assert "install-pylock" in result.stderr


def test_warm_run_starts_no_uv(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path)
    log = tmp_path / "uv.log"
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "bin", log=log))
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    assert uv_calls(log, "venv")
    log.unlink()
    warm = run_pylockenv(environ, "run", str(spec))
    assert warm.returncode == 0, warm.stderr
    assert uv_calls(log) == []
    assert "reusing" in warm.stderr


def test_warm_run_does_not_read_the_pylock(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path)
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    pylock = tmp_path / "pylock.toml"
    stat = pylock.stat()
    pylock.write_text("this is [not toml\n")
    os.utime(pylock, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime: same env hash
    warm = run_pylockenv(environ, "run", str(spec))
    assert warm.returncode == 0, warm.stderr


def test_warm_execute_does_not_import_filelock(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path)
    assert run_pylockenv(environ, "run", str(spec)).returncode == 0
    check = (
        "import sys; from pylockenv.shell import execute, load, plan;"
        " code = execute(plan(load(sys.argv[1])));"
        " assert 'filelock' not in sys.modules, 'filelock imported'; sys.exit(code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(spec)], env=environ, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_local_extra_deps_are_installed(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path, local_extra=True)
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert probe_report(result.stdout)["extra"] == EXTRA_VERSION
    assert "install-local-extras" in result.stderr


def test_child_sees_env_bin_then_prepend_paths_first_on_path_and_the_spec_env(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    spec = make_app(
        tmp_path,
        extra_spec=f"prepend_paths:\n  - {tools}\nenv:\n  GREETING: hello there\n"
        'python_version: "3.11"\n',  # the system's: the only one on this PATH
    )
    environ["PATH"] = "/usr/bin:/bin"
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    [env_dir] = cache.env_dirs()
    environ = probe_report(result.stdout)["environ"]
    assert environ["PATH"] == f"{env_dir}/bin:{tools}:/usr/bin:/bin"
    assert environ["GREETING"] == "hello there"


def test_console_script_runs_directly(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe env")
    result = run_pylockenv(environ, "run", str(spec))
    [env_dir] = cache.env_dirs()
    assert probe_report(result.stdout)["argv0"] == f"{env_dir}/bin/probe"


def test_dash_m_command_runs_with_the_env_python(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="-m probe_app env")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    report = probe_report(result.stdout)
    assert report["argv0"].endswith("probe_app.py")
    assert report["prefix"] == str(cache.env_dirs()[0])


def test_arguments_after_double_dash_are_appended(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path, command="probe env")
    result = run_pylockenv(environ, "run", str(spec), "--", "a b", "--flag")
    assert probe_report(result.stdout)["args"] == ["a b", "--flag"]


def test_command_exit_status_passes_through(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path, command="probe exit 3")
    assert run_pylockenv(environ, "run", str(spec)).returncode == 3


def test_command_killed_by_a_signal_kills_the_run_with_it(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    # The CLI execs the command: its death by a signal is the process's own, and a shell
    # reports it as 128+N.
    spec = make_app(tmp_path, command=f"probe kill-self {int(signal.SIGUSR1)}")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == -signal.SIGUSR1
    shell = subprocess.run(
        ["sh", "-c", '"$@"; echo "status $?"', "sh", *pylockenv_argv("run", str(spec))],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.stdout.endswith(f"status {128 + signal.SIGUSR1}\n")


def test_unknown_command_exits_127_with_a_message(tmp_path: Path, environ: dict[str, str]) -> None:
    spec = make_app(tmp_path, command="no-such-tool --x")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 127
    assert "'no-such-tool' is neither a console script" in result.stderr
    assert "Traceback" not in result.stderr


def test_command_that_is_not_executable_exits_126(tmp_path: Path, environ: dict[str, str]) -> None:
    data = tmp_path / "data.txt"
    data.write_text("not a program\n")
    spec = make_app(tmp_path, command=str(data))
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 126
    assert f"cannot execute {data}" in result.stderr


def test_normal_output_hides_uv_warnings_and_verbose_shows_them(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, refresh=True)
    normal = run_pylockenv(environ, "run", str(spec))
    verbose = run_pylockenv(environ, "run", "-v", str(spec))
    assert "experimental" not in normal.stderr
    assert "experimental" in verbose.stderr
    assert "Installed 1 package" in verbose.stderr


def test_quiet_prints_nothing_but_the_command_output(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    result = run_pylockenv(environ, "run", "-q", str(spec))
    assert result.returncode == 0
    assert result.stderr == ""


def test_progress_names_the_env_each_step_with_its_duration_and_the_total(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    result = run_pylockenv(environ, "run", str(spec))
    [env_dir] = cache.env_dirs()
    lines = result.stderr.splitlines()
    assert lines[0] == f"pylockenv: env {env_dir.name}: provisioning {env_dir}"
    assert lines[1].startswith("pylockenv:   create-venv ")
    assert lines[1].endswith("s")
    assert lines[-1].startswith(f"pylockenv: env {env_dir.name}: ready in ")


def test_provision_prepares_the_env_and_prints_its_path(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 5")
    result = run_pylockenv(environ, "provision", str(spec))
    assert result.returncode == 0, result.stderr
    [env_dir] = cache.env_dirs()
    assert result.stdout == f"{env_dir}\n"
    assert (env_dir / ".provisioned").is_file()
