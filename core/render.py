"""Plans as text: JSON for machines and golden files, a shell script for people.

The script is meant to be read, then piped to `sh`, and must be as safe as
`execute` whatever the spec and the host hold. So every value reaches it as
shell-quoted data, or, on a comment line, as a Python literal when it does not
print as itself; a value holding a newline, an escape or another character that
does not print as itself is spelt once with printf escapes and used through a
variable, so that every line shows what it does. Each program is started with
the argv and environment `execute` gives it, programs whose path holds "=" too.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from .errors import EXIT_NOT_FOUND, EXIT_PYLOCKENV_FAILED
from .layout import CacheLayout
from .plan_format import plan_to_data
from .plan_rules import COMMAND_UNSET
from .planning import EnvChanges, Plan, ephemeral_plan_spelt

# The shell variable that holds where nice(1) is, in the scripts that need it.
_NICE = "nice"
# An ephemeral env's name is drawn when the script runs, into the variable `env`: the plan
# is rendered with its env spelt as this mark (no value of a plan holds a NUL: it could
# reach no program), and each mark is written as "$env".
_ENV_MARK = "\0"
_ENV_VARIABLE = '"$env"'


def render_json(plan: Plan) -> str:
    """The plan as JSON with a stable key order and a trailing newline."""
    return json.dumps(plan_to_data(plan), indent=2, ensure_ascii=False) + "\n"


def _shown(value: str) -> str:
    """`value` as a comment line may hold it: as it is when every character is printable,
    else as a Python string literal, whose escapes leave no newline or control character."""
    return value if value.isprintable() else repr(value)


def _printf_format(value: str) -> str:
    """A printf(1) format that prints `value`: "%" and "\\" doubled, every character that
    does not print as itself (and a leading "-", which printf could take for an option)
    as octal escapes of its UTF-8 bytes."""
    spelt = []
    for i, char in enumerate(value):
        if char in "%\\":
            spelt.append(char * 2)
        elif char.isprintable() and not (i == 0 and char == "-"):
            spelt.append(char)
        else:
            spelt += [f"\\{byte:03o}" for byte in char.encode("utf-8")]
    return "".join(spelt)


class _Words:
    """Shell words for the plan's values, and the variables that spell the unprintable ones."""

    def __init__(self, env_path: str = "") -> None:
        self._names: dict[str, str] = {}
        self._env_path = env_path  # what "$env" holds (a pattern: only its characters count)

    def raw(self, value: str) -> str:
        """`value` as the program gets it, "$env" included (as far as it matters to env(1):
        an "=" or a leading "-")."""
        return value.replace(_ENV_MARK, self._env_path)

    def word(self, value: str) -> str:
        """`value` as one shell word of data (an ephemeral env's path as "$env")."""
        if _ENV_MARK in value:
            parts = value.split(_ENV_MARK)
            return _ENV_VARIABLE.join(self.word(part) if part else "" for part in parts)
        if value.isprintable():
            return shlex.quote(value)
        name = self._names.setdefault(value, f"v{len(self._names) + 1}")
        return f'"${name}"'

    def file(self, path: str) -> str:
        """A path as the operand of mkdir, rm, mv or test, never taken for an option."""
        return self.word(f"./{path}" if path.startswith("-") else path)

    def definitions(self) -> list[str]:
        """The lines that set the variables `word` used, to come before their first use."""
        if not self._names:
            return []
        lines = [
            "# values holding characters that do not print as themselves, spelt with printf escapes"
        ]
        for value, name in self._names.items():
            # The "x" keeps the trailing newlines that $(...) would strip.
            spelt = shlex.quote(_printf_format(value) + "x")
            lines.append(f"{name}=$(printf {spelt}); {name}=${{{name}%x}}")
        return lines


