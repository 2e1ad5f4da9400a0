"""`core/` is pure: it imports nothing that reaches the machine and never opens a file.

The proof is syntactic (every module's AST), so it holds whatever is installed; a
second test checks that importing `pylockenv.core` in a fresh interpreter loads none
of those modules through our code either.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

CORE_DIR = Path(__file__).resolve().parent.parent / "core"

FORBIDDEN_MODULES = frozenset(
    {
        "os",
        "subprocess",
        "socket",
        "shutil",
        "tempfile",
        "time",
        "random",
        "secrets",
        "logging",
        "filelock",
        "fcntl",
        "signal",
        "io",
        "glob",
        "importlib",
        "threading",
        "multiprocessing",
        "uuid",
    }
)
# The concrete paths touch the disk (`exists`, `stat`, `cwd`); the pure ones do not.
FORBIDDEN_NAMES = {
    "pathlib": frozenset({"Path", "PosixPath", "WindowsPath"}),
    "datetime": frozenset({"now", "today", "utcnow"}),
}
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__"})
CLOCK_METHODS = frozenset({"now", "today", "utcnow"})
# At run time only the modules that do I/O themselves are checked: a library we depend
# on may load, say, threading for its own locks without making the core impure.
RUNTIME_FORBIDDEN = frozenset(
    {"subprocess", "socket", "shutil", "tempfile", "random", "secrets", "logging", "filelock"}
)


def impurities(source: str) -> list[str]:
    """What in `source` reaches outside the values it is given, one line per finding."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"line {node.lineno}: import {alias.name}")
                elif alias.name == "pathlib":
                    found.append(f"line {node.lineno}: import pathlib (use PurePosixPath)")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            root = node.module.split(".")[0]
            if root in FORBIDDEN_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ...")
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES.get(root, frozenset()) or alias.name == "*":
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"line {node.lineno}: {func.id}(...)")
            elif isinstance(func, ast.Attribute) and func.attr in CLOCK_METHODS:
                found.append(f"line {node.lineno}: .{func.attr}() reads the clock")
    return found


def _core_modules() -> list[Path]:
    return sorted(CORE_DIR.glob("*.py"))


def test_core_has_modules_to_check() -> None:
    assert {p.name for p in _core_modules()} >= {"planning.py", "spec.py", "facts.py", "render.py"}


@pytest.mark.parametrize("module", _core_modules(), ids=lambda p: p.name)
def test_core_module_is_pure(module: Path) -> None:
    assert impurities(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "import os.path",
        "from os import environ",
        "from os.path import exists",
        "import subprocess as sp",
        "import socket",
        "import shutil",
        "import tempfile",
        "import time",
        "from random import choice",
        "import secrets",
        "import logging",
        "from filelock import FileLock",
        "from pathlib import Path",
        "import pathlib",
        "from datetime import datetime\nx = datetime.now()",
        "text = open('f').read()",
        "print('hello')",
    ],
)
def test_the_checker_catches(source: str) -> None:
    assert impurities(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from pathlib import PurePosixPath",
        "import hashlib, shlex, json, re, tomllib",
        "from . import facts",
        "from .errors import SpecError",
        "from datetime import UTC, datetime\nx = datetime.fromtimestamp(1.0, UTC)",
        "def f(path: str) -> str:\n    return path.open",
    ],
)
def test_the_checker_allows(source: str) -> None:
    assert impurities(source) == []


def test_importing_core_in_a_fresh_interpreter_loads_no_forbidden_module() -> None:
    # os and time are loaded by the interpreter itself at start-up, so only the
    # modules that `import pylockenv.core` adds are compared.
    probe = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import pylockenv.core\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    added = json.loads(result.stdout)
    assert "pylockenv.core" in added
    assert [name for name in added if name.split(".")[0] in RUNTIME_FORBIDDEN] == []
    assert [name for name in added if name.startswith("pylockenv.shell")] == []
