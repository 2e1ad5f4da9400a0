"""Reading a spec from a YAML file."""

from __future__ import annotations

import os

from pylockenv.core.errors import SpecError
from pylockenv.core.spec import Spec, load_spec


def read_spec_file(path: str, name: str | None) -> Spec:
    """Load the command `name` (or the only one) from the YAML spec file at `path`.

    Relative paths in the spec are resolved against the file's real directory, as
    the reference implementation does.
    """
    import yaml

    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file; check the path.") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory; give the path of a YAML spec file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the spec file ({exc}).") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{path}: {where}not valid YAML ({problem}); fix the syntax.") from None
    base_dir = os.path.dirname(os.path.realpath(path))
    return load_spec(document, path, name, base_dir)
