"""The kinds of env the cache holds, as types (kept apart so that `core.layout` needs no
`typing` at run time: the warm path reads the layout before anything heavy loads)."""

from __future__ import annotations

from typing import Literal

EnvKind = Literal["cached", "ephemeral"]
# Who made an ephemeral env, told by its name: pylockenv's runs lock their env's
# directory; the reference (`tempfile.mkdtemp(prefix="env_")`) takes no lock.
EphemeralMaker = Literal["pylockenv", "reference"]
