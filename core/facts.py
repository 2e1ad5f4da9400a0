"""The planner's view of the host: `HostFacts`, built from the record the shell gathered.

The record (`core.made_from.MadeFrom`) is what a plan was made from, as plain
data; `host_facts` turns it into the typed value `core.planning.plan` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from attrs import field, frozen

if TYPE_CHECKING:
    from .made_from import MadeFrom

# What stat says a path is. "other" is a kind older markers may record.
FileKind = Literal[
    "file",
    "directory",
    "character device",
    "block device",
    "FIFO",
    "socket",
    "other",
    "missing",
]


@frozen(kw_only=True)
class FileFact:
    """What `stat` said about one path the spec names."""

    kind: FileKind
    mtime: float | None = None
    size: int | None = None


MISSING = FileFact(kind="missing")


def _files_dict(value: Mapping[str, FileFact]) -> dict[str, FileFact]:
    return dict(sorted(value.items()))


@frozen(kw_only=True)
class HostFacts:
    """Everything about the machine that a planning decision depends on.

    `files` maps each absolute path the spec names to its `stat` result; a path
    that is absent there is treated as missing.
    """

    hostname: str
    home: str
    cwd: str
    xdg_cache_home: str | None
    path: str | None
    default_python_version: str
    python_full_version: str
    uv: str
    ephemeral_suffix: str
    # Excluded from hashing only because a dict is unhashable; equality still compares it.
    files: Mapping[str, FileFact] = field(factory=dict, converter=_files_dict, hash=False)

    def file(self, path: str) -> FileFact:
        """The recorded fact for `path`, or MISSING."""
        return self.files.get(path, MISSING)


def host_facts(record: MadeFrom, *, ephemeral_suffix: str) -> HostFacts:
    """The planner's facts from the gathered `record`, with the name an ephemeral env
    would get (`ephemeral_suffix`, chosen by the shell: it is no fact about the host).

    Raises TypeError when `record` lacks a fact `HostFacts` needs or holds one it does not.
    """
    return HostFacts(
        **record["host"],
        uv=record["uv"]["path"],
        ephemeral_suffix=ephemeral_suffix,
        files={path: FileFact(**fact) for path, fact in record["files"].items()},
    )
