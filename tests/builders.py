"""Real artefacts for the shell's tests: tiny wheels, pylock files that point at them, specs.

A wheel is a zip with a few metadata files; a pylock.toml (PEP 751) can list it by
`path`, so `uv pip install --offline` installs it with no network at all.
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


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    directory: Path,
    name: str,
    version: str = "1.0",
    *,
    modules: Mapping[str, str] | None = None,
    console_scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write `<name>-<version>-py3-none-any.whl` into `directory` and return its path.

    `modules` maps file names inside the wheel (`mypkg/__init__.py`) to their
    source; by default one module `<name>.py` holding `VERSION = "<version>"`.
    `console_scripts` maps script names to `module:function` entry points.
    """
    dist = name.replace("-", "_")
    files: dict[str, str] = dict(modules or {f"{dist}.py": f'VERSION = "{version}"\n'})
    info = f"{dist}-{version}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: pylockenv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    if console_scripts:
        lines = "".join(f"{script} = {target}\n" for script, target in console_scripts.items())
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{lines}"
    record = "".join(
        f"{path},{_record_hash(text.encode())},{len(text.encode())}\n"
        for path, text in files.items()
    )
    files[f"{info}/RECORD"] = record + f"{info}/RECORD,,\n"
    wheel = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def write_pylock(path: Path, wheels: Sequence[Path], *, requires_python: str | None = None) -> Path:
    """Write a PEP 751 lock file at `path` listing `wheels` by relative path and hash."""
    lines = ['lock-version = "1.0"', 'created-by = "pylockenv-tests"']
    if requires_python is not None:
        lines.append(f'requires-python = "{requires_python}"')
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        relative = wheel.relative_to(path.parent) if wheel.is_relative_to(path.parent) else wheel
        lines += [
            "",
            "[[packages]]",
            f'name = "{name.replace("_", "-")}"',
            f'version = "{version}"',
            f'wheels = [{{ name = "{wheel.name}", path = "{relative}", '
            f'hashes = {{ sha256 = "{digest}" }} }}]',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def venv_borrowing_dependencies(path: Path) -> Path:
    """A venv without pip whose dependencies come from this interpreter's site-packages.

    A `.pth` line appends the running interpreter's purelib to the new venv's
    path, so a pylockenv wheel installed there with `--no-deps` imports its
    dependencies offline, while `pylockenv` itself resolves to the venv's copy
    (a venv's own site-packages comes first). Returns the venv's python.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python
