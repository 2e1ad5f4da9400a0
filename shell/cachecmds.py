"""The cache subcommands (`list`, `show`, `gc`); registered on the CLI's subparsers."""

from __future__ import annotations

import argparse


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the cache subcommands, each setting `handler` to a function of the namespace."""
