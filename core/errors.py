"""Exceptions the core raises for input a person has to fix."""

from __future__ import annotations


class PylockenvError(Exception):
    """Base of every error pylockenv reports as a sentence instead of a traceback."""


class SpecError(PylockenvError):
    """A command spec is malformed: the message names the file, the field and what to write."""


class PlanError(PylockenvError):
    """A well-formed spec cannot be planned on this host (a file it names is missing, say)."""


class PylockError(PylockenvError):
    """The pylock file itself cannot be used: wrong name, invalid TOML, or Python mismatch."""