def _launch(
    words: _Words,
    changes: EnvChanges,
    path_var: str,
    argv: Sequence[str],
    *,
    exec_: bool,
    unset: Sequence[str] = (),
) -> str:
    """An env(1) line that starts `argv` with the environment `execute` gives it.

    PATH is set only when the plan has one, as `shell.process_env.child_environ` does.
    env(1) takes every operand holding "=" for a variable, a program's path too, so
    such a program is started through `nice -n 0`, which runs it unchanged.
    """
    # (raw operand, as rendered): the raw form decides whether env(1) needs "--".
    removed = [name for name in unset if name not in changes.set_env]
    options = [word for name in removed for word in ("-u", words.word(name))]
    operands = [("PATH=", f'PATH="${path_var}"')] if changes.path_value else []
    for key, value in changes.set_env.items():
        operands.append((f"{key}={value}", words.word(f"{key}={value}")))
    program, *args = argv
    if "=" in words.raw(program):
        operands += [(f"${_NICE}", f'"${_NICE}"'), ("-n", "-n"), ("0", "0"), ("--", "--")]
    operands += [(word, words.word(word)) for word in (program, *args)]
    rendered = ["exec env" if exec_ else "env", *options]
    if words.raw(operands[0][0]).startswith("-"):
        rendered.append("--")  # a variable or program whose name starts with "-" is no option
    rendered += [word for _, word in operands]
    return " ".join(rendered)


# flock(1) takes each lock; where it is missing the script says so once and goes on
# unlocked, as a person running it by hand on such a host would have to.
_FLOCK = "$flock"
_FLOCK_LINES = (
    "flock=flock",
    "if ! command -v flock >/dev/null 2>&1; then  # no flock(1) here: the script takes no lock",
    "  printf '%s\\n' 'pylockenv: no flock(1) here: running without the locks that keep "
    "concurrent runs and gc apart' >&2",
    "  flock=:",
    "fi",
)


def _programs(plan: Plan) -> list[str]:
    return [step.argv[0] for step in plan.steps] + [c.argv[0] for c in plan.run.candidates]


def _provision_lines(plan: Plan, words: _Words) -> list[str]:
    """Make the env ready as `shell.provisioning` does: under the lock when cached, in a
    fresh directory removed at exit when ephemeral."""
    env = plan.env
    steps = [
        f"{_launch(words, step.env, 'uv_path', step.argv, exec_=False)}  # {_shown(step.name)}"
        for step in plan.steps
    ]
    if plan.mode == "ephemeral":
        # As shell.provisioning.make_ephemeral: a name drawn now, its lock file created
        # new (noclobber: O_EXCL) and held, then the directory made new.
        drawn = "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')"
        ephemeral_dir = CacheLayout(root=plan.cache_root).ephemeral_dir
        cannot = f"pylockenv: cannot create a lock file in {ephemeral_dir}; check its permissions"
        return [
            f"mkdir -p {words.file(ephemeral_dir)}",
            "tries=0",
            "while :; do  # draw the env's name until its lock file can be made new",
            f"  env={words.word(ephemeral_dir)}/env_{drawn}",
            f"  if (set -C; printf '%s\\n' {words.word(plan.host)} >\"$env.lock\") 2>/dev/null; "
            "then break; fi",
            "  tries=$((tries + 1))",
            f"  if [ \"$tries\" -ge 8 ]; then printf '%s\\n' {words.word(cannot)} >&2; "
            f"exit {EXIT_PYLOCKENV_FAILED}; fi",
            "done",
            'exec 8<"$env.lock"',
            f"{_FLOCK} -s 8  # the env's lock, held while it lives: gc leaves it alone",
            "trap 'rm -f \"$env.lock\"' EXIT",
            'mkdir "$env"',
            'trap \'rm -rf "$env"; rm -f "$env.lock"\' EXIT  # ephemeral: removed whatever happens',
            *steps,
        ]
    assert plan.lock_path is not None
    staging, marker = words.file(env.marker_staging), words.file(env.marker)
    # The layout's readiness rule (core.layout.is_ready), negated.
    not_ready = f"[ ! -e {marker} ] || [ ! -e {words.file(env.python)} ]"
    return [
        f"if {not_ready}; then  # not ready: no marker, or a bin/python that does not resolve",
        f"  mkdir -p {words.file(env.parent)}",
        f"  exec 9>>{words.file(plan.lock_path)}",
        f"  {_FLOCK} 9  # one provisioning at a time; the others wait here",
        f"  if {not_ready}; then",
        f"    rm -rf {words.file(env.path)}  # a half-made or broken env in its place",
        *(f"    {line}" for line in steps),
        f"    : > {staging} && mv {staging} {marker}  # the marker last, atomically",
        "  fi",
        "  exec 9>&-",
        "fi",
    ]


