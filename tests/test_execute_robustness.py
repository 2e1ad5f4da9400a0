"""Smaller cases of the same family (issue 16): what the caller's process state must not
break or leak into the command. A deleted working directory, a relative HOME, a file
where a cache directory belongs, another environment's VIRTUAL_ENV / CONDA_PREFIX /
PYTHONHOME, and no file descriptor left (EMFILE, which is not uv's fault).
"""

from __future__ import annotations

import errno
import io
import json
import os
import pwd
import resource
import subprocess
from pathlib import Path

import pytest
from builders import make_app, probe_report
from harness import CacheDir, execute_argv, pylockenv_argv, run_pylockenv

from pylockenv.core.layout import EnvLayout
from pylockenv.core.planning import EnvChanges, UvStep
from pylockenv.shell.errors import ProvisionError
from pylockenv.shell.progress import Progress
from pylockenv.shell.provisioning import run_step

EXIT_PYLOCKENV_FAILED = 125


def _in_deleted_directory(tmp_path: Path, environ: dict[str, str], *args: str) -> list[str]:
    """`pylockenv ARGS` run from a working directory that was deleted before it started
    (a shell's `cd dir; rm -r ../dir`); returns [exit status, stdout, stderr]."""
    gone = tmp_path / "gone"
    gone.mkdir()
    argv = " ".join(f"'{word}'" for word in pylockenv_argv(*args))
    done = subprocess.run(
        ["sh", "-c", f'cd "{gone}" && rmdir "{gone}" && exec {argv}'],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    return [str(done.returncode), done.stdout, done.stderr]


def test_a_deleted_working_directory_breaks_nothing_that_needs_none(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app")
    for _ in range(2):  # provisioned, then warm
        status, out, err = _in_deleted_directory(tmp_path, environ, "run", str(spec))
        assert status == "0", err
        assert probe_report(out)["prefix"].startswith(str(tmp_path / "xdg"))
    for args in (["list"], ["list", "--json"], ["gc", "--dry-run"]):
        status, out, err = _in_deleted_directory(tmp_path, environ, *args)
        assert status == "0", err
        assert "Errno" not in err


def test_a_relative_path_in_a_deleted_working_directory_is_refused_with_a_sentence(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    for args in (["run", "spec.yml"], ["run", "--pylock", "pylock.toml", "--command", "x"]):
        status, _, err = _in_deleted_directory(tmp_path, environ, *args)
        assert status == str(EXIT_PYLOCKENV_FAILED), err
        assert "the working directory it is read from no longer exists (it was deleted)" in err
        assert "Errno" not in err


def test_a_relative_home_is_ignored_as_a_relative_xdg_cache_home_is(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app")
    del environ["XDG_CACHE_HOME"]
    environ["HOME"] = "relative/home"
    done = run_pylockenv(environ, "run", str(spec), "--print-plan", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert plan["cache_root"] == f"{home}/.cache/bfabric_app_runner"
    assert not (tmp_path / "relative").exists()


@pytest.mark.parametrize(("name", "refresh"), [("envs", False), ("ephemeral", True)])
def test_a_regular_file_where_a_cache_directory_belongs_is_said_to_be_one(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, name: str, refresh: bool
) -> None:
    spec = make_app(tmp_path / "app", refresh=refresh)
    cache.root.mkdir(parents=True)
    (cache.root / name).write_text("a user's notes\n")
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == EXIT_PYLOCKENV_FAILED
    assert f"{cache.root / name} is a regular file, where the cache's {name} directory" in (
        done.stderr
    )
    assert "a directory this user can write to" not in done.stderr
    assert (cache.root / name).read_text() == "a user's notes\n"


@pytest.mark.parametrize("how", ["cli", "execute"])
def test_another_environments_variables_do_not_reach_the_command(
    tmp_path: Path, environ: dict[str, str], how: str
) -> None:
    spec = make_app(tmp_path / "app")
    environ.update(
        VIRTUAL_ENV="/opt/other-venv",
        CONDA_PREFIX="/opt/conda/envs/other",
        PYTHONHOME="/opt/conda/envs/other",  # the env's python would not even start
    )
    argv = pylockenv_argv("run", str(spec)) if how == "cli" else execute_argv(spec)
    # pylockenv's own interpreter ignores PYTHON* variables (-E), as a launcher made by
    # pip or uv would not: the point is what reaches the command.
    done = subprocess.run(
        [argv[0], "-E", *argv[1:]], env=environ, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = probe_report(done.stdout)["environ"]
    assert seen["VIRTUAL_ENV"] == probe_report(done.stdout)["prefix"]
    assert "CONDA_PREFIX" not in seen
    assert "PYTHONHOME" not in seen


def test_the_specs_own_conda_prefix_reaches_the_command(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    spec = make_app(tmp_path / "app", extra_spec="env:\n  CONDA_PREFIX: /opt/mine\n")
    environ["CONDA_PREFIX"] = "/opt/conda/envs/other"
    done = run_pylockenv(environ, "run", str(spec))
    assert done.returncode == 0, done.stderr
    assert probe_report(done.stdout)["environ"]["CONDA_PREFIX"] == "/opt/mine"


def _every_descriptor_left() -> list[int]:
    """Open /dev/null until the process's limit is reached (EMFILE); the descriptors."""
    opened: list[int] = []
    while True:
        try:
            opened.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            if exc.errno != errno.EMFILE:
                raise
            return opened


def test_no_file_descriptor_left_is_said_so_not_blamed_on_uv(tmp_path: Path) -> None:
    step = UvStep(
        name="create-venv",
        argv=("/bin/true",),
        env=EnvChanges(prepend_path=(), path_value="", set_env={}),
    )
    env = EnvLayout(path=str(tmp_path / "env"), kind="cached")
    lock_fd = os.open(tmp_path, os.O_RDONLY)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    opened: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))
    try:
        opened.extend(_every_descriptor_left())
        with pytest.raises(ProvisionError) as raised:
            run_step(step, env=env, progress=Progress(stream=io.StringIO()), lock_fd=lock_fd)
    finally:
        for fd in opened:
            os.close(fd)
        os.close(lock_fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    message = str(raised.value)
    assert "Too many open files" in message
    assert "ulimit -n" in message
    assert "PYLOCKENV_UV" not in message
