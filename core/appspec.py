"""The app runner's own app.yml: versions of an app, each with its commands, as templates.

The shape is bfabric-app-runner 0.9.1's (`bfabric_app_runner/specs/app/`):

    bfabric: {app_runner: "0.9.1", workflow_template_step_id: 12}   # the second is optional
    versions:
      - version: ["1.0.0", "1.0.1"]      # a string, or a list: one version each
        commands:
          dispatch: {type: exec, command: ...}
          process: {type: python_env, pylock: ..., command: ...}
          collect: {...}                  # optional
      - version: "2.0.0"
        commands: {...}

Every string of a version is a template (`core.templates`): only `${app.id}`,
`${app.name}`, `${app.version}` and `${app.dir}` are substituted, nothing is
evaluated. The path fields follow the reference's order exactly, so the env hash
is the reference's: a path is expanded (`~`) and, when relative, joined to the
app.yml's resolved directory first, and substituted after (so a relative
`${app.dir}/x` becomes `<dir>/<dir>/x` there and here; write `x`).

The whole file's shape is checked as the reference checks it (required keys,
unknown keys, the command types, one definition per version, every string a
template pylockenv can read); the values of `exec`, `shell` and `docker`
commands are not, since pylockenv runs only `python_env` commands.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from attrs import frozen

from .errors import SpecError
from .limits import listed, shown, text_problem
from .spec import APP_SPEC_KEYS as TOP_KEYS
from .spec import (
    COMMAND_TYPE,
    FIELD_NAMES,
    Spec,
    choose_command,
    describe,
    plain_name,
    structure_command,
)
from .templates import Piece, TemplateRefused, parse_template, render, variables_used

BFABRIC_KEYS = ("app_runner", "workflow_template_step_id")
VERSION_KEYS = ("version", "commands")
COMMAND_SLOTS = ("dispatch", "process", "collect")
REQUIRED_SLOTS = ("dispatch", "process")
# The keys of each command type of the reference (`specs/app/commands_spec.py`).
COMMAND_KEYS: dict[str, tuple[str, ...]] = {
    "exec": ("type", "command", "env", "prepend_paths"),
    "shell": ("type", "command"),
    "docker": (
        "type",
        "image",
        "command",
        "entrypoint",
        "engine",
        "env",
        "mac_address",
        "mounts",
        "hostname",
        "custom_args",
    ),
    COMMAND_TYPE: FIELD_NAMES,
}
MOUNT_KEYS = ("work_dir_target", "read_only", "writeable", "share_bfabric_config")
# The fields the reference resolves against the app.yml's directory before substituting.
PATH_FIELDS = {
    COMMAND_TYPE: ("pylock", "local_extra_deps", "prepend_paths"),
    "exec": ("prepend_paths",),
}
_UNSAFE_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
_APP_ID = re.compile(r"[+-]?[0-9]{1,40}")


@frozen(kw_only=True)
class AppVariables:
    """The values a user gives an app.yml: the version to run, the app's id and name.

    None is "not given": a file with one version needs no version, and `${app.id}`
    or `${app.name}` without a value is an error naming the flag that gives it.
    """

    version: str | None = None
    app_id: str | None = None
    app_name: str | None = None


def safe_app_name(name: str) -> str:
    """`${app.name}` as the reference makes it: each run of characters outside
    `[a-zA-Z0-9_-]` becomes one `_`."""
    return _UNSAFE_NAME.sub("_", name)


def app_id_value(app_id: str) -> str:
    """`${app.id}` as the reference renders it (an integer, written as Python writes it);
    raises SpecError for text that is not a whole number."""
    if not _APP_ID.fullmatch(app_id):
        raise SpecError(
            f"--app-id {shown(app_id)}: expected a whole number such as 42 (the B-Fabric id "
            "of the application)."
        )
    return str(int(app_id))


@frozen(kw_only=True)
class _Version:
    """One version of the file: its text, and where it is written."""

    text: str
    entry: int  # index in `versions`
    where: str  # `versions[0].version[1]`


def _fail(source: str, where: str, message: str) -> SpecError:
    return SpecError(f"{source}: {where}: {message}" if where else f"{source}: {message}")


def _check_keys(
    data: Mapping[object, object], allowed: Sequence[str], source: str, where: str, what: str
) -> None:
    unknown = [key for key in data if key not in allowed]
    if unknown:
        names = listed(sorted(plain_name(str(key)) for key in unknown))
        raise _fail(
            source, where, f"unknown key(s) {names}; the keys of {what} are {', '.join(allowed)}."
        )


def _mapping(value: object, source: str, where: str, expected: str) -> Mapping[object, object]:
    if not isinstance(value, Mapping):
        raise _fail(source, where, f"expected {expected}, got {describe(value)}.")
    return value


def _check_bfabric(document: Mapping[object, object], source: str) -> None:
    if "bfabric" not in document:
        raise _fail(
            source,
            "bfabric",
            "this required section is missing; add 'bfabric: {app_runner: \"0.9.1\"}' (the "
            "app runner version), as the reference requires.",
        )
    bfabric = _mapping(document["bfabric"], source, "bfabric", "a mapping with app_runner")
    _check_keys(bfabric, BFABRIC_KEYS, source, "bfabric", "the bfabric section")
    if "app_runner" not in bfabric:
        raise _fail(source, "bfabric.app_runner", "this required field is missing; add it.")
    if not isinstance(bfabric["app_runner"], str):
        raise _fail(
            source,
            "bfabric.app_runner",
            f'expected a string such as "0.9.1", got {describe(bfabric["app_runner"])}.',
        )
    step = bfabric.get("workflow_template_step_id")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise _fail(
            source,
            "bfabric.workflow_template_step_id",
            f"expected a whole number or nothing, got {describe(step)}.",
        )


def _entries(document: Mapping[object, object], source: str) -> list[Mapping[object, object]]:
    if "versions" not in document:
        raise _fail(
            source,
            "versions",
            "this required section is missing; add a list of versions, each with 'version' "
            "and 'commands'.",
        )
    versions = document["versions"]
    if not isinstance(versions, list) or not versions:
        got = "an empty list" if versions == [] else describe(versions)
        raise _fail(
            source,
            "versions",
            f"expected a list of versions, each with 'version' and 'commands', got {got}.",
        )
    entries = []
    for i, entry in enumerate(versions):
        where = f"versions[{i}]"
        mapping = _mapping(entry, source, where, "a mapping with 'version' and 'commands'")
        _check_keys(mapping, VERSION_KEYS, source, where, "a version")
        for key in VERSION_KEYS:
            if key not in mapping:
                raise _fail(source, f"{where}.{key}", "this required field is missing; add it.")
        entries.append(mapping)
    return entries


def _versions(entries: Sequence[Mapping[object, object]], source: str) -> list[_Version]:
    """Every version of the file, in order; refuses a version given twice."""
    found: list[_Version] = []
    first: dict[str, _Version] = {}
    for i, entry in enumerate(entries):
        value = entry["version"]
        texts = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for j, text in texts:
            where = f"versions[{i}].version" + ("" if j is None else f"[{j}]")
            if not isinstance(text, str):
                raise _fail(
                    source,
                    where,
                    f'expected a string such as "1.0.0" (quote it), got {describe(text)}.',
                )
            problem = text_problem(text)
            if problem is not None:
                raise _fail(source, where, f"{shown(text)} {problem}.")
            try:
                pieces = parse_template(text)
            except TemplateRefused as exc:
                raise _fail(source, where, f"{exc}.") from None
            if variables_used(pieces):
                raise _fail(
                    source,
                    where,
                    f"{shown(text)} uses a variable; pylockenv reads a version as plain text, "
                    "so write it out.",
                )
            version = _Version(text=render(pieces, {}), entry=i, where=where)
            if version.text in first:
                raise _fail(
                    source,
                    "versions",
                    f"the version {shown(version.text)} is defined twice, at "
                    f"{first[version.text].where} and at {where}; keep one of them (the "
                    "reference refuses this too).",
                )
            first[version.text] = version
            found.append(version)
    if not found:
        raise _fail(source, "versions", "defines no version (every 'version' list is empty).")
    return found


def _commands(
    entry: Mapping[object, object], source: str, where: str
) -> dict[str, Mapping[object, object]]:
    """A version's commands by slot (dispatch, process and, if given, collect), with their
    keys and types checked."""
    commands = _mapping(
        entry["commands"], source, where, "a mapping with dispatch, process and collect"
    )
    _check_keys(commands, COMMAND_SLOTS, source, where, "a version's commands")
    found: dict[str, Mapping[object, object]] = {}
    for slot in COMMAND_SLOTS:
        command = commands.get(slot)
        if command is None:
            if slot in REQUIRED_SLOTS:
                raise _fail(
                    source,
                    f"{where}.{slot}",
                    "this required command is missing; the reference needs dispatch and "
                    "process (collect is optional).",
                )
            continue
        at = f"{where}.{slot}"
        mapping = _mapping(command, source, at, "a command mapping with a 'type'")
        kind = mapping.get("type")
        if kind not in COMMAND_KEYS:
            got = "no type" if "type" not in mapping else describe(kind)
            raise _fail(
                source,
                f"{at}.type",
                f"expected one of {', '.join(COMMAND_KEYS)}, got {got}; an app.yml names the "
                "type of each command.",
            )
        assert isinstance(kind, str)
        _check_keys(mapping, COMMAND_KEYS[kind], source, at, f"a {kind} command")
        mounts = mapping.get("mounts")
        if kind == "docker" and isinstance(mounts, Mapping):
            _check_keys(mounts, MOUNT_KEYS, source, f"{at}.mounts", "a docker command's mounts")
        found[slot] = mapping
    return found


def _joined(text: str, app_dir: str) -> str:
    """A path field's text as the reference hands it to Mako: joined to the app.yml's
    directory when relative (`~` and absolute paths as they are; `~` is expanded when
    planning, which gives the same path)."""
    if text.startswith(("/", "~")) or not text.strip():
        return text
    return f"{app_dir.rstrip('/')}/{text}" if app_dir != "/" else f"/{text}"


def _mapped(
    command: Mapping[object, object],
    kind: str,
    app_dir: str,
    where: str,
    change: Callable[[str, str], str],
) -> dict[object, object]:
    """A copy of `command` with `change(field path, text)` applied to every string the
    reference renders: values in lists and mappings too, never a mapping's keys. A path
    field's text is joined to `app_dir` first (see `_joined`)."""
    paths = PATH_FIELDS.get(kind, ())

    def walk(value: object, at: str, path: bool) -> object:
        if isinstance(value, str):
            return change(at, _joined(value, app_dir) if path else value)
        if isinstance(value, list):
            return [walk(item, f"{at}[{i}]", path) for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            return {
                key: walk(item, f"{at}[{shown(str(key))}]", False) for key, item in value.items()
            }
        return value

    return {
        key: walk(value, f"{where}.{plain_name(str(key))}", key in paths)
        for key, value in command.items()
    }


def _parsed(source: str, at: str, text: str) -> tuple[Piece, ...]:
    problem = text_problem(text)
    if problem is not None:
        raise _fail(source, at, f"{shown(text)} {problem}.")
    try:
        return parse_template(text)
    except TemplateRefused as exc:
        raise _fail(source, at, f"{exc}.") from None


def _check_templates(
    command: Mapping[object, object], kind: str, app_dir: str, source: str, where: str
) -> None:
    """Check that every string of `command` is a template pylockenv can read."""

    def check(at: str, text: str) -> str:
        _parsed(source, at, text)
        return text

    _mapped(command, kind, app_dir, where, check)
    for key in PATH_FIELDS.get(kind, ()):
        value = command.get(key)
        texts: list[object] = (
            [value]
            if isinstance(value, str)
            else list(value or ())
            if isinstance(value, list)
            else []
        )
        for i, text in enumerate(texts):
            if not isinstance(text, str) or text.startswith(("/", "~")):
                continue
            if "dir" in variables_used(parse_template(_joined(text, app_dir))):
                at = f"{where}.{key}" + ("" if isinstance(value, str) else f"[{i}]")
                raise _fail(
                    source,
                    at,
                    f"{shown(text)} is a relative path that uses ${{app.dir}}: the reference "
                    "joins a relative path to the app.yml's directory before it substitutes, "
                    "so this would name a path inside that directory twice over. Write the "
                    "path relative to the app.yml (a relative path already starts there), "
                    "or absolute.",
                )


def _choose(versions: Sequence[_Version], wanted: str | None, source: str) -> _Version:
    names = listed([shown(version.text) for version in versions])
    if wanted is None:
        if len(versions) == 1:
            return versions[0]
        raise SpecError(
            f"{source}: defines several versions ({names}); choose one with --app-version "
            f"(for example --app-version {plain_name(versions[-1].text)})."
        )
    for version in versions:
        if version.text == wanted:
            return version
    raise SpecError(
        f"{source}: has no version {shown(wanted)}; its versions are {names}; give one of them "
        "with --app-version."
    )


def _pick_slot(
    commands: Mapping[str, Mapping[object, object]], name: str | None, label: str, source: str
) -> str:
    runnable = [slot for slot, command in commands.items() if command["type"] == COMMAND_TYPE]
    name = choose_command(list(commands), runnable, label, name, source=source)
    kind = commands[name]["type"]
    if kind != COMMAND_TYPE:
        others = f" (its python_env commands: {', '.join(runnable)})" if runnable else ""
        raise SpecError(
            f"{label}: {name} is {'an' if kind == 'exec' else 'a'} {kind} command, and "
            f"pylockenv runs python_env commands only; run it with bfabric-app-runner, or "
            f"pick a python_env command{others}."
        )
    return name


def _values(
    used: Sequence[str], variables: AppVariables, version: str, app_dir: str, where: str
) -> dict[str, str]:
    """The values of the variables `used` at `where` (source and field path)."""
    values: dict[str, str] = {"version": version, "dir": app_dir}
    given: dict[str, tuple[str | None, Callable[[str], str]]] = {
        "id": (variables.app_id, app_id_value),
        "name": (variables.app_name, safe_app_name),
    }
    for variable, (value, made_safe) in given.items():
        if variable not in used:
            continue
        if value is None:
            raise SpecError(
                f"{where}: uses ${{app.{variable}}}, which has no value here; give it with "
                f"--app-{variable} (app_{variable}= in the Python API)."
            )
        values[variable] = made_safe(value)
    return values


def load_app_spec(
    document: object,
    source: str,
    name: str | None,
    *,
    app_dir: str,
    variables: AppVariables | None = None,
) -> Spec:
    """The python_env command `name` (or the only one) of the chosen version of an app.yml.

    `app_dir` is the app.yml's resolved directory (`${app.dir}`, and the base of its
    relative paths); `variables` give the version and the values of `${app.id}` and
    `${app.name}`. Raises SpecError naming `source` and the field for anything the
    reference would refuse, or pylockenv cannot read as data.
    """
    variables = variables or AppVariables()
    if variables.app_id is not None:
        app_id_value(variables.app_id)  # the reference needs a number whether used or not
    document = _mapping(document, source, "", "a mapping with bfabric and versions")
    _check_keys(document, TOP_KEYS, source, "", "an app spec")
    _check_bfabric(document, source)
    entries = _entries(document, source)
    versions = _versions(entries, source)
    slots = []
    for i, entry in enumerate(entries):
        where = f"versions[{i}].commands"
        commands = _commands(entry, source, where)
        for slot, command in commands.items():
            _check_templates(command, str(command["type"]), app_dir, source, f"{where}.{slot}")
        slots.append(commands)
    chosen = _choose(versions, variables.version, source)
    commands = slots[chosen.entry]
    path = f"versions[{chosen.entry}].commands"
    label = f"{source}: {path} (version {shown(chosen.text)})"
    slot = _pick_slot(commands, name, label, source)
    command = commands[slot]
    where = f"{path}.{slot}"
    data = _rendered(command, variables, chosen.text, app_dir, source, where)
    structured = structure_command(data, source, where)
    return Spec(command=structured, source=f"{source}: {where}", base_dir=app_dir)


def _rendered(
    command: Mapping[object, object],
    variables: AppVariables,
    version: str,
    app_dir: str,
    source: str,
    where: str,
) -> dict[object, object]:
    """A copy of `command` with its strings rendered (path fields joined first)."""

    def fill(at: str, text: str) -> str:
        pieces = _parsed(source, at, text)
        return render(
            pieces,
            _values(variables_used(pieces), variables, version, app_dir, f"{source}: {at}"),
        )

    return _mapped(command, COMMAND_TYPE, app_dir, where, fill)
