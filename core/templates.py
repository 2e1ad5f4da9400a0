"""The strings of an app spec as templates: data with four variables, never code.

The reference (bfabric-app-runner) renders every string of an app version with
Mako, which evaluates any Python expression in `${...}` and runs `<% %>` blocks
and `%` lines: an app.yml can run code. pylockenv reads the same strings as text
in which only `${app.id}`, `${app.name}`, `${app.version}` and `${app.dir}` (spaces
or tabs inside the braces allowed, as Mako reads them alike) are replaced by
their values. Whatever else Mako's lexer would read as something other than
plain text is refused, so that a string pylockenv accepts renders the same in
both tools:

- `${` that does not start one of the four variables (an expression, another
  name, an attribute, a filter such as `${x | h}`);
- `<%` and `</%` (Python blocks, `<%! %>` module blocks, `<%doc>`, `<%def>` and
  every other tag), except Mako's own verbatim block `<%text>...</%text>`, whose
  content is taken as it is: it is how a literal `${` is written (an empty one
  is refused: Mako cannot read it);
- a line whose first non-blank characters are `%` (a control line, or `%%`,
  which Mako turns into `%`) or `##` (a comment, which Mako drops);
- a backslash at the end of a line (Mako drops it and the line break);
- a first line that is a magic encoding comment (`# coding: ...`), which Mako
  drops.

Pure: no Mako here; `tests/test_reference_compat.py` checks the claim against
the reference's own Mako.
"""

from __future__ import annotations

import re

from attrs import frozen

from .limits import shown

VARIABLE_NAMES = ("id", "name", "version", "dir")
TEXT_OPEN = "<%text>"
TEXT_CLOSE = "</%text>"

_VARIABLE = re.compile(r"\$\{[ \t]*app\.(id|name|version|dir)[ \t]*\}")
# Mako's own pattern for the magic encoding comment it skips at the start of a template.
# Where plain text may stop being plain: a construct, or a line break (a line starts after).
_SPECIAL = re.compile(r"\$\{|</?%|\\\r?\n|\n")
_ENCODING_COMMENT = re.compile(r"#.*coding[:=]\s*([-\w.]+).*\r?\n")
_VARIABLES_WORDS = "${app.id}, ${app.name}, ${app.version} and ${app.dir}"
_LITERAL_ADVICE = (
    f"write the text out instead, or put what must stay as it is (a literal '${{', say) "
    f"between {TEXT_OPEN} and {TEXT_CLOSE}"
)


@frozen
class Variable:
    """A `${app.NAME}` in a template: which variable, and the text that wrote it."""

    name: str
    text: str


Piece = str | Variable


class TemplateRefused(ValueError):
    """A string holds what Mako would evaluate, or read as other than text.

    `found` is the text found (quoted in messages), `reason` a phrase saying what
    Mako would do with it and what to write instead.
    """

    def __init__(self, found: str, reason: str) -> None:
        super().__init__(found, reason)
        self.found = found
        self.reason = reason

    def __str__(self) -> str:
        return f"holds {shown(self.found)}, {self.reason}"


def _cut(text: str, start: int, end_marker: str, limit: int = 60) -> str:
    """The construct starting at `start`: up to and including `end_marker`, or `limit`
    characters when it does not close sooner."""
    end = text.find(end_marker, start)
    if end < 0 or end - start > limit:
        return text[start : start + limit]
    return text[start : end + len(end_marker)]


def _line_start_problem(text: str, start: int) -> TemplateRefused | None:
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    stripped = line.lstrip()
    if stripped.startswith("##"):
        return TemplateRefused(
            line, f"a line Mako reads as a comment ('##') and drops; {_LITERAL_ADVICE}"
        )
    if stripped.startswith("%"):
        return TemplateRefused(
            line,
            "a line Mako reads as a control line ('%': Python code such as '% if x:'; "
            f"'%%' becomes '%'); {_LITERAL_ADVICE}",
        )
    return None


def parse_template(text: str) -> tuple[Piece, ...]:
    """`text` as literal pieces and variables; raises TemplateRefused for anything else
    Mako would read (see the module's docstring). Adjacent literal text is one piece."""
    if _ENCODING_COMMENT.match(text):
        raise TemplateRefused(
            text.split("\n", 1)[0],
            f"a first line Mako reads as a magic encoding comment and drops; {_LITERAL_ADVICE}",
        )
    pieces: list[Piece] = []
    literal: list[str] = []
    i, length = 0, len(text)
    while i < length:
        if i == 0 or text[i - 1] == "\n":
            problem = _line_start_problem(text, i)
            if problem is not None:
                raise problem
        if text.startswith("${", i):
            match = _VARIABLE.match(text, i)
            if match is None:
                raise TemplateRefused(
                    _cut(text, i, "}"),
                    "a Mako expression, which the reference would evaluate as Python; "
                    f"pylockenv evaluates nothing and substitutes only {_VARIABLES_WORDS}; "
                    f"{_LITERAL_ADVICE}",
                )
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(Variable(name=match.group(1), text=match.group(0)))
            i = match.end()
        elif text.startswith(TEXT_OPEN, i):
            end = text.find(TEXT_CLOSE, i + len(TEXT_OPEN))
            if end < 0:
                raise TemplateRefused(
                    _cut(text, i, "\n"), f"a {TEXT_OPEN} block without its {TEXT_CLOSE}; close it"
                )
            if end == i + len(TEXT_OPEN):  # Mako's lexer cannot read an empty one
                raise TemplateRefused(
                    TEXT_OPEN + TEXT_CLOSE,
                    "an empty text block, which Mako cannot read; leave it out",
                )
            literal.append(text[i + len(TEXT_OPEN) : end])
            i = end + len(TEXT_CLOSE)
        elif text.startswith("<%", i) or text.startswith("</%", i):
            raise TemplateRefused(
                _cut(text, i, ">"),
                "a Mako tag or Python block ('<%', '</%'), which the reference would run or "
                f"interpret; pylockenv evaluates nothing; {_LITERAL_ADVICE}",
            )
        elif text.startswith("\\\n", i) or text.startswith("\\\r\n", i):
            raise TemplateRefused(
                text[max(0, i - 20) : i + 2],
                "a backslash at the end of a line, which Mako drops together with the line "
                f"break; {_LITERAL_ADVICE}",
            )
        elif text[i] == "\n":
            literal.append("\n")  # the next round checks the line it starts
            i += 1
        else:
            # Plain text up to the next construct or line break.
            found = _SPECIAL.search(text, i + 1)
            end = length if found is None else found.start()
            literal.append(text[i:end])
            i = end
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def variables_used(pieces: tuple[Piece, ...]) -> tuple[str, ...]:
    """The names of the variables in `pieces`, in order of first use."""
    names: list[str] = []
    for piece in pieces:
        if isinstance(piece, Variable) and piece.name not in names:
            names.append(piece.name)
    return tuple(names)


def render(pieces: tuple[Piece, ...], values: dict[str, str]) -> str:
    """The text of `pieces` with every variable replaced by `values[name]` (which must
    hold every name `variables_used` gives). A value is inserted as it is: never read
    as a template again, as Mako does not."""
    return "".join(piece if isinstance(piece, str) else values[piece.name] for piece in pieces)
