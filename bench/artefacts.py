"""What the benchmarks install: tiny wheels, pylock.toml files locked by uv, a borrowing venv.

The benchmarks keep their own small builders rather than importing the tests'
helpers, so that bench/ runs with nothing from tests/ on the path. Every lock
is made as a user makes one, by `uv pip compile --format pylock.toml`: from
tiny local wheels offline, or from the package registry (bench/reallock.py).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _record_entry(name: str, data: bytes) -> str:
    """One RECORD line: the file's urlsafe-base64 sha256, as the wheel spec wants it."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def tiny_wheel(directory: Path, project: str, version: str = "1.0") -> Path:
    """A pure-Python wheel `<project>-<version>-py3-none-any.whl` in `directory`: one module.

    The module is named after the project and holds its version; nothing else is installed.
    """
    module = project.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    contents = {
        f"{module}.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: pylockenv-bench\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(_record_entry(name, data) for name, data in contents.items())
    contents[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return path


def lock(
    uv: str,
    directory: Path,
    requirements: Sequence[str],
    env: Mapping[str, str],
    *options: str,
) -> Path:
    """Lock `requirements` into `directory`/pylock.toml with uv, for this Python version.

    Also writes the requirements.in it locks. `options` go to `uv pip compile`
    (`--no-index --find-links DIR` for local wheels); `env` is its environment.
    """
    (directory / "requirements.in").write_text("".join(f"{name}\n" for name in requirements))
    output = ["--python-version", PY_VERSION, "--format", "pylock.toml", "-o", "pylock.toml"]
    subprocess.run(
        [uv, "pip", "compile", "--quiet", "requirements.in", *options, *output],
        cwd=directory,
        env=dict(env),
        check=True,
    )
    return directory / "pylock.toml"


def venv_with_these_dependencies(path: Path) -> Path:
    """A pip-less venv at `path` that imports this interpreter's packages; return its python.

    A `.pth` file appends this interpreter's site-packages to the venv's path, so
    a pylockenv wheel installed into the venv with `--no-deps` finds attrs, cattrs
    and the rest without a download; pylockenv itself comes from the venv, whose
    own site-packages is searched first. (Only site directories' `.pth` files run,
    so a development install's import hook in the borrowed directory stays off.)
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    (site_packages(path) / "bench-borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def site_packages(venv: Path) -> Path:
    """The purelib directory of `venv`, a venv made by this interpreter."""
    return venv / "lib" / f"python{PY_VERSION}" / "site-packages"
