"""README's user lines work as written: the bundled example, and "your own app in three
steps" (a lock made by `uv pip compile`, the two-line spec, the run).

They fetch packages from the registry, as a user's first run does: marked `network`, and
skipped, saying why, when the registry cannot be reached.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of README's `## title` section."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def blocks(text: str, language: str) -> list[str]:
    """The bodies of the ```language blocks in `text`, their indentation removed."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", text, flags=re.S | re.M)
    return ["\n".join(line[len(indent) :] for line in body.splitlines()) for indent, body in found]


@pytest.fixture
def online(environ: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The test environment with the registry allowed (uv caching in a fresh directory,
    as on a user's first run) and this venv's `pylockenv` and `uv` first on PATH; skips
    when the registry cannot be reached."""
    environ = {key: value for key, value in environ.items() if key != "UV_OFFLINE"}
    environ["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
    environ["PATH"] = f"{Path(sys.executable).parent}:{environ['PATH']}"
    probe = subprocess.run(
        ["uv", "pip", "compile", "-", "--format", "pylock.toml", "-q"],
        input="tabulate\n",
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines()
        pytest.skip(f"package registry unreachable: {lines[-1] if lines else 'uv failed'}")
    return environ


def run_line(line: str, environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_bundled_example_runs_as_readme_says_and_is_reused(online: dict[str, str]) -> None:
    (line,) = blocks(section("Run the bundled example"), "sh")
    first = run_line(line.strip(), online, ROOT)
    assert first.returncode == 0, first.stderr
    assert "measurements.csv" in first.stdout
    assert "provisioning" in first.stderr
    again = run_line(line.strip(), online, ROOT)
    assert again.returncode == 0, again.stderr
    assert "reusing" in again.stderr
    assert again.stdout == first.stdout


def test_your_own_app_in_three_steps_runs_as_readme_says(
    online: dict[str, str], tmp_path: Path
) -> None:
    text = section("Your own app in three steps")
    compile_line = next(
        line.removeprefix("$ ").split("  #")[0]
        for block in blocks(text, "console")
        for line in block.splitlines()
        if line.startswith("$ uv pip compile")
    )
    (spec,) = blocks(text, "yaml")
    (run,) = re.findall(r"`(pylockenv run app\.yml -- [^`]*)`", text)
    app = tmp_path / "my-app"
    app.mkdir()
    (app / "requirements.in").write_text("tabulate\n")
    (app / "my_app.py").write_text(
        "import sys, tabulate\nprint('my_app', tabulate.__name__, *sys.argv[1:])\n"
    )
    locked = run_line(compile_line, online, app)
    assert locked.returncode == 0, locked.stderr
    (app / "app.yml").write_text(spec + "\n")
    done = run_line(run, online, app)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["my_app", "tabulate", "--my-option", "value"]
    # pylockenv wrote nothing beside the user's files (its env is in the cache).
    assert sorted(os.listdir(app)) == ["app.yml", "my_app.py", "pylock.toml", "requirements.in"]
