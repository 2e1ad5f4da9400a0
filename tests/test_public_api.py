"""Every public name of `pylockenv.shell` and `pylockenv.core` is what README says it is,
whichever way it is imported and whatever was imported before.

A package's lazy name can be shadowed by a submodule of the same name: importing the
submodule sets it as the package's attribute, so `from pylockenv.shell import provision`
once returned the module `shell/provision.py`. Each check runs in a fresh interpreter,
both plain and after every submodule of the package has been imported.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pylockenv.core
import pylockenv.shell

README = Path(__file__).resolve().parent.parent / "README.md"

# What README's Python API section says each name is.
EXPECTED_KINDS = {
    "pylockenv.shell": {
        "execute": "function",
        "load": "function",
        "load_app": "function",
        "plan": "function",
        "provision": "function",
    },
    "pylockenv.core": {
        "AppVariables": "class",
        "EnvChanges": "class",
        "FileFact": "class",
        "HostFacts": "class",
        "LocalDep": "class",
        "Plan": "class",
        "PlanError": "class",
        "PylockError": "class",
        "PylockenvError": "class",
        "PythonEnvCommand": "class",
        "RunCommand": "class",
        "Spec": "class",
        "SpecError": "class",
        "UvStep": "class",
        "command_from_flags": "function",
        "load_app_spec": "function",
        "load_spec": "function",
        "plan": "function",
        "render_json": "function",
        "render_shell": "function",
    },
}

# Run in a fresh interpreter: python -c CHECK PACKAGE NAME KIND PRELOAD(0|1)
CHECK = """\
import importlib, inspect, pkgutil, sys
package, name, kind, preload = sys.argv[1:]
module = importlib.import_module(package)
if preload == "1":
    for info in pkgutil.iter_modules(module.__path__):
        if info.name != "__main__":
            importlib.import_module(f"{package}.{info.name}")
namespace = {}
exec(f"from {package} import {name} as imported", namespace)
by_attribute = getattr(importlib.import_module(package), name)
imported = namespace["imported"]
assert imported is by_attribute, (imported, by_attribute)
is_kind = inspect.isclass if kind == "class" else inspect.isfunction
assert is_kind(imported), f"{package}.{name} is {imported!r}, not a {kind}"
print("ok")
"""


def _cases() -> list[tuple[str, str, str]]:
    return [
        (package, name, kind)
        for package, names in EXPECTED_KINDS.items()
        for name, kind in names.items()
    ]


@pytest.mark.parametrize("preload", [False, True], ids=["fresh", "after-every-submodule"])
@pytest.mark.parametrize(("package", "name", "kind"), _cases())
def test_a_public_name_is_the_same_object_both_ways_in_a_fresh_interpreter(
    package: str, name: str, kind: str, preload: bool
) -> None:
    args = [sys.executable, "-c", CHECK, package, name, kind, "1" if preload else "0"]
    ran = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert (ran.returncode, ran.stdout) == (0, "ok\n"), ran.stderr


@pytest.mark.parametrize("package", [pylockenv.core, pylockenv.shell], ids=["core", "shell"])
def test_all_lists_exactly_the_documented_names(package: object) -> None:
    name = getattr(package, "__name__", "")
    assert sorted(getattr(package, "__all__", [])) == sorted(EXPECTED_KINDS[name])


@pytest.mark.parametrize("package", [pylockenv.core, pylockenv.shell], ids=["core", "shell"])
def test_no_submodule_is_named_like_a_public_name(package: object) -> None:
    path = getattr(package, "__path__", [])
    submodules = {info.name for info in pkgutil.iter_modules(path)}
    assert submodules & set(getattr(package, "__all__", [])) == set()


def test_every_name_readme_imports_from_the_packages_is_public() -> None:
    text = README.read_text(encoding="utf-8")
    imported = re.findall(r"from (pylockenv\.(?:core|shell)) import ([\w, ]+)", text)
    dotted = re.findall(r"`(pylockenv\.(?:core|shell))\.(\w+)\(", text)
    named = [(p, n.strip()) for p, names in imported for n in names.split(",")] + dotted
    assert named, "README's API section imports nothing from pylockenv.core or .shell"
    for package, name in named:
        assert name in EXPECTED_KINDS[package], f"README uses {package}.{name}"
