"""Hostile or careless input is refused in one paragraph, never as a traceback or a hang.

Two halves. A table of cases, one family of issue 9 after another, each run through
the real command line with a private XDG_CACHE_HOME and a uv that does not exist:
every case must exit 125 within the timeout with a one-line "pylockenv: error: ..."
that says what it was given, quote nothing it was told to keep out, and leave the
disk as it found it. Then properties that search for the next case: arbitrary text
(newlines, quotes, `$`, backticks, `=`, NUL, surrogates, control characters) in
every field of a spec, through the core's loading and planning, must give a Plan or
a PylockenvError and nothing else.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from harness import NODE7, run_pylockenv
from hypothesis import given, settings
from hypothesis import strategies as st

from pylockenv.core import FileFact, HostFacts, PylockenvError, command_from_flags, load_spec
from pylockenv.core.limits import PYLOCK_FILE_MAX_BYTES, SPEC_FILE_MAX_BYTES
from pylockenv.core.planning import plan, resolved_paths
from pylockenv.shell.facts import os_error_words
from pylockenv.shell.specfile import read_pylock_file, read_spec_file

EXIT_PYLOCKENV_FAILED = 125
TIMEOUT = 30
# Every message here is short: no case may echo a long value whole.
MESSAGE_MAX_CHARS = 1200
IS_ROOT = os.geteuid() == 0

Args = Sequence[str | bytes]


@attrs.frozen(kw_only=True)
class Case:
    """One hostile input: `setup(root)` writes what it needs under `root` and returns
    pylockenv's arguments; the message must hold `expected` and none of `absent`."""

    setup: Callable[[Path], Args]
    expected: str
    absent: tuple[str, ...] = ()
    # The working directory, relative to root (bytes for a name that is not UTF-8).
    cwd: str | bytes = "."


PYLOCK_TEXT = 'lock-version = "1.0"\npackages = []\n'


def spec(root: Path, text: str | bytes, name: str | bytes = "app.yml") -> bytes:
    """Write a spec file (and a pylock.toml beside it); return the spec's path."""
    path = os.path.join(os.fsencode(root), os.fsencode(name))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(os.path.join(os.path.dirname(path), b"pylock.toml"), "w") as stream:
        stream.write(PYLOCK_TEXT)
    with open(path, "wb") as stream:
        stream.write(text.encode() if isinstance(text, str) else text)
    return path


def field(name: str, value: str) -> str:
    """A spec holding `name: value` besides a valid pylock and command (value as YAML
    double-quoted text, so any character can be written)."""
    fields = {"pylock": "pylock.toml", "command": "-m app", name: value}
    if name.startswith("env"):
        fields.pop(name)
        return _yaml(fields) + f"env: {{{json.dumps(name[4:])}: {json.dumps(value)}}}\n"
    if name in ("local_extra_deps", "prepend_paths"):
        return _yaml({**fields, name: ""}).replace('""', f"[{json.dumps(value)}]")
    return _yaml(fields)


def _yaml(fields: Mapping[str, str]) -> str:
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in fields.items())


def run_spec(text: str | bytes, *more: str) -> Callable[[Path], Args]:
    return lambda root: ["run", spec(root, text), *more]


def touch(root: Path, name: str | bytes) -> bytes:
    path = os.path.join(os.fsencode(root), os.fsencode(name))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as stream:
        stream.write(PYLOCK_TEXT)
    return path


def flags(root: Path, *more: str | bytes, pylock: str | bytes = "pylock.toml") -> Args:
    """`run` with a command given by flags, its pylock created under `root`."""
    touch(root, pylock)
    return ["run", "--pylock", pylock, "--command", "-m app", *more]


def in_non_utf8_directory(root: Path) -> Args:
    """Flags naming relative paths, for a run from the directory `root/\xfd`."""
    flags(root, pylock=os.path.join(b"\xfd", b"pylock.toml"))
    return ["run", "--pylock", "pylock.toml", "--command", "-m app"]


def fifo(root: Path) -> Args:
    os.mkfifo(root / "spec.yml")
    return ["run", str(root / "spec.yml")]


