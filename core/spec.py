"""The `python_env` command spec: its value class and how plain data becomes one.

Plain data (from YAML or from CLI flags) is structured with one cattrs converter
that refuses to coerce: a number is not a string, a string is not a list, and an
unknown key is an error. Every error names the file, the field path and what was
expected, in one sentence; values are quoted through `limits.shown`, never whole.

Strings must also be something the rest of the run can carry: UTF-8 text without
NUL bytes, paths no longer than a path can be, and local extras free of what uv
would read as requirement syntax (see `core.limits`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cattrs
from attrs import field, fields, frozen
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from .errors import SpecError
from .hints import did_you_mean
from .limits import (
    LISTED_MAX_ITEMS,
    SHOWN_MAX_CHARS,
    env_entry_problem,
    listed,
    path_entry_problem,
    path_problem,
    requirement_problem,
    shown,
    shown_path,
    text_problem,
)

COMMAND_TYPE = "python_env"


def _dict_copy(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@frozen(kw_only=True)
class PythonEnvCommand:
    """One `type: python_env` command, with every field of the reference implementation.

    Paths are kept as written; they are made absolute when planning, against the
    spec file's directory (see `Spec.base_dir`).
    """

    type: str = COMMAND_TYPE
    pylock: str
    command: str
    python_version: str | None = None
    local_extra_deps: tuple[str, ...] = ()
    # Unhashable, so left out of the hash; equality still compares it.
    env: Mapping[str, str] = field(factory=dict, converter=_dict_copy, hash=False)
    prepend_paths: tuple[str, ...] = ()
    refresh: bool = False


FIELD_NAMES = tuple(a.name for a in fields(PythonEnvCommand))
# The top-level keys of the app runner's own app.yml (read by `core.appspec`).
APP_SPEC_KEYS = ("bfabric", "versions")


def is_app_document(document: object) -> bool:
    """Whether a spec document is an app runner's app.yml (`bfabric:`, `versions:`)."""
    return isinstance(document, Mapping) and any(key in document for key in APP_SPEC_KEYS)


@frozen(kw_only=True)
class Spec:
    """A command together with where it came from.

    `source` names the command in messages (`app.yml: commands.process`);
    `base_dir` is the directory relative paths are resolved against, or None for
    the working directory (a spec given by CLI flags).
    """

    command: PythonEnvCommand
    source: str
    base_dir: str | None = None


class _Rejected(ValueError):
    """Raised by the strict hooks; its message is shown to the user as it is."""


