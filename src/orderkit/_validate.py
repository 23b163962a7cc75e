"""attrs validators that raise orderkit's typed errors, naming the field."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, TypeGuard, TypeVar

from orderkit.errors import EmptyOrder, InvalidQuantity, ValidationError
from orderkit.money import Money


Validator = Callable[[Any, Any, Any], None]
T = TypeVar("T")


def text(field: str, longest: int | None = None) -> Validator:
    """Refuse anything but non-empty, printable text of `longest` characters at most."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(field, value, "must be a non-empty string")
        if not value.isprintable():
            raise ValidationError(field, value, _unprintable(value))
        if longest is not None and len(value) > longest:
            raise ValidationError(field, value, f"must be at most {longest} characters")

    return check


def _unprintable(value: str) -> str:
    """Why `text` refuses `value`, which is not printable: its first such character.

    Named for what it is: an ideographic space (U+3000) that a Chinese input
    method types is whitespace, not a control character, and a person told
    the wrong one looks for the wrong thing.
    """
    at, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
    kind = unicodedata.category(char)
    if kind == "Cc":
        what = "control characters"
    elif kind == "Cs":
        what = "a lone surrogate"
    elif char.isspace():
        what = "whitespace other than a plain space"
    elif kind == "Cf":
        what = "invisible formatting characters"
    elif kind == "Co":
        what = "private-use characters"
    else:
        what = "unassigned characters"
    # Control characters have no name: the code point alone says which.
    name = f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()
    if at == 0:
        where = "at the start"
    elif at == len(value) - 1:
        where = "at the end"
    else:
        where = f"after {value[:at]!r}"
    return f"must not contain {what}: {name} {where}"


MAX_NAME_LENGTH: Final = 255
"""The longest name of a SKU or a location, in characters, as other ports' ids."""
MAX_OWNER_LENGTH: Final = 1024
"""The longest owner of holds, in characters: the order desk's are order streams
(`orderkit.orders.MAX_STREAM_LENGTH`)."""
MAX_KEY_LENGTH: Final = 4096
"""The longest operation key a caller gives the ledger, in characters: the order
desk's keys join an owner and a hold id."""


def is_unicode(value: str) -> bool:
    """Whether `value` can be stored: it holds no lone surrogate."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def optional_text(field: str) -> Validator:
    """Refuse anything but `None` or a string that can be stored."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and not isinstance(value, str):
            raise ValidationError(field, value, "must be a string or None")
        if value is not None and not is_unicode(value):
            raise ValidationError(field, value, "holds a lone surrogate")

    return check


def optional_name(field: str, longest: int | None = None) -> Validator:
    """Refuse anything but `None` or a non-empty, printable string (see `text`)."""
    check_text = text(field, longest)

    def check(instance: object, attribute: object, value: object) -> None:
        if value is not None:
            check_text(instance, attribute, value)

    return check


def plain_text(field: str) -> Validator:
    """Refuse anything but a string that can be stored (empty allowed)."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str):
            raise ValidationError(field, value, "must be a string")
        if not is_unicode(value):
            raise ValidationError(field, value, "holds a lone surrogate")

    return check


def stored_text(field: str) -> Validator:
    """Refuse anything but a string every store's text column holds (empty allowed).

    `plain_text`, less NUL: a PostgreSQL text value cannot hold it, so a
    store of PostgreSQL would refuse what the others keep.
    """
    check_plain = plain_text(field)

    def check(instance: object, attribute: object, value: object) -> None:
        check_plain(instance, attribute, value)
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(field, value, "must not contain NUL")

    return check


# Counts fit a signed 64-bit integer: what every store and JSON library here
# (orjson included) holds exactly.
MAX_INT = 2**63 - 1


def positive_int(field: str) -> Validator:
    """Refuse anything but an int from 1 to 2**63 - 1 (bool and float included)."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise InvalidQuantity(field, value, "must be a positive integer")
        if value > MAX_INT:
            raise InvalidQuantity(field, value, "must be at most 2**63 - 1")

    return check