def private_file(root: Path) -> Path:
    path = root / "credentials"
    path.write_text("machine example.org\nlogin alice\npassword SECRET-4711\n")
    return path


def extra_under(directory: str) -> Callable[[Path], Args]:
    """A spec in `directory` naming a local extra by a path relative to it."""

    def setup(root: Path) -> Args:
        touch(root, f"{directory}/dist/app-1.0-py3-none-any.whl")
        text = field("local_extra_deps", "dist/app-1.0-py3-none-any.whl")
        return ["run", spec(root, text, f"{directory}/app.yml")]

    return setup


def extra_named(name: str) -> Callable[[Path], Args]:
    """A spec naming an existing local extra file called `name`."""

    def setup(root: Path) -> Args:
        touch(root, name)
        return ["run", spec(root, field("local_extra_deps", name))]

    return setup


def extra_flag(name: str | bytes) -> Callable[[Path], Args]:
    """Flags naming an existing local extra file called `name` (relative to the cwd)."""

    def setup(root: Path) -> Args:
        touch(root, name)
        return flags(root, "--local-extra-dep", name)

    return setup


def unsearchable(root: Path) -> Args:
    touch(root, "locked/pylock.toml")
    os.chmod(root / "locked", 0)
    return ["run", spec(root, field("pylock", "locked/pylock.toml"))]


# Bytes Python refuses: NUL anywhere, path bytes that are not UTF-8.
BYTES = {
    "nul-in-env-value": Case(
        setup=run_spec(field("env.A", "x\0y")),
        expected="app.yml: env['A']: 'x\\x00y' holds a NUL byte",
    ),
    "nul-in-env-name": Case(
        setup=run_spec(field("env.A\0B", "x")),
        expected="app.yml: env: the name 'A\\x00B' holds a NUL byte",
    ),
    "nul-in-pylock": Case(
        setup=run_spec(field("pylock", "py\0lock.toml")), expected="pylock: 'py\\x00lock.toml'"
    ),
    "nul-in-local-extra": Case(
        setup=run_spec(field("local_extra_deps", "a\0.whl")),
        expected="local_extra_deps[0]: 'a\\x00.whl' holds a NUL byte",
    ),
    "nul-in-prepend-path": Case(
        setup=run_spec(field("prepend_paths", "/opt\0/bin")),
        expected="prepend_paths[0]: '/opt\\x00/bin' holds a NUL byte",
    ),
    "nul-in-python-version": Case(
        setup=run_spec(field("python_version", "3.11\0")),
        expected="python_version: '3.11\\x00' holds a NUL byte",
    ),
    "nul-in-command": Case(
        setup=run_spec(field("command", "-m\0app")), expected="command: '-m\\x00app' holds a NUL"
    ),
    "non-utf8-local-extra-flag": Case(
        setup=extra_flag(b"\xff.whl"),
        expected="command line: local_extra_deps[0]: '\\udcff.whl' holds the byte 0xff, which "
        "is not UTF-8 text",
    ),
    "non-utf8-pylock-flag": Case(
        setup=lambda root: flags(root, pylock=b"\xff/pylock.toml"),
        expected="command line: pylock: '\\udcff/pylock.toml' holds the byte 0xff",
    ),
    "non-utf8-spec-directory": Case(
        setup=lambda root: ["run", spec(root, field("pylock", "pylock.toml"), b"\xfe/app.yml")],
        expected="/pylock.toml' holds the byte 0xfe, which is not UTF-8 text",
    ),
    "non-utf8-working-directory": Case(
        setup=in_non_utf8_directory,
        cwd=b"\xfd",
        expected="/\\udcfd/pylock.toml' holds the byte 0xfd, which is not UTF-8 text",
    ),
    "non-utf8-spec-content": Case(
        setup=run_spec(b"pylock: pylock.toml\ncommand: \xff\n"),
        expected="app.yml: is not UTF-8 text (byte 30 is 0xff)",
    ),
}