def _describe(value: object, *, quote: bool = True) -> str:
    """A few words for `value`; `quote=False` leaves a string's text out (a whole
    document that is not a mapping may be any file, such as /etc/passwd)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"the string {shown(value)}" if quote else f"text ({len(value):,} characters)"
    if isinstance(value, int | float):
        try:
            text = repr(value)
        except ValueError:  # an int over sys.get_int_max_str_digits()
            return "a number too long to show"
        return text if len(text) <= SHOWN_MAX_CHARS else f"a number of {len(text):,} digits"
    if isinstance(value, bytes):
        return "binary data"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


describe = _describe


def _strict_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise _Rejected(f"expected a string, got {_describe(value)}")
    return value


def _strict_optional_str(value: object, _: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Rejected(f'expected a string such as "3.11", got {_describe(value)}')
    return value


def _strict_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise _Rejected(f"expected true or false, got {_describe(value)}")
    return value


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook_func(lambda t: t == str | None, _strict_optional_str)
    list_of_str = converter.get_structure_hook(tuple[str, ...])
    map_of_str = converter.get_structure_hook(dict[str, str])

    def strict_list(value: object, type_: type) -> tuple[str, ...]:
        # A bare string is iterable, and would otherwise become a list of characters.
        if not isinstance(value, list | tuple):
            raise _Rejected(f"expected a list of strings, got {_describe(value)}")
        result: tuple[str, ...] = list_of_str(value, type_)
        return result

    def strict_map(value: object, type_: type) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise _Rejected(f"expected a mapping of names to strings, got {_describe(value)}")
        result: dict[str, str] = map_of_str(value, type_)
        return result

    converter.register_structure_hook_func(lambda t: t == tuple[str, ...], strict_list)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, str], strict_map)
    return converter


CONVERTER = _make_converter()


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")


def _name(name: str) -> str:
    """A key or command name as a message shows it: bare if plain, else quoted and capped."""
    return name if _PLAIN_NAME.fullmatch(name) else shown(name)


plain_name = _name


def _format_exception(exc: BaseException, _: object) -> str:
    if isinstance(exc, _Rejected):
        return str(exc)
    if isinstance(exc, KeyError):
        return "this required field is missing; add it (see the spec reference in the README)"
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = sorted(str(key) for key in exc.extra_fields)
        unknown = listed([_name(key) + did_you_mean(key, FIELD_NAMES) for key in keys])
        allowed = ", ".join(FIELD_NAMES)
        return f"unknown key(s) {unknown}; the keys of a python_env command are {allowed}"
    return f"invalid value ({shown(str(exc))})"


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


def _field_errors(exc: ClassValidationError | IterableValidationError, path: str) -> list[str]:
    messages = []
    # transform_error renders paths as "<root>.field[1]"; a sentinel root lets us
    # drop it for a single-command file, whose fields have no prefix.
    for line in cattrs.transform_error(exc, path="\0", format_exception=_format_exception):
        message, _, where = line.rpartition(" @ ")
        where = where.replace("\0.", "").replace("\0", "")
        if len(where) > 2 * SHOWN_MAX_CHARS:  # an env key is part of the path, as its repr
            where = where[:SHOWN_MAX_CHARS] + "..."
        full = _join(path, where) if where else path
        messages.append(f"{full}: {message}" if full else message)
    if len(messages) > LISTED_MAX_ITEMS:
        more = len(messages) - LISTED_MAX_ITEMS
        messages = [*messages[:LISTED_MAX_ITEMS], f"and {more:,} more like these"]
    return messages


def _env_field(name: str) -> str:
    return f"env[{shown(name)}]"


_EMPTY_PATH_ADVICE = {
    "pylock": "the path of a pylock.toml file",
    "local_extra_deps": "the path of a wheel or a source tree",
    "prepend_paths": "a directory to put on PATH",
}


def _path_fields(
    pylock: str, extras: Sequence[str], prepend: Sequence[str]
) -> list[tuple[str, str, str]]:
    """The path fields, as (field, field name with its index, value)."""
    return [
        ("pylock", "pylock", pylock),
        *(("local_extra_deps", f"local_extra_deps[{i}]", dep) for i, dep in enumerate(extras)),
        *(("prepend_paths", f"prepend_paths[{i}]", entry) for i, entry in enumerate(prepend)),
    ]


def _path_problem(kind: str, path: str) -> str | None:
    """What is wrong with `path` as a value of the field `kind` (see `core.limits`)."""
    problem = path_problem(path)
    if problem is None and kind == "local_extra_deps":
        problem = requirement_problem(path)
    if problem is None and kind == "prepend_paths":
        problem = path_entry_problem(path)
    return problem


def _strings(command: PythonEnvCommand) -> list[tuple[str, str, str]]:
    """Every string of `command`, as (field name, how a message names it, value)."""
    paths = _path_fields(command.pylock, command.local_extra_deps, command.prepend_paths)
    strings = [(name, shown_path(value, quote=True), value) for _, name, value in paths]
    strings.append(("command", shown(command.command), command.command))
    if command.python_version is not None:
        strings.append(("python_version", shown(command.python_version), command.python_version))
    for key, value in command.env.items():
        strings += [("env", f"the name {shown(key)}", key), (_env_field(key), shown(value), value)]
    return strings


def _check_semantics(command: PythonEnvCommand, source: str, path: str) -> None:
    def fail(name: str, message: str) -> SpecError:
        return SpecError(f"{source}: {_join(path, name)}: {message}")

    # First: a NUL or a non-UTF-8 byte would break the checks below (and every use later).
    for name, label, value in _strings(command):
        problem = text_problem(value)
        if problem is not None:
            raise fail(name, f"{label} {problem}.")
    for key, value in command.env.items():
        problem = env_entry_problem(key, value)
        if problem is not None:
            raise fail(_env_field(key), f"{shown(value)} {problem}.")
    paths = _path_fields(command.pylock, command.local_extra_deps, command.prepend_paths)
    for kind, name, value in paths:
        if not value.strip():
            raise fail(name, f"is empty; give {_EMPTY_PATH_ADVICE[kind]}.")
        problem = _path_problem(kind, value)
        if problem is not None:
            raise fail(name, f"{shown_path(value, quote=True)} {problem}.")
    _check_command(command.command, fail)
    _check_python_version(command.python_version, fail)
    for name in command.env:
        if not name or "=" in name:
            raise fail(_env_field(name), "is not a valid environment variable name.")


def check_resolved_paths(
    spec: Spec, pylock: str, extras: Sequence[str], prepend: Sequence[str]
) -> None:
    """Make the checks of the path fields again on their absolute forms (as
    `plan.resolved_paths` returns them): the spec file's directory, the working
    directory or the home directory may bring in what the field as written lacked
    (a byte that is not UTF-8, a '#' uv would misread). Raises SpecError."""
    for kind, name, value in _path_fields(pylock, extras, prepend):
        problem = _path_problem(kind, value)
        if problem is not None:
            raise SpecError(f"{spec.source}: {name}: {shown_path(value, quote=True)} {problem}.")


def _check_command(command: str, fail: Callable[[str, str], SpecError]) -> None:
    if not command.strip():
        raise fail(
            "command",
            "is empty; give what to run, such as '-m my_app' or the name of a console script.",
        )
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise fail(
            "command",
            f"cannot be split into words ({exc}): {shown(command)}; "
            "close the quote or escape it with a backslash.",
        ) from None
    if not words[0]:
        raise fail(
            "command",
            f"{shown(command)} starts with an empty word; give what to run first, such as "
            "'-m my_app' or the name of a console script.",
        )


def _check_python_version(version: str | None, fail: Callable[[str, str], SpecError]) -> None:
    if version is None:
        return
    if not version.strip():
        raise fail("python_version", "is empty; give a version such as '3.11', or leave it out.")
    if version != version.strip():
        # uv reads '3.11 ' as '3.11', but the env hash covers the string as written, as
        # the reference's does: accepted, it would make a second env of the same request.
        raise fail(
            "python_version",
            f"{shown(version)} has white space around it, which would name an env of its own "
            f"for the same Python; write {shown(version.strip())}.",
        )
    if version.startswith("-"):
        raise fail(
            "python_version",
            f"{shown(version)} starts with '-', so uv would read it as an option; give a "
            "version such as '3.11', an interpreter name or a path.",
        )


def structure_command(data: object, source: str, path: str = "") -> PythonEnvCommand:
    """Build a command from plain data, or raise SpecError naming `source` and the field."""
    where = f"{source}: {path}" if path else source
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{where}: expected a mapping with the keys of a python_env command "
            f"(at least 'pylock' and 'command'), got {_describe(data, quote=bool(path))}."
        )
    kind = data.get("type", COMMAND_TYPE)
    if kind != COMMAND_TYPE:
        # Said first: the other keys of, say, an `exec` command would only confuse.
        raise SpecError(
            f"{source}: {_join(path, 'type')}: expected {COMMAND_TYPE!r}, "
            f"got {shown(kind) if isinstance(kind, str) else _describe(kind)}; "
            "pylockenv runs only python_env commands (leave the key out, or write "
            "'type: python_env')."
        )
    try:
        command = CONVERTER.structure(dict(data), PythonEnvCommand)
    except (ClassValidationError, IterableValidationError) as exc:
        problems = _field_errors(exc, path)
        raise SpecError(f"{source}: " + "; ".join(problems) + ".") from None
    _check_semantics(command, source, path)
    return command


def _command_names(commands: Mapping[object, object], source: str) -> dict[str, object]:
    """The `commands:` entries by name; a name written as a number (`1:`) is its text."""
    named: dict[str, object] = {}
    for key, value in commands.items():
        if isinstance(key, bool) or not isinstance(key, str | int):
            raise SpecError(
                f"{source}: commands: a command is named by {_describe(key)}, not by a string; "
                "quote the name, as in '\"name\": {pylock: ..., command: ...}'."
            )
        text = str(key)
        if text in named:
            raise SpecError(
                f"{source}: commands: two commands are named {_name(text)} (once as a number, "
                "once as a string); rename one of them."
            )
        named[text] = value
    return named


def choose_command(
    names: Sequence[str],
    runnable: Sequence[str],
    label: str,
    name: str | None,
    *,
    source: str,
    none_runnable: str = "",
) -> str:
    """The command to run among the `names` of a `commands:` section (spec file or app.yml
    version; `label` says which), `runnable` being its python_env ones: `name`, which must
    be one of them, or else the only runnable one. `none_runnable` ends the sentence
    said when there is none."""
    if name is not None:
        if name not in names:
            raise SpecError(
                f"{label}: has no command named {shown(name)}{did_you_mean(name, names)}; its "
                f"commands are {listed([_name(key) for key in names])}."
            )
        return name
    if len(runnable) == 1:
        return runnable[0]
    if not runnable:
        raise SpecError(
            f"{label}: none of its commands ({listed([_name(key) for key in names])}) is of "
            f"type {COMMAND_TYPE}, the only type pylockenv runs{none_runnable}."
        )
    raise SpecError(
        f"{label}: holds several python_env commands ({listed([_name(k) for k in runnable])}); "
        f"name the one to run after the spec file, e.g. '{source} {_name(runnable[0])}'."
    )


def select_command(document: object, source: str, name: str | None) -> tuple[object, str]:
    """Pick the command mapping from a spec document and return it with its field path.

    A document is either one command mapping, or a mapping with a `commands:` section
    whose entries are picked by `name`.
    """
    if isinstance(document, Mapping) and "commands" in document:
        commands = document["commands"]
        if not isinstance(commands, Mapping) or not commands:
            raise SpecError(
                f"{source}: commands: expected a mapping of command names to commands, "
                f"got {'an empty mapping' if commands == {} else _describe(commands)}."
            )
        named = _command_names(commands, source)
        if name is None and len(named) == 1:
            # Its own checks say best what is wrong with it (not a mapping, type: exec, ...).
            name = next(iter(named))
        runnable = [
            key
            for key, value in named.items()
            if isinstance(value, Mapping) and value.get("type", COMMAND_TYPE) == COMMAND_TYPE
        ]
        name = choose_command(
            list(named),
            runnable,
            source,
            name,
            source=source,
            none_runnable="; add a python_env command (a command without a 'type' key is one)",
        )
        return named[name], f"commands.{_name(name)}"
    if name is not None:
        raise SpecError(
            f"{source}: holds a single command, not a 'commands:' section, so there is no "
            f"command named {shown(name)} to pick; leave the name out."
        )
    return document, ""


def load_spec(document: object, source: str, name: str | None, base_dir: str | None) -> Spec:
    """Turn a parsed spec document into a Spec (see `select_command` for the shapes; an
    app.yml, with versions, is `core.appspec.load_app_spec`'s)."""
    if is_app_document(document):
        raise SpecError(
            f"{source}: is an app spec (bfabric:, versions:), whose commands depend on a "
            "version and template variables; load it with pylockenv.core.load_app_spec (or "
            "pylockenv.shell.load_app)."
        )
    data, path = select_command(document, source, name)
    command = structure_command(data, source, path)
    label = f"{source}: {path}" if path else source
    return Spec(command=command, source=label, base_dir=base_dir)


def command_from_flags(
    *,
    pylock: str,
    command: str,
    python_version: str | None = None,
    local_extra_deps: Sequence[str] = (),
    env: Sequence[str] = (),
    prepend_paths: Sequence[str] = (),
    refresh: bool = False,
) -> Spec:
    """Build a Spec from command-line flags; `env` entries are `KEY=VALUE` strings."""
    source = "command line"
    pairs: dict[str, str] = {}
    for entry in env:
        key, sep, value = entry.partition("=")
        if not sep or not key:
            raise SpecError(
                f"{source}: --env {shown(entry)}: expected KEY=VALUE, "
                "for example --env DATA_PATH=/data."
            )
        pairs[key] = value
    data: dict[str, Any] = {
        "pylock": pylock,
        "command": command,
        "local_extra_deps": list(local_extra_deps),
        "env": pairs,
        "prepend_paths": list(prepend_paths),
        "refresh": refresh,
    }
    if python_version is not None:
        data["python_version"] = python_version
    return Spec(command=structure_command(data, source), source=source, base_dir=None)
