"""The interpreter uv found, kept in the cache for the next process (plans/python-<id>.interpreter).

A cold provisioning asks `uv python find` once per user, uv, request and environment:
the next process (another lock, another directory) reads the kept answer instead,
while nothing uv's discovery reads has changed and the interpreter's stat holds.
Counted with a uv wrapper that logs its arguments (real uv behind it).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from builders import interpreter_bin, make_app, pyenv_root
from harness import CacheDir, run_pylockenv, uv_calls, write_uv_wrapper
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylockenv.core.layout import (
    PLANS_DIR,
    CacheLayout,
    kept_interpreter_name,
    plans_entry_kind,
    staging_name,
)
from pylockenv.shell import interpreters
from pylockenv.shell.facts import file_record

REQUEST = "3.12"


def _need_3_12() -> Path:
    found = interpreter_bin(REQUEST)
    if found is None:
        pytest.skip(f"no Python {REQUEST} under {pyenv_root()}/versions on this machine")
    return found


@pytest.fixture
def logged(tmp_path: Path, environ: dict[str, str]) -> Path:
    """The log of every uv call this test's pylockenv processes make."""
    log = tmp_path / "uv.log"
    environ["PYLOCKENV_UV"] = str(write_uv_wrapper(tmp_path / "uv-bin", log=log))
    return log


def _app(root: Path) -> Path:
    return make_app(root, extra_spec=f'python_version: "{REQUEST}"\n')


def _provision(environ: dict[str, str], spec: Path) -> None:
    done = run_pylockenv(environ, "provision", str(spec))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def _records(cache: CacheDir) -> list[Path]:
    return sorted((cache.root / PLANS_DIR).glob("python-*.interpreter"))


def _interpreter_of(cache: CacheDir, env_hash_dir: Path) -> str:
    marker = json.loads((env_hash_dir / ".provisioned").read_text())
    interpreter: str = marker["interpreter"]
    return interpreter


