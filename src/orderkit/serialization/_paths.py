"""Failed reads as `StructureError`, with the path to the value refused.

cattrs reports a failed detailed read as nested exception groups; the first
failure inside them, and the fields and indexes that lead to it, become one
`StructureError` whose `field` is the path from the top
(`lines[2].unit_price.amount`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypeAlias

import attrs
from cattrs.errors import ClassValidationError, IterableValidationError

from orderkit.errors import StructureError, ValidationError
from orderkit.orders import OrderEvent, Outcome
from orderkit.serialization._wire import Data, TypeForm


_Path: TypeAlias = list[str | int]

_MISSING: Final = "required field is missing"
_UNION_NAMES: Final[dict[TypeForm, str]] = {
    OrderEvent: "OrderEvent",
    Outcome: "Outcome",
}


def report(
    obj: Data, cl: TypeForm, error: BaseException
) -> tuple[StructureError, BaseException | None]:
    """The report of a failed read, and the error to chain it from."""
    path, leaf = _first_leaf(error)
    name = type_name(cl)
    if isinstance(leaf, ValidationError):
        field = _join(path, leaf.field)
        found = StructureError(field, leaf.value, leaf.problem, name)
        # Our hooks' own reports chain the domain error they stand for.
        return found, leaf.__cause__ if isinstance(leaf, StructureError) else leaf
    if isinstance(leaf, KeyError) and path and leaf.args == (path[-1],):
        return StructureError(_render(path), attrs.NOTHING, _MISSING, name), None
    problem = str(leaf) or type(leaf).__name__
    return StructureError(_render(path), _value_at(obj, path), problem, name), leaf


def _first_leaf(error: BaseException) -> tuple[_Path, BaseException]:
    """The first failure inside cattrs' exception groups, and the path to it."""
    path: _Path = []
    while True:
        if isinstance(error, ClassValidationError):
            by_field, others = error.group_exceptions()
            if by_field:
                error, field_note = by_field[0]
                path.append(field_note.name)
                continue
        elif isinstance(error, IterableValidationError):
            by_index, others = error.group_exceptions()
            if by_index:
                error, index_note = by_index[0]
                path.append(index_note.index)
                continue
        else:
            return path, error
        if not others:
            return path, error
        error = others[0]  # raised by the constructor, after every field was read


def _render(path: _Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else part
    return text


def _join(path: _Path, relative: str) -> str:
    """The full path of a field that an error names relative to `path`."""
    if not relative:
        return _render(path)
    if path and isinstance(path[-1], str):
        # Some classes name fields from their parent (Buyer's "buyer.buyer_id"):
        # say the parent once.
        parent = path[-1]
        if relative.startswith((f"{parent}.", f"{parent}[")):
            path = path[:-1]
    base = _render(path)
    if not base:
        return relative
    return f"{base}{relative}" if relative.startswith("[") else f"{base}.{relative}"


def _value_at(obj: Data, path: _Path) -> Data:
    for part in path:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return attrs.NOTHING
    return obj


def type_name(cl: TypeForm) -> str:
    """The name of a type form in a report: `Order`, `OrderEvent`."""
    try:
        union = _UNION_NAMES.get(cl)
    except TypeError:  # an unhashable type form
        union = None
    return union or getattr(cl, "__name__", None) or repr(cl)


def shape_error(value: Data, keys: tuple[str, ...], what: str) -> StructureError:
    """The report of an object expected with `keys` that is not one, or lacks one."""
    if not isinstance(value, Mapping):
        return StructureError("", value, f"must be an object ({what})", what)
    missing = next((k for k in keys if k not in value), "")
    return StructureError(missing, attrs.NOTHING, _MISSING, what)
