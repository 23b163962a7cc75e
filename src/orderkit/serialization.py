"""JSON at the edge: orderkit values to and from bytes, with cattrs.

`make_converter()` returns a new `Converter` (a `cattrs.Converter`) with
`dumps` and `loads` for JSON beside the usual `unstructure` and `structure`.
The wire format, each rule pinned by a test:

- `Money` is an object with the amount as a string:
  `{"amount": "12.30", "currency": "CNY"}`. A bare `Decimal` is a plain
  decimal string (`"12.30"`, never an exponent). Reading goes through `Money`
  itself, so a JSON float (`12.3`), NaN or too many decimal places are
  refused; an integer amount is accepted, as `Money` accepts it.
- A `Currency` is its ISO 4217 code (`"CNY"`).
- An instant (a `pendulum.DateTime`) is ISO 8601 in UTC with `Z`:
  `"2026-11-11T08:00:00Z"`, with six digits of fraction only when the
  microsecond is not zero. Reading accepts any ISO 8601 timestamp with an
  offset and converts it to UTC; one without an offset is refused.
- An enum is its value (`"in_transit"`).
- An `IdempotencyKey` is an object with its four parts.
- A tuple is a list; a frozenset is a sorted list, so equal values always
  give equal bytes.
- Events and outcomes carry their class name under `"type"`, first in the
  object (`{"type": "Shipped", ...}`). `OrderEvent`, `Outcome`, `Event` and
  any other union of them are read by that tag; a concrete class refuses
  another class's tag.
- The error in a `Rejected` outcome is written as its class name and message
  (`{"type": "IllegalTransition", "message": "..."}`) for people to read; it
  is not read back, so neither is `Rejected`.
- Strings and integers are never coerced: `5` is not a SKU, and neither
  `"3"` nor `3.0` is a quantity. Keys orderkit does not know are ignored.
- Every value is built by its constructor, so the domain's rules hold on
  read exactly as in code.
- Data that cannot be read raises `StructureError` (an `OrderkitError` and a
  `ValueError`): `field` is the path from the top
  (`lines[2].unit_price.amount`), `value` the value refused (`attrs.NOTHING`
  for a missing field), and the domain error behind it (`InvalidMoney`,
  `NaiveDatetime`, `EmptyOrder`...) is its `__cause__`.
- Reading takes a fast path first, without cattrs' detailed validation. Only
  when that fails is the data read again, by a detailed twin of the
  converter built on first need, to find the path.
  `make_converter(detailed=True)` is such a twin.
- JSON is written as compact UTF-8 by orjson when it is installed (the
  `fast` extra), otherwise by the standard library, which writes the same
  bytes; `make_converter(json="stdlib")` forces the standard library.

```python
>>> from orderkit.money import Money
>>> from orderkit.serialization import make_converter
>>> converter = make_converter()
>>> converter.dumps(Money("12.30", "CNY"))
b'{"amount":"12.30","currency":"CNY"}'
>>> converter.loads(b'{"amount":"12.30","currency":"CNY"}', Money)
Money('12.30', 'CNY')

```

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import json as _json
import linecache
import re
import types
import typing
import weakref
from collections.abc import Callable, Mapping
from decimal import Decimal
from operator import attrgetter
from typing import (
    Any,
    Final,
    Literal,
    Self,
    TypeAlias,
    TypeVar,
    final,
    get_args,
    get_origin,
    overload,
)

import attrs
import cattrs
import pendulum
from cattrs.errors import (
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
    StructureHandlerNotFoundError,
)
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn

from orderkit._time import to_utc
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    NaiveDatetime,
    OrderkitError,
    StructureError,
    ValidationError,
)
from orderkit.money import Currency, Money
from orderkit.orders import EVENT_TYPES, Event, OrderEvent, Outcome, Rejected


__all__ = ["Converter", "make_converter"]

T = TypeVar("T")

# What hooks take and give: data as JSON holds it, and type forms
# (`Order`, `tuple[OrderLine, ...]`, `OrderEvent`).
_Data: TypeAlias = Any
_TypeForm: TypeAlias = Any
_StructureHook: TypeAlias = Callable[[_Data, _TypeForm], _Data]
_UnstructureHook: TypeAlias = Callable[[_Data], _Data]
_Path: TypeAlias = list[str | int]
_JsonChoice: TypeAlias = Literal["auto", "orjson", "stdlib"]

_TAG: Final = "type"
_MISSING: Final = "required field is missing"
_UTC: Final = pendulum.UTC
_PLAIN_DECIMAL: Final = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")

# Tagged classes are written with their class name under "type", and unions
# of them (OrderEvent, Outcome, Outcome | Rejected...) are read by it.
_TAGS: Final[dict[type, str]] = {
    cls: cls.__name__ for cls in (*EVENT_TYPES, *get_args(Outcome), Rejected)
}
_UNION_NAMES: Final[dict[_TypeForm, str]] = {
    OrderEvent: "OrderEvent",
    Outcome: "Outcome",
}


# --------------------------------------------------------------------------
# JSON


def _json_codec(
    choice: _JsonChoice,
) -> tuple[Literal["orjson", "stdlib"], Callable[[_Data], bytes], Callable[..., _Data]]:
    if choice not in ("auto", "orjson", "stdlib"):
        msg = f"json must be 'auto', 'orjson' or 'stdlib', not {choice!r}"
        raise ValueError(msg)
    if choice != "stdlib":
        try:
            import orjson  # noqa: PLC0415 - optional: the `fast` extra
        except ModuleNotFoundError:
            if choice == "orjson":
                msg = "orjson is not installed: pip install 'orderkit[fast]'"
                raise ModuleNotFoundError(msg, name="orjson") from None
        else:
            return "orjson", orjson.dumps, orjson.loads
    # Unstructured data is a tree: checking for cycles would only cost time.
    encode = _json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
    ).encode

    def dumps(value: _Data) -> bytes:
        return encode(value).encode()

    return "stdlib", dumps, _json.loads


# --------------------------------------------------------------------------
# The converter


@final
class Converter(cattrs.Converter):
    """A cattrs converter for orderkit's types, with JSON `dumps` and `loads`.

    Get one from `make_converter()`; the class is public for annotations and
    `isinstance` checks (constructed directly, it has cattrs' hooks only).
    `structure` and `loads` raise `StructureError`, with the path to the
    value they refused.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_dumps", "_json_backend", "_loads", "_twin")

    def __init__(
        self,
        *args: Any,  # noqa: ANN401 - cattrs.Converter's own arguments
        json: _JsonChoice = "auto",
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        super().__init__(*args, **kwargs)
        self._json_backend, self._dumps, self._loads = _json_codec(json)
        self._twin: Converter | None = None

    @property
    def json_backend(self) -> Literal["orjson", "stdlib"]:
        """The library that reads and writes JSON: `"orjson"` or `"stdlib"`.

        .. versionadded:: 0.1.0
        """
        return self._json_backend

    def copy(self, *args: Any, **kwargs: Any) -> Self:  # noqa: ANN401 - as cattrs'
        """Copy the converter with its hooks; see `cattrs.Converter.copy`.

        .. versionadded:: 0.1.0
        """
        copied = super().copy(*args, **kwargs)
        codec = _json_codec(self._json_backend)
        copied._json_backend, copied._dumps, copied._loads = codec  # noqa: SLF001
        return copied

    def dumps(self, obj: object, unstructure_as: _TypeForm = None) -> bytes:
        """Write a value as compact UTF-8 JSON.

        Args:
            obj: Any value the converter can unstructure.
            unstructure_as: The type to write it as, if not its own class.

        Returns:
            The JSON document.

        .. versionadded:: 0.1.0
        """
        data: bytes = self._dumps(self.unstructure(obj, unstructure_as))
        return data

    @overload
    def loads(self, data: bytes | str, cl: type[T]) -> T: ...
    @overload
    def loads(self, data: bytes | str, cl: object) -> Any: ...  # noqa: ANN401

    def loads(self, data: bytes | str, cl: _TypeForm) -> _Data:
        """Read a JSON document as a `cl`.

        Args:
            data: The JSON document.
            cl: The type to build: a class such as `Order`, or a union such
                as `OrderEvent` (typed `Any` then: annotate the result).

        Returns:
            The value, built by its constructor.

        Raises:
            StructureError: `data` is not JSON, or does not describe a `cl`.

        .. versionadded:: 0.1.0
        """
        try:
            obj = self._loads(data)
        except ValueError as error:  # what both libraries raise for bad JSON
            problem = f"is not valid JSON ({error})"
            raise StructureError("", data, problem, _type_name(cl)) from error
        return self.structure(obj, cl)

    @overload
    def structure(self, obj: _Data, cl: type[T]) -> T: ...
    @overload
    def structure(self, obj: _Data, cl: object) -> Any: ...  # noqa: ANN401

    def structure(self, obj: _Data, cl: _TypeForm) -> _Data:
        """Build a `cl` from unstructured data (dicts, lists, strings, numbers).

        Args:
            obj: The unstructured data.
            cl: The type to build.

        Returns:
            The value, built by its constructor.

        Raises:
            StructureError: `obj` does not describe a `cl`. `field` is the
                path to the first value refused; the domain error behind it,
                if any, is the `__cause__`.

        .. versionadded:: 0.1.0
        """
        try:
            result = self.get_structure_hook(cl)(obj, cl)
        except StructureHandlerNotFoundError:
            raise
        except Exception as error:  # noqa: BLE001 - reported below
            failure = error
        else:
            return result
        # Outside the handler, so the report does not drag the fast path along.
        problem, cause = self._explain(obj, cl, failure)
        raise problem from cause

    def _explain(
        self, obj: _Data, cl: _TypeForm, error: Exception
    ) -> tuple[StructureError, BaseException | None]:
        if self.detailed_validation:
            return _report(obj, cl, error)
        twin = self._twin
        if twin is None:
            twin = self._twin = make_converter(detailed=True, json=self._json_backend)
        try:
            twin.get_structure_hook(cl)(obj, cl)
        except Exception as detailed:  # noqa: BLE001 - it becomes the report
            return _report(obj, cl, detailed)
        # The twin read what the fast path refused: report the fast path's error.
        return _report(obj, cl, error)


def make_converter(*, detailed: bool = False, json: _JsonChoice = "auto") -> Converter:
    """Return a new converter for orderkit's values, events and outcomes.

    Every call builds a new converter, so hooks registered on one never leak
    into another.

    Args:
        detailed: Read with cattrs' detailed validation every time. By
            default a read takes the fast path and only a failed read is
            repeated in detail, to report the path; so leave this off unless
            you want the detailed path alone.
        json: `"auto"` uses orjson when it is installed and the standard
            library otherwise; `"orjson"` insists on orjson; `"stdlib"` never
            uses it.

    Returns:
        A configured `Converter`.

    Raises:
        ModuleNotFoundError: `json="orjson"`, and orjson is not installed.
        ValueError: `json` is none of the three choices.

    .. versionadded:: 0.1.0
    """
    converter = Converter(detailed_validation=detailed, json=json)
    _configure(converter)
    return converter


# --------------------------------------------------------------------------
# Errors


def _report(
    obj: _Data, cl: _TypeForm, error: BaseException
) -> tuple[StructureError, BaseException | None]:
    """The report of a failed read, and the error to chain it from."""
    path, leaf = _first_leaf(error)
    type_name = _type_name(cl)
    if isinstance(leaf, ValidationError):
        field = _join(path, leaf.field)
        report = StructureError(field, leaf.value, leaf.problem, type_name)
        # Our hooks' own reports chain the domain error they stand for.
        return report, leaf.__cause__ if isinstance(leaf, StructureError) else leaf
    if isinstance(leaf, KeyError) and path and leaf.args == (path[-1],):
        return StructureError(_render(path), attrs.NOTHING, _MISSING, type_name), None
    problem = str(leaf) or type(leaf).__name__
    return StructureError(_render(path), _value_at(obj, path), problem, type_name), leaf


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


def _value_at(obj: _Data, path: _Path) -> _Data:
    for part in path:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return attrs.NOTHING
    return obj


def _type_name(cl: _TypeForm) -> str:
    try:
        union = _UNION_NAMES.get(cl)
    except TypeError:  # an unhashable type form
        union = None
    return union or getattr(cl, "__name__", None) or repr(cl)


def _shape_error(value: _Data, keys: tuple[str, ...], what: str) -> StructureError:
    if not isinstance(value, Mapping):
        return StructureError("", value, f"must be an object ({what})", what)
    missing = next((k for k in keys if k not in value), "")
    return StructureError(missing, attrs.NOTHING, _MISSING, what)


# --------------------------------------------------------------------------
# Values: money, instants, enums, text and numbers


def _unstructure_decimal(value: Decimal) -> str:
    return format(value, "f")


def _structure_decimal(value: _Data, _: _TypeForm) -> Decimal:
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    problem = "must be a decimal string such as '12.30'"
    raise StructureError("", value, problem, "Decimal")


def _unstructure_money(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency.code}


def _structure_money(value: _Data, _: _TypeForm) -> Money:
    try:
        amount, currency = value["amount"], value["currency"]
    except (KeyError, TypeError, IndexError):
        raise _shape_error(value, ("amount", "currency"), "Money") from None
    return Money(amount, currency)


def _structure_currency(value: _Data, _: _TypeForm) -> Currency:
    try:
        return Currency(value)
    except ValidationError as error:
        raise StructureError("", value, error.problem, "Currency") from error


def _unstructure_instant(value: dt.datetime) -> str:
    if value.tzinfo is not _UTC:
        value = to_utc(value, "")
    # Faster than isoformat(), which asks pendulum's tzinfo for the offset.
    parts = (value.year, value.month, value.day, value.hour, value.minute, value.second)
    if value.microsecond:
        return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (*parts, value.microsecond)  # noqa: UP031
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % parts  # noqa: UP031


def _structure_instant(value: _Data, _: _TypeForm) -> pendulum.DateTime:
    if isinstance(value, str):
        try:
            # About 15 times faster than pendulum.parse.
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            problem = "is not an ISO 8601 timestamp"
            raise StructureError("", value, problem, "DateTime") from None
    elif isinstance(value, dt.datetime):
        parsed = value
    else:
        problem = "must be an ISO 8601 timestamp string"
        raise StructureError("", value, problem, "DateTime")
    if parsed.tzinfo is dt.UTC:  # what fromisoformat gives for Z and +00:00
        return pendulum.DateTime(
            parsed.year,
            parsed.month,
            parsed.day,
            parsed.hour,
            parsed.minute,
            parsed.second,
            parsed.microsecond,
            tzinfo=_UTC,
        )
    if parsed.utcoffset() is None:
        raise NaiveDatetime("", value)
    return to_utc(parsed, "")


def _unstructure_error(value: OrderkitError) -> dict[str, str]:
    return {_TAG: type(value).__name__, "message": str(value)}


def _structure_orderkit_error(value: _Data, _: _TypeForm) -> OrderkitError:
    # An exception carries arbitrary values and compares by identity: it is
    # written for people to read, and never read back.
    problem = "is an error report, which is written but never read back"
    raise StructureError("", value, problem, "OrderkitError")


def _unstructure_enum(value: enum.Enum) -> _Data:
    return value._value_


def _structure_enum(value: _Data, cl: type[enum.Enum]) -> enum.Enum:
    try:
        return cl._value2member_map_[value]
    except (KeyError, TypeError):
        pass
    try:
        return cl(value)  # aliases, _missing_, and the enum's own error
    except ValueError as error:
        if isinstance(error, ValidationError):
            problem = error.problem
        else:
            problem = f"must be one of {', '.join(repr(m.value) for m in cl)}"
        raise StructureError("", value, problem, cl.__name__) from error


def _structure_str(value: _Data, cl: _TypeForm) -> _Data:
    # Registered for str, so it also sees str subclasses such as StrEnums.
    if cl is not str:
        return _structure_enum(value, cl) if issubclass(cl, enum.Enum) else cl(value)
    if isinstance(value, str):
        return value
    raise StructureError("", value, "must be a string", "str")


def _structure_int(value: _Data, cl: _TypeForm) -> _Data:
    # Registered for int, so it also sees bool and IntEnums.
    if cl is bool:
        if isinstance(value, bool):
            return value
        raise StructureError("", value, "must be true or false", "bool")
    if cl is not int:
        return _structure_enum(value, cl) if issubclass(cl, enum.Enum) else cl(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise StructureError("", value, "must be an integer", "int")


# --------------------------------------------------------------------------
# Collections and optionals


def _origin(t: _TypeForm) -> _TypeForm:
    # typing.get_origin's overloads make mypy see a ParamSpec for Any.
    origin: _TypeForm = get_origin(t)
    return origin


def _is_homogeneous_sequence(t: _TypeForm) -> bool:
    origin, args = _origin(t), get_args(t)
    if origin is tuple:
        return len(args) == 2 and args[1] is Ellipsis
    return origin is list and len(args) == 1


def _is_set(t: _TypeForm) -> bool:
    return t in (frozenset, set) or _origin(t) in (frozenset, set)


def _is_optional(t: _TypeForm) -> bool:
    is_union = isinstance(t, types.UnionType) or _origin(t) is typing.Union
    return is_union and len(get_args(t)) == 2 and type(None) in get_args(t)


def _inner(optional: _TypeForm) -> _TypeForm:
    return next(arg for arg in get_args(optional) if arg is not type(None))


def _collection_hook(
    t: _TypeForm, converter: cattrs.BaseConverter, build: Callable[[list[_Data]], _Data]
) -> _StructureHook:
    item_type = get_args(t)[0] if get_args(t) else Any
    item_hook = converter.get_structure_hook(item_type)
    name = _type_name(t)

    def structure_fast(value: _Data, _: _TypeForm) -> _Data:
        if not isinstance(value, list | tuple):
            raise StructureError("", value, "must be a list", name)
        return build([item_hook(item, item_type) for item in value])

    def structure_careful(value: _Data, _: _TypeForm) -> _Data:
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

    return structure_careful if converter.detailed_validation else structure_fast


def _sequence_hook(t: _TypeForm, converter: cattrs.BaseConverter) -> _StructureHook:
    return _collection_hook(t, converter, tuple if _origin(t) is tuple else list)


def _set_hook(t: _TypeForm, converter: cattrs.BaseConverter) -> _StructureHook:
    return _collection_hook(t, converter, _origin(t) or t)


def _optional_hook(t: _TypeForm, converter: cattrs.BaseConverter) -> _StructureHook:
    inner = _inner(t)
    hook = converter.get_structure_hook(inner)

    def structure_optional(value: _Data, _: _TypeForm) -> _Data:
        return None if value is None else hook(value, inner)

    return structure_optional


@final
@attrs.frozen
class _WriteItems:
    """Writes a tuple or list as a list; generated hooks inline it."""

    item: _UnstructureHook

    def __call__(self, value: _Data) -> list[_Data]:
        item = self.item
        return [item(x) for x in value]


@final
@attrs.frozen
class _WriteOptional:
    """Writes `None` or the value; generated hooks inline it."""

    inner: _UnstructureHook

    def __call__(self, value: _Data) -> _Data:
        return None if value is None else self.inner(value)


def _unstructure_sequence_hook(
    t: _TypeForm, converter: cattrs.BaseConverter
) -> _UnstructureHook:
    return _WriteItems(converter.get_unstructure_hook(get_args(t)[0]))


def _unstructure_optional_hook(
    t: _TypeForm, converter: cattrs.BaseConverter
) -> _UnstructureHook:
    return _WriteOptional(converter.get_unstructure_hook(_inner(t)))


_KEY_ORDER: Final = attrgetter("channel", "event_type", "object_id", "event_id")


def _canonical(value: _Data) -> str:
    return _json.dumps(value, sort_keys=True, ensure_ascii=False)


def _unstructure_set_hook(
    t: _TypeForm, converter: cattrs.BaseConverter
) -> _UnstructureHook:
    args = get_args(t)
    if args == (IdempotencyKey,):
        key_hook = converter.get_unstructure_hook(IdempotencyKey)

        def unstructure_keys(value: _Data) -> list[_Data]:
            if len(value) < 2:
                return [key_hook(key) for key in value]
            return [key_hook(key) for key in sorted(value, key=_KEY_ORDER)]

        return unstructure_keys
    item_hook = (
        converter.get_unstructure_hook(args[0]) if args else converter.unstructure
    )

    def unstructure_set(value: _Data) -> list[_Data]:
        return sorted((item_hook(item) for item in value), key=_canonical)

    return unstructure_set


# --------------------------------------------------------------------------
# attrs classes and tagged unions

# Validators of orderkit._validate that refuse a value of any other type: the
# fields they guard go to the constructor as read, to be checked there once.
_TYPE_CHECKS: Final[dict[str, _TypeForm]] = {
    "text": str,
    "plain_text": str,
    "optional_text": str | None,
    "positive_int": int,
}


def _checked_by_constructor(field: attrs.Attribute[Any]) -> bool:
    kind = field.type
    converter: object = field.converter
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        # `status: OrderStatus = field(converter=OrderStatus)` reads itself.
        return converter is kind
    check = field.validator
    if getattr(check, "__module__", None) != "orderkit._validate":
        return False
    name = str(getattr(check, "__qualname__", "")).partition(".")[0]
    return name in _TYPE_CHECKS and bool(_TYPE_CHECKS[name] == kind)


def _compile(name: str, source: str, namespace: dict[str, Any]) -> Any:  # noqa: ANN401
    filename = f"<orderkit {name}>"
    # In linecache, so that tracebacks through a generated hook show its source.
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    # The source is built from attrs fields and type names, never from data.
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    return namespace[name.replace(" ", "_")]


def _fast_attrs_hook(cl: type, converter: cattrs.BaseConverter) -> _StructureHook:
    """A structure hook with no per-field overhead, generated from the fields.

    Arguments go by position where the class allows, defaults are inlined,
    `Money` is built in place, and a field whose constructor checks its type
    itself is passed as read.
    """
    attrs.resolve_types(cl)
    namespace: dict[str, Any] = {"cl": cl}
    args: list[str] = []
    later: list[str] = []  # fields with a factory default: passed only if present
    by_keyword = False
    for i, field in enumerate(attrs.fields(cl)):
        if not field.init:
            continue
        key = repr(field.name)
        read = f"o[{key}]"
        field_hook = None
        if not _checked_by_constructor(field):
            field_hook = converter.get_structure_hook(field.type)
        if field_hook is _structure_money:
            # Money checks its own arguments; a value of the wrong shape fails
            # here too, and the detailed twin says how.
            namespace["Money"] = Money
            read = f"Money({read}['amount'], {read}['currency'])"
        elif field_hook is not None:
            namespace[f"h{i}"] = field_hook
            namespace[f"t{i}"] = field.type
            read = f"h{i}({read}, t{i})"
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            later.append(f"    if {key} in o: kw[{field.alias!r}] = {read}")
            by_keyword = True
            continue
        if field.default is not attrs.NOTHING:
            namespace[f"d{i}"] = field.default
            read = f"{read} if {key} in o else d{i}"
        by_keyword = by_keyword or field.kw_only
        args.append(f"{field.alias}={read}" if by_keyword else read)
    name = f"structure {cl.__name__}"
    lines = [f"def {name.replace(' ', '_')}(o, _):"]
    tag = _TAGS.get(cl)
    if tag is not None:
        lines.append(f"    if o.get({_TAG!r}, {tag!r}) != {tag!r}: raise ValueError")
    if later:
        lines += ["    kw = {}", *later]
        args.append("**kw")
    lines.append(f"    return cl({', '.join(args)})")
    hook: _StructureHook = _compile(name, "\n".join(lines) + "\n", namespace)
    return hook


def _careful_attrs_hook(cl: type, converter: cattrs.BaseConverter) -> _StructureHook:
    """The cattrs detailed hook, refusing what is not an object or has another tag."""
    inner: _StructureHook = make_dict_structure_fn(cl, converter)
    tag = _TAGS.get(cl)
    name = cl.__name__

    def structure_careful(value: _Data, _: _TypeForm) -> _Data:
        if not isinstance(value, Mapping):
            raise StructureError("", value, f"must be an object ({name})", name)
        if tag is not None and value.get(_TAG, tag) != tag:
            problem = f"names another class; {name} is {tag!r}"
            raise StructureError(_TAG, value[_TAG], problem, name)
        return inner(value, cl)

    return structure_careful


# Writers this module generated, and their classes: a parent inlines them.
_WRITERS: Final[weakref.WeakKeyDictionary[_UnstructureHook, type]] = (
    weakref.WeakKeyDictionary()
)
_INLINE_DEPTH: Final = 3
# Hooks written in place as expressions of the value, `{0}`.
_INLINE: Final[tuple[tuple[_UnstructureHook, str], ...]] = (
    (identity, "{0}"),
    (_unstructure_enum, "{0}._value_"),
    (
        _unstructure_money,
        "{{'amount': str({0}.amount), 'currency': {0}.currency.code}}",
    ),
)


class _Source:
    """The names a generated function uses: hooks it calls, and locals."""

    def __init__(self, converter: cattrs.BaseConverter) -> None:
        self.converter = converter
        self.namespace: dict[str, Any] = {}
        self._count = itertools.count()

    def hook(self, hook: _UnstructureHook) -> str:
        name = f"h{next(self._count)}"
        self.namespace[name] = hook
        return name

    def local(self) -> str:
        return f"v{next(self._count)}"


def _write(get: str, hook: _UnstructureHook, source: _Source, depth: int) -> str:
    """The expression that writes `get` with `hook`, inline where it can be."""
    for simple, template in _INLINE:
        if hook is simple:
            return template.format(get)
    if isinstance(hook, _WriteOptional):
        var = source.local()
        inner = _write(var, hook.inner, source, depth)
        return (
            get if inner == var else f"(None if ({var} := {get}) is None else {inner})"
        )
    if isinstance(hook, _WriteItems):
        var = source.local()
        return f"[{_write(var, hook.item, source, depth)} for {var} in {get}]"
    cl = _WRITERS.get(hook) if isinstance(hook, types.FunctionType) else None
    if cl is None or depth >= _INLINE_DEPTH:
        return f"{source.hook(hook)}({get})"
    if get.isidentifier():
        return _write_fields(cl, get, source, depth + 1)
    # Read the attribute chain once: the first field binds it to a local.
    var = source.local()
    return _write_fields(cl, var, source, depth + 1, first=f"({var} := {get})")


def _write_fields(
    cl: type, get: str, source: _Source, depth: int, first: str | None = None
) -> str:
    items = []
    tag = _TAGS.get(cl)
    if tag is not None:
        items.append(f"{_TAG!r}: {tag!r}")
    for field in attrs.fields(cl):
        if field.init:
            hook = source.converter.get_unstructure_hook(field.type)
            value = _write(f"{first or get}.{field.name}", hook, source, depth)
            items.append(f"{field.name!r}: {value}")
            first = None
    return f"{{{', '.join(items)}}}"


def _unstructure_attrs_hook(
    cl: type, converter: cattrs.BaseConverter
) -> _UnstructureHook:
    """An unstructure hook generated from the fields, written in place.

    Text and numbers are copied; enums, `Money`, optionals, lists and nested
    classes (to a depth of three) are written inline; anything else goes
    through its hook. A tagged class writes its tag first.
    """
    attrs.resolve_types(cl)
    source = _Source(converter)
    body = _write_fields(cl, "i", source, 1)
    name = f"unstructure {cl.__name__}"
    text = f"def {name.replace(' ', '_')}(i):\n    return {body}\n"
    unstructure: _UnstructureHook = _compile(name, text, source.namespace)
    _WRITERS[unstructure] = cl
    return unstructure


def _members(t: _TypeForm) -> tuple[type, ...]:
    """The tagged classes a union (or `Event`) stands for; none for other types."""
    if t is Event:
        return EVENT_TYPES
    if not isinstance(t, types.UnionType) and _origin(t) is not typing.Union:
        return ()
    members = get_args(t)
    return members if all(member in _TAGS for member in members) else ()


def _is_tagged_union(t: _TypeForm) -> bool:
    return bool(_members(t))


def _union_structure_hook(
    t: _TypeForm, converter: cattrs.BaseConverter
) -> _StructureHook:
    by_tag = {_TAGS[cl]: (converter.get_structure_hook(cl), cl) for cl in _members(t)}
    known = ", ".join(sorted(by_tag))
    name = _type_name(t)

    def structure_tagged(value: _Data, _: _TypeForm) -> _Data:
        try:
            hook, cl = by_tag[value[_TAG]]
        except (KeyError, TypeError, IndexError):
            if not isinstance(value, Mapping) or _TAG not in value:
                raise _shape_error(value, (_TAG,), name) from None
            problem = f"is not a known type; expected one of {known}"
            raise StructureError(_TAG, value[_TAG], problem, name) from None
        return hook(value, cl)

    return structure_tagged


def _union_unstructure_hook(
    t: _TypeForm, converter: cattrs.BaseConverter
) -> _UnstructureHook:
    by_class = {cl: converter.get_unstructure_hook(cl) for cl in _members(t)}

    def unstructure_tagged(value: _Data) -> _Data:
        return by_class[value.__class__](value)

    return unstructure_tagged


# --------------------------------------------------------------------------
# Configuration


def _attrs_hook(cl: type, converter: cattrs.BaseConverter) -> _StructureHook:
    if converter.detailed_validation:
        return _careful_attrs_hook(cl, converter)
    return _fast_attrs_hook(cl, converter)


def _configure(converter: Converter) -> None:
    """Register orderkit's hooks; among factories, the last registered wins.

    Factories take the converter as an argument (cattrs passes it), so that
    a `copy()` builds its hooks from its own registrations.
    """
    # Class hooks go to functools.singledispatch, which cattrs asks first and
    # which follows the MRO: StrEnum and IntEnum are named so that str and
    # int, earlier in an enum's MRO than Enum, do not win.
    enums = (enum.Enum, enum.StrEnum, enum.IntEnum)

    converter.register_unstructure_hook(Decimal, _unstructure_decimal)
    converter.register_unstructure_hook(Money, _unstructure_money)
    converter.register_unstructure_hook(Currency, attrgetter("code"))
    converter.register_unstructure_hook(dt.datetime, _unstructure_instant)
    converter.register_unstructure_hook(OrderkitError, _unstructure_error)
    for kind in enums:
        converter.register_unstructure_hook(kind, _unstructure_enum)
    for predicate, unstructure_factory in (
        (_is_homogeneous_sequence, _unstructure_sequence_hook),
        (_is_optional, _unstructure_optional_hook),
        (_is_set, _unstructure_set_hook),
        (attrs.has, _unstructure_attrs_hook),
        (_is_tagged_union, _union_unstructure_hook),
    ):
        converter.register_unstructure_hook_factory(predicate, unstructure_factory)

    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    for kind in enums:
        converter.register_structure_hook(kind, _structure_enum)
    converter.register_structure_hook(Decimal, _structure_decimal)
    converter.register_structure_hook(Money, _structure_money)
    converter.register_structure_hook(Currency, _structure_currency)
    converter.register_structure_hook(dt.datetime, _structure_instant)
    converter.register_structure_hook(OrderkitError, _structure_orderkit_error)
    for predicate, structure_factory in (
        (_is_homogeneous_sequence, _sequence_hook),
        (_is_set, _set_hook),
        (_is_optional, _optional_hook),
        (attrs.has, _attrs_hook),
        (_is_tagged_union, _union_structure_hook),
    ):
        converter.register_structure_hook_factory(predicate, structure_factory)
