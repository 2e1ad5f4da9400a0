"""Bad input is refused with one clear message, exit 125, and nothing created in the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from builders import build_wheel, make_app, write_pylock
from harness import CacheDir, run_pylockenv

EXIT_PYLOCKENV_FAILED = 125


def refused(environ: dict[str, str], cache: CacheDir, spec: Path) -> str:
    """Run the spec; assert it was refused before anything was created; return stderr."""
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == EXIT_PYLOCKENV_FAILED, result.stderr
    assert result.stderr.startswith("pylockenv: error: ")
    assert "Traceback" not in result.stderr
    assert not cache.root.exists()
    return result.stderr


def spec_with(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "spec.yml"
    spec.write_text(text)
    return spec


def test_missing_pylock(tmp_path: Path, environ: dict[str, str], cache: CacheDir) -> None:
    spec = spec_with(tmp_path, "command: probe\npylock: nowhere/pylock.toml\n")
    assert "pylock.toml does not exist" in refused(environ, cache, spec)


def test_pylock_that_is_a_directory(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    (tmp_path / "pylock.toml").mkdir()
    spec = spec_with(tmp_path, "command: probe\npylock: pylock.toml\n")
    assert "is a directory, not a regular file" in refused(environ, cache, spec)


def test_pylock_with_a_name_uv_rejects(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    make_app(tmp_path)
    os.rename(tmp_path / "pylock.toml", tmp_path / "app.lock.toml")
    spec = spec_with(tmp_path, "command: probe\npylock: app.lock.toml\n")
    assert "'pylock.<name>.toml'" in refused(environ, cache, spec)


def test_pylock_that_is_not_toml_names_line_and_column(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path)
    (tmp_path / "pylock.toml").write_text('lock-version = "1.0"\npackages = [oops\n')
    stderr = refused(environ, cache, spec)
    assert "is not valid TOML" in stderr
    assert "line 2, column" in stderr


def test_pylock_that_is_not_utf8(tmp_path: Path, environ: dict[str, str], cache: CacheDir) -> None:
    spec = make_app(tmp_path)
    (tmp_path / "pylock.toml").write_bytes(b'lock-version = "\xff"\n')
    assert "is not UTF-8 text" in refused(environ, cache, spec)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_pylock(tmp_path: Path, environ: dict[str, str], cache: CacheDir) -> None:
    spec = make_app(tmp_path)
    (tmp_path / "pylock.toml").chmod(0)
    assert "permission denied" in refused(environ, cache, spec).lower()


def test_pylock_requiring_another_python_says_which(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path)
    wheel = next((tmp_path / "wheels").glob("probe_app-*.whl"))
    write_pylock(tmp_path / "pylock.toml", [wheel], requires_python=">=3.99")
    assert "requires Python >=3.99" in refused(environ, cache, spec)


def test_missing_local_extra_dep(tmp_path: Path, environ: dict[str, str], cache: CacheDir) -> None:
    spec = make_app(tmp_path, extra_spec="local_extra_deps:\n  - dist/app-1.0-py3-none-any.whl\n")
    assert "local_extra_deps[0]" in refused(environ, cache, spec)


def test_prepend_path_that_does_not_exist(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path, extra_spec="prepend_paths:\n  - /no/such/dir\n")
    assert "prepend_paths[0]: /no/such/dir does not exist" in refused(environ, cache, spec)


def test_uv_that_does_not_exist(tmp_path: Path, environ: dict[str, str], cache: CacheDir) -> None:
    spec = make_app(tmp_path)
    environ["PYLOCKENV_UV"] = str(tmp_path / "no-uv")
    stderr = refused(environ, cache, spec)
    assert "cannot run uv at" in stderr
    assert "PYLOCKENV_UV" in stderr


def test_uv_too_old_for_pylock_files(
    tmp_path: Path, environ: dict[str, str], cache: CacheDir
) -> None:
    spec = make_app(tmp_path)
    old = tmp_path / "old-uv"
    old.write_text("#!/bin/sh\necho 'uv 0.6.14'\n")
    old.chmod(0o755)
    environ["PYLOCKENV_UV"] = str(old)
    stderr = refused(environ, cache, spec)
    assert "version 0.6.14" in stderr
    assert "needs uv 0.6.15 or later" in stderr


def test_requirements_txt_is_accepted_in_place_of_a_pylock(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    wheel = build_wheel(tmp_path, "plain-app", modules={"plain_app.py": "print('plain ok')\n"})
    (tmp_path / "requirements.txt").write_text(f"plain-app @ {wheel.as_uri()}\n")
    spec = spec_with(tmp_path, "command: -m plain_app\npylock: requirements.txt\n")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plain ok\n"


@pytest.mark.parametrize("refresh", [False, True], ids=["cached", "ephemeral"])
def test_cache_location_that_cannot_be_created(
    tmp_path: Path, environ: dict[str, str], refresh: bool
) -> None:
    spec = make_app(tmp_path, refresh=refresh)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    environ["XDG_CACHE_HOME"] = str(blocker / "cache")
    result = run_pylockenv(environ, "run", str(spec))
    assert result.returncode == EXIT_PYLOCKENV_FAILED
    assert f"cannot create {blocker}/cache/bfabric_app_runner/" in result.stderr
    assert "XDG_CACHE_HOME" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_exception_pylockenv_defines_is_importable_from_shell_errors() -> None:
    """README: `execute` raises PylockenvError subclasses from `pylockenv.shell.errors`.
    Every one defined anywhere in core/ or shell/ is importable from there (the same class,
    not a copy), and each carries `source` and `field` as attributes."""
    import importlib
    import pkgutil

    import pylockenv.core
    import pylockenv.shell
    from pylockenv.core.errors import PylockenvError
    from pylockenv.shell import errors

    defined: dict[str, type[BaseException]] = {}
    for package in (pylockenv.core, pylockenv.shell):
        for info in pkgutil.iter_modules(package.__path__):
            if info.name == "__main__":
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, PylockenvError):
                    defined[value.__name__] = value
    assert {"CacheFileError", "CacheNotWritableError", "EnvVanishedError", "MarkerWriteError"} <= (
        defined.keys()
    )
    assert {name: getattr(errors, name, None) for name in defined} == defined
    assert set(defined) <= set(errors.__all__)
    for cls in defined.values():
        assert cls.__module__ in ("pylockenv.core.errors", "pylockenv.shell.errors"), cls
    error = errors.CacheLinkError("x is a link", source="/c/envs")
    assert (error.source, error.field, str(error)) == ("/c/envs", None, "x is a link")
