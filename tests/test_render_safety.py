"""The printed plan is as safe as `execute`: piped to sh, it starts what execute starts.

Arbitrary text (newlines, quotes, `$`, backticks, `=`, control characters) goes
into every spec field, the host facts and every path. The plan is then carried
out twice from the same starting point, once by its script under /bin/sh and
once by `execute`, against a stub uv and a stub command that record how they
were started (argv and environment). The records must be equal, the exit
statuses too, and the script must leave the same files behind as execute
(nothing else created, nothing changed). The script runs with a PATH holding
only the programs it is meant to use, so a line it was not meant to run fails
loudly instead of passing unnoticed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import pytest
import yaml
from attrs import evolve, frozen
from harness import run_pylockenv
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from pylockenv.core.errors import EXIT_NOT_FOUND, PylockenvError
from pylockenv.core.facts import FileFact, FileKind, HostFacts, Interpreter
from pylockenv.core.planning import DEFAULT_PYTHON_VERSION, Plan, plan, resolved_paths
from pylockenv.core.render import render_shell
from pylockenv.core.spec import load_spec
from pylockenv.shell import execute
from pylockenv.shell.facts import file_record
from pylockenv.shell.progress import Progress

pytestmark = pytest.mark.skipif(
    shutil.which("flock") is None or not Path("/proc/self/environ").exists(),
    reason="needs flock(1) and /proc",
)

# What the script may start besides the plan's programs: its PATH holds only these.
SCRIPT_TOOLS = ("env", "flock", "mkdir", "rm", "mv", "nice", "od", "tr")
COMMAND_EXIT = 3  # the stub command's exit status, which the script and execute must pass on
PYLOCK_TEXT = 'lock-version = "1.0"\ncreated-by = "tests"\npackages = []\n'
# An ephemeral env's name is drawn when it is made, by the script and by execute alike:
# the invocations are compared with each drawn name written as this one.
DRAWN = re.compile(r"/ephemeral/env_[0-9a-f]{16}(?=/|$|:)")
DRAWN_AS = "/ephemeral/env_<drawn>"
PLANS = "/bfabric_app_runner/plans"  # where the CLI keeps the plans it made

# What the command's first word is: an interpreter option (-m, -c, -), a console script
# in the env's bin/, a link there to nothing, a file in the working directory for Python
# to run, an absolute path to a program, or none of those.
FirstWord = Literal["option", "console", "dangling", "file", "absolute", "missing"]


# -- the cases -------------------------------------------------------------------------


@frozen(kw_only=True)
class Case:
    """Everything hostile about one run: spec fields, host facts and the names of paths.

    Each `*_name` is one path component (no "/"); the sandbox puts it below a
    directory of its own, so that no two of them collide.
    """

    spec_name: str
    command_name: str | None  # None: a single-command spec file, else its name in commands:
    app_name: str
    pylock_dir: str
    pylock_file: str
    extras: tuple[str, ...]
    prepends: tuple[str, ...]
    first_word: FirstWord
    first_name: str
    words: tuple[str, ...]
    python_version: str | None
    env: tuple[tuple[str, str], ...]
    refresh: bool
    hostname: str
    interpreter_name: str
    host_path: str | None
    home_name: str
    xdg_name: str | None  # None: XDG_CACHE_HOME unset
    cwd_name: str
    uv_dir: str
    uv_name: str
    args: tuple[str, ...]


# Characters that mean something to a shell, to env(1) or to a terminal, given often;
# any other character (but NUL and lone surrogates, which spec loading refuses) too.
SPECIAL = (
    "\n", "\r", "\t", " ", "'", '"', "$", "`", "\\", "=", ";", "&", "|", "#", "*", "?",
    "~", "-", "(", ")", "<", ">", "{", "}", "!", "%", "\x1b", "\x7f", "\u2028", "é",
)  # fmt: skip
CHARS = st.one_of(
    st.sampled_from(SPECIAL),
    st.characters(exclude_categories=["Cs"], exclude_characters="\0"),
)


def texts(min_size: int = 0, max_size: int = 10) -> st.SearchStrategy[str]:
    return st.text(CHARS, min_size=min_size, max_size=max_size)


def _usable_name(name: str) -> bool:
    # "~x" is the refused ~user form; a blank path is refused as empty.
    return name not in (".", "..") and bool(name.strip()) and not name.startswith("~")


NAMES = texts(1, 8).map(lambda text: text.replace("/", "_")).filter(_usable_name)
PLAIN_NAMES = NAMES.filter(lambda name: not name.startswith("-"))
# A python_version with white space around it is refused (it would hash as an env of its own).
VERSIONS = texts(1, 8).filter(lambda text: bool(text.strip()) and text == text.strip())
ENV_KEYS = st.one_of(
    st.sampled_from(["PATH", "-i", "-u", "-", "--", "T"]),
    # Prefixed so that no stub's loader or shell reads it (LD_PRELOAD, IFS, ...).
    texts(1, 6).map(lambda text: "T" + text.replace("=", "_")),
)
PYLOCK_FILES = st.one_of(
    st.just("pylock.toml"),
    NAMES.filter(lambda name: "." not in name).map(lambda name: f"pylock.{name}.toml"),
    NAMES.map(lambda name: f"{name}.txt"),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    first_word: FirstWord = draw(
        st.sampled_from(["option", "console", "dangling", "file", "absolute", "missing"])
    )
    if first_word == "option":
        first_name = draw(st.sampled_from(["-m", "-c", "-"]))
    else:
        first_name = draw(PLAIN_NAMES)
    return Case(
        spec_name=draw(NAMES),
        command_name=draw(st.none() | texts(1, 8)),
        app_name=draw(NAMES),
        pylock_dir=draw(NAMES),
        pylock_file=draw(PYLOCK_FILES),
        extras=tuple(draw(st.lists(NAMES, max_size=2))),
        prepends=tuple(draw(st.lists(NAMES, max_size=2))),
        first_word=first_word,
        first_name=first_name,
        words=tuple(draw(st.lists(texts(), max_size=3))),
        python_version=draw(st.none() | VERSIONS),
        env=tuple(draw(st.dictionaries(ENV_KEYS, texts(), max_size=3)).items()),
        refresh=draw(st.booleans()),
        hostname=draw(texts(1, 10)),
        interpreter_name=draw(VERSIONS),
        host_path=draw(st.none() | texts()),
        home_name=draw(NAMES),
        xdg_name=draw(st.none() | NAMES),
        cwd_name=draw(NAMES),
        uv_dir=draw(NAMES),
        uv_name=draw(PLAIN_NAMES),
        args=tuple(draw(st.lists(texts(), max_size=2))),
    )


# -- the world of a case: its paths, spec and facts (no disk) --------------------------


@frozen
class World:
    """Where each path of `case` lives below `root`, and the spec and facts that name them.

    Every hostile name gets a directory of its own kind (app/, home/, ...), so no two
    of them collide.
    """

    root: Path
    case: Case

    @property
    def app(self) -> Path:
        return self.root / "app" / self.case.app_name

    @property
    def spec_path(self) -> Path:
        return self.app / self.case.spec_name

    @property
    def home(self) -> Path:
        return self.root / "home" / self.case.home_name

    @property
    def cwd(self) -> Path:
        return self.root / "cwd" / self.case.cwd_name

    @property
    def xdg(self) -> Path | None:
        return None if self.case.xdg_name is None else self.root / "xdg" / self.case.xdg_name

    @property
    def uv(self) -> Path:
        return self.root / "uv" / self.case.uv_dir / self.case.uv_name

    @property
    def absolute_command(self) -> Path:
        return self.root / "abs" / self.case.first_name / "prog"

    def spec_document(self) -> dict[str, Any]:
        case = self.case
        first = str(self.absolute_command) if case.first_word == "absolute" else case.first_name
        command: dict[str, Any] = {
            "type": "python_env",
            "pylock": f"{case.pylock_dir}/{case.pylock_file}",
            "command": shlex.join((first, *case.words)),
            "local_extra_deps": [f"extras/{name}" for name in case.extras],
            "env": dict(case.env),
            "prepend_paths": [f"prepend/{name}" for name in case.prepends],
            "refresh": case.refresh,
        }
        if case.python_version is not None:
            command["python_version"] = case.python_version
        if case.command_name is None:
            return command
        return {"commands": {case.command_name: command, "other": {**command, "refresh": True}}}

    def plan(self, stat: Callable[[str], FileFact]) -> Plan:
        """The plan of the case, the spec's files described by `stat`."""
        case = self.case
        spec = load_spec(
            self.spec_document(), str(self.spec_path), case.command_name, str(self.app)
        )
        facts = HostFacts(
            hostname=case.hostname,
            home=str(self.home),
            cwd=str(self.cwd),
            xdg_cache_home=None if self.xdg is None else str(self.xdg),
            path=case.host_path,
            uv=str(self.uv),
            interpreters={
                case.python_version or DEFAULT_PYTHON_VERSION: Interpreter(
                    path=f"/opt/{case.interpreter_name}/bin/python", version="3.11.9"
                )
            },
        )
        pylock, extras, prepend = resolved_paths(spec, home=facts.home, cwd=facts.cwd)
        files = {path: stat(path) for path in (pylock, *extras, *prepend)}
        return plan(spec, evolve(facts, files=files))


