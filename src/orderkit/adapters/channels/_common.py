"""What the reference channel adapters share: exact reads the core leaves out.

Private: the public readers live in `orderkit.integrations`; these wrap them
where every channel needs the same extra step (a flag, a country code, a
positive amount, an optional instant).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, final

import attrs
import pendulum

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    InvalidMoney,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    read_id,
    read_instant,
    read_list,
    read_money,
    read_object,
    read_text,
)
from orderkit.money import Currency, Money
from orderkit.orders import OrderEvent, OrderStatus
from orderkit.pricing import AmountOff


_P = ParamSpec("_P")
_T = TypeVar("_T")


def read_flag(value: object, *, path: str, default: bool = False) -> bool:
    """A JSON boolean; `default` when the field is missing (`None`).

    Raises:
        ValidationError: Anything but `true`, `false` or a missing value.
    """
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(path, value, "must be true or false")
    return value


def read_optional_when(
    value: object, *, path: str, zone: str | None = None
) -> pendulum.DateTime | None:
    """`read_instant`, or `None` for a missing or empty time."""
    if value is None or value == "":
        return None
    return read_instant(value, path=path, zone=zone)


def read_currency(value: object, *, path: str) -> Currency:
    """An active ISO 4217 currency from its code.

    Raises:
        UnknownCurrency: Not the code of an active currency (`field` is `path`).
    """
    code = read_text(value, path=path)
    try:
        return Currency(code)
    except UnknownCurrency:
        raise UnknownCurrency(path, value) from None


def read_positive_money(value: object, currency: Currency, *, path: str) -> Money:
    """`read_money`, refusing zero as well.

    Raises:
        InvalidMoney: Not an exact amount above zero.
    """
    money = read_money(value, currency, path=path)
    if money.amount <= 0:
        raise InvalidMoney(path, value, "must be more than zero")
    return money


def read_country(value: object, *, path: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased (`"us"` -> `"US"`).

    Raises:
        ValidationError: Not two ASCII letters.
    """
    code = read_text(value, path=path).upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValidationError(path, value, "must be an ISO 3166-1 alpha-2 code")
    return code


def read_label(value: object, *, path: str, required: bool = True) -> str:
    """Printable text that names a thing (a SKU, a carrier, a code).

    Empty only where not `required` (`""` for a missing value).

    Raises:
        ValidationError: Not text, empty, too long, or with control characters.
    """
    label = read_text(value, path=path, required=required)
    if not label.isprintable():
        raise ValidationError(path, value, "must not contain control characters")
    return label


def read_optional_id(value: object, *, path: str) -> str | None:
    """`read_id`, or `None` for a missing id (`null`, `""` or `0`).

    Platforms write "no parent" as `null` (Shopify) or `0` (WooCommerce).
    """
    if value is None or value == "" or (type(value) is int and value == 0):
        return None
    return read_id(value, path=path)


def read_line_id(value: object, *, path: str, seen: set[str]) -> str:
    """`read_id` for an order line's id, refusing one an earlier line had.

    Checked here, while the lines are read, so the error names the payload
    path; `OrderPlaced` refuses it too, but at `lines[i].line_id`.

    Raises:
        ValidationError: Not an id, or the id of an earlier line in `seen`
            (to which it is added otherwise).
    """
    line_id = read_id(value, path=path)
    if line_id in seen:
        raise ValidationError(path, line_id, "repeats an earlier line id")
    seen.add(line_id)
    return line_id


def require_lines(items: list[Any], *, path: str, what: str = "line") -> None:
    """Refuse an order whose array of lines at `path` is empty.

    Raises:
        EmptyOrder: `items` is empty (`field` is `path`, not `lines`).
    """
    if not items:
        raise EmptyOrder(path, items, f"an order needs at least one {what}")


def moved(error: ValidationError, path: str) -> ValidationError:
    """`error` as raised at `path`: a canonical class's refusal at its payload path.

    The same class with the same attributes (an `InvalidMoney` stays one, a
    `StructureError` keeps its `type_name`), `field` and the message naming
    `path`, and the original chained as `__cause__`; `error` itself when it
    already names `path`.
    """
    if error.field == path:
        return error
    relocated = copy.copy(error)
    # The base initialiser sets `field` and writes the message the same way
    # for every subclass; the subclass's own attributes come with the copy.
    ValidationError.__init__(relocated, path, error.value, error.problem)
    relocated.__cause__ = error
    return relocated