def test_a_second_process_uses_the_kept_interpreter_instead_of_asking_uv(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    bin_dir = _need_3_12()
    _provision(environ, _app(tmp_path / "one"))
    assert len(uv_calls(logged, "python find")) == 1
    [record] = _records(cache)
    assert plans_entry_kind(record.name) == "interpreter"
    _provision(environ, _app(tmp_path / "two"))  # another lock: a cold provisioning again
    assert len(uv_calls(logged, "python find")) == 1  # not asked again
    envs = cache.env_dirs()
    assert len(envs) == 2
    assert {_interpreter_of(cache, env) for env in envs} == {str(bin_dir / "python3.12")}


def test_a_run_reusing_a_ready_env_keeps_the_interpreter_too(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    _need_3_12()
    spec = _app(tmp_path / "app")
    _provision(environ, spec)
    for record in _records(cache):
        record.unlink()  # as after `gc`: the env is ready, its interpreter answer gone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # From another directory: no kept plan for this command line, so the full path plans,
    # asks uv once, finds the env ready and keeps the answer for the next process.
    done = run_pylockenv(environ, "run", str(spec), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert len(uv_calls(logged, "python find")) == 2
    assert len(_records(cache)) == 1
    _provision(environ, _app(tmp_path / "two"))
    assert len(uv_calls(logged, "python find")) == 2


def test_a_refused_provisioning_keeps_no_interpreter(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    _need_3_12()
    spec = _app(tmp_path / "app")
    (tmp_path / "app" / "pylock.toml").write_text("not [valid toml")
    done = run_pylockenv(environ, "provision", str(spec))
    assert done.returncode == 125, done.stderr
    assert len(uv_calls(logged, "python find")) == 1
    assert not cache.root.exists()  # input refused: nothing created, the record neither


def test_a_printed_plan_keeps_no_interpreter(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    _need_3_12()
    done = run_pylockenv(environ, "run", str(_app(tmp_path / "app")), "--print-plan")
    assert done.returncode == 0, done.stderr
    assert not (cache.root / PLANS_DIR).exists() or _records(cache) == []


def test_another_path_is_another_question(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    _need_3_12()
    _provision(environ, _app(tmp_path / "one"))
    elsewhere = tmp_path / "empty-bin"
    elsewhere.mkdir()
    environ["PATH"] = f"{environ['PATH']}:{elsewhere}"
    _provision(environ, _app(tmp_path / "two"))
    assert len(uv_calls(logged, "python find")) == 2
    assert len(_records(cache)) == 2  # one per environment


def test_an_interpreter_installed_in_a_path_directory_since_is_noticed(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    bin_dir = _need_3_12()
    first_on_path = tmp_path / "new-bin"
    first_on_path.mkdir()
    environ["PATH"] = f"{first_on_path}:{environ['PATH']}"
    _provision(environ, _app(tmp_path / "one"))
    # A Python 3.12 appears first on PATH: uv would now pick it, so it must be asked.
    (first_on_path / "python3.12").symlink_to(bin_dir / "python3.12")
    _provision(environ, _app(tmp_path / "two"))
    assert len(uv_calls(logged, "python find")) == 2
    interpreters_used = sorted(_interpreter_of(cache, env) for env in cache.env_dirs())
    assert str(first_on_path / "python3.12") in interpreters_used


def test_an_interpreter_installed_by_uv_since_is_noticed(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    _need_3_12()
    managed = tmp_path / "uv-pythons"
    managed.mkdir()
    environ["UV_PYTHON_INSTALL_DIR"] = str(managed)
    _provision(environ, _app(tmp_path / "one"))
    time.sleep(0.01)
    (managed / "cpython-3.12.99-linux-x86_64-gnu").mkdir()  # what an install adds
    _provision(environ, _app(tmp_path / "two"))
    assert len(uv_calls(logged, "python find")) == 2


def test_a_changed_interpreter_file_is_asked_again(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path
) -> None:
    # The specs name their interpreter by a link of their own; pointing it at another
    # build changes the stat of what it names (file_record follows the link), though no
    # directory uv searches changed.
    bin_dir = _need_3_12()
    other = interpreter_bin("3.13") or interpreter_bin("3.10")
    if other is None:
        pytest.skip(f"a second pyenv Python besides 3.12 is needed under {pyenv_root()}")
    link = tmp_path / "py" / "python3"
    link.parent.mkdir()
    link.symlink_to(bin_dir / "python3.12")
    one, two = (
        make_app(tmp_path / name, extra_spec=f'python_version: "{link}"\n')
        for name in ("one", "two")
    )
    _provision(environ, one)
    link.unlink()
    link.symlink_to(other / "python3")
    _provision(environ, two)
    assert len(uv_calls(logged, "python find")) == 2
    versions = {
        json.loads((env / ".provisioned").read_text())["python_version"][:4]
        for env in cache.env_dirs()
    }
    assert len(versions) == 2  # the second env is made from the build the link names now


@pytest.mark.parametrize("damage", ["garbage", "foreign", "oversized", "link", "fifo", "dir"])
def test_a_damaged_record_falls_back_to_asking_uv_silently(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir, logged: Path, damage: str
) -> None:
    _need_3_12()
    _provision(environ, _app(tmp_path / "one"))
    [record] = _records(cache)
    identity = record.read_text().splitlines()[0]
    record.unlink()
    if damage == "garbage":
        record.write_bytes(b"\x00\xff{not json")
    elif damage == "foreign":  # the right identity, another interpreter's answer
        answer = {"path": "/bin/sh", "version": "3.12.1", "file": file_record("/usr/bin/env")}
        record.write_text(f"{identity}\n{json.dumps(answer)}\n")
    elif damage == "oversized":
        record.write_text(identity + "\n" + " " * interpreters.KEPT_INTERPRETER_LIMIT + "\n")
    elif damage == "link":
        target = tmp_path / "elsewhere"
        target.write_text("x")
        record.symlink_to(target)
    elif damage == "fifo":
        os.mkfifo(record)
    else:
        record.mkdir()
    done = run_pylockenv(environ, "provision", str(_app(tmp_path / "two")), timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert len(uv_calls(logged, "python find")) == 2
    if damage in ("garbage", "foreign", "oversized"):
        assert record.read_text().startswith(identity)  # kept anew
        assert stat.S_ISREG(record.lstat().st_mode)


def test_the_layout_names_the_kept_interpreter_and_its_staging_name() -> None:
    for crc in (0, 1, 2**32 - 1):
        name = kept_interpreter_name(crc)
        assert plans_entry_kind(name) == "interpreter"
        assert plans_entry_kind(staging_name(name, 7)) == "staging"
    assert CacheLayout(root="/c").kept_interpreter(0x1F) == "/c/plans/python-0000001f.interpreter"
    for other in ("python-1234.interpreter", "python-0000001g.interpreter", "python-.x"):
        assert plans_entry_kind(other) is None


# --- any damaged record is no answer (in this process, no uv) ------------------------------

_IDENTITY = '{"request":"3.12"}\n'
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


def _answer_shapes(python: str) -> st.SearchStrategy[bytes]:
    """Records near a valid one: its identity, then any JSON, or the valid answer with one
    key changed to any value, or any bytes at all."""
    valid = {"path": python, "version": "3.12.1", "file": file_record(python)}
    changed = st.builds(
        lambda key, value: {**valid, key: value},
        st.sampled_from(["path", "version", "file", "extra"]),
        _JSON_VALUES,
    )
    as_record = st.one_of(_JSON_VALUES, changed).map(
        lambda answer: (_IDENTITY + json.dumps(answer) + "\n").encode()
    )
    return st.one_of(
        as_record, st.binary(max_size=200), st.binary().map(_IDENTITY.encode().__add__)
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_damaged_record_of_any_shape_is_no_answer(tmp_path: Path, data: st.DataObject) -> None:
    python = "/usr/bin/env"  # any regular file stands for the interpreter here
    cache = CacheLayout(root=str(tmp_path / "cache"))
    (tmp_path / "cache" / PLANS_DIR).mkdir(parents=True, exist_ok=True)
    path = Path(cache.kept_interpreter(interpreters._crc(_IDENTITY)))
    content = data.draw(_answer_shapes(python))
    path.write_bytes(content)
    found = interpreters.read_kept_interpreter(cache, _IDENTITY)
    valid = {"path": python, "version": "3.12.1", "file": file_record(python)}
    if found is not None:  # only the valid record itself is an answer
        assert found == valid
        assert json.loads(content[len(_IDENTITY) :]) == valid


def test_a_valid_record_is_the_answer_and_a_changed_stat_is_not(tmp_path: Path) -> None:
    python = tmp_path / "python3.12"
    python.write_text("#!/bin/sh\n")
    found = {"path": str(python), "version": "3.12.1", "file": file_record(str(python))}
    cache = CacheLayout(root=str(tmp_path / "cache"))
    plans = tmp_path / "cache" / PLANS_DIR
    plans.mkdir(parents=True)
    data = interpreters.kept_interpreter_data(_IDENTITY, found)  # type: ignore[arg-type]
    (plans / kept_interpreter_name(interpreters._crc(_IDENTITY))).write_bytes(data)
    assert interpreters.read_kept_interpreter(cache, _IDENTITY) == found
    assert interpreters.read_kept_interpreter(cache, '{"request":"3.13"}\n') is None
    python.write_text("#!/bin/sh\n# rebuilt\n")
    assert interpreters.read_kept_interpreter(cache, _IDENTITY) is None
