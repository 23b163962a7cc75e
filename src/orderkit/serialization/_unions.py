"""Hooks for tagged unions: `OrderEvent`, `Outcome`, `Event` and their unions.

A union of tagged classes is read by the class name under `"type"` and
written by the hook of the value's own class, which writes that tag first.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import get_args

import cattrs

from orderkit.errors import StructureError
from orderkit.orders import EVENT_TYPES, Event
from orderkit.serialization._paths import shape_error, type_name
from orderkit.serialization._wire import (
    TAG,
    TAGS,
    Data,
    StructureHook,
    TypeForm,
    UnstructureHook,
    origin_of,
)


def _members(t: TypeForm) -> tuple[type, ...]:
    """The tagged classes a union (or `Event`) stands for; none for other types."""
    if t is Event:
        return EVENT_TYPES
    if not isinstance(t, types.UnionType) and origin_of(t) is not typing.Union:
        return ()
    members = get_args(t)
    return members if all(member in TAGS for member in members) else ()


def is_tagged_union(t: TypeForm) -> bool:
    return bool(_members(t))


def union_structure_hook(t: TypeForm, converter: cattrs.BaseConverter) -> StructureHook:
    by_tag = {TAGS[cl]: (converter.get_structure_hook(cl), cl) for cl in _members(t)}
    known = ", ".join(sorted(by_tag))
    name = type_name(t)

    def structure_tagged(value: Data, _: TypeForm) -> Data:
        try:
            hook, cl = by_tag[value[TAG]]
        except (KeyError, TypeError, IndexError):
            if not isinstance(value, Mapping) or TAG not in value:
                raise shape_error(value, (TAG,), name) from None
            problem = f"is not a known type; expected one of {known}"
            raise StructureError(TAG, value[TAG], problem, name) from None
        return hook(value, cl)

    return structure_tagged


def union_unstructure_hook(
    t: TypeForm, converter: cattrs.BaseConverter
) -> UnstructureHook:
    by_class = {cl: converter.get_unstructure_hook(cl) for cl in _members(t)}

    def unstructure_tagged(value: Data) -> Data:
        return by_class[value.__class__](value)

    return unstructure_tagged