# Reads that must be bounded, and messages that must not echo what was read.
READS = {
    "spec-is-dev-zero": Case(
        setup=lambda _: ["run", "/dev/zero"],
        expected="/dev/zero: is a character device, not a regular file",
    ),
    "spec-is-dev-urandom": Case(
        setup=lambda _: ["run", "/dev/urandom"],
        expected="/dev/urandom: is a character device, not a regular file",
    ),
    "spec-is-dev-null": Case(
        setup=lambda _: ["run", "/dev/null"],
        expected="/dev/null: is a character device, not a regular file",
    ),
    "spec-is-a-fifo": Case(setup=fifo, expected="spec.yml: is a FIFO (named pipe), not a regular"),
    "spec-is-a-directory": Case(
        setup=lambda root: ["run", str(root)], expected=": is a directory, not a regular file"
    ),
    "spec-over-the-size-limit": Case(
        setup=run_spec("# " + "x" * SPEC_FILE_MAX_BYTES),
        expected="app.yml: is larger than 1 MiB, the most pylockenv reads",
    ),
    "spec-holding-one-huge-scalar": Case(
        setup=run_spec("y" * 900_000),
        expected="got text (900,000 characters)",
        absent=("yyyy",),
    ),
    "field-holding-a-huge-value": Case(
        setup=run_spec(field("pylock", "z" * 900_000)),
        expected="app.yml: pylock: 'zzz",
    ),
    "private-file-given-to-run": Case(
        setup=lambda root: ["run", str(private_file(root))],
        expected="credentials: expected a mapping",
        absent=("SECRET", "alice", "machine"),
    ),
    "private-file-given-to-show": Case(
        setup=lambda root: ["show", str(private_file(root))],
        expected="credentials: expected a mapping",
        absent=("SECRET", "alice", "machine"),
    ),
    "yaml-error-next-to-a-secret": Case(
        setup=run_spec("token: SECRET-0815\nlist: [unclosed\n"),
        expected="app.yml: line 3, column 1: not valid YAML",
        absent=("SECRET", "unclosed"),
    ),
}
if os.path.exists("/etc/passwd"):
    READS["etc-passwd-given-to-show"] = Case(
        setup=lambda _: ["show", "/etc/passwd"],
        expected="/etc/passwd: expected a mapping",
        absent=("root:", "/bin/"),
    )

# Messages that used to mislead.
MISLEADING = {
    "the-only-command-is-exec": Case(
        setup=run_spec("commands: {a: {type: exec}}\n"),
        expected="app.yml: commands.a.type: expected 'python_env', got 'exec'; pylockenv runs "
        "only python_env commands",
        absent=("several",),
    ),
    "every-command-is-exec": Case(
        setup=run_spec("commands: {a: {type: exec}, b: {type: exec}}\n"),
        expected="app.yml: none of its commands (a, b) is of type python_env",
        absent=("several",),
    ),
    "integer-command-name-given": Case(
        setup=run_spec("commands: {1: {pylock: nowhere/pylock.toml, command: x}}\n", "1"),
        expected="app.yml: commands.1: pylock: ",
        absent=("has no command",),
    ),
    "integer-command-name-alone": Case(
        setup=run_spec("commands: {1: {pylock: nowhere/pylock.toml, command: x}}\n"),
        expected="app.yml: commands.1: pylock: ",
        absent=("has no command",),
    ),
    "duplicate-key": Case(
        setup=run_spec("pylock: pylock.toml\ncommand: -m a\ncommand: -m b\n"),
        expected="app.yml: line 3, column 1: the key 'command' is given a second time in the "
        "same mapping (first at line 2, column 1)",
    ),
    "duplicate-env-key": Case(
        setup=run_spec("pylock: pylock.toml\ncommand: -m a\nenv: {A: '1', A: '2'}\n"),
        expected="app.yml: line 3, column 15: the key 'A' is given a second time",
    ),
    "duplicate-command-name": Case(
        setup=run_spec(
            "commands:\n  a: {pylock: pylock.toml, command: x}\n"
            "  a: {pylock: pylock.toml, command: y}\n"
        ),
        expected="app.yml: line 3, column 3: the key 'a' is given a second time",
    ),
    "pylock-path-with-a-name-too-long": Case(
        setup=run_spec(field("pylock", "n" * 300 + "/pylock.toml")),
        expected="ENAMETOOLONG",
        absent=("does not exist",),
    ),
}
if not IS_ROOT:  # root may search any directory
    MISLEADING["pylock-in-an-unsearchable-directory"] = Case(
        setup=unsearchable,
        expected="app.yml: pylock: ",
        absent=("does not exist",),
    )

