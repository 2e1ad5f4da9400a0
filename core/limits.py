"""The bounds on what pylockenv accepts from its user, and how it quotes what it refuses.

Sizes: a spec file is read only up to `SPEC_FILE_MAX_BYTES`, a pylock file up to
`PYLOCK_FILE_MAX_BYTES`; a larger file is refused, not read. Text: every string
of a spec must be UTF-8 text without NUL bytes, because paths are hashed as
UTF-8 (as the reference implementation hashes them) and NUL cannot reach a
system call; a path is at most `PATH_MAX_BYTES` long, as on Linux.

Each `*_problem` function returns None for an acceptable value, or a phrase to
follow the quoted value in a message: what is wrong with it, then what to do
("holds a NUL byte, ...; remove it").

Values quoted back in an error message go through `shown`, so a huge or private
value is never echoed whole.
"""

from __future__ import annotations

MIB = 1024 * 1024
SPEC_FILE_MAX_BYTES = 1 * MIB
PYLOCK_FILE_MAX_BYTES = 16 * MIB
PATH_MAX_BYTES = 4096
# Linux's MAX_ARG_STRLEN (32 pages): the most one argument or one `NAME=value` entry of a
# process's environment may hold, NUL included; a longer one makes exec fail with E2BIG.
ENV_ENTRY_MAX_BYTES = 131072
# How much of a value an error message quotes before cutting it short.
SHOWN_MAX_CHARS = 80
# How long a path an error message shows as it is (a longer one is quoted and cut).
PATH_SHOWN_MAX_CHARS = 256
# How many names (commands, unknown keys) or problems a message lists.
LISTED_MAX_ITEMS = 10

# What a requirement line gives a meaning to, so that uv would not read a local path
# holding it as that path: `#` starts a comment or a URL fragment, `;` environment
# markers, `${` an environment variable. Control characters end or garble the line.
_REQUIREMENT_SYNTAX = ("#", ";", "${")
_RENAME = (
    "rename or move it (to a path of letters, digits, spaces and '/', '.', '-', '_'), "
    "since it reaches uv as a requirement"
)


def shown(value: str, limit: int = SHOWN_MAX_CHARS) -> str:
    """`value` quoted as Python would (escaping newlines and the like), cut at `limit`
    characters with an ellipsis and the full length."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


def shown_path(path: str, *, quote: bool = False) -> str:
    """`path` quoted and cut as `shown` does, but at `PATH_SHOWN_MAX_CHARS`; without
    `quote`, a path that prints as itself and is short enough is shown bare."""
    if not quote and path.isprintable() and len(path) <= PATH_SHOWN_MAX_CHARS:
        return path
    return shown(path, PATH_SHOWN_MAX_CHARS)


def clipped(text: str, limit: int = SHOWN_MAX_CHARS) -> str:
    """`text` as it is, cut at `limit` characters with an ellipsis (for prose, such as a
    parser's message, that quotes what it needs to)."""
    return text if len(text) <= limit else text[:limit] + "..."


def listed(names: list[str], limit: int = LISTED_MAX_ITEMS) -> str:
    """`names` joined by commas, at most `limit` of them, then how many more there are."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit:,} more"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be a spec value: a NUL byte, or not UTF-8 text."""
    if "\0" in value:
        return "holds a NUL byte, which no path, argument or environment value can hold; remove it"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        what = (
            f"the byte 0x{code - 0xDC00:02x}"
            if 0xDC80 <= code <= 0xDCFF  # how Python hands over an undecodable OS byte
            else f"the lone surrogate U+{code:04X}"
        )
        return (
            f"holds {what}, which is not UTF-8 text; pylockenv takes only UTF-8 paths and "
            "values (it names environments by hashing paths as UTF-8, as the reference "
            "implementation does), so rename the file or directory, or give a UTF-8 value"
        )
    return None


def env_entry_problem(name: str, value: str) -> str | None:
    """Why `name=value` cannot be in a process's environment: it is too long (E2BIG)."""
    size = len(name.encode("utf-8")) + len(value.encode("utf-8")) + 2  # "=" and the NUL
    if size > ENV_ENTRY_MAX_BYTES:
        return (
            f"makes an environment entry of {size:,} bytes, and Linux starts no program "
            f"with one over {ENV_ENTRY_MAX_BYTES:,} (E2BIG); pass a large value in a file "
            "and its path in the variable"
        )
    return None


def path_problem(path: str) -> str | None:
    """Why `path` cannot be a path: see `text_problem`, or it is too long."""
    problem = text_problem(path)
    if problem is not None:
        return problem
    size = len(path.encode("utf-8"))
    if size > PATH_MAX_BYTES:
        return f"is {size:,} bytes long, and a path is at most {PATH_MAX_BYTES:,}; shorten it"
    return None


def requirement_problem(path: str) -> str | None:
    """Why uv would misread `path` given to `uv pip install` as a local extra.

    uv reads each such argument as a requirement line, not as a file name, so a
    path holding requirement syntax would install something else, or fail after
    the venv was made.
    """
    for syntax in _REQUIREMENT_SYNTAX:
        if syntax in path:
            return f"holds {syntax!r}, which uv reads as requirement syntax; {_RENAME}"
    for char in path:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"holds the control character {char!r}; {_RENAME}"
    if path != path.rstrip():
        return f"ends in whitespace, which uv strips; {_RENAME}"
    return None


def path_entry_problem(path: str) -> str | None:
    """Why `path` cannot be one entry of PATH: it holds the separator."""
    if ":" in path:
        return (
            "holds ':', which separates the entries of PATH, so it would become two "
            "entries; rename the directory or link to it from a path without ':'"
        )
    return None
