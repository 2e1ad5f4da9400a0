"""Many jobs starting cold on the same spec at once share one provisioning."""

from __future__ import annotations

import subprocess
from pathlib import Path

from envtools import env_dirs, make_app, pylockenv_argv, run_env, uv_calls, write_uv_wrapper

JOBS = 8


def test_eight_cold_runs_at_once_all_succeed_with_one_provisioning(tmp_path: Path) -> None:
    spec = make_app(tmp_path, command="probe exit 0")
    log = tmp_path / "uv.log"
    wrapper = write_uv_wrapper(tmp_path / "bin", log=log)
    env = run_env(tmp_path, tmp_path / "uv-cache", uv=str(wrapper))
    jobs = [
        subprocess.Popen(
            pylockenv_argv("run", str(spec)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(JOBS)
    ]
    results = [(job.communicate(timeout=300), job.returncode) for job in jobs]
    assert [code for _, code in results] == [0] * JOBS, [err for (_, err), _ in results]
    assert len(uv_calls(log, "venv")) == 1
    assert len(env_dirs(tmp_path)) == 1