# Paths that uv would read as requirement syntax, and values it would read as options.
REACHING_UV = {
    "extra-holding-a-hash": Case(
        setup=extra_named("app#1.whl"), expected="local_extra_deps[0]: 'app#1.whl' holds '#'"
    ),
    "extra-holding-a-semicolon": Case(
        setup=extra_named("app ;1.whl"), expected="local_extra_deps[0]: 'app ;1.whl' holds ';'"
    ),
    "extra-holding-a-newline": Case(
        setup=extra_named("app\n1.whl"),
        expected="local_extra_deps[0]: 'app\\n1.whl' holds the control character '\\n'",
    ),
    "extra-holding-a-variable": Case(
        setup=extra_named("${HOME}.whl"), expected="local_extra_deps[0]: '${HOME}.whl' holds '${'"
    ),
    "extra-ending-in-a-space": Case(
        setup=extra_named("app.whl "), expected="local_extra_deps[0]: 'app.whl ' ends in whitespace"
    ),
    "extra-under-a-directory-holding-a-hash": Case(
        setup=extra_under("release #2"), expected="local_extra_deps[0]: '", absent=("Traceback",)
    ),
    "extra-flag-holding-a-hash": Case(
        setup=extra_flag("a#b.whl"),
        expected="command line: local_extra_deps[0]: 'a#b.whl' holds '#'",
    ),
    "python-version-like-an-option": Case(
        setup=run_spec(field("python_version", "--help")),
        expected="python_version: '--help' starts with '-', so uv would read it as an option",
    ),
    "prepend-path-holding-the-path-separator": Case(
        setup=run_spec(field("prepend_paths", "/opt/a:/opt/b")),
        expected="prepend_paths[0]: '/opt/a:/opt/b' holds ':'",
    ),
}

CASES = {**BYTES, **READS, **MISLEADING, **REACHING_UV}


def disk_state(root: Path) -> dict[bytes, tuple[int, int]]:
    """Every path under `root` with its mtime and size (not following links)."""
    state = {}
    for directory, dirs, files in os.walk(os.fsencode(root)):
        for name in [*dirs, *files]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            state[path] = (st.st_mtime_ns, st.st_size)
    return state


def restore_permissions(root: Path) -> None:
    """Make every directory under `root` searchable again, so tmp_path can be removed."""
    for directory, dirs, _ in os.walk(os.fsencode(root)):
        for name in dirs:
            os.chmod(os.path.join(directory, name), 0o755)


