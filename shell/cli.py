"""The `pylockenv` command line.

Exit codes (see `shell.errors`): the command's own status; 128+N when it was
killed by signal N; 125 when pylockenv failed (bad spec or pylock, provisioning,
lock timeout, uv); 126 when the command cannot be executed; 127 when it is not
found; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pylockenv.core import __version__
from pylockenv.core.errors import EXIT_CODES, PylockenvError

from .errors import EXIT_PYLOCKENV_FAILED, EXIT_SIGNAL_BASE, EXIT_USAGE
from .uvbin import UV_ENV_VAR

if TYPE_CHECKING:
    from pylockenv.core.spec import Spec

    from .progress import Progress

__all__ = ["EXIT_PYLOCKENV_FAILED", "EXIT_USAGE", "main"]


def _spec_arguments() -> argparse.ArgumentParser:
    """SPEC [NAME], or the same command given by flags: shared by `run` and `provision`."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("spec", nargs="?", metavar="SPEC", help="YAML spec file")
    parent.add_argument("name", nargs="?", metavar="NAME", help="command name in SPEC's commands:")
    flags = parent.add_argument_group("a spec given by flags instead of SPEC")
    flags.add_argument("--pylock", metavar="P", help="the pylock.toml file")
    flags.add_argument("--command", metavar="C", help="what to run, e.g. '-m my_app'")
    flags.add_argument("--python-version", metavar="V", help="e.g. 3.11 (default: this Python's)")
    flags.add_argument(
        "--local-extra-dep",
        metavar="W",
        action="append",
        default=[],
        help="a wheel or source tree installed with --no-deps (repeatable)",
    )
    flags.add_argument(
        "--env",
        metavar="K=V",
        action="append",
        default=[],
        help="an environment variable for the command (repeatable)",
    )
    flags.add_argument(
        "--prepend-path",
        metavar="D",
        action="append",
        default=[],
        help="a directory put on PATH after the env's bin/ (repeatable)",
    )
    flags.add_argument(
        "--refresh",
        action="store_true",
        help="use a fresh ephemeral environment, removed after the run",
    )
    return parent


def _execution_arguments(*, uv: bool = True) -> argparse.ArgumentParser:
    """-v/-q, --lock-timeout and (unless `uv` is False: a saved plan names its uv) --uv."""
    parent = argparse.ArgumentParser(add_help=False)
    loudness = parent.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="show uv's full output while provisioning"
    )
    loudness.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    if uv:
        parent.add_argument(
            "--uv",
            metavar="PATH",
            help=f"the uv executable (default: ${UV_ENV_VAR}, else bundled uv)",
        )
    parent.add_argument(
        "--lock-timeout",
        metavar="SECONDS",
        type=_lock_timeout,
        help="give up waiting for another process provisioning the same env (default: wait)",
    )
    return parent


# The commands that run or provision an env; the cache commands are only added to the
# parser when the command line may name one (a warm run need not import them).
ENV_COMMANDS = ("run", "provision", "apply")


