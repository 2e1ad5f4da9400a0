"""From a spec and host facts to the plan: everything the shell will do, decided up front."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Literal

from attrs import evolve, field, frozen

from .envkind import EnvKind
from .errors import PlanError
from .facts import FileKind, HostFacts
from .layout import CacheLayout, EnvLayout, cache_layout, is_ephemeral_suffix
from .limits import shown_path
from .paths import absolute_path
from .plan_rules import command_candidates, env_hash, not_found_message
from .pylock import PylockFormat, pylock_format, version_to_check
from .spec import Spec, check_resolved_paths

Cleanup = Literal["keep", "remove-after-run"]


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
    none holds, `not_found` is said and the exit status is 127.
    """

    words: tuple[str, ...]
    candidates: tuple[CommandCandidate, ...]
    not_found: str
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
    python_version: str
    python_version_source: Literal["spec", "host default"]
    # The version a pylock's requires-python is tested with before provisioning
    # (None: python_version is a name or path, so it cannot be known in advance).
    requires_python_check: str | None
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


def _require_existing(
    spec: Spec, facts: HostFacts, pylock: str, extras: tuple[str, ...], prepend: tuple[str, ...]
) -> float:
    """Check that the files the spec names exist; return the pylock's mtime."""
    fact = facts.file(pylock)
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
        kind = facts.file(dep).kind
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
        kind = facts.file(entry).kind
        if kind != "directory":
            what = "does not exist" if kind == "missing" else f"is a {kind}, not a directory"
            raise PlanError(
                f"{spec.source}: prepend_paths[{i}]: {shown_path(entry)} {what}; PATH entries "
                "must be directories."
            )
    return fact.mtime


def plan(spec: Spec, facts: HostFacts) -> Plan:
    """Decide everything about running `spec` on the host described by `facts`.

    Raises SpecError, PlanError or PylockError (all PylockenvError) with a
    message for the user when the spec cannot be planned.
    """
    command = spec.command
    pylock, extras, prepend = resolved_paths(spec, home=facts.home, cwd=facts.cwd)
    mtime = _require_existing(spec, facts, pylock, extras, prepend)
    fmt = pylock_format(pylock, spec.source)

    python_version = command.python_version or facts.default_python_version
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
    # The uv steps keep the caller's PATH: the spec's PATH describes the command's world,
    # and one that hides the host's Python would make uv look for (download) another.
    uv_env = EnvChanges(
        prepend_path=prepend, path_value=_joined_path(prepend, facts.path), set_env=set_env
    )
    # refresh: --reinstall makes uv ignore what it cached for these packages, so a
    # changed source tree among the extras is rebuilt, not taken from uv's cache.
    reinstall = ("--reinstall",) if command.refresh else ()
    steps = [
        UvStep(
            name="create-venv", argv=(facts.uv, "venv", "-p", python_version, env_path), env=uv_env
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

    words = tuple(shlex.split(command.command))
    run_prepend = (env.bin_dir, *prepend)
    run = RunCommand(
        words=words,
        candidates=tuple(
            CommandCandidate(check=check, path=path, argv=argv)  # type: ignore[arg-type]
            for check, path, argv in command_candidates(words, env)
        ),
        not_found=not_found_message(spec.source, words[0], env),
        env=EnvChanges(
            prepend_path=run_prepend,
            path_value=_joined_path(run_prepend, base_path),
            set_env=set_env,
        ),
    )
    return Plan(
        source=spec.source,
        host=facts.hostname,
        mode=mode,
        env_hash=digest,
        hash_input=hash_input,
        python_version=python_version,
        python_version_source="spec" if command.python_version else "host default",
        requires_python_check=version_to_check(
            python_version, facts.default_python_version, facts.python_full_version
        ),
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