def on_paper(path: str) -> FileFact:
    """What `stat` would say of a spec's path in a world that was built."""
    kind: FileKind = "directory" if "/prepend/" in path else "file"
    return FileFact(kind=kind, mtime=1763985600.5, size=1)


# -- the sandbox: the world on disk, and stubs that record how they are started --------


def _which(name: str) -> str:
    found = shutil.which(name)
    assert found is not None, name
    return found


def _write_program(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _undrawn(value: str) -> str:
    """`value` with each drawn ephemeral env name written as DRAWN_AS."""
    return DRAWN.sub(DRAWN_AS, value)


def _split_nul(data: bytes) -> list[str]:
    return [os.fsdecode(part) for part in data.split(b"\0")[:-1]]


@frozen
class Invocation:
    """How a stub was started: the path it was started by, its arguments, its environment."""

    program: str
    args: tuple[str, ...]
    environ: dict[str, str]


class Sandbox:
    """A temporary directory holding the world of one case, built, and the stubs.

    `world/` holds every path the plan names; `log/` the stubs' records;
    `tools/` the programs the script may start; `template/` what the stub uv's
    `venv` puts in the env's bin/ (a stub python, a console script or not).
    """

    def __init__(self, root: Path, case: Case) -> None:
        self.root = root
        self.case = case
        self.world = World(root / "world", case)
        self.log = root / "log"
        self.tools = root / "tools"
        self.template = root / "template"
        self.host_python = root / "host-python" / "python3.11"
        for directory in (self.world.root, self.log, self.tools, self.template):
            directory.mkdir()
        for tool in SCRIPT_TOOLS:
            (self.tools / tool).symlink_to(_which(tool))
        self._build()
        self.initial = self.snapshot()

    def _stub(self, acts: str) -> str:
        q = shlex.quote
        return (
            "#!/bin/sh\n"
            "# A stub: records how it was started (argv, environment), then acts.\n"
            f"log={q(str(self.log))}\n"
            'printf \'%s\\n\' "$$" >> "$log/order"\n'
            'printf \'%s\\0\' "$0" "$@" > "$log/$$.argv"\n'
            f'{q(_which("cat"))} /proc/$$/environ > "$log/$$.environ"\n'
            f"{acts}\n"
        )

    def _build(self) -> None:
        case, world = self.case, self.world
        for directory in (world.app / case.pylock_dir, world.home, world.cwd, world.uv.parent):
            directory.mkdir(parents=True)
        (world.app / case.pylock_dir / case.pylock_file).write_text(PYLOCK_TEXT)
        for name in case.extras:
            (world.app / "extras").mkdir(exist_ok=True)
            (world.app / "extras" / name).write_text("not really a wheel")
        for name in case.prepends:
            (world.app / "prepend" / name).mkdir(parents=True, exist_ok=True)
        q = shlex.quote
        uv = (
            "case ${1-} in\n"
            "--version) echo 'uv 0.9.0 (stub)' ;;\n"
            f"python) echo {q(str(self.host_python))} ;;\n"
            "venv) for last; do :; done\n"
            f'  {q(_which("mkdir"))} -p -- "$last"\n'
            f'  {q(_which("cp"))} -R -- {q(str(self.template))} "$last/bin" ;;\n'
            "esac"
        )
        _write_program(world.uv, self._stub(uv))
        # The interpreter `uv python find` names: it says its version, and nothing else.
        self.host_python.parent.mkdir()
        _write_program(self.host_python, "#!/bin/sh\necho 3.11.9\n")
        command = self._stub(f"exit {COMMAND_EXIT}")
        # The env's python also answers the check of what the env holds: nothing, which
        # is what the case's lock (no packages) asks for.
        contents = '{"environment": {}, "installed": {}}'
        python = self._stub(
            f'case "${{1-}} ${{2-}}" in "-I -c") echo {q(contents)}; exit 0;; esac\n'
            f"exit {COMMAND_EXIT}"
        )
        _write_program(self.template / "python", python)
        if case.first_word == "console":
            _write_program(self.template / case.first_name, command)
        elif case.first_word == "dangling":
            (self.template / case.first_name).symlink_to(self.root / "nothing-here")
        elif case.first_word == "file":
            (world.cwd / case.first_name).write_text("print('a file for Python')\n")
        elif case.first_word == "absolute":
            world.absolute_command.parent.mkdir(parents=True)
            _write_program(world.absolute_command, command)

    def plan(self) -> Plan:
        return self.world.plan(lambda path: FileFact(**file_record(path)))

    def write_spec(self) -> None:
        """Write the spec as a YAML file, for the CLI: part of the world as built."""
        document = yaml.safe_dump(self.world.spec_document(), allow_unicode=True)
        self.world.spec_path.write_text(document)
        self.initial = self.snapshot()

    # What the runs leave behind.

    def environ(self, **extra: str) -> dict[str, str]:
        """The caller's environment: only names a shell passes on, PWD as a shell sets it,
        and a UTF-8 locale (under the C locale, Python adds LC_CTYPE to its children's)."""
        world = self.world
        return {
            "PATH": str(self.tools),
            "PWD": str(world.cwd),
            "HOME": str(world.home),
            "LC_CTYPE": "C.UTF-8",
            **extra,
        }

    def snapshot(self) -> dict[str, tuple[str, int, int]]:
        """Every entry under world/: its kind, and for a file its size and mtime.

        `.in-use` is left out: execute holds an env's in-use lock while its command
        runs, and the script takes no such lock. So is the cache's `plans/`: what
        pylockenv keeps to go faster next time (the uv version it checked), which a
        script need not keep.
        """
        found: dict[str, tuple[str, int, int]] = {}
        for directory, names, files in os.walk(self.world.root):
            if os.path.basename(directory) == "bfabric_app_runner" and "plans" in names:
                names.remove("plans")
            for name in names + files:
                if name == ".in-use":
                    continue
                path = os.path.join(directory, name)
                info = os.lstat(path)
                if stat.S_ISREG(info.st_mode):
                    found[path] = ("file", info.st_size, info.st_mtime_ns)
                else:
                    found[path] = (stat.filemode(info.st_mode)[0], 0, 0)
        return found

    def invocations(self) -> list[Invocation]:
        """What the stubs recorded, in the order they were started."""
        order = self.log / "order"
        if not order.exists():
            return []
        found = []
        for pid in order.read_text().split():
            argv = _split_nul((self.log / f"{pid}.argv").read_bytes())
            pairs = _split_nul((self.log / f"{pid}.environ").read_bytes())
            environ = dict(pair.partition("=")[::2] for pair in pairs)
            found.append(
                Invocation(
                    program=_undrawn(argv[0]),
                    args=tuple(_undrawn(arg) for arg in argv[1:]),
                    environ={key: _undrawn(value) for key, value in environ.items()},
                )
            )
        return found

    def outcome(self, statuses: Sequence[int]) -> Outcome:
        """What the runs since the last reset did, then a reset: the world as it was built,
        no records."""
        now = self.snapshot()
        changed = {
            path
            for path, (kind, size, mtime) in self.initial.items()
            if kind == "file" and now.get(path) != (kind, size, mtime)
        }
        outcome = Outcome(
            statuses=tuple(statuses),
            invocations=tuple(self.invocations()),
            new=frozenset(now.keys() - self.initial.keys()),
            changed=frozenset(changed),
        )
        for directory, names, _ in os.walk(self.world.root):
            if os.path.basename(directory) == "bfabric_app_runner" and "plans" in names:
                shutil.rmtree(os.path.join(directory, "plans"))
        for path in sorted(outcome.new):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        for directory, _, files in os.walk(self.world.root):
            if ".in-use" in files:
                os.unlink(os.path.join(directory, ".in-use"))
        shutil.rmtree(self.log)
        self.log.mkdir()
        return outcome


@frozen
class Outcome:
    """What two runs in a row did: exit statuses, stub records, files left behind."""

    statuses: tuple[int, ...]
    invocations: tuple[Invocation, ...]
    new: frozenset[str]  # entries under world/ that were not there before
    changed: frozenset[str]  # files of the world as built whose size or mtime changed

    def without_uv_check(self) -> Outcome:
        """Without `uv --version`, `uv python find` and the env's `python -I -c`: execute's
        check of uv before provisioning, the CLI's look-up of the interpreter when planning,
        and the check of the env's contents after provisioning; no plan steps."""
        kept = tuple(
            i
            for i in self.invocations
            if i.args != ("--version",) and i.args[:1] != ("python",) and i.args[:2] != ("-I", "-c")
        )
        return evolve(self, invocations=kept)


@contextmanager
def sandbox(case: Case) -> Iterator[Sandbox]:
    with tempfile.TemporaryDirectory(prefix="render-safety-") as root:
        yield Sandbox(Path(root), case)


# -- carrying the plan out: by its script, by execute, by the CLI ----------------------


def by_script(box: Sandbox, script: str, environ: dict[str, str]) -> tuple[Outcome, list[bytes]]:
    """Run `script` twice with /bin/sh; what it did, and each run's stderr."""
    path = box.root / "plan.sh"
    path.write_text(script)
    runs = [
        subprocess.run(
            ["/bin/sh", str(path), *box.case.args],
            cwd=box.world.cwd,
            env=environ,
            capture_output=True,
            timeout=60,
            check=False,
        )
        for _ in range(2)
    ]
    return box.outcome([run.returncode for run in runs]), [run.stderr for run in runs]


def by_execute(box: Sandbox, the_plan: Plan) -> Outcome:
    """Carry the plan out twice with `execute`, from the caller's environment and working
    directory the script had."""
    statuses = []
    before = os.getcwd()
    os.chdir(box.world.cwd)
    try:
        with mock.patch.dict(os.environ, box.environ(), clear=True):
            for _ in range(2):
                try:
                    status = execute(the_plan, box.case.args, progress=Progress(verbosity="quiet"))
                except PylockenvError as exc:
                    status = exc.exit_code
                statuses.append(status)
    finally:
        os.chdir(before)
    return box.outcome(statuses).without_uv_check()


def cli(box: Sandbox, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`pylockenv run` of the case's spec, in the sandbox's environment (not the harness's:
    the script under sh gets the same one)."""
    case = box.case
    name = () if case.command_name is None else (case.command_name,)
    spec = str(box.world.spec_path)
    return run_pylockenv(environ, "run", spec, *name, *args, cwd=box.world.cwd, timeout=60)


def expected_statuses(case: Case) -> tuple[int, int]:
    if case.first_word in ("missing", "dangling"):
        return (EXIT_NOT_FOUND, EXIT_NOT_FOUND)
    return (COMMAND_EXIT, COMMAND_EXIT)


def assert_same(script: Outcome, stderr: list[bytes], reference: Outcome, case: Case) -> None:
    assert script.invocations == reference.invocations
    assert script.statuses == reference.statuses == expected_statuses(case)
    assert script.new == reference.new
    assert script.changed == reference.changed == frozenset()
    if case.first_word not in ("missing", "dangling"):
        # A line the script was not meant to run would have complained here.
        assert stderr == [b"", b""]


def check_script_matches_execute(case: Case, *, searching: bool = False) -> None:
    """Carry out the plan of `case` by its script and by execute, and compare.

    While Hypothesis is `searching`, a case whose spec or plan the core refuses is
    rejected, and what a case reached is counted (--hypothesis-show-statistics).
    """
    with sandbox(case) as box:
        try:
            the_plan = box.plan()
        except PylockenvError:
            if not searching:
                raise
            reject()
        text = render_shell(the_plan)
        if searching:
            event(f"{the_plan.mode}, first word: {case.first_word}")
            event("a program's path holds '='" if '"$nice"' in text else "no '=' in programs")
            event("a value spelt with printf" if "=$(printf " in text else "all values print")
        script, stderr = by_script(box, text, box.environ())
        reference = by_execute(box, the_plan)
    assert_same(script, stderr, reference, case)


# -- the properties --------------------------------------------------------------------


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(case=cases())
def test_the_printed_plan_run_by_sh_does_what_execute_does(case: Case) -> None:
    check_script_matches_execute(case, searching=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(case=cases())
def test_every_line_of_the_script_prints_as_itself(case: Case) -> None:
    """No value starts a line of its own or hides one (a newline, a carriage return, an
    escape sequence): the header keeps its four lines, and each line shows what it holds."""
    try:
        the_plan = World(Path("/w"), case).plan(on_paper)
    except PylockenvError:
        reject()
    lines = render_shell(the_plan).splitlines()

    assert lines[0] == "#!/bin/sh"
    assert lines[1].startswith("# pylockenv plan for ")
    assert lines[2].startswith(f"# mode: {the_plan.mode}; env hash {the_plan.env_hash} = ")
    assert lines[3].startswith("# python: ")
    assert lines[4] == "set -eu"
    assert [line for line in lines if not line.isprintable()] == []


# -- the known examples ----------------------------------------------------------------

# Each injects `: > PWNED` (a shell builtin, so the script's short PATH cannot stop it),
# which would create PWNED in the working directory if sh ran it.
INJECTED = "\n: > PWNED\n"

BASE = Case(
    spec_name="app.yml",
    command_name=None,
    app_name="app",
    pylock_dir="locks",
    pylock_file="pylock.toml",
    extras=(),
    prepends=(),
    first_word="console",
    first_name="demo",
    words=("--fast",),
    python_version=None,
    env=(),
    refresh=False,
    hostname="node7",
    interpreter_name="cpython-3.11",
    host_path="/usr/bin:/bin",
    home_name="alice",
    xdg_name="cache",
    cwd_name="work",
    uv_dir="uv",
    uv_name="uv",
    args=("an arg",),
)

# The examples of issue 9, and their neighbours. Those a spec or the CLI can give are
# also carried out through the CLI (--print-plan, then run) below.
THROUGH_SPEC = {
    # (inside it: white space around a python_version is refused)
    "newline in python_version": evolve(BASE, python_version=f"3.11{INJECTED}3"),
    "newline in a command name under commands:": evolve(BASE, command_name=f"x{INJECTED}"),
    "newline in the spec file name": evolve(BASE, spec_name=f"app{INJECTED}.yml"),
    "newline in the pylock path": evolve(BASE, pylock_dir=f"locks{INJECTED}"),
    "command substitution in a local extra": evolve(BASE, extras=("a $(: > PWNED) `b`.whl",)),
    "command substitution in an env value": evolve(BASE, env=(("GREETING", "$(: > PWNED)"),)),
    "backticks in an argument": evolve(BASE, words=("`: > PWNED`",)),
    "quotes in an argument": evolve(BASE, words=("'; : > PWNED; '",)),
    "an env name that looks like an option": evolve(BASE, env=(("-i", "1"), ("-u", "PATH"))),
    "'=' in the cache directory (XDG_CACHE_HOME=/x=y)": evolve(BASE, xdg_name="x=y"),
    "'=' in the home directory, no XDG_CACHE_HOME": evolve(BASE, home_name="a=b", xdg_name=None),
    "'=' in an absolute command path": evolve(BASE, first_word="absolute", first_name="x=y"),
    "'=' in the uv path": evolve(BASE, uv_dir="x=y", uv_name="uv=1"),
    "a console script that is a dangling link": evolve(BASE, first_word="dangling"),
    "a first word that is nothing": evolve(BASE, first_word="missing"),
    "a first word that is a file for Python": evolve(BASE, first_word="file", first_name="a b"),
}
KNOWN = {
    **THROUGH_SPEC,
    "newline in the interpreter's path": evolve(BASE, interpreter_name=f"3{INJECTED}"),
    "newline in the host name": evolve(BASE, hostname=f"node{INJECTED}"),
    "an env name that looks like an option, first for env(1)": evolve(
        BASE, env=(("-i", "1"),), host_path=None
    ),
    "'=' in the cache directory, refresh": evolve(BASE, xdg_name="x=y", refresh=True),
    "no PATH at all": evolve(BASE, host_path=None),
}


@pytest.mark.parametrize("case", KNOWN.values(), ids=KNOWN.keys())
def test_a_known_example_runs_by_sh_as_execute_runs_it(case: Case) -> None:
    check_script_matches_execute(case)


@pytest.mark.parametrize("case", THROUGH_SPEC.values(), ids=THROUGH_SPEC.keys())
def test_the_cli_printed_plan_of_a_known_example_runs_as_the_cli_runs_it(case: Case) -> None:
    with sandbox(case) as box:
        world = box.world
        box.write_spec()
        xdg = {} if world.xdg is None else {"XDG_CACHE_HOME": str(world.xdg)}
        environ = box.environ(PYLOCKENV_UV=str(world.uv), **xdg)
        printed = cli(box, environ, "--print-plan")
        assert printed.returncode == 0, printed.stderr
        box.outcome([printed.returncode])  # forget its look-up of the interpreter: no plan step
        script, stderr = by_script(box, printed.stdout, environ)
        runs = [cli(box, environ, "--", *case.args) for _ in range(2)]
        reference = box.outcome([run.returncode for run in runs]).without_uv_check()
        # The CLI keeps the plans it made, to skip planning on the next run: its own
        # cache, no part of any plan.
        reference = evolve(reference, new=frozenset(p for p in reference.new if PLANS not in p))

    assert_same(script, stderr, reference, case)
    assert not any(path.endswith("/PWNED") for path in script.new)


def test_a_line_the_plan_does_not_hold_is_noticed() -> None:
    """The harness itself: a script with one line more fails the comparison."""
    with sandbox(BASE) as box:
        the_plan = box.plan()
        text = render_shell(the_plan).replace("set -eu\n", "set -eu\n: > PWNED\n", 1)
        script, stderr = by_script(box, text, box.environ())
        reference = by_execute(box, the_plan)

    assert script.new - reference.new == {str(box.world.cwd / "PWNED")}
    with pytest.raises(AssertionError):
        assert_same(script, stderr, reference, BASE)
