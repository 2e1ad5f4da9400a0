"""Many jobs starting cold on the same spec at once share one provisioning."""

from __future__ import annotations

from pathlib import Path

from builders import make_app
from harness import CacheDir, start_pylockenv, uv_calls, write_uv_wrapper

JOBS = 8


def test_eight_cold_runs_at_once_all_succeed_with_one_provisioning(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "bin", log=log))
    jobs = [start_pylockenv(environ, "run", str(spec)) for _ in range(JOBS)]
    results = [(job.communicate(timeout=300), job.returncode) for job in jobs]
    assert [code for _, code in results] == [0] * JOBS, [err for (_, err), _ in results]
    assert len(uv_calls(log, "venv")) == 1
    assert len(cache.env_dirs()) == 1
