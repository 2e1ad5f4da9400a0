"""The package imports under its installed names and the CLI answers --help."""

import subprocess
import sys


def test_cli_help_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pylockenv.shell", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "pylockenv" in result.stdout


def test_cli_version_names_the_package_version() -> None:
    from pylockenv.core import __version__

    result = subprocess.run(
        [sys.executable, "-m", "pylockenv.shell", "--version"], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, f"pylockenv {__version__}\n")
