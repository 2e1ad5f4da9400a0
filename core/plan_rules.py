"""The rules a plan is made by that a plan read back is checked against, said once.

`core.planning` makes a plan with them; a plan file (`apply`) and a kept plan
(the warm path of `run`) are checked against them before anything they name is
removed, provisioned, locked or started: the env hash is the hash of its input,
the cache paths are the layout's for that hash, and the command's candidates are
the ones the console-script rule gives for its words.

Light: the warm path loads this module (no attrs, no hashlib: the SHA-256
module itself, which imports in a tenth of hashlib's time).
"""

from __future__ import annotations

import posixpath

from .layout import HASH_LENGTH, EnvLayout, cache_layout

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without loading typing
if TYPE_CHECKING:
    from hashlib import sha256

    from .plan_format import Candidate, LightPlan
else:  # the module hashlib itself uses for SHA-256 when OpenSSL is missing
    import sys

    try:
        if sys.version_info >= (3, 12):
            from _sha2 import sha256
        else:
            from _sha256 import sha256
    except ImportError:  # a Python built without it
        from hashlib import sha256


# How a candidate is tested before it is started: not at all, that its path exists
# (following links), or that something is at its path (a dangling link counts: the
# system then says the link is broken, which is the truth).
# Variables of the caller's that point the command at another Python environment, dropped
# from the command's environment (unless the spec's env sets them), as activating a venv
# does: a conda env's prefix, which build tools and libraries search, and PYTHONHOME,
# which would make the env's interpreter load another's standard library. VIRTUAL_ENV
# is set to the env by the plan instead (`planning.plan`).
COMMAND_UNSET = ("CONDA_PREFIX", "PYTHONHOME")

ALWAYS = "always"
EXISTS = "exists"
EXISTS_OR_LINK = "exists-or-link"


def env_hash(hash_input: str) -> str:
    """The first 16 hex digits of the SHA-256 of `hash_input` (the reference's env name)."""
    return short_digest(hash_input.encode("utf-8"))


def short_digest(data: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of `data`."""
    return sha256(data).hexdigest()[:HASH_LENGTH]


def command_candidates(words: tuple[str, ...], env: EnvLayout) -> tuple[Candidate, ...]:
    """The ways to start a command of `words` in `env`, to be tried in order.

    The console-script rule: a console script in the env's `bin/` (or the absolute
    path the first word is), even as a dangling link; else the words for the env's
    python, when the first word is an interpreter option (`-m`, `-c`) or a file; else
    nothing: the command is not found (127). Each candidate is (check, path, argv).
    """
    first = words[0]
    python = (env.python, *words)
    if first.startswith("-"):
        return ((ALWAYS, None, python),)
    script = _joined(env.bin_dir, first)
    candidates: tuple[Candidate, ...] = ((EXISTS_OR_LINK, script, (script, *words[1:])),)
    if not first.startswith("/"):
        # An absolute first word is the script itself: if nothing is there, Python has
        # no file to run either.
        candidates += ((EXISTS, first, python),)
    return candidates


def not_found_message(source: str, first: str, env: EnvLayout, searched: str = "") -> str:
    """What is said when no candidate of the command applies; `searched` is where a
    relative file for Python was looked for (known when the command starts: the plan
    itself keeps the message without it)."""
    where = f" in {searched}" if searched else ""
    return (
        f"{source}: command: {first!r} is neither a console script in {env.bin_dir} nor a "
        f"file for Python to run{where}; check the command's first word, and that the "
        "package providing it is in the pylock or the local extra deps."
    )


def _joined(directory: str, name: str) -> str:
    """`directory / name` as pathlib's PurePosixPath joins and spells it: an absolute
    `name` as it is, repeated slashes and "." parts dropped, ".." kept."""
    path = posixpath.join(directory, name)
    parts = [part for part in path.split("/") if part not in ("", ".")]
    lead = "//" if path.startswith("//") and not path.startswith("///") else "/"
    return lead + "/".join(parts) if path.startswith("/") else "/".join(parts)


def layout_problem(plan: LightPlan, *, xdg_cache_home: str | None, home: str) -> str | None:
    """Why `plan` (read back from a plan file or kept for warm runs) does not place its
    env, or start its command, as pylockenv would for the facts it names; None when it does.

    A plan file is data a person may edit, and a kept plan is a file in a shared
    cache: before pylockenv removes, provisions, locks or starts anything a plan
    names, its cache paths must be the ones it would compute itself, and its command
    the one the console-script rule gives for its words, so that no edited value can
    point it at a directory or a program elsewhere.
    """
    cache = cache_layout(xdg_cache_home=xdg_cache_home, home=home)
    if plan.cache_root != cache.root:
        return f"its cache_root {plan.cache_root!r} is not this cache, {cache.root!r}"
    if plan.mode == "cached":
        try:
            hashed = env_hash(plan.hash_input)
        except UnicodeEncodeError:  # a lone surrogate: no plan of ours hashes such a text
            hashed = None
        if plan.env_hash != hashed:
            return "its env_hash is not the hash of its hash_input"
        env = cache.cached_env(plan.env_hash)
    else:
        # An ephemeral plan names its env by the pattern; the name is drawn when it is made.
        env = cache.ephemeral_pattern()
        if plan.env_path != env.path:
            return f"its ephemeral env_path {plan.env_path!r} is not the pattern {env.path!r}"
    expected = (env.path, env.marker, env.lock, env.in_use if plan.mode == "cached" else None)
    found = (plan.env_path, plan.marker_path, plan.lock_path, plan.in_use_path)
    if found != expected:
        return "its env paths are not the cache layout's for its env_hash"
    if not plan.words or plan.candidates != command_candidates(plan.words, env):
        return "its command's candidates are not the ones its words give in its env"
    return None