def run_cli(
    environ: dict[str, str], root: Path, args: Args, cwd: str | bytes
) -> subprocess.CompletedProcess[str]:
    """Run pylockenv ARGS from `root/cwd` with a uv that does not exist (bytes that are
    not UTF-8 reach it as they are: os.fsdecode and back)."""
    return run_pylockenv(
        {**environ, "PYLOCKENV_UV": str(root / "no-such-uv")},
        *map(os.fsdecode, args),
        cwd=os.fsdecode(os.path.join(os.fsencode(root), os.fsencode(cwd))),
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_input_is_refused_in_one_paragraph_and_changes_nothing(
    tmp_path: Path, environ: dict[str, str], case: Case
) -> None:
    root = tmp_path / "work"
    root.mkdir()
    args = case.setup(root)
    before = disk_state(tmp_path)  # the cache, tmp_path/xdg, included
    try:
        result = run_cli(environ, root, args, case.cwd)
    finally:
        restore_permissions(tmp_path)
    stderr = result.stderr

    assert result.returncode == EXIT_PYLOCKENV_FAILED, stderr
    assert stderr.startswith("pylockenv: error: "), stderr
    assert stderr.count("\n") == 1, stderr  # one paragraph: one line, so no traceback
    assert len(stderr) < MESSAGE_MAX_CHARS, stderr[:MESSAGE_MAX_CHARS]
    assert case.expected in stderr, stderr
    for text in case.absent:
        assert text not in stderr, stderr
    assert result.stdout == ""
    assert disk_state(tmp_path) == before


def test_a_device_as_pylock_is_called_a_device(tmp_path: Path, environ: dict[str, str]) -> None:
    args: Args = ["run", spec(tmp_path, field("pylock", "/dev/null"))]
    result = run_cli(environ, tmp_path, args, ".")
    assert result.returncode == EXIT_PYLOCKENV_FAILED
    assert "/dev/null is a character device, not a regular file" in result.stderr


# The pylock reader (used by provisioning) is bounded the same way.


def pylock_holding(data: bytes) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        (root / "pylock.toml").write_bytes(data)
        return str(root / "pylock.toml")

    return make


def pylock_fifo(root: Path) -> str:
    os.mkfifo(root / "pylock.toml")
    return str(root / "pylock.toml")


UNREADABLE_PYLOCKS: dict[str, tuple[Callable[[Path], str], str]] = {
    "dev-zero": (lambda _: "/dev/zero", "/dev/zero is a character device, not a regular file"),
    "fifo": (pylock_fifo, "pylock.toml is a FIFO (named pipe), not a regular file"),
    "too-large": (pylock_holding(b"#" * (PYLOCK_FILE_MAX_BYTES + 1)), "is larger than 16 MiB"),
    "not-utf8": (pylock_holding(b"# \xff"), "is not UTF-8 text (byte 3 is 0xff)"),
    "missing": (lambda root: str(root / "pylock.toml"), "pylock.toml does not exist"),
}


@pytest.mark.parametrize(
    ("make", "expected"), UNREADABLE_PYLOCKS.values(), ids=UNREADABLE_PYLOCKS.keys()
)
def test_the_pylock_reader_refuses_what_it_cannot_read_whole(
    tmp_path: Path, make: Callable[[Path], str], expected: str
) -> None:
    with pytest.raises(PylockenvError, match=r"^app\.yml: pylock: ") as caught:
        read_pylock_file(make(tmp_path), "app.yml")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_pylock_reader_reads_a_file_of_exactly_the_limit(tmp_path: Path) -> None:
    path = pylock_holding(b"#" * PYLOCK_FILE_MAX_BYTES)(tmp_path)
    assert len(read_pylock_file(path, "app.yml")) == PYLOCK_FILE_MAX_BYTES


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errno.EACCES, "cannot be read: permission denied"),
        (errno.ENAMETOOLONG, "is too long a path for this system (ENAMETOOLONG"),
        (errno.ELOOP, "is a loop of symbolic links"),
        (errno.ENOTDIR, "does not exist"),
        (errno.EIO, "cannot be examined (Input/output error)"),
    ],
    ids=["EACCES", "ENAMETOOLONG", "ELOOP", "ENOTDIR", "EIO"],
)
def test_a_failed_stat_is_worded_by_its_errno(error: int, words: str) -> None:
    # Root reaches any directory, so EACCES is not produced on disk in the table above.
    assert os_error_words(OSError(error, os.strerror(error))).startswith(words)


def test_yaml_merge_keys_may_be_overridden_without_a_duplicate_key_error(tmp_path: Path) -> None:
    path = tmp_path / "app.yml"
    path.write_text(
        "base: &base {pylock: pylock.toml, command: -m a}\n"
        "commands:\n  a:\n    <<: *base\n    command: -m b\n"
    )
    assert read_spec_file(str(path), "a").command.command == "-m b"


# Properties: whatever text reaches a field, the core answers with a plan or a
# PylockenvError, never another exception.

