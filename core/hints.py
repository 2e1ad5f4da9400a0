"""Hints for a person who probably made a mistake: "did you mean" and shell syntax.

Pure functions of the words involved; the callers decide where a hint is said
(an error message, a warning on stderr) and the shell prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .limits import shown as quoted

# At most this many suggestions are offered: a longer list is no longer a hint.
MAX_SUGGESTIONS = 3

# Words a shell would read as syntax (a pipe, a list, a redirection); a word starting
# with "$(" or a backtick is a command substitution.
SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", ">", "<"})
SHELL_SUBSTITUTIONS = ("$(", "`")


def edit_distance(a: str, b: str) -> int:
    """The optimal-string-alignment distance: insertions, deletions, substitutions and
    swaps of two neighbouring characters, each counting one ("pylcok" is 1 from "pylock")."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def close_matches(word: str, candidates: Iterable[str]) -> list[str]:
    """The candidates `word` was probably meant to be, best first, at most
    MAX_SUGGESTIONS: those it is a prefix of (a short env hash, "proc" for "process"),
    then those within a third of its length in edits (at least one edit), ignoring case."""
    unique = sorted(set(candidates) - {word})
    if not word:
        return []
    prefixed = [c for c in unique if c.startswith(word)]
    allowed = max(1, len(word) // 3)
    lowered = word.lower()
    scored = sorted(
        (distance, candidate)
        for candidate in unique
        if candidate not in prefixed
        and abs(len(candidate) - len(word)) <= allowed
        and (distance := edit_distance(lowered, candidate.lower())) <= allowed
    )
    return [*prefixed, *(candidate for _, candidate in scored)][:MAX_SUGGESTIONS]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """The hint " (did you mean 'x'?)", or " (did you mean 'x' or 'y'?)", to follow the
    word in a message; "" when nothing is close to `word`."""
    matches = close_matches(word, candidates)
    if not matches:
        return ""
    named = [quoted(match) for match in matches]
    choices = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
    return f" (did you mean {choices}?)"


def shell_syntax(words: Sequence[str]) -> list[str]:
    """The words of a command that a shell would read as syntax, in order, each once:
    `|`, `||`, `&&`, `;`, `>`, `<`, and words starting with `$(` or a backtick."""
    found: list[str] = []
    for word in words:
        if (word in SHELL_OPERATORS or word.startswith(SHELL_SUBSTITUTIONS)) and word not in found:
            found.append(word)
    return found


def shell_syntax_warning(words: Sequence[str], source: str) -> str | None:
    """The one-line warning for a command holding shell syntax (see `shell_syntax`), or
    None. The words still reach the program as arguments, as in bfabric-app-runner."""
    found = shell_syntax(words)
    if not found:
        return None
    words_shown = " ".join(quoted(word, 20) for word in found)
    passed = "is passed as an argument" if len(found) == 1 else "are passed as arguments"
    return (
        f"{source}: command: {words_shown} {passed} to the program: commands "
        "are not run by a shell; to use one, write the command as '/bin/sh -c \"...\"', or "
        "put it in a script and give the script's absolute path."
    )
