"""What `list`, `show` and `gc` share: --host, JSON output, and the "no such env" error."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

ALL_HOSTS = "all"


def host_argument(parser: argparse.ArgumentParser, *, default: str) -> None:
    """--host NAME|all; `default` is "this" (this host's envs) or ALL_HOSTS."""
    shown = "this host" if default == "this" else default
    parser.add_argument(
        "--host",
        metavar="NAME|all",
        help=(
            "only the envs made on host NAME, or 'all' hosts sharing this cache "
            f"(default: {shown}); an env whose host is unknown counts as this host's"
        ),
    )
    parser.set_defaults(default_host=default)


def host_filter(ns: argparse.Namespace, this_host: str) -> str | None:
    """The host `--host` names: None for every host."""
    host: str | None = ns.host
    if host is None:
        host = ns.default_host if ns.default_host != "this" else this_host
    return None if host == ALL_HOSTS else host


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")
    sys.stdout.flush()


def env_names_like(name: str, names: Iterable[str]) -> str:
    """The hint " (did you mean '...'?)" naming the envs `name` starts or is close to, or "".

    A short hash is suggested, never taken: `gc` removes what it is given, and a prefix
    unique today may name another env tomorrow on a shared cache; `list` prints names
    whole, for pasting.
    """
    from pylockenv.core.hints import did_you_mean

    return did_you_mean(name, names)


def no_env_error(root: str, missing: Sequence[str], names: Sequence[str]) -> int:
    """Say that the cache under `root` holds none of the envs `missing` (each with the
    names among `names` it may mean); the exit code for it."""
    from pylockenv.core.cache_display import printable

    from ..errors import EXIT_CACHE_FAILED

    described = ", ".join(printable(name) + env_names_like(name, names) for name in missing)
    print(
        f"pylockenv: error: no environment {described} in {printable(root)}; "
        "'pylockenv list' names the environments there.",
        file=sys.stderr,
    )
    return EXIT_CACHE_FAILED
