"""Real locks for the benchmarks: requirements locked once from the package registry, kept.

A real lock is locked with `uv pip compile --format pylock.toml` for this
Python, and its wheels are downloaded once into a uv cache; both are kept in
the bench cache directory, so later runs work offline and measure the same
lock. That directory is BENCH_CACHE_DIR, else `pylockenv-bench` in
XDG_CACHE_HOME (or ~/.cache); remove it to lock again with newer releases.
The first use needs the package registry (the index in UV_DEFAULT_INDEX or
UV_INDEX_URL, else PyPI); when it cannot be reached, `locked_app` says why
instead. BENCH_REAL_LOCKS=0 leaves the real locks out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from benchkit import (
    APP_NAME,
    PY_VERSION,
    base_environ,
    compile_pylock,
    find_real_uv,
    write_commands_spec,
)

PROBE_TIMEOUT = 5.0
# The variables that say which registry to use; kept from the caller's environment.
INDEX_VARIABLES = ("UV_DEFAULT_INDEX", "UV_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL")


class Unavailable(Exception):
    """A real lock cannot be had here; the message says why and what to do."""


def bench_cache() -> Path:
    """The directory that keeps the real locks and their uv cache between runs."""
    chosen = os.environ.get("BENCH_CACHE_DIR")
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "pylockenv-bench"


def uv_cache() -> Path:
    """uv's cache for the real locks, kept in the bench cache."""
    return bench_cache() / "uv-cache"


def _registry() -> str:
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL"):
        if os.environ.get(name):
            return os.environ[name]
    return "https://pypi.org/simple/"


def _check_registry() -> None:
    """Raise Unavailable unless the registry answers within PROBE_TIMEOUT seconds."""
    url = _registry()
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT):
            return
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        reason = str(exc.reason)
    except (OSError, ValueError) as exc:  # a timeout while reading, a malformed URL
        reason = str(exc) or type(exc).__name__
    raise Unavailable(
        f"the package registry {url} cannot be reached ({reason}); these rows need it "
        f"once, to lock and fill the uv cache in {bench_cache()}"
    )


def locked_app(label: str, requirements: list[str], pylockenv: str) -> Path:
    """A spec whose command APP_NAME runs `-c pass` in an env of `requirements`, locked.

    The first call for a `label` locks the requirements and fills the uv cache
    (a provisioning with the registry in reach); later calls return the kept spec.
    Raises Unavailable when the lock is not kept and cannot be made.
    """
    if os.environ.get("BENCH_REAL_LOCKS", "1") == "0":
        raise Unavailable("BENCH_REAL_LOCKS=0")
    directory = bench_cache() / f"py{PY_VERSION}-{label}"
    spec = directory / "spec.yml"
    filled = directory / "uv-cache-filled"  # written last, once the uv cache holds every wheel
    if filled.exists():
        return spec
    _check_registry()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="fill-", dir=bench_cache()) as tmp:
        online = base_environ(Path(tmp), UV_CACHE_DIR=str(uv_cache()))
        del online["UV_OFFLINE"]
        online |= {name: os.environ[name] for name in INDEX_VARIABLES if name in os.environ}
        print(f"locking {' '.join(requirements)} and filling {uv_cache()} (once)", flush=True)
        compile_pylock(find_real_uv(), directory, requirements, online)
        write_commands_spec(spec, {APP_NAME: "-c pass"})
        subprocess.run(
            [pylockenv, "provision", "--quiet", str(spec), APP_NAME],
            env=online,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    filled.touch()
    return spec