def _in_use_lines(plan: Plan, words: _Words) -> list[str]:
    """Hold a cached env's in-use lock shared on fd 8, which the command inherits, as
    `shell.provisioning.hold_cached_env` does: gc never removes an env while it is held.
    On a read-only cache no lock can be taken, and none is needed."""
    if plan.mode != "cached":
        return []
    env = plan.env
    in_use, marker = words.file(env.in_use), words.file(env.marker)
    link = f"pylockenv: {_shown(env.in_use)} is a symbolic link; remove it and run again"
    gone = f"pylockenv: env {plan.env_hash} was removed (by gc?) meanwhile; run again"
    return [
        f"if [ -L {in_use} ]; then printf '%s\\n' {shlex.quote(link)} >&2; "
        f"exit {EXIT_PYLOCKENV_FAILED}; fi",
        f"if true 2>/dev/null >>{in_use}; then  # not on a read-only cache",
        f"  exec 8>>{in_use}",
        f"  {_FLOCK} -s 8  # the in-use lock, held by the command: gc leaves the env alone",
        f"  if [ ! -e {marker} ]; then printf '%s\\n' {shlex.quote(gone)} >&2; "
        f"exit {EXIT_PYLOCKENV_FAILED}; fi",
        "fi",
    ]


def _command_lines(plan: Plan, words: _Words) -> list[str]:
    """Start the command as `shell.process_env.command_start` does: the first of the plan's
    candidates whose check holds (a console script, even as a dangling link; else Python,
    for an interpreter option or a file), else "not found", as execute says it."""
    run = plan.run
    # An ephemeral env must be removed by the trap after the command, so no exec there.
    exec_ = plan.cleanup == "keep"
    lines: list[str] = []
    for candidate in run.candidates:
        launch = _launch(
            words, run.env, "run_path", candidate.argv, exec_=exec_, unset=COMMAND_UNSET
        )
        launch = f'{launch} "$@"'
        if candidate.check == "always" or candidate.path is None:
            return [*lines, "else", f"  {launch}", "fi"] if lines else [launch]
        path = words.file(candidate.path)
        test = f"[ -e {path} ]"
        if candidate.check == "exists-or-link":
            test += f" || [ -L {path} ]"
        lines += [f"{'elif' if lines else 'if'} {test}; then", f"  {launch}"]
    return [
        *lines,
        "else",
        f"  printf '%s\\n' {words.word('pylockenv: error: ' + run.not_found)} >&2",
        f"  exit {EXIT_NOT_FOUND}",
        "fi",
    ]


def render_shell(plan: Plan) -> str:
    """A POSIX shell script that does what the plan says, for a person to read or run.

    Every line of it prints as itself: no value can start a line of its own.
    """
    programs = _programs(plan)
    words = _Words(plan.env_path)
    if plan.mode == "ephemeral":
        plan = ephemeral_plan_spelt(plan, _ENV_MARK)
    run_path = f"run_path={words.word(plan.run.env.path_value)}  # PATH for the command"
    # An ephemeral env's PATH names "$env", set once the env's name is drawn.
    paths = [f"uv_path={words.word(plan.steps[0].env.path_value)}  # PATH for the uv steps"]
    if plan.mode != "ephemeral":
        paths.append(run_path)
    paths += _FLOCK_LINES
    if any("=" in program for program in programs):
        paths.append(
            f"{_NICE}=$(command -v nice)  # starts the programs whose path holds '=', which "
            "env(1) would take for variables"
        )
    body = [
        "",
        *_provision_lines(plan, words),
        *([run_path] if plan.mode == "ephemeral" else []),
        *_in_use_lines(plan, words),
        "",
        "# the command; arguments given to this script are appended",
        *_command_lines(plan, words),
    ]
    lines = [
        "#!/bin/sh",
        f"# pylockenv plan for {_shown(plan.source)}",
        f"# mode: {plan.mode}; env hash {plan.env_hash} = sha256({plan.hash_input!r})[:16]",
        f"# python: {_shown(plan.python_version)} ({plan.python_version_source}), found as "
        f"{_shown(plan.interpreter)}, Python {_shown(plan.requires_python_check)}",
        "set -eu",
        *words.definitions(),
        *paths,
        *body,
    ]
    return "\n".join(lines) + "\n"
