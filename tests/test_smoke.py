"""The package imports under its installed names and the CLI answers --help and -V."""

from __future__ import annotations

import pytest
from harness import REAL_UV, run_pylockenv

from pylockenv.core import __version__


def test_cli_help_exits_zero(environ: dict[str, str]) -> None:
    result = run_pylockenv(environ, "--help")
    assert result.returncode == 0
    assert "pylockenv" in result.stdout


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_cli_version_names_the_package_version_and_the_uv_it_uses(
    environ: dict[str, str], flag: str
) -> None:
    result = run_pylockenv(environ, flag)
    assert result.returncode == 0, result.stderr
    first, uv_line = result.stdout.splitlines()
    assert first == f"pylockenv {__version__}"
    assert uv_line.startswith("uv 0.")
    assert uv_line.endswith(f" at {REAL_UV} (from $PYLOCKENV_UV)")
