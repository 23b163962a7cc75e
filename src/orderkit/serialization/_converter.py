"""The converter: `Converter`, `make_converter()`, and the JSON codec.

`make_converter()` registers the hooks of the other modules on a new
`Converter`; `Converter` adds JSON `dumps` and `loads`, and turns a failed
read into a `StructureError` with the path to the value refused.
"""

from __future__ import annotations

import datetime as dt
import enum
import json as _json
from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import Any, Final, Literal, Self, TypeAlias, TypeVar, final, overload

import attrs
import cattrs
from cattrs.errors import StructureHandlerNotFoundError

from orderkit.errors import OrderkitError, StructureError
from orderkit.money import Currency, Money
from orderkit.serialization._collections import (
    is_homogeneous_sequence,
    is_mapping_type,
    is_optional,
    is_set,
    mapping_hook,
    optional_hook,
    sequence_hook,
    set_hook,
    unstructure_optional_hook,
    unstructure_sequence_hook,
    unstructure_set_hook,
)
from orderkit.serialization._generated import (
    attrs_hook,
    attrs_hook_without_readers,
    unstructure_attrs_hook,
)
from orderkit.serialization._paths import report, type_name
from orderkit.serialization._policies import (
    calendar_structure_hook,
    calendar_unstructure_hook,
    dated_structure_hook,
    is_business_calendar,
    is_dated_names,
    is_function_type,
    is_offer_pairs,
    pairs_structure_hook,
    structure_function,
    unstructure_dated,
    unstructure_pairs,
)
from orderkit.serialization._unions import (
    is_tagged_union,
    union_structure_hook,
    union_unstructure_hook,
)
from orderkit.serialization._values import (
    structure_bytes,
    structure_currency,
    structure_date,
    structure_decimal,
    structure_duration,
    structure_enum,
    structure_float,
    structure_instant,
    structure_int,
    structure_money,
    structure_orderkit_error,
    structure_str,
    structure_time,
    unstructure_bytes,
    unstructure_date,
    unstructure_decimal,
    unstructure_duration,
    unstructure_enum,
    unstructure_error,
    unstructure_instant,
    unstructure_money,
    unstructure_time,
)
from orderkit.serialization._wire import Data, TypeForm


T = TypeVar("T")

_JsonChoice: TypeAlias = Literal["auto", "orjson", "stdlib"]


# --------------------------------------------------------------------------
# JSON


def _json_codec(
    choice: _JsonChoice,
) -> tuple[Literal["orjson", "stdlib"], Callable[[Data], bytes], Callable[..., Data]]:
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

    def dumps(value: Data) -> bytes:
        return encode(value).encode()

    def loads(data: bytes | str) -> Data:
        return _json.loads(data, parse_constant=_refuse_constant)

    return "stdlib", dumps, loads


_EXACT_LOADS: Final = _json_codec("stdlib")[2]
"""The standard library's reader: every integer exact, whatever its size."""


