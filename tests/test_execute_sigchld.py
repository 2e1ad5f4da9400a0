"""A caller that ignores SIGCHLD (an app runner, a daemon that does not reap) still gets
the command's exit status from `execute()`, and provisioning still reads uv's.

With SIGCHLD set to SIG_IGN the kernel reaps children at once and `waitpid` finds
none, so `Popen.wait` reports 0 for a child that failed: a command's `exit 3` became
0, and a uv that failed was taken for one that succeeded.
"""

from __future__ import annotations

import io
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import make_app
from harness import CacheDir, pylockenv_argv, write_uv_wrapper

from pylockenv.shell import execute, load, plan
from pylockenv.shell.errors import ChildStatusError, ProvisionError
from pylockenv.shell.progress import Progress


def quiet() -> Progress:
    return Progress(verbosity="normal", stream=io.StringIO())


@pytest.fixture
def sigchld_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGCHLD, previous)


@pytest.mark.usefixtures("in_process", "sigchld_ignored")
def test_execute_returns_the_commands_status_when_the_caller_ignores_sigchld(
    tmp_path: Path,
) -> None:
    spec = make_app(tmp_path, command="probe exit 3")
    assert execute(plan(load(str(spec))), progress=quiet()) == 3
    assert execute(plan(load(str(spec))), progress=quiet()) == 3  # the warm env too
    assert signal.getsignal(signal.SIGCHLD) is signal.SIG_IGN  # the caller's, put back


@pytest.mark.usefixtures("sigchld_ignored")
def test_a_failing_uv_fails_the_provisioning_when_the_caller_ignores_sigchld(
    tmp_path: Path, in_process: dict[str, str], cache: CacheDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log", fail_on="pip install")
    monkeypatch.setenv("PYLOCKENV_UV", str(uv))
    spec = make_app(tmp_path / "app", command="probe exit 0")
    with pytest.raises(ProvisionError) as raised:
        execute(plan(load(str(spec))), progress=quiet())
    assert raised.value.returncode == 2
    assert cache.env_dirs() == []  # never marked ready


def test_a_cli_started_with_sigchld_ignored_reads_uvs_status(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    environ["PYLOCKENV_UV"] = str(
        write_uv_wrapper(tmp_path / "bin", log=tmp_path / "uv.log", fail_on="pip install")
    )
    spec = make_app(tmp_path / "app")
    done = subprocess.run(
        pylockenv_argv("run", str(spec)),
        env=environ,
        capture_output=True,
        text=True,
        # An ignored SIGCHLD survives exec: pylockenv starts with it, as under such a caller.
        preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),
        check=False,
    )
    assert done.returncode == 125, done.stderr
    assert "failed at step 'install-pylock' (uv exited with 2)" in done.stderr
    assert cache.env_dirs() == []


@pytest.mark.usefixtures("in_process", "sigchld_ignored")
def test_outside_the_main_thread_an_ignored_sigchld_is_refused_with_a_sentence(
    tmp_path: Path,
) -> None:
    spec = make_app(tmp_path, command="probe exit 3")
    the_plan = plan(load(str(spec)))
    raised: list[BaseException] = []

    def call() -> None:
        try:
            execute(the_plan, progress=quiet())
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join()
    [error] = raised
    assert isinstance(error, ChildStatusError)
    assert "call execute() from the main thread" in str(error)
