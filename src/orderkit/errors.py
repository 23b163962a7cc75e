"""Every error orderkit raises, under one root.

Catch `OrderkitError` to handle anything orderkit refuses. Each concrete error
also subclasses the builtin that fits, so code that already catches
`ValueError` or `LookupError` keeps working, and carries structured attributes
(`field`, `value`, `order_id`, ...) so a caller never has to parse a message.

```text
OrderkitError
├── ValidationError (ValueError)            bad input: .field, .value
│   ├── NaiveDatetime (TypeError)           a datetime without a UTC offset
│   ├── InvalidMoney                        float, NaN, "12,30", too many places
│   ├── UnknownCurrency (LookupError)       not an active ISO 4217 code
│   ├── CurrencyMismatch                    arithmetic across two currencies
│   ├── InvalidQuantity                     zero, negative or not an integer
│   ├── EmptyOrder                          an order without lines
│   ├── UnknownStatus (LookupError)         a status string that is not canonical
│   ├── OrderMismatch                       an event addressed to another order
│   └── StructureError                      serialized data of the wrong shape
└── IllegalTransition (ValueError)          an event the order's status forbids
```

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import reprlib
from typing import final


__all__ = [
    "CurrencyMismatch",
    "EmptyOrder",
    "IllegalTransition",
    "InvalidMoney",
    "InvalidQuantity",
    "NaiveDatetime",
    "OrderMismatch",
    "OrderkitError",
    "StructureError",
    "UnknownCurrency",
    "UnknownStatus",
    "ValidationError",
]


_SHORT = reprlib.Repr()
_SHORT.maxstring = 120
_SHORT.maxother = 120
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6


def _short(value: object) -> str:
    return _SHORT.repr(value)


class OrderkitError(Exception):
    """The root of every error orderkit raises.

    .. versionadded:: 0.1.0
    """


class ValidationError(OrderkitError, ValueError):
    """Input that orderkit refuses; nothing was changed.

    Attributes:
        field: Where the bad value sits, as a path (`lines[2].quantity`).
        value: The value that was refused.

    .. versionadded:: 0.1.0
    """

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        # Shortened: a refused document may be megabytes; `.value` keeps it all.
        super().__init__(f"{field or '(top)'}: {problem} (got {_short(value)})")


@final
class NaiveDatetime(ValidationError, TypeError):
    """A datetime without a UTC offset, where an instant is required.

    .. versionadded:: 0.1.0
    """

    def __init__(self, field: str, value: object) -> None:
        super().__init__(
            field, value, "a timezone-aware datetime is required, not a naive one"
        )


@final
class InvalidMoney(ValidationError):
    """An amount that is not an exact decimal number of the currency's units.

    .. versionadded:: 0.1.0
    """


@final
class UnknownCurrency(ValidationError, LookupError):
    """A currency code that is not an active ISO 4217 currency.

    .. versionadded:: 0.1.0
    """

    def __init__(self, field: str, value: object) -> None:
        super().__init__(field, value, "not an active ISO 4217 currency code")


@final
class CurrencyMismatch(ValidationError):
    """Arithmetic or comparison across two currencies.

    Attributes:
        expected: The currency code the operation works in.

    .. versionadded:: 0.1.0
    """

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.expected = expected
        super().__init__(field, value, f"currency must be {expected}")


@final
class InvalidQuantity(ValidationError):
    """A quantity that is not a positive integer.

    .. versionadded:: 0.1.0
    """


@final
class EmptyOrder(ValidationError):
    """An order, or a shipment, without any lines.

    .. versionadded:: 0.1.0
    """


@final
class UnknownStatus(ValidationError, LookupError):
    """A status string that is not one of the canonical statuses.

    .. versionadded:: 0.1.0
    """


@final
class OrderMismatch(ValidationError):
    """An event addressed to another order than the one it was applied to.

    Attributes:
        order_id: The order the event was applied to.

    .. versionadded:: 0.1.0
    """

    def __init__(self, order_id: str, event_order_id: str) -> None:
        self.order_id = order_id
        super().__init__(
            "order_id", event_order_id, f"the event is not for order {order_id!r}"
        )


@final
class StructureError(ValidationError):
    """Serialized data that does not have the shape of the requested type.

    `field` is the path from the top of the data (`lines[2].unit_price`).

    Attributes:
        type_name: The type that was being built.

    .. versionadded:: 0.1.0
    """

    def __init__(self, field: str, value: object, problem: str, type_name: str) -> None:
        self.type_name = type_name
        super().__init__(field, value, problem)


@final
class IllegalTransition(OrderkitError, ValueError):
    """An event that the order's current status forbids; nothing was changed.

    Attributes:
        order_id: The order the event was applied to.
        status: The order's status, as its string value.
        event: The event's type name (`"Cancelled"`).
        reason: Why the event is illegal here.

    .. versionadded:: 0.1.0
    """

    def __init__(self, order_id: str, status: str, event: str, reason: str) -> None:
        self.order_id = order_id
        self.status = status
        self.event = event
        self.reason = reason
        super().__init__(
            f"order {order_id!r} in status {status!r} cannot take {event}: {reason}"
        )
