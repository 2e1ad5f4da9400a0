"""Reading the files a user names: the YAML spec, and the text of a pylock.

Both are read with `read_limited_text`, which refuses what is not a regular file
(a FIFO would block the read forever, `/dev/zero` would never end) and anything
over its size limit in `core.limits`, without reading more than the limit. Their
errors never quote the file's contents.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING

from pylockenv.core.appspec import AppVariables, load_app_spec
from pylockenv.core.errors import PylockenvError, PylockError, SpecError
from pylockenv.core.limits import (
    MIB,
    PYLOCK_FILE_MAX_BYTES,
    SPEC_FILE_MAX_BYTES,
    clipped,
    shown,
    shown_path,
    text_problem,
)
from pylockenv.core.spec import Spec, is_app_document, load_spec

from .cachefiles import file_type
from .facts import os_error_words, working_directory

if TYPE_CHECKING:
    import argparse

    import yaml


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit % MIB == 0 else f"{limit:,} bytes"


def read_limited_text(path: str, *, limit: int, fail: Callable[[str], PylockenvError]) -> str:
    """The UTF-8 text of the regular file at `path`, if it is at most `limit` bytes.

    Otherwise raises `fail(reason)`, where `reason` says what is wrong with the path
    as a phrase ("is a directory, not a regular file"). Never blocks on a FIFO and
    never reads more than `limit + 1` bytes.
    """
    if "\0" in path:  # os.open would raise ValueError; other text problems are the spec's
        raise fail(text_problem(path) or "holds a NUL byte")
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise fail(os_error_words(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise fail(f"is {file_type(mode)}, not a regular file")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, MIB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise fail(os_error_words(exc)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise fail(f"is larger than {_size(limit)}, the most pylockenv reads")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset, byte = exc.start + 1, data[exc.start]
        raise fail(f"is not UTF-8 text (byte {offset:,} is 0x{byte:02x})") from None


def read_pylock_file(path: str, where: str) -> str:
    """The text of the pylock (or requirements) file at `path`, read as `read_limited_text`
    reads, with `PYLOCK_FILE_MAX_BYTES` as its limit; `where` names the spec in errors."""

    def fail(reason: str) -> PylockError:
        return PylockError(
            f"{where}: pylock: {shown_path(path)} {reason}; point pylock at a readable lock "
            "file, or regenerate it (for example with 'uv export --format pylock.toml -o "
            "pylock.toml')."
        )

    return read_limited_text(path, limit=PYLOCK_FILE_MAX_BYTES, fail=fail)


class DuplicateKeyError(Exception):
    """A YAML mapping gives the same key twice; where, as "line L, column C"."""

    def __init__(self, key: object, where: str, first: str) -> None:
        super().__init__(key, where, first)
        self.key = key
        self.where = where
        self.first = first


def _position(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


@functools.cache
def _strict_loader() -> type[yaml.SafeLoader]:
    """A safe YAML loader (the C one if present) that refuses a key given twice in a
    mapping, which plain YAML loading resolves silently by keeping the last, and
    reports a number too long to convert as a YAML error with its position."""
    import yaml

    base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):  # type: ignore[valid-type,misc]
        def construct_mapping(
            self, node: yaml.MappingNode, deep: bool = False
        ) -> dict[object, object]:
            seen: dict[object, str] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if first is not None:
                    raise DuplicateKeyError(key, _position(key_node.start_mark), first)
                seen[key] = _position(key_node.start_mark)
            mapping: dict[object, object] = super().construct_mapping(node, deep=deep)
            return mapping

        def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
            try:
                value: int = super().construct_yaml_int(node)
            except ValueError:  # over sys.get_int_max_str_digits()
                raise yaml.constructor.ConstructorError(
                    None, None, "found a number too long to read", node.start_mark
                ) from None
            return value

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    return StrictLoader


def _read_document(path: str) -> tuple[object, str]:
    """The parsed YAML document of the spec file at `path`, and its name for messages."""
    import yaml

    source = shown_path(path)

    def fail(reason: str) -> SpecError:
        if reason == "does not exist" and not path.startswith("/") and not working_directory():
            return SpecError(
                f"{source}: a relative path, but the working directory it is read from no "
                "longer exists (it was deleted); cd to an existing directory, or give the "
                "spec's path in full."
            )
        if reason == "does not exist":
            return SpecError(f"{source}: no such spec file; check the path.")
        return SpecError(f"{source}: {reason}; give the path of a YAML spec file.")

    text = read_limited_text(path, limit=SPEC_FILE_MAX_BYTES, fail=fail)
    try:
        return yaml.load(text, Loader=_strict_loader()), source
    except DuplicateKeyError as exc:
        raise SpecError(
            f"{source}: {exc.where}: the key {shown(str(exc.key))} is given a second time in "
            f"the same mapping (first at {exc.first}); keep one of them."
        ) from None
    except RecursionError:  # only without libyaml, whose parser stops at depth 1000
        raise SpecError(
            f"{source}: not valid YAML (it nests too deeply to read); fix the syntax."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        # Only the problem, never the excerpt of the document that str(exc) would quote.
        problem = " ".join(str(getattr(exc, "problem", None) or "a syntax error").split())
        raise SpecError(
            f"{source}: {where}not valid YAML ({clipped(problem)}); fix the syntax."
        ) from None


def read_spec_file(path: str, name: str | None, variables: AppVariables | None = None) -> Spec:
    """Load the command `name` (or the only one) from the YAML spec file at `path`.

    Relative paths in the spec are resolved against the file's real directory, as
    the reference implementation does. An app runner's app.yml (`bfabric:`,
    `versions:`) is read with `variables` (the version, `${app.id}`, `${app.name}`);
    any other spec takes none, and giving some is an error.
    """
    document, source = _read_document(path)
    base_dir = os.path.dirname(os.path.realpath(path))
    if is_app_document(document):
        return load_app_spec(document, source, name, app_dir=base_dir, variables=variables)
    if variables is not None and variables != AppVariables():
        raise SpecError(
            f"{source}: is not an app spec (no 'versions:'), so it has no version, app id or "
            "app name to give; leave out --app-version, --app-id and --app-name."
        )
    return load_spec(document, source, name, base_dir)


def load(path: str, name: str | None = None) -> Spec:
    """Read the command `name` (or the only one) from a YAML spec file (the public API)."""
    return read_spec_file(path, name)


def load_app(
    path: str,
    name: str | None = None,
    *,
    version: str | None = None,
    app_id: str | int | None = None,
    app_name: str | None = None,
) -> Spec:
    """Read the python_env command `name` (or the only one) of an app runner's app.yml:
    of `version` (needed when the file defines several), with `app_id` and `app_name`
    as the values of `${app.id}` and `${app.name}` (the public API). Raises SpecError
    as `load` does."""
    variables = AppVariables(
        version=version,
        app_id=None if app_id is None else str(app_id),
        app_name=app_name,
    )
    return read_spec_file(path, name, variables)


def app_flags(ns: argparse.Namespace) -> AppVariables | None:
    """The AppVariables the flags --app-version, --app-id and --app-name gave (see
    `cli._spec_arguments`), or None when none was given."""
    variables = AppVariables(version=ns.app_version, app_id=ns.app_id, app_name=ns.app_name)
    return None if variables == AppVariables() else variables
