"""The package imports under its installed names and the CLI answers --help."""

from __future__ import annotations

from harness import run_pylockenv

from pylockenv.core import __version__


def test_cli_help_exits_zero(environ: dict[str, str]) -> None:
    result = run_pylockenv(environ, "--help")
    assert result.returncode == 0
    assert "pylockenv" in result.stdout


def test_cli_version_names_the_package_version(environ: dict[str, str]) -> None:
    result = run_pylockenv(environ, "--version")
    assert (result.returncode, result.stdout) == (0, f"pylockenv {__version__}\n")
