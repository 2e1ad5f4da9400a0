"""Damaging plain data anywhere, for the properties about damaged plans (a kept plan, a
plan file): any marshal-able value, put in any place of a real plan's data."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Text as marshal holds it: any code point, lone surrogates too (no UTF-8 can encode them).
any_text = st.text(st.characters(exclude_categories=()), max_size=8)

# What marshal can hold (and so a kept plan, once damaged): scalars, bytes, lists, tuples,
# and dicts keyed by strings or numbers.
marshal_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(any_text | st.integers(), inner, max_size=3)
    ),
    max_leaves=12,
)


def places(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in `value` (itself included), as a path of keys and indexes."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += places(item, (*prefix, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found += places(item, (*prefix, index))
    return found


def replaced(value: Any, place: tuple[Any, ...], new: object) -> Any:
    """A copy of `value` with `new` at `place` (containers on the way copied as dict or list)."""
    if not place:
        return new
    head, *rest = place
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = replaced(value[head], tuple(rest), new)
    return copy
