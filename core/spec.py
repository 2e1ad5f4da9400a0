"""The `python_env` command spec: its value class and how plain data becomes one.

Plain data (from YAML or from CLI flags) is structured with one cattrs converter
that refuses to coerce: a number is not a string, a string is not a list, and an
unknown key is an error. Every error names the file, the field path and what was
expected, in one sentence.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import cattrs
from attrs import field, fields, frozen
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from .errors import SpecError

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


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


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


def _format_exception(exc: BaseException, _: object) -> str:
    if isinstance(exc, _Rejected):
        return str(exc)
    if isinstance(exc, KeyError):
        return "this required field is missing; add it (see the spec reference in the README)"
    if isinstance(exc, ForbiddenExtraKeysError):
        unknown = ", ".join(sorted(exc.extra_fields))
        allowed = ", ".join(FIELD_NAMES)
        return f"unknown key(s) {unknown}; the keys of a python_env command are {allowed}"
    return f"invalid value ({exc})"


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


def _field_errors(exc: ClassValidationError | IterableValidationError, path: str) -> list[str]:
    messages = []
    # transform_error renders paths as "<root>.field[1]"; a sentinel root lets us
    # drop it for a single-command file, whose fields have no prefix.
    for line in cattrs.transform_error(exc, path="\0", format_exception=_format_exception):
        message, _, where = line.rpartition(" @ ")
        where = where.replace("\0.", "").replace("\0", "")
        full = _join(path, where) if where else path
        messages.append(f"{full}: {message}" if full else message)
    return messages


def _check_semantics(command: PythonEnvCommand, source: str, path: str) -> None:
    def fail(name: str, message: str) -> SpecError:
        return SpecError(f"{source}: {_join(path, name)}: {message}")

    if not command.pylock.strip():
        raise fail("pylock", "is empty; give the path of a pylock.toml file.")
    if not command.command.strip():
        raise fail(
            "command",
            "is empty; give what to run, such as '-m my_app' or the name of a console script.",
        )
    try:
        shlex.split(command.command)
    except ValueError as exc:
        raise fail(
            "command",
            f"cannot be split into words ({exc}): {command.command!r}; "
            "close the quote or escape it with a backslash.",
        ) from None
    if command.python_version is not None and not command.python_version.strip():
        raise fail("python_version", "is empty; give a version such as '3.11', or leave it out.")
    for i, dep in enumerate(command.local_extra_deps):
        if not dep.strip():
            raise fail(
                f"local_extra_deps[{i}]", "is empty; give the path of a wheel or a source tree."
            )
    for i, entry in enumerate(command.prepend_paths):
        if not entry.strip():
            raise fail(f"prepend_paths[{i}]", "is empty; give a directory to put on PATH.")
    for name in command.env:
        if not name or "=" in name or "\0" in name:
            raise fail(f"env[{name!r}]", "is not a valid environment variable name.")


def structure_command(data: object, source: str, path: str = "") -> PythonEnvCommand:
    """Build a command from plain data, or raise SpecError naming `source` and the field."""
    where = f"{source}: {path}" if path else source
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{where}: expected a mapping with the keys of a python_env command "
            f"(at least 'pylock' and 'command'), got {_describe(data)}."
        )
    kind = data.get("type", COMMAND_TYPE)
    if kind != COMMAND_TYPE:
        shown = repr(kind) if isinstance(kind, str) else _describe(kind)
        # Said first: the other keys of, say, an `exec` command would only confuse.
        raise SpecError(
            f"{source}: {_join(path, 'type')}: expected {COMMAND_TYPE!r}, "
            f"got {shown}; "
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
        names = [str(key) for key in commands]
        if name is None:
            runnable = [
                str(key)
                for key, value in commands.items()
                if isinstance(value, Mapping) and value.get("type", COMMAND_TYPE) == COMMAND_TYPE
            ]
            if len(runnable) != 1:
                raise SpecError(
                    f"{source}: holds several commands ({', '.join(names)}); "
                    "name the one to run after the spec file, e.g. 'pylockenv run "
                    f"{source} {runnable[0] if runnable else names[0]}'."
                )
            name = runnable[0]
        if name not in commands:
            raise SpecError(
                f"{source}: has no command named {name!r}; its commands are {', '.join(names)}."
            )
        return commands[name], f"commands.{name}"
    if name is not None:
        raise SpecError(
            f"{source}: holds a single command, not a 'commands:' section, so there is no "
            f"command named {name!r} to pick; leave the name out."
        )
    return document, ""


def load_spec(document: object, source: str, name: str | None, base_dir: str | None) -> Spec:
    """Turn a parsed spec document into a Spec (see `select_command` for the shapes)."""
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
                f"{source}: --env {entry!r}: expected KEY=VALUE, for example --env DATA_PATH=/data."
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