def positive_elapsed(field: str) -> Validator:
    """Refuse anything but a `datetime.timedelta` longer than zero."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
            raise ValidationError(field, value, "must be a positive timedelta")

    return check


def instance_of(field: str, kind: type | tuple[type, ...]) -> Validator:
    """Refuse values that are not instances of `kind`."""
    names = (
        kind.__name__
        if isinstance(kind, type)
        else " or ".join(k.__name__ for k in kind)
    )

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, kind):
            raise ValidationError(field, value, f"must be a {names}")

    return check


def items_of(field: str, kind: type) -> Validator:
    """Refuse an empty tuple, or one holding anything but `kind` instances."""

    def check(_instance: object, _attribute: object, value: tuple[object, ...]) -> None:
        if not value:
            raise EmptyOrder(field, value, "needs at least one line")
        for i, item in enumerate(value):
            if not isinstance(item, kind):
                raise ValidationError(
                    f"{field}[{i}]", item, f"must be a {kind.__name__}"
                )

    return check


def is_sequence(value: object) -> TypeGuard[Sequence[Any]]:
    """Whether `value` is a `Sequence` of items: not text, nor bytes."""
    # A list or a tuple, as nearly every caller passes, skips the ABC's
    # isinstance, which costs more than checking an item.
    return type(value) in (list, tuple) or (
        not isinstance(value, str | bytes) and isinstance(value, Sequence)
    )


def as_tuple(value: Iterable[T], field: str, kind: type[T]) -> tuple[T, ...]:
    """Convert a sequence to a tuple, refusing non-sequences and wrong items."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(field, value, f"must be a sequence of {kind.__name__}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise ValidationError(f"{field}[{i}]", item, f"must be a {kind.__name__}")
    return items


def positive_money(field: str) -> Validator:
    """Refuse anything but an amount of money above zero."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, Money):
            raise ValidationError(field, value, "must be a Money")
        if value.amount <= 0:
            raise ValidationError(field, value, "must be more than zero")

    return check


def count(field: str) -> Validator:
    """Refuse anything but an int from 0 to 2**63 - 1 (bool included)."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidQuantity(field, value, "must be an integer, zero or more")
        if value > MAX_INT:
            raise InvalidQuantity(field, value, "must be at most 2**63 - 1")

    return check


def signed_int(field: str) -> Validator:
    """Refuse anything but an int within a signed 64-bit range (bool included)."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidQuantity(field, value, "must be an integer")
        if not -MAX_INT <= value <= MAX_INT:
            raise InvalidQuantity(field, value, "must be within +-(2**63 - 1)")

    return check


def renamed(convert: Callable[[Any], T], field: str, value: object) -> T:
    """`convert(value)`; its `ValidationError` (of the same type) names `field`.

    For a converter shared by several fields, such as an enum that names
    itself (`status`, `strategy`), used for one that has another name.
    """
    try:
        return convert(value)
    except ValidationError as error:
        raise type(error)(field, value, error.problem) from None


def by_channel(
    field: str, value: object, what: str, item: Callable[[str, object], T]
) -> Mapping[str, T]:
    """A read-only mapping of channels to `item(f"{field}[channel]", value)`.

    A policy's per-channel settings (`channel_pricing`, `channel_sla`):
    `what` says what the channels map to when `value` is no mapping.
    """
    if not isinstance(value, Mapping):
        raise ValidationError(field, value, f"must map channels to {what}")
    return MappingProxyType(
        {channel: item(f"{field}[{channel!r}]", v) for channel, v in value.items()}
    )


def of_kind(kind: type[T], name: str) -> Callable[[str, object], T]:
    """A `by_channel` item check: the value itself when it is a `kind` (`name`)."""

    def check(field: str, value: object) -> T:
        if not isinstance(value, kind):
            raise ValidationError(field, value, f"must be {name}")
        return value

    return check