def _build_parser(*, with_cache_commands: bool = True) -> argparse.ArgumentParser:
    """The whole command line, or (`with_cache_commands=False`) only `run` and `provision`."""
    parser = argparse.ArgumentParser(
        prog="pylockenv",
        description=(
            "Run a command inside a cached Python environment defined by a pylock.toml "
            "(PEP 751) lock file and provisioned with uv."
        ),
        epilog="exit codes:\n"
        + "".join(f"  {code:<7} {meaning}\n" for code, meaning in EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pylockenv {__version__}")
    commands = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    spec_args, exec_args = _spec_arguments(), _execution_arguments()
    run = commands.add_parser(
        "run",
        parents=[spec_args, exec_args],
        help="run a python_env command (provisioning its environment if needed)",
        description=(
            "Run the python_env command in SPEC (a YAML file holding one command, or a "
            "'commands:' section picked by NAME), or the command given by --pylock and "
            "--command. Arguments after '--' are appended to the command."
        ),
    )
    run.add_argument(
        "--print-plan",
        action="store_true",
        help="print the plan as a shell script and exit; creates nothing",
    )
    run.add_argument("--json", action="store_true", help="with --print-plan: print JSON")
    run.set_defaults(usage_parser=run)
    provision = commands.add_parser(
        "provision",
        parents=[spec_args, exec_args],
        help="prepare a command's cached environment without running it; print its path",
        description=(
            "Provision the cached environment of the python_env command in SPEC (or given by "
            "flags), for example to pre-warm a node, and print the environment's path."
        ),
    )
    provision.set_defaults(usage_parser=provision)
    apply = commands.add_parser(
        "apply",
        parents=[_execution_arguments(uv=False)],
        help="run a saved plan (made by 'run ... --print-plan --json'), if it is still fresh",
        description=(
            "Run the plan saved in PLAN by 'pylockenv run SPEC [NAME] --print-plan --json > "
            "PLAN', with the arguments after '--' appended to its command. Before anything "
            "runs, every fact the plan was made from (host name, home, working directory "
            "for a spec given by flags, "
            "XDG_CACHE_HOME, PATH, this Python's version, the uv executable, the stat of "
            "the pylock and every local extra) is checked again; a stale plan is refused "
            "with what changed."
        ),
    )
    apply.add_argument("plan_file", metavar="PLAN", help="a plan file (JSON)")
    apply.set_defaults(usage_parser=apply)
    if with_cache_commands:
        from . import cache_commands

        cache_commands.register(commands)
    return parser


def _spec_from_args(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> Spec:
    from pylockenv.core.spec import command_from_flags

    from .specfile import read_spec_file

    flag_form = ns.pylock is not None or ns.command is not None
    if ns.spec is not None and flag_form:
        parser.error("give either SPEC [NAME] or --pylock and --command, not both")
    spec_flags = (ns.python_version, ns.local_extra_dep, ns.env, ns.prepend_path, ns.refresh)
    if ns.spec is not None and any(spec_flags):
        parser.error(
            "--python-version, --local-extra-dep, --env, --prepend-path and --refresh describe "
            "a command given by --pylock and --command; with SPEC, write them in the spec file"
        )
    if ns.spec is not None:
        return read_spec_file(ns.spec, ns.name)
    if ns.pylock is None or ns.command is None:
        parser.error("give SPEC [NAME], or both --pylock and --command")
    return command_from_flags(
        pylock=ns.pylock,
        command=ns.command,
        python_version=ns.python_version,
        local_extra_deps=ns.local_extra_dep,
        env=ns.env,
        prepend_paths=ns.prepend_path,
        refresh=ns.refresh,
    )


def _split_extra_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """For `run` and `provision`: pylockenv's own arguments, and those after `--` for the
    command. Other subcommands keep `--` for argparse (`gc -- HASH` names HASH)."""
    argv = list(argv)
    if argv and argv[0] in ENV_COMMANDS and "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _lock_timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, and finite: {text!r}")
    return seconds


def _progress(ns: argparse.Namespace) -> Progress:
    from .progress import Progress, Verbosity

    verbosity: Verbosity = "verbose" if ns.verbose else "quiet" if ns.quiet else "normal"
    return Progress(verbosity=verbosity)


def _run_or_provision(
    parser: argparse.ArgumentParser, ns: argparse.Namespace, extra: list[str]
) -> int:
    from .plan_files import plan_document, plan_with_facts, store_plan
    from .run_plan import exec_plan, provision

    if ns.subcommand == "apply":
        return _apply(ns, extra)
    if getattr(ns, "json", False) and not ns.print_plan:
        parser.error("--json goes with --print-plan")
    spec = _spec_from_args(parser, ns)
    spec_path = None if ns.spec is None else os.path.abspath(ns.spec)
    the_plan, facts = plan_with_facts(spec, uv=ns.uv, spec_path=spec_path, name=ns.name)
    if ns.subcommand == "provision":
        if extra:
            parser.error("provision runs nothing, so it takes no arguments after '--'")
        path = provision(the_plan, progress=_progress(ns), lock_timeout=ns.lock_timeout)
        print(path)
        return 0
    if ns.print_plan:
        from pylockenv.core.render import render_shell

        if ns.json:
            sys.stdout.write(plan_document(the_plan, facts))
        else:
            sys.stdout.write(render_shell(the_plan))
        return 0

    def keep_for_warm_runs() -> None:
        if spec_path is not None:
            store_plan(the_plan, facts, spec_path=spec_path, name=ns.name)

    # exec_plan returns only by raising: the command takes this process over.
    return exec_plan(
        the_plan,
        extra,
        progress=_progress(ns),
        lock_timeout=ns.lock_timeout,
        when_ready=keep_for_warm_runs,
    )


def _apply(ns: argparse.Namespace, extra: list[str]) -> int:
    """`pylockenv apply PLAN`: run a saved plan once every fact it was made from holds."""
    from .plan_files import load_plan_file, store_applied_plan
    from .run_plan import exec_plan

    the_plan, document, recorded = load_plan_file(ns.plan_file)

    def keep_for_warm_runs() -> None:
        store_applied_plan(the_plan, document, recorded, ns.plan_file)

    return exec_plan(
        the_plan,
        extra,
        progress=_progress(ns),
        lock_timeout=ns.lock_timeout,
        when_ready=keep_for_warm_runs,
    )


def _occupy_closed_standard_fds() -> tuple[bool, bool]:
    """Put /dev/null (close-on-exec) on whichever of fds 0, 1, 2 is closed.

    Otherwise the first file pylockenv opens (a lock, say) would become a standard
    stream, and the command would write into it. The command still finds them
    closed, as its caller left them. Returns whether stdout and stderr are usable.
    """
    usable = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            usable.append(True)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            if null != fd:  # a lower fd was free after all: nothing to occupy
                os.close(null)
            usable.append(False)
    if sys.stderr is None or not usable[2]:
        # Errors must never go to stdout, where they would mix with the command's output.
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 -- lives as long as the process
    return usable[1] and sys.stdout is not None, usable[2]


def _prints_to_stdout(own: Sequence[str]) -> bool:
    """Whether the subcommand's result goes to stdout (all but `run` without --print-plan,
    and `apply`)."""
    return bool(own) and own[0] != "apply" and (own[0] != "run" or "--print-plan" in own)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pylockenv` console script; returns the exit code."""
    stdout_ok, _ = _occupy_closed_standard_fds()
    own, extra = _split_extra_args(sys.argv[1:] if argv is None else argv)
    if not stdout_ok and _prints_to_stdout(own):
        print(
            "pylockenv: error: standard output is closed, so there is nowhere to print the "
            "result; run it with stdout open (redirect it to a file or /dev/null).",
            file=sys.stderr,
        )
        return EXIT_PYLOCKENV_FAILED
    parser = _build_parser(with_cache_commands=not own or own[0] not in ENV_COMMANDS)
    ns, unknown = parser.parse_known_args(own)
    if unknown:
        # Said by the subcommand's parser, so that its usage (not the top level's) is shown.
        usage: argparse.ArgumentParser = getattr(ns, "usage_parser", parser)
        usage.error(f"unrecognized arguments: {' '.join(unknown)}")
    handler = getattr(ns, "handler", None)
    try:
        if handler is not None:
            code: int = handler(ns)
            return code
        return _run_or_provision(ns.usage_parser, ns, extra)
    except PylockenvError as exc:
        print(f"pylockenv: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # The disk or the system said no somewhere unforeseen: still a sentence, not a traceback.
        print(f"pylockenv: error: {exc}", file=sys.stderr)
        return EXIT_PYLOCKENV_FAILED
    except KeyboardInterrupt:
        # Ctrl-C outside the part where the signal relay owns the signals.
        print("pylockenv: interrupted", file=sys.stderr)
        return EXIT_SIGNAL_BASE + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
