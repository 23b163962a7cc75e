"""Hooks for lists, tuples, sets, mappings and optionals.

A tuple is read from and written as a list; a set or frozenset is written as
a sorted list, so equal values always give equal bytes. A mapping is an
object.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, Final, final, get_args

import attrs
import cattrs
from cattrs.cols import is_mapping, mapping_structure_factory
from cattrs.errors import IterableValidationError, IterableValidationNote

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import StructureError
from orderkit.serialization._paths import type_name
from orderkit.serialization._wire import (
    Data,
    StructureHook,
    TypeForm,
    UnstructureHook,
    origin_of,
    own,
)


def is_homogeneous_sequence(t: TypeForm) -> bool:
    origin, args = origin_of(t), get_args(t)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return origin is list and len(args) == 1


def is_set(t: TypeForm) -> bool:
    return t in (frozenset, set) or origin_of(t) in (frozenset, set)


def is_optional(t: TypeForm) -> bool:
    is_union = isinstance(t, types.UnionType) or origin_of(t) is typing.Union
    return is_union and len(get_args(t)) == 2 and type(None) in get_args(t)


def _inner(optional: TypeForm) -> TypeForm:
    return next(arg for arg in get_args(optional) if arg is not type(None))


def _collection_hook(
    t: TypeForm, converter: cattrs.BaseConverter, build: Callable[[list[Data]], Data]
) -> StructureHook:
    item_type = get_args(t)[0] if get_args(t) else Any
    item_hook = converter.get_structure_hook(item_type)
    name = type_name(t)

    def structure_fast(value: Data, _: TypeForm) -> Data:
        if not isinstance(value, list | tuple):
            raise StructureError("", value, "must be a list", name)
        return build([item_hook(item, item_type) for item in value])

    def structure_careful(value: Data, _: TypeForm) -> Data:
        if not isinstance(value, list | tuple):
            raise StructureError("", value, "must be a list", name)
        items, errors = [], []
        for index, item in enumerate(value):
            try:
                items.append(item_hook(item, item_type))
            except Exception as error:  # noqa: BLE001 - gathered into the group
                note = IterableValidationNote(
                    f"Structuring {name} @ index {index}", index, item_type
                )
                error.__notes__ = [*getattr(error, "__notes__", []), note]
                errors.append(error)
        if errors:
            raise IterableValidationError(f"While structuring {name}", errors, t)
        return build(items)

    return own(structure_careful if converter.detailed_validation else structure_fast)


def sequence_hook(t: TypeForm, converter: cattrs.BaseConverter) -> StructureHook:
    return _collection_hook(t, converter, tuple if origin_of(t) is tuple else list)


def set_hook(t: TypeForm, converter: cattrs.BaseConverter) -> StructureHook:
    return _collection_hook(t, converter, origin_of(t) or t)


def is_mapping_type(t: TypeForm) -> bool:
    return bool(is_mapping(t))


def mapping_hook(t: TypeForm, converter: cattrs.BaseConverter) -> StructureHook:
    # cattrs' own hook, which reads keys and values by their hooks (and says
    # which key failed), once the value is known to be an object at all.
    inner = mapping_structure_factory(t, converter)
    name = type_name(t)

    def structure_mapping(value: Data, _: TypeForm) -> Data:
        if not isinstance(value, Mapping):
            raise StructureError("", value, "must be an object", name)
        return inner(value, t)

    return own(structure_mapping)


def optional_hook(t: TypeForm, converter: cattrs.BaseConverter) -> StructureHook:
    inner = _inner(t)
    hook = converter.get_structure_hook(inner)

    def structure_optional(value: Data, _: TypeForm) -> Data:
        return None if value is None else hook(value, inner)

    return own(structure_optional)


@final
@attrs.frozen
class WriteItems:
    """Writes a tuple or list as a list; generated hooks inline it."""

    item: UnstructureHook

    def __call__(self, value: Data) -> list[Data]:
        item = self.item
        return [item(x) for x in value]


@final
@attrs.frozen
class WriteOptional:
    """Writes `None` or the value; generated hooks inline it."""

    inner: UnstructureHook

    def __call__(self, value: Data) -> Data:
        return None if value is None else self.inner(value)


def unstructure_sequence_hook(
    t: TypeForm, converter: cattrs.BaseConverter
) -> UnstructureHook:
    return WriteItems(converter.get_unstructure_hook(get_args(t)[0]))


def unstructure_optional_hook(
    t: TypeForm, converter: cattrs.BaseConverter
) -> UnstructureHook:
    return WriteOptional(converter.get_unstructure_hook(_inner(t)))


_KEY_ORDER: Final = attrgetter("channel", "event_type", "object_id", "event_id")


def _canonical(value: Data) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def unstructure_set_hook(
    t: TypeForm, converter: cattrs.BaseConverter
) -> UnstructureHook:
    args = get_args(t)
    if args == (IdempotencyKey,):
        key_hook = converter.get_unstructure_hook(IdempotencyKey)

        def unstructure_keys(value: Data) -> list[Data]:
            if len(value) < 2:
                return [key_hook(key) for key in value]
            return [key_hook(key) for key in sorted(value, key=_KEY_ORDER)]

        return unstructure_keys
    item_hook = (
        converter.get_unstructure_hook(args[0]) if args else converter.unstructure
    )

    def unstructure_set(value: Data) -> list[Data]:
        return sorted((item_hook(item) for item in value), key=_canonical)

    return unstructure_set