def _refuse_constant(name: str) -> None:
    # orjson refuses NaN and Infinity; so does the standard-library path.
    msg = f"{name} is not JSON"
    raise ValueError(msg)


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
        # The detailed twin that explains a failed read: built on the first
        # failure, kept until a structure hook is registered.
        self._twin: Converter | None = None

    def register_structure_hook(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """Register a structure hook; see `cattrs.Converter.register_structure_hook`."""
        self._twin = None
        return super().register_structure_hook(*args, **kwargs)

    def register_structure_hook_func(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """Register a structure hook by predicate; see cattrs."""
        self._twin = None
        super().register_structure_hook_func(*args, **kwargs)

    def register_structure_hook_factory(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        """Register a structure hook factory; see cattrs."""
        self._twin = None
        return super().register_structure_hook_factory(*args, **kwargs)

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
        copied._twin = None  # noqa: SLF001
        return copied

    def dumps(self, obj: object, unstructure_as: TypeForm = None) -> bytes:
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

    def loads(self, data: bytes | str, cl: TypeForm) -> Data:
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
        # ValueError is what both libraries raise for bad JSON; the standard
        # library's parser also recurses, and refuses non-text with TypeError.
        except (ValueError, TypeError, RecursionError) as error:
            problem = f"is not valid JSON ({error})"
            raise StructureError("", data, problem, type_name(cl)) from error
        if self._json_backend == "stdlib":
            return self.structure(obj, cl)
        try:
            return self.structure(obj, cl)
        except StructureError as error:
            refused = error
        # orjson reads an integer beyond 64 bits as a float, which a field
        # refuses as inexact: judge the document on the numbers it holds.
        try:
            exact = _EXACT_LOADS(data)
        except (ValueError, TypeError, RecursionError):
            raise refused from refused.__cause__
        return self.structure(exact, cl)

    @overload
    def structure(self, obj: Data, cl: type[T]) -> T: ...
    @overload
    def structure(self, obj: Data, cl: object) -> Any: ...  # noqa: ANN401

    def structure(self, obj: Data, cl: TypeForm) -> Data:
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
        self, obj: Data, cl: TypeForm, error: Exception
    ) -> tuple[StructureError, BaseException | None]:
        if self.detailed_validation:
            return report(obj, cl, error)
        # A copy with every hook registered so far, so that a report reads the
        # data exactly as the failed read did; built only on this slow path,
        # once until the next registration (a copy costs milliseconds).
        twin = self._twin
        if twin is None:
            twin = self._twin = self.copy(detailed_validation=True)
        try:
            twin.get_structure_hook(cl)(obj, cl)
        except Exception as detailed:  # noqa: BLE001 - it becomes the report
            return report(obj, cl, detailed)
        # The twin read what the fast path refused: report the fast path's error.
        return report(obj, cl, error)


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
# Configuration


def _configure(converter: Converter, *, readers: bool = True) -> None:
    """Register orderkit's hooks; among factories, the last registered wins.

    Factories take the converter as an argument (cattrs passes it), so that
    a `copy()` builds its hooks from its own registrations. Without
    `readers`, classes are read through their constructors alone (tests
    compare the two).
    """
    # Class hooks go to functools.singledispatch, which cattrs asks first and
    # which follows the MRO: StrEnum and IntEnum are named so that str and
    # int, earlier in an enum's MRO than Enum, do not win.
    enums = (enum.Enum, enum.StrEnum, enum.IntEnum)

    converter.register_unstructure_hook(Decimal, unstructure_decimal)
    converter.register_unstructure_hook(bytes, unstructure_bytes)
    converter.register_unstructure_hook(Money, unstructure_money)
    converter.register_unstructure_hook(Currency, attrgetter("code"))
    converter.register_unstructure_hook(dt.datetime, unstructure_instant)
    converter.register_unstructure_hook(dt.date, unstructure_date)
    converter.register_unstructure_hook(dt.timedelta, unstructure_duration)
    converter.register_unstructure_hook(dt.time, unstructure_time)
    converter.register_unstructure_hook(OrderkitError, unstructure_error)
    for kind in enums:
        converter.register_unstructure_hook(kind, unstructure_enum)
    for predicate, unstructure_factory in (
        (is_homogeneous_sequence, unstructure_sequence_hook),
        (is_optional, unstructure_optional_hook),
        (is_set, unstructure_set_hook),
        (attrs.has, unstructure_attrs_hook),
        (is_tagged_union, union_unstructure_hook),
        (is_business_calendar, calendar_unstructure_hook),
    ):
        converter.register_unstructure_hook_factory(predicate, unstructure_factory)
    converter.register_unstructure_hook_func(is_dated_names, unstructure_dated)
    converter.register_unstructure_hook_func(is_offer_pairs, unstructure_pairs)

    converter.register_structure_hook(str, structure_str)
    converter.register_structure_hook(int, structure_int)
    converter.register_structure_hook(float, structure_float)
    for kind in enums:
        converter.register_structure_hook(kind, structure_enum)
    converter.register_structure_hook(Decimal, structure_decimal)
    converter.register_structure_hook(bytes, structure_bytes)
    converter.register_structure_hook(Money, structure_money)
    converter.register_structure_hook(Currency, structure_currency)
    converter.register_structure_hook(dt.datetime, structure_instant)
    converter.register_structure_hook(dt.date, structure_date)
    converter.register_structure_hook(dt.timedelta, structure_duration)
    converter.register_structure_hook(dt.time, structure_time)
    converter.register_structure_hook(OrderkitError, structure_orderkit_error)
    for predicate, structure_factory in (
        (is_homogeneous_sequence, sequence_hook),
        (is_set, set_hook),
        (is_mapping_type, mapping_hook),
        (is_optional, optional_hook),
        (attrs.has, attrs_hook if readers else attrs_hook_without_readers),
        (is_tagged_union, union_structure_hook),
        (is_business_calendar, calendar_structure_hook),
        (is_dated_names, dated_structure_hook),
        (is_offer_pairs, pairs_structure_hook),
    ):
        converter.register_structure_hook_factory(predicate, structure_factory)
    converter.register_structure_hook_func(is_function_type, structure_function)