SPECIALS = ["\n", "\r", "'", '"', "$", "`", "=", "\0", "\udcff", "\ud800", "\x1b", "#", ";"]
SPECIALS += ["${", "~", "-", ":", " ", "\\", "/", "..", "*", "\t", "\u2028", "pylock.toml"]
hostile_text = st.lists(
    st.one_of(st.sampled_from(SPECIALS), st.characters(exclude_categories=())), max_size=12
).map("".join)
# Some fields hold what YAML may give instead of a string.
not_text: st.SearchStrategy[object] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.just([])
)
hostile_list = st.one_of(st.lists(hostile_text, max_size=3), not_text)
hostile_env = st.one_of(st.dictionaries(hostile_text, hostile_text, max_size=3), not_text)

FACTS = NODE7


def facts_for(document: object, name: str | None) -> HostFacts:
    """FACTS, where every path the spec names exists (so planning goes all the way)."""
    try:
        spec = load_spec(document, "app.yml", name, "/srv/app")
        pylock, extras, prepend = resolved_paths(spec, home=FACTS.home, cwd=FACTS.cwd)
    except PylockenvError:
        return FACTS
    files = {path: FileFact(kind="file", mtime=1.0, size=1) for path in (pylock, *extras)}
    files |= {path: FileFact(kind="directory", mtime=1.0, size=1) for path in prepend}
    return attrs.evolve(FACTS, files=files)


def refusal(action: Callable[[], object]) -> PylockenvError | None:
    """The PylockenvError `action` raises, or None; any other exception propagates."""
    try:
        action()
    except PylockenvError as exc:
        return exc
    return None


def plans_or_refuses(document: object, name: str | None = None) -> None:
    """Load and plan `document`: a plan, or a one-line PylockenvError naming the file."""
    facts = facts_for(document, name)
    error = refusal(lambda: plan(load_spec(document, "app.yml", name, "/srv/app"), facts))
    assert error is None or str(error).startswith("app.yml"), error


documents = st.fixed_dictionaries(
    {"pylock": st.one_of(hostile_text, hostile_text.map(lambda t: t + "/pylock.toml"))},
    optional={
        "command": st.one_of(hostile_text, not_text),
        "python_version": st.one_of(hostile_text, not_text),
        "local_extra_deps": hostile_list,
        "prepend_paths": hostile_list,
        "env": hostile_env,
        "refresh": st.one_of(st.booleans(), hostile_text),
        "type": st.one_of(st.just("python_env"), hostile_text),
    },
)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_any_text_in_any_field_plans_or_is_refused(document: dict[str, Any]) -> None:
    plans_or_refuses({"command": "-m app", **document})


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.one_of(hostile_text, st.integers(), st.booleans(), st.none()),
        st.one_of(documents, not_text),
        max_size=3,
    ),
    st.one_of(st.none(), hostile_text),
)
def test_any_commands_section_and_name_plans_or_is_refused(
    commands: dict[object, object], name: str | None
) -> None:
    plans_or_refuses({"commands": commands}, name)


@settings(max_examples=200, deadline=None)
@given(
    pylock=hostile_text,
    command=hostile_text,
    python_version=st.one_of(st.none(), hostile_text),
    extras=st.lists(hostile_text, max_size=3),
    env=st.lists(hostile_text, max_size=3),
    prepend=st.lists(hostile_text, max_size=3),
)
def test_any_text_in_any_flag_plans_or_is_refused(
    pylock: str,
    command: str,
    python_version: str | None,
    extras: list[str],
    env: list[str],
    prepend: list[str],
) -> None:
    def load_and_plan() -> object:
        spec = command_from_flags(
            pylock=pylock,
            command=command,
            python_version=python_version,
            local_extra_deps=extras,
            env=env,
            prepend_paths=prepend,
        )
        return plan(spec, FACTS)

    error = refusal(load_and_plan)
    assert error is None or str(error).startswith("command line"), error


@settings(max_examples=200, deadline=None)
@given(st.one_of(hostile_text, st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_any_spec_file_text_loads_or_is_refused(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "app.yml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        error = refusal(lambda: read_spec_file(str(path), None))
    assert error is None or "\n" not in str(error), error