def built(
    path: str, make: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """`make(*args, **kwargs)`, a refusal of it moved to the payload path `path`.

    For canonical classes (`OrderPlaced`, `Quote`, an event) made of values
    already read: their checks name their own attributes (`lines`,
    `reason`), which say nothing about where the payload went wrong. The
    arguments are evaluated before the call, so a reader's error among them
    keeps its own, exact path.

    Raises:
        ValidationError: `make` refused (`field` is `path`, or `"payload"`
            for the top of the payload); the same subclass.
    """
    try:
        return make(*args, **kwargs)
    except ValidationError as error:
        relocated = moved(error, path or "payload")
        if relocated is error:
            raise
        raise relocated from error


def join(prefix: str, name: str) -> str:
    """A payload path one step down: `join("order", "id")` is `order.id`."""
    return f"{prefix}.{name}" if prefix else name


def guest_id(email: str | None, order_id: str) -> str:
    """A buyer id for a guest checkout, which has no account id.

    The e-mail address when there is one, so one guest's orders group
    together; otherwise the order's own id, so guests never share an id
    (matching on a shared `"guest"` would call every guest order a repeat).
    """
    return f"guest:{email}" if email else f"guest-order:{order_id}"


def person(first: str, last: str, full: str = "") -> str:
    """A person's name as shown: the full name if given, else first and last."""
    return full or " ".join(part for part in (first, last) if part)


def stamp(instant: pendulum.DateTime) -> str:
    """An instant as key text: ISO 8601 in UTC, identical on every re-send."""
    return instant.isoformat()


def check_channel(_instance: object, _attribute: object, value: object) -> None:
    """An attrs validator for an adapter's `channel`: a non-empty printable name.

    Raises:
        ValidationError: Naming the field `channel`.
    """
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ValidationError("channel", value, "must be a non-empty name")


def key(channel: str, fact: str, object_id: str, event_id: str) -> IdempotencyKey:
    """The idempotency key of one fact a channel states about an object."""
    return IdempotencyKey(channel, fact, object_id, event_id)


def oldest_first(events: list[OrderEvent]) -> tuple[OrderEvent, ...]:
    """Events by when they happened; ties keep the payload's order."""
    return tuple(sorted(events, key=lambda event: event.occurred_at))


@final
@attrs.frozen(slots=True)
class Unmapped:
    """A status the channel documents but the canonical lifecycle cannot hold.

    Attributes:
        reason: Why, and what to read instead, for the `UnknownStatus` raised.
    """

    reason: str


def mapped(value: object, found: OrderStatus | Unmapped, *, path: str) -> OrderStatus:
    """The status a table lookup found, or `UnknownStatus` for an `Unmapped` one."""
    if isinstance(found, Unmapped):
        raise UnknownStatus(path, value, found.reason)
    return found


def objects(
    value: object, *, path: str, required: bool = True
) -> list[tuple[str, Mapping[str, Any]]]:
    """The JSON objects of an array, each with its path (`line_items[2]`).

    Raises:
        StructureError: Not an array (or missing where required), or an item
            that is not an object.
    """
    return [
        (f"{path}[{i}]", read_object(item, path=f"{path}[{i}]"))
        for i, item in enumerate(read_list(value, path=path, required=required))
    ]


def optional_currency(value: Currency | str | None) -> Currency | None:
    """The store currency an adapter is configured with, if any."""
    if value is None or isinstance(value, Currency):
        return value
    return Currency(value)


def amount_offers(  # noqa: PLR0913 - the order, where, and which codes
    order: Mapping[str, Any],
    at: str,
    currency: Currency,
    *,
    codes: str,
    amount: str,
    kind_of: Callable[[Mapping[str, Any]], bool] | None = None,
) -> tuple[AmountOff, ...]:
    """One `AmountOff` per entry of the `codes` array, its money at `amount`.

    With `kind_of`, only the entries it accepts.
    """
    return tuple(
        AmountOff(
            read_label(item.get("code"), path=f"{item_at}.code"),
            read_money(item.get(amount), currency, path=f"{item_at}.{amount}"),
        )
        for item_at, item in objects(
            order.get(codes), path=join(at, codes), required=False
        )
        if kind_of is None or kind_of(item)
    )


def shipping_total(
    order: Mapping[str, Any], at: str, currency: Currency, *, amount: str
) -> Money:
    """The sum of the `shipping_lines` entries' `amount` field."""
    lines_at = join(at, "shipping_lines")
    total = Money.zero(currency)
    for item_at, item in objects(
        order.get("shipping_lines"), path=lines_at, required=False
    ):
        price = read_money(item.get(amount), currency, path=f"{item_at}.{amount}")
        try:
            total += price
        except InvalidMoney as error:  # the sum outgrows what Money holds
            raise InvalidMoney(lines_at, str(total), error.problem) from None
    return total
