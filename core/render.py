"""Plans as text: JSON for machines and golden files, a shell script for people."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable

import attrs

from .plan import EnvChanges, Plan

MARKER_STAGING_SUFFIX = ".tmp"


def plan_to_dict(plan: Plan) -> dict[str, object]:
    """The plan as plain data, keys in declaration order."""
    return attrs.asdict(plan)


def render_json(plan: Plan) -> str:
    """The plan as JSON with a stable key order and a trailing newline."""
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


def _q(words: Iterable[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


def _with_env(env: EnvChanges, path_var: str, argv: Iterable[str], *, exec_: bool = False) -> str:
    # An empty PATH is left as the caller has it, as the shell's executor does.
    words = [f'PATH="${path_var}"'] if env.path else []
    words += [shlex.quote(f"{k}={v}") for k, v in env.set_env.items()]
    prefix = "exec " if exec_ else ""
    return f"{prefix}env {' '.join([*words, _q(argv)])}"


def render_shell(plan: Plan) -> str:
    """A POSIX shell script that does what the plan says, for a person to read or run."""
    env_dir = shlex.quote(plan.env_path)
    marker = shlex.quote(plan.marker_path)
    run = plan.run
    lines = [
        "#!/bin/sh",
        f"# pylockenv plan for {plan.source}",
        f"# mode: {plan.mode}; env hash {plan.env_hash} = sha256({plan.hash_input!r})[:16]",
        f"# python: {plan.python_version} ({plan.python_version_source})",
        "set -eu",
        f"uv_path={shlex.quote(plan.steps[0].env.path)}  # PATH for the uv steps",
        f"run_path={shlex.quote(run.env.path)}  # PATH for the command",
        "",
    ]
    provision = [
        f"{_with_env(step.env, 'uv_path', step.argv)}  # {step.name}" for step in plan.steps
    ]
    parent = shlex.quote(plan.env_path.rsplit("/", 1)[0])
    if plan.mode == "cached":
        assert plan.lock_path is not None
        staging = shlex.quote(plan.marker_path + MARKER_STAGING_SUFFIX)
        lines += [
            f"if [ ! -e {marker} ]; then",
            f"  mkdir -p {parent}",
            f"  exec 9>>{shlex.quote(plan.lock_path)}",
            "  flock 9  # one provisioning at a time; the others wait here",
            f"  if [ ! -e {marker} ]; then",
            f"    rm -rf {env_dir}  # leftover of a provisioning that did not finish",
            *(f"    {line}" for line in provision),
            f"    : > {staging} && mv {staging} {marker}  # the marker last, atomically",
            "  fi",
            "  exec 9>&-",
            "fi",
        ]
    else:
        lines += [
            f"mkdir -p {parent}",
            f"mkdir -m 700 {env_dir}",
            f"trap {shlex.quote('rm -rf ' + env_dir)} EXIT  # ephemeral: removed whatever happens",
            *provision,
        ]
    # An ephemeral env must be removed by the trap after the command, so no exec there.
    exec_ = plan.cleanup == "keep"
    lines += ["", "# the command; arguments given to this script are appended"]
    python_line = f'{_with_env(run.env, "run_path", run.python_argv, exec_=exec_)} "$@"'
    if run.script is None or run.script_argv is None:
        lines.append(python_line)
    else:
        script_line = f'{_with_env(run.env, "run_path", run.script_argv, exec_=exec_)} "$@"'
        lines += [
            f"if [ -e {shlex.quote(run.script)} ]; then",
            f"  {script_line}",
            "else",
            f"  {python_line}",
            "fi",
        ]
    return "\n".join(lines) + "\n"
