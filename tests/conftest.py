"""The test harness, as fixtures (its plain functions are in harness.py), and the
`--update-golden` option of the golden-plan suite.

    uv_cache      one uv cache for the whole session
    cache         this test's pylockenv cache (a CacheDir under tmp_path; not created)
    environ       the environment of a pylockenv process this test starts, using `cache`
    in_process    this process's environment made `environ`, its working directory tmp_path
    run_main      `pylockenv ARGS` run by main() in this process, under `in_process`
    provisioned   one env provisioned for real for the session; tests copy it (copy_to)
    uts_namespace skips a test where `unshare -u` (a host name of its own) is not allowed
    slurm         the running Slurm cluster (.ci/slurm-up), checked once; skips where none is
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from harness import CacheDir, MainRunner, ProvisionedEnv, process_environ, provision_env
from hypothesis import HealthCheck, settings
from slurm_jobs import SlurmCluster, probe_cluster

from pylockenv.shell.cli import main

# The machines that run the suite are shared and loaded: no property may fail for being
# slow to run or to draw its first examples (a fresh run has no example database).
settings.register_profile("pylockenv", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pylockenv")

# A suite started in the background by a non-interactive shell (`cmd &`) inherits SIGINT
# ignored, and so would every pylockenv the tests start: the tests that interrupt a run
# with SIGINT need it delivered, so the processes they start get its default back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the expected renderings under golden/ instead of comparing with them",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files (`pytest --update-golden`)."""
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for every test: each wheel is unpacked once, then linked from there."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def cache(tmp_path: Path) -> CacheDir:
    """This test's own pylockenv cache, under tmp_path/xdg (not created)."""
    return CacheDir(tmp_path / "xdg")


@pytest.fixture
def environ(cache: CacheDir, uv_cache: Path) -> dict[str, str]:
    """The environment of a pylockenv process this test starts (`harness.process_environ`);
    a fresh dict, which the test may change."""
    return process_environ(cache, uv_cache)


@pytest.fixture
def in_process(
    environ: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """For a test that calls pylockenv in this process: os.environ is exactly `environ`
    and the working directory is tmp_path until the test ends. Returns `environ`."""
    for key in os.environ.keys() - environ.keys():
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return environ


@pytest.fixture
def run_main(in_process: dict[str, str], capsys: pytest.CaptureFixture[str]) -> MainRunner:
    """Run `pylockenv ARGS` by calling main() in this process; returns its exit code and
    what it printed on stdout and stderr."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> ProvisionedEnv:
    """The probe app's env, provisioned for real once for the session. Tests copy it
    (`provisioned.copy_to(cache)`); one that must change it puts back what it changed."""
    return provision_env(tmp_path_factory.mktemp("provisioned"), uv_cache)


@pytest.fixture
def uts_namespace() -> None:
    """Skip the test, saying why, where `unshare -u` (a host name of its own for one
    process, to play another host) is missing or not allowed."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed")
    probe = subprocess.run(["unshare", "-u", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -u is not allowed here: {probe.stderr.decode().strip()}")


@pytest.fixture(scope="session")
def slurm() -> SlurmCluster:
    """The single-node Slurm cluster `.ci/slurm-up` brings up, checked once per session;
    every test that uses it skips, saying why, where there is none."""
    cluster = probe_cluster()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    return cluster
