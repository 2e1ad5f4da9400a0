"""The planner's view of the host: `HostFacts`, built from the record the shell gathered.

The record (`core.made_from.MadeFrom`) is what a plan was made from, as plain
data; `host_facts` turns it into the typed value `core.planning.plan` reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, fields_dict, frozen

from .made_from import HOST_FACTS

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


@frozen(kw_only=True)
class Interpreter:
    """The interpreter uv finds for a Python request: its path and the full version it
    reports (both None when none matches; `installed` then lists the versions the
    host has, and `no_download` says why none was downloaded, for the message)."""

    path: str | None
    version: str | None
    installed: tuple[str, ...] = ()
    no_download: str | None = None


def _interpreters_dict(value: Mapping[str, Interpreter]) -> dict[str, Interpreter]:
    return dict(sorted(value.items()))


def _files_dict(value: Mapping[str, FileFact]) -> dict[str, FileFact]:
    return dict(sorted(value.items()))


@frozen(kw_only=True)
class HostFacts:
    """Everything about the machine that a planning decision depends on.

    `files` maps each absolute path the spec names to its `stat` result; a path
    that is absent there is treated as missing. `interpreters` maps a Python request
    (a spec's `python_version`, or the default) to the interpreter uv finds for it; a
    request absent there was not looked for, and is treated as not found.
    """

    hostname: str
    home: str
    cwd: str
    xdg_cache_home: str | None
    path: str | None
    uv: str
    # Excluded from hashing only because a dict is unhashable; equality still compares it.
    files: Mapping[str, FileFact] = field(factory=dict, converter=_files_dict, hash=False)
    interpreters: Mapping[str, Interpreter] = field(
        factory=dict, converter=_interpreters_dict, hash=False
    )

    def file(self, path: str) -> FileFact:
        """The recorded fact for `path`, or MISSING."""
        return self.files.get(path, MISSING)

    def interpreter(self, request: str) -> Interpreter:
        """The interpreter found for `request`, or one that says none was."""
        return self.interpreters.get(request, Interpreter(path=None, version=None))


# The record's facts the planner reads (every other field of HostFacts is no host fact).
_HOST_FIELDS = tuple(name for name in fields_dict(HostFacts) if name in HOST_FACTS)


def host_facts(record: MadeFrom) -> HostFacts:
    """The planner's facts from the gathered `record`.

    The record may hold facts the planner does not read (the freshness rule reads
    them all). Raises TypeError when `record` lacks a fact `HostFacts` needs, or holds
    one `core.made_from.HostRecord` does not declare.
    """
    host: Mapping[str, Any] = record["host"]
    undeclared = sorted(set(host) - set(HOST_FACTS))
    if undeclared:
        raise TypeError(f"facts no HostRecord declares: {', '.join(undeclared)}")
    return HostFacts(
        **{name: host[name] for name in _HOST_FIELDS if name in host},
        uv=record["uv"]["path"],
        files={path: FileFact(**fact) for path, fact in record["files"].items()},
        interpreters={
            request: Interpreter(
                path=found["path"],
                version=found["version"],
                installed=tuple(found.get("installed", ())),
                no_download=found.get("no_download"),
            )
            for request, found in record.get("interpreters", {}).items()
        },
    )
