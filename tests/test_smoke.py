"""The package imports under its installed names and the CLI answers --help."""

import subprocess
import sys


def test_cli_help_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pylockenv.shell.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "pylockenv" in result.stdout
