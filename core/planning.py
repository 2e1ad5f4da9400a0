"""From a spec and host facts to the plan: everything the shell will do, decided up front."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Literal

from attrs import evolve, field, frozen

from .envstate import EnvKind
from .errors import PlanError, SpecError
from .facts import FileFact, FileKind, HostFacts
from .hints import shell_syntax_warning
from .layout import CacheLayout, EnvLayout, cache_layout, is_ephemeral_suffix
from .limits import shown, shown_path
from .plan_rules import command_candidates, env_hash, not_found_message
from .provisioning import isolated_argv, uv_setting_kept
from .pylock import PylockFormat, pylock_format
from .spec import Spec, check_resolved_paths

Cleanup = Literal["keep", "remove-after-run"]

# The Python an env is made from when the spec names none: the reference's default, so
# that such a spec hashes, and shares its env, as in bfabric-app-runner 0.9.1.
DEFAULT_PYTHON_VERSION = "3.13"


def _dict_copy(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


@frozen(kw_only=True)
class LocalDep:
    """A local extra dependency and what `stat` said of it when planning.

    The size and mtime let a reused env notice that a wheel changed since it was
    installed (the env hash, like the reference's, covers only the path).
    """

    path: str
    kind: FileKind
    size: int | None
    mtime: float | None


@frozen(kw_only=True)
class EnvChanges:
    """How a process's environment differs from the caller's.

    `path_value` is the complete value of PATH: `prepend_path` in order, then the
    caller's PATH (empty: leave PATH as the caller has it).
    """

    prepend_path: tuple[str, ...]
    path_value: str
    set_env: Mapping[str, str] = field(factory=dict, converter=_dict_copy, hash=False)


@frozen(kw_only=True)
class UvStep:
    """One uv invocation, run as an argv list (never through a shell)."""

    name: str
    argv: tuple[str, ...]
    env: EnvChanges


CandidateCheck = Literal["always", "exists", "exists-or-link"]


@frozen(kw_only=True)
class CommandCandidate:
    """One way to start the command: `argv` runs if `check` holds for `path`.

    `check` is "always" (no path), "exists" (something is at `path`, links
    followed) or "exists-or-link" (a dangling link counts too: the system then
    reports the broken link).
    """

    check: CandidateCheck
    path: str | None
    argv: tuple[str, ...]


@frozen(kw_only=True)
class RunCommand:
    """How the command is started once the environment is ready.

    `candidates` are tried in order and the first whose check holds runs, with the
    arguments given at run time appended (`core.plan_rules.command_candidates`: a
    console script in the env's `bin/`, else a file for the env's python); when
    none holds, `not_found` is said and the exit status is 127. `shell_syntax_warning`
    (`core.hints`) is said before the command starts, unless -q, on every path.
    """

    words: tuple[str, ...]
    candidates: tuple[CommandCandidate, ...]
    not_found: str
    shell_syntax_warning: str | None
    env: EnvChanges


@frozen(kw_only=True)
class Plan:
    """Everything needed to provision an environment and run a command in it.

    For a cached plan the shell checks that the env is ready (`marker_path` and
    the env's bin/python, see `layout.is_ready`); when it is not it takes
    `lock_path`, checks again, removes a leftover `env_path`, runs `steps` in
    order and writes the marker last; then it holds `in_use_path` shared for as
    long as the command runs. An ephemeral plan names its env by a pattern,
    `ephemeral/env_<random>`: each run draws the name when it makes the env
    (`with_ephemeral_suffix` gives the plan for that name), creates `lock_path`
    and holds it, makes `env_path` fresh, runs `steps`, waits for the command and
    then removes the env and its lock, whatever happens.
    """

    source: str
    host: str
    mode: EnvKind
    env_hash: str
    hash_input: str
    # The request as written (the spec's, or the default): what the env hash covers.
    python_version: str
    python_version_source: Literal["spec", "default"]
    # The interpreter uv finds for that request on this host (a host fact): the venv is
    # made from exactly this executable, and the pylock's requires-python is tested
    # against the full version it reported before anything is created.
    interpreter: str
    requires_python_check: str
    pylock: str
    pylock_mtime: float
    pylock_format: PylockFormat
    local_extra_deps: tuple[LocalDep, ...]
    prepend_paths: tuple[str, ...]
    cache_root: str
    env_path: str
    lock_path: str
    marker_path: str
    in_use_path: str | None
    uv: str
    steps: tuple[UvStep, ...]
    run: RunCommand
    cleanup: Cleanup

    @property
    def env(self) -> EnvLayout:
        """The paths of the plan's env (derived from `env_path`, see `core.layout`)."""
        return EnvLayout(path=self.env_path, kind=self.mode)


def env_hash_input(
    *, hostname: str, python_version: str, pylock: str, pylock_mtime: float, extras: tuple[str, ...]
) -> str:
    """The string the reference implementation hashes to name a cached environment."""
    text = f"{hostname}:{python_version}:{pylock}:{pylock_mtime}"
    if extras:
        text += ":" + ",".join(extras)
    return text


def _joined_path(prepend: tuple[str, ...], current: str | None) -> str:
    # An empty PATH entry means "the working directory"; never add one by accident.
    return ":".join([*prepend, *([current] if current else [])])


def python_request(spec: Spec) -> str:
    """The Python the spec asks for: its `python_version`, else DEFAULT_PYTHON_VERSION."""
    return spec.command.python_version or DEFAULT_PYTHON_VERSION


def uv_environment(spec: Spec, prepend: tuple[str, ...], path: str | None) -> EnvChanges:
    """How the uv steps' environment differs from the caller's (`path`: the caller's
    PATH): the spec's `env` but its PATH, and `prepend` in front of the caller's PATH.
    The shell asks uv for the interpreter in this environment too, before planning.

    The spec's PATH describes the command's world; one that hid the host's Python
    would make uv look for (download) another. Of the spec's env, the uv steps get the
    uv settings a provisioning honours (`provisioning.uv_setting_kept`; the shell drops
    the caller's others the same way).
    """
    set_env = {
        key: value
        for key, value in spec.command.env.items()
        if key != "PATH" and uv_setting_kept(key)
    }
    return EnvChanges(prepend_path=prepend, path_value=_joined_path(prepend, path), set_env=set_env)


def _resolved_interpreter(spec: Spec, request: str, facts: HostFacts) -> tuple[str, str]:
    """The path and full version of the interpreter uv finds for `request`; PlanError
    saying what the host has, and what to do, when it finds none."""
    found = facts.interpreter(request)
    if found.path is not None and found.version is not None:
        return found.path, found.version
    where = "python_version" if spec.command.python_version else "python_version (not set)"
    asked = (
        shown(request)
        if spec.command.python_version
        else f"{shown(request)} (the default when python_version is not set)"
    )
    has = ", ".join(found.installed) if found.installed else "none that uv can find"
    why = found.no_download or "uv did not download one"
    raise PlanError(
        f"{spec.source}: {where}: no Python matching {asked} is installed on this host "
        f"(it has: {has}), and {why}. Install it with 'uv python install {request}', set "
        "python_version to a version this host has, or let uv download Python (no "
        "UV_OFFLINE, UV_PYTHON_DOWNLOADS not 'never'). Nothing was created."
    )


def expand_user(raw: str, home: str, where: str) -> str:
    """Expand a leading `~` or `~/` with `home`; `~user` forms are refused."""
    if raw == "~" or raw.startswith("~/"):
        return home + raw[1:]
    if raw.startswith("~"):
        raise SpecError(
            f"{where}: {raw!r} uses the '~user' form, which pylockenv does not expand; "
            "write the path out in full or use '~/' for your own home directory."
        )
    return raw


def absolute_path(raw: str, base_dir: str, home: str, where: str) -> str:
    """The absolute form of a spec path, by the reference's rules, so that hashes match its:
    `~` expanded, a relative path joined to `base_dir` (the spec file's directory, or the
    working directory for a spec given by flags), and nothing else normalised (no link or
    `..` resolution, as `pathlib.Path.absolute()`). The disk is not touched."""
    expanded = PurePosixPath(expand_user(raw, home, where))
    if expanded.is_absolute():
        return str(expanded)
    if not base_dir:  # the working directory, which was deleted (see shell.facts)
        raise SpecError(
            f"{where}: {raw!r} is a relative path, but the working directory it is read from "
            "no longer exists (it was deleted); cd to an existing directory, or give the "
            "path in full."
        )
    return str(PurePosixPath(base_dir) / expanded)


def resolved_paths(
    spec: Spec, *, home: str, cwd: str
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The absolute pylock path, extras and prepend paths of a spec.

    The shell calls this to learn which paths to `stat` for the host facts.
    """
    base = spec.base_dir if spec.base_dir is not None else cwd
    command = spec.command

    def resolve(raw: str, name: str) -> str:
        return absolute_path(raw, base, home, f"{spec.source}: {name}")

    pylock = resolve(command.pylock, "pylock")
    extras = tuple(
        resolve(dep, f"local_extra_deps[{i}]") for i, dep in enumerate(command.local_extra_deps)
    )
    prepend = tuple(
        resolve(entry, f"prepend_paths[{i}]") for i, entry in enumerate(command.prepend_paths)
    )
    check_resolved_paths(spec, pylock, extras, prepend)
    return pylock, extras, prepend


def require_existing(
    spec: Spec,
    file: Callable[[str], FileFact],
    pylock: str,
    extras: tuple[str, ...],
    prepend: tuple[str, ...],
) -> float:
    """Check that the files the spec names exist (`file` says what stat said of a path),
    and that uv reads the pylock by its name; return the pylock's mtime. The shell
    checks this too before it asks uv for the interpreter: a spec naming a missing file
    is refused for that, whatever uv would say."""
    fact = file(pylock)
    if fact.kind == "missing":
        raise PlanError(
            f"{spec.source}: pylock: {shown_path(pylock)} does not exist; check the path "
            "(a relative path is read from the spec file's directory)."
        )
    if fact.kind != "file" or fact.mtime is None:
        raise PlanError(
            f"{spec.source}: pylock: {shown_path(pylock)} is a {fact.kind}, not a regular file; "
            "point it at the pylock.toml file itself."
        )
    for i, dep in enumerate(extras):
        kind = file(dep).kind
        if kind == "missing":
            raise PlanError(
                f"{spec.source}: local_extra_deps[{i}]: {shown_path(dep)} does not exist; build "
                "the wheel first or fix the path."
            )
        if kind not in ("file", "directory"):
            raise PlanError(
                f"{spec.source}: local_extra_deps[{i}]: {shown_path(dep)} is a {kind}; give a "
                "wheel file or a source tree."
            )
    for i, entry in enumerate(prepend):
        kind = file(entry).kind
        if kind != "directory":
            what = "does not exist" if kind == "missing" else f"is a {kind}, not a directory"
            raise PlanError(
                f"{spec.source}: prepend_paths[{i}]: {shown_path(entry)} {what}; PATH entries "
                "must be directories."
            )
    pylock_format(pylock, spec.source)
    return fact.mtime


def plan(spec: Spec, facts: HostFacts) -> Plan:
    """Decide everything about running `spec` on the host described by `facts`.

    Raises SpecError, PlanError or PylockError (all PylockenvError) with a
    message for the user when the spec cannot be planned.
    """
    command = spec.command
    pylock, extras, prepend = resolved_paths(spec, home=facts.home, cwd=facts.cwd)
    mtime = require_existing(spec, facts.file, pylock, extras, prepend)
    fmt = pylock_format(pylock, spec.source)

    python_version = python_request(spec)
    interpreter, interpreter_version = _resolved_interpreter(spec, python_version, facts)
    hash_input = env_hash_input(
        hostname=facts.hostname,
        python_version=python_version,
        pylock=pylock,
        pylock_mtime=mtime,
        extras=extras,
    )
    digest = env_hash(hash_input)
    cache = cache_layout(xdg_cache_home=facts.xdg_cache_home, home=facts.home)
    mode: EnvKind = "ephemeral" if command.refresh else "cached"
    env = cache.cached_env(digest) if mode == "cached" else cache.ephemeral_pattern()
    env_path = env.path
    python = env.python
    # A PATH in the spec's env replaces the caller's PATH as the base that the env's
    # bin/ and prepend_paths go in front of; set on top, it would hide the env's bin/.
    base_path = command.env.get("PATH", facts.path)
    set_env = {key: value for key, value in command.env.items() if key != "PATH"}
    uv_env = uv_environment(spec, prepend, facts.path)
    # refresh: --reinstall makes uv ignore what it cached for these packages, so a
    # changed source tree among the extras is rebuilt, not taken from uv's cache.
    reinstall = ("--reinstall",) if command.refresh else ()
    steps = [
        UvStep(
            name="create-venv", argv=(facts.uv, "venv", "-p", interpreter, env_path), env=uv_env
        ),
        UvStep(
            name="install-pylock",
            argv=(facts.uv, "pip", "install", "-p", python, "-r", pylock, *reinstall),
            env=uv_env,
        ),
    ]
    if extras:
        steps.append(
            UvStep(
                name="install-local-extras",
                argv=(facts.uv, "pip", "install", "-p", python, "--no-deps", *reinstall, *extras),
                env=uv_env,
            )
        )
    # Every step reads no uv configuration file and copies files into the env.
    steps = [UvStep(name=s.name, argv=isolated_argv(s.argv), env=s.env) for s in steps]

    words = tuple(shlex.split(command.command))
    run_prepend = (env.bin_dir, *prepend)
    run = RunCommand(
        words=words,
        candidates=tuple(
            CommandCandidate(check=check, path=path, argv=argv)  # type: ignore[arg-type]
            for check, path, argv in command_candidates(words, env)
        ),
        not_found=not_found_message(spec.source, words[0], env),
        shell_syntax_warning=shell_syntax_warning(words, spec.source),
        env=EnvChanges(
            prepend_path=run_prepend,
            path_value=_joined_path(run_prepend, base_path),
            # As an activated env has it (a caller's own VIRTUAL_ENV names another env);
            # the spec's env may still set it.
            set_env={"VIRTUAL_ENV": env_path, **set_env},
        ),
    )
    return Plan(
        source=spec.source,
        host=facts.hostname,
        mode=mode,
        env_hash=digest,
        hash_input=hash_input,
        python_version=python_version,
        python_version_source="spec" if command.python_version else "default",
        interpreter=interpreter,
        requires_python_check=interpreter_version,
        pylock=pylock,
        pylock_mtime=mtime,
        pylock_format=fmt,
        local_extra_deps=tuple(
            LocalDep(path=dep, kind=(f := facts.file(dep)).kind, size=f.size, mtime=f.mtime)
            for dep in extras
        ),
        prepend_paths=prepend,
        cache_root=cache.root,
        env_path=env_path,
        lock_path=env.lock,
        marker_path=env.marker,
        in_use_path=env.in_use if mode == "cached" else None,
        uv=facts.uv,
        steps=tuple(steps),
        run=run,
        cleanup="remove-after-run" if mode == "ephemeral" else "keep",
    )


def with_ephemeral_suffix(plan: Plan, suffix: str) -> Plan:
    """The ephemeral `plan` for the env the shell made, `ephemeral/env_<suffix>` (`suffix`:
    16 hex digits it drew): every path in or beside the pattern env is moved there.

    Only values naming the pattern's directory (or something in it) change, so a plan
    file a person edited keeps its edits. Raises PlanError for a plan that names no
    pattern env (a cached plan, or an ephemeral one already placed).
    """
    cache = CacheLayout(root=plan.cache_root)
    pattern = cache.ephemeral_pattern()
    if plan.mode != "ephemeral" or plan.env_path != pattern.path:
        raise PlanError(
            f"{plan.source}: the plan names no ephemeral env to make (its env_path is "
            f"{shown_path(plan.env_path)}, not {shown_path(pattern.path)})."
        )
    if not is_ephemeral_suffix(suffix):
        raise ValueError(f"an ephemeral env's suffix is 16 hex digits, not {suffix!r}")
    return _moved_to(plan, pattern, cache.ephemeral_env(suffix).path)


def _moved_to(plan: Plan, pattern: EnvLayout, path: str) -> Plan:
    """`plan` with the values that name `pattern` (its directory, a path in it, its lock
    file) naming `path` instead; the text of the not-found message likewise."""

    def moved(value: str) -> str:
        if value == pattern.path or value.startswith(f"{pattern.path}/"):
            return path + value[len(pattern.path) :]
        return value

    def moved_changes(changes: EnvChanges) -> EnvChanges:
        return evolve(
            changes,
            prepend_path=tuple(moved(entry) for entry in changes.prepend_path),
            path_value=":".join(moved(entry) for entry in changes.path_value.split(":")),
            # VIRTUAL_ENV names the env the command runs in (a spec's own value is kept).
            set_env={
                key: moved(value) if key == "VIRTUAL_ENV" else value
                for key, value in changes.set_env.items()
            },
        )

    run = plan.run
    return evolve(
        plan,
        env_path=moved(plan.env_path),
        marker_path=moved(plan.marker_path),
        lock_path=path + plan.lock_path[len(pattern.path) :]
        if plan.lock_path == pattern.lock
        else plan.lock_path,
        steps=tuple(
            evolve(step, argv=tuple(moved(word) for word in step.argv), env=moved_changes(step.env))
            for step in plan.steps
        ),
        run=evolve(
            run,
            candidates=tuple(
                evolve(
                    candidate,
                    path=None if candidate.path is None else moved(candidate.path),
                    argv=tuple(moved(word) for word in candidate.argv),
                )
                for candidate in run.candidates
            ),
            not_found=run.not_found.replace(f"{pattern.path}/", f"{path}/"),
            env=moved_changes(run.env),
        ),
    )


def ephemeral_plan_spelt(plan: Plan, path: str) -> Plan:
    """The ephemeral `plan` with its pattern env's path spelt `path` (the printed plan
    spells it as a shell variable). No check: for the renderer only."""
    pattern = CacheLayout(root=plan.cache_root).ephemeral_pattern()
    return _moved_to(plan, pattern, path)
