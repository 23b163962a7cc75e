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
│   ├── InvalidOperand (TypeError)          Money * 1.5, Money + 1, 0 < Money
│   ├── UnknownCurrency (LookupError)       not an active ISO 4217 code
│   ├── CurrencyMismatch                    arithmetic across two currencies
│   ├── InvalidQuantity                     zero, negative or not an integer
│   ├── EmptyOrder                          an order without lines
│   ├── UnknownStatus (LookupError)         a status string that is not canonical
│   ├── OrderMismatch                       an event or part for another order
│   ├── StructureError                      serialized data of the wrong shape
│   ├── MappingError                        several fields of one payload: .errors
│   ├── UnknownSku (LookupError)            a SKU the ledger has never stocked
│   ├── UnknownLocation (LookupError)       a location the ledger has never stocked
│   ├── UnknownHold (LookupError)           a hold id the ledger does not know
│   ├── UnknownOrder (LookupError)          an order id the order store does not hold
│   ├── CaptureExceedsAuthorisation         a capture above what is authorised
│   ├── RefundExceedsCapture                a refund above what was captured
│   ├── RefundNotPending                    settling a failed refund, or the reverse
│   ├── UnknownPayment (LookupError)        a payment id the ledger never authorised
│   ├── UnknownRefund (LookupError)         a refund id the ledger never recorded
│   ├── UnknownSerial (LookupError)         a returned serial that was not shipped
│   ├── InvalidPhone                        not a phone number (masked ones are absent)
│   ├── InvalidAddress                      an address with nothing to normalise
│   ├── InvalidSignature                    a request its channel did not sign
│   ├── InvalidOffer                        a bad discount offer or stacking policy
│   └── ClockAhead                          a time ahead of the shared database's clock
├── IllegalTransition (ValueError)          an event the order's status forbids
├── InsufficientStock (ValueError)          every short line: .shortages
├── HoldNotLive (ValueError)                a hold released, expired or committed
├── IdempotencyConflict (ValueError)        a key reused for a different request
├── KeyInProgress (RuntimeError)            a key whose first run has not finished
├── ConcurrencyConflict (RuntimeError)      a record changed under a compare-and-set
├── ConfigurationError (RuntimeError)       orderkit set up wrong: a missing secret
├── CalendarDataMissing (LookupError)       a year a business calendar does not cover
├── StoreError (RuntimeError)               a storage failure, from the driver
├── TransientError (RuntimeError)           an outside call that may work if retried
│   └── CallTimedOut (TimeoutError)         no reply in time: it may have run
└── CircuitOpen (RuntimeError)              a breaker refused the call without trying
```

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import reprlib
from typing import TYPE_CHECKING, final


if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterable

    from orderkit.inventory import Shortage


__all__ = [
    "CalendarDataMissing",
    "CallTimedOut",
    "CaptureExceedsAuthorisation",
    "CircuitOpen",
    "ClockAhead",
    "ConcurrencyConflict",
    "ConfigurationError",
    "CurrencyMismatch",
    "EmptyOrder",
    "HoldNotLive",
    "IdempotencyConflict",
    "IllegalTransition",
    "InsufficientStock",
    "InvalidAddress",
    "InvalidMoney",
    "InvalidOffer",
    "InvalidOperand",
    "InvalidPhone",
    "InvalidQuantity",
    "InvalidSignature",
    "KeyInProgress",
    "MappingError",
    "NaiveDatetime",
    "OrderMismatch",
    "OrderkitError",
    "RefundExceedsCapture",
    "RefundNotPending",
    "StoreError",
    "StructureError",
    "TransientError",
    "UnknownCurrency",
    "UnknownHold",
    "UnknownLocation",
    "UnknownOrder",
    "UnknownPayment",
    "UnknownRefund",
    "UnknownSerial",
    "UnknownSku",
    "UnknownStatus",
    "ValidationError",
]


_SHORT = reprlib.Repr()
_SHORT.maxstring = 120
_SHORT.maxother = 120
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6


def _short(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 10_000:
        # Beyond what Python turns into digits (a ValueError, not a message).
        return f"<an int of {value.bit_length()} bits>"
    return _SHORT.repr(value)


def _restore(
    cls: type[OrderkitError], args: tuple[object, ...], state: dict[str, object]
) -> OrderkitError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class OrderkitError(Exception):
    """The root of every error orderkit raises.

    Every error pickles with its attributes, so it crosses process
    boundaries (a worker pool returning it to its parent) intact.

    Attributes:
        field: Where the input at fault sits (`lines[2].quantity`), or the
            setting at fault for a `ConfigurationError`; `None` for an
            error no one input caused (a conflict, a store's failure), so
            that a handler of every error may read it.
        value: The value at fault, where the error names one; `None`
            otherwise (and for a secret, which no error shows).

    .. versionadded:: 0.1.0
    """

    field: str | None = None
    value: object = None

    def __reduce__(
        self,
    ) -> tuple[
        Callable[..., OrderkitError],
        tuple[type[OrderkitError], tuple[object, ...], dict[str, object]],
    ]:
        # The subclasses' constructors take their own fields, not `args`,
        # so the default (calling the class with `args`) cannot rebuild them.
        return _restore, (type(self), self.args, dict(self.__dict__))


class ValidationError(OrderkitError, ValueError):
    """Input that orderkit refuses; nothing was changed.

    Attributes:
        field: Where the bad value sits, as a path (`lines[2].quantity`).
        value: The value that was refused.

    .. versionadded:: 0.1.0
    """

    field: str

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
class InvalidOperand(ValidationError, TypeError):
    """An operand a `Money` operator does not take: a float, a bare number.

    `money * 1.5`, `money / 3`, `money + 1`, `0 + money`, `sum(amounts)`
    without a start, `money < 0`. `field` is `"other"` and `value` the
    operand; the message says what to use instead (`scaled`, `split`,
    `Money.zero`). Also a `TypeError`, which these operators raised before.

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
    """An event, or a part of an order, addressed to another order.

    Attributes:
        order_id: The order the event was applied to.
        field: `order_id`, or where the part's own order id sits
            (`payment_ledger.order_id`, `after_sales[0].order_id`).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, order_id: str, event_order_id: str, field: str = "order_id"
    ) -> None:
        self.order_id = order_id
        super().__init__(field, event_order_id, f"is not for order {order_id!r}")


@final
class MappingError(ValidationError):
    """Several fields of one payload, or of one spec, cannot be mapped.

    A payload (or spec) with exactly one problem raises that problem's own
    error (`UnknownStatus`, `InvalidMoney`, ...); with more, this error
    lists them all, so one round trip shows everything to fix.

    Attributes:
        errors: Each problem, in payload order, with its path as `.field`.
        field: Where the mapped object sits (`"trade_fullinfo_get_response.trade"`,
            `"spec"`).
        value: The paths of the problems.

    .. versionadded:: 0.1.0
    """

    def __init__(self, field: str, errors: Iterable[ValidationError]) -> None:
        self.errors: tuple[ValidationError, ...] = tuple(errors)
        details = "; ".join(str(error) for error in self.errors)
        super().__init__(
            field,
            self.paths,
            f"{len(self.errors)} problems: {details}",
        )

    @property
    def paths(self) -> tuple[str, ...]:
        """The path of every problem, in order."""
        return tuple(error.field for error in self.errors)


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

    For a step of an after-sales case, the case's state forbids it:
    `case_id` names the case and `status` is the case's state.

    Attributes:
        order_id: The order the event was applied to.
        status: The order's status (or the case's state), as its string value.
        event: The event's type name (`"Cancelled"`), or the case's action.
        reason: Why the event is illegal here.
        case_id: The after-sales case refused the step; `None` for an order.
        retry: The refusal is for now only: a saga is in flight on the
            order, and the same call may succeed once it has ended (answer a
            channel's webhook with a retry, not a refusal). `False` for a
            refusal that calling again cannot change.

    .. versionadded:: 0.1.0
    """

    def __init__(  # noqa: PLR0913 - the refusal's structured attributes
        self,
        order_id: str,
        status: str,
        event: str,
        reason: str,
        *,
        case_id: str | None = None,
        retry: bool = False,
    ) -> None:
        self.order_id = order_id
        self.status = status
        self.event = event
        self.reason = reason
        self.case_id = case_id
        self.retry = retry
        if case_id is None:
            subject = f"order {order_id!r} in status {status!r}"
        else:
            subject = f"case {case_id!r} of order {order_id!r} in state {status!r}"
        super().__init__(f"{subject} cannot take {event}: {reason}")


@final
class UnknownSku(ValidationError, LookupError):
    """A SKU that the ledger has never stocked anywhere.

    .. versionadded:: 0.1.0
    """

    def __init__(self, value: str, field: str = "sku") -> None:
        super().__init__(field, value, "no stock of this SKU was ever recorded")


@final
class UnknownLocation(ValidationError, LookupError):
    """A location the ledger never stocked, or a table the caller gave lacks.

    `problem` says which.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        value: str,
        field: str = "location",
        problem: str = "no stock was ever recorded at this location",
    ) -> None:
        super().__init__(field, value, problem)


@final
class UnknownOrder(ValidationError, LookupError):
    """An order the order store does not hold.

    Attributes:
        channel: The channel asked about.

    .. versionadded:: 0.1.0
    """

    def __init__(self, channel: str, order_id: str) -> None:
        self.channel = channel
        super().__init__("order_id", order_id, f"no such order on channel {channel!r}")


@final
class UnknownHold(ValidationError, LookupError):
    """A hold id that the ledger does not know.

    .. versionadded:: 0.1.0
    """

    def __init__(self, value: str, field: str = "hold_id") -> None:
        super().__init__(field, value, "no such hold")


@final
class InsufficientStock(OrderkitError, ValueError):
    """Stock too short for a request; nothing was changed.

    Attributes:
        shortages: Every short line (`orderkit.inventory.Shortage`): SKU,
            location (`None` for all locations together), what was requested
            and what was available.
        field: `"lines"`: the request's lines (a transfer's or a
            correction's one line too) are what fell short.
        value: The short lines: `shortages`.

    .. versionadded:: 0.1.0
    """

    def __init__(self, shortages: Iterable[Shortage]) -> None:
        self.shortages = tuple(shortages)
        self.field = "lines"
        self.value = self.shortages
        lines = "; ".join(str(s) for s in self.shortages)
        super().__init__(f"insufficient stock: {lines}")


@final
class HoldNotLive(OrderkitError, ValueError):
    """A hold that can no longer be committed or extended; nothing was changed.

    Attributes:
        hold_id: The hold.
        state: Its state, as its string value (`"expired"`, `"released"`,
            `"committed"`).
        field: `"hold_id"`: the input at fault.
        value: The hold's id, as `hold_id`.

    .. versionadded:: 0.1.0
    """

    def __init__(self, hold_id: str, state: str) -> None:
        self.hold_id = hold_id
        self.state = state
        self.field = "hold_id"
        self.value = hold_id
        super().__init__(f"hold {hold_id!r} is {state}, no longer live")


@final
class ConcurrencyConflict(OrderkitError, RuntimeError):
    """A record changed between reading it and writing it; nothing was changed.

    Retrying from a fresh read is safe.

    Attributes:
        what: The record that moved, as `kind:id` (`"hold:H1"`).

    .. versionadded:: 0.1.0
    """

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} changed concurrently; read it again and retry")


@final
class StoreError(OrderkitError, RuntimeError):
    """A storage failure, translated from the driver's own error.

    The driver's exception is chained as `__cause__`; the transaction was
    rolled back.

    Attributes:
        store: The store's name (`"sqlite"`).
        operation: What the store was doing (`"apply"`).

    .. versionadded:: 0.1.0
    """

    def __init__(self, store: str, operation: str, detail: str) -> None:
        self.store = store
        self.operation = operation
        super().__init__(f"{store} store failed during {operation}: {detail}")


class TransientError(OrderkitError, RuntimeError):
    """A call to the outside failed in a way that may pass if it is tried again.

    Adapters raise it (or a subclass) for timeouts, connection resets, rate
    limits and server errors; `orderkit.services.retry` retries only these.

    Attributes:
        operation: What was being called (`"shopify.orders.list"`).
        retry_after: The seconds the other side asked to wait (a
            `Retry-After` header), if it said.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, operation: str, detail: str, *, retry_after: float | None = None
    ) -> None:
        self.operation = operation
        self.retry_after = retry_after
        super().__init__(f"{operation} failed, may pass on retry: {detail}")


@final
class CallTimedOut(TransientError, TimeoutError):
    """A call got no reply in time: it may or may not have run on the other side.

    Retry it only under the same idempotency key.

    .. versionadded:: 0.1.0
    """


@final
class CircuitOpen(OrderkitError, RuntimeError):
    """A circuit breaker refused a call without trying it: the target is failing.

    Attributes:
        name: The breaker's name.
        until: When the breaker lets a trial call through (UTC).

    .. versionadded:: 0.1.0
    """

    def __init__(self, name: str, until: dt.datetime) -> None:
        self.name = name
        self.until = until
        super().__init__(
            f"circuit {name!r} is open until {until.isoformat()}; not calling"
        )


@final
class InvalidPhone(ValidationError):
    """Text that is not a valid phone number for its region.

    A masked number (`138****8000`) is not invalid: it counts as absent.

    .. versionadded:: 0.1.0
    """


@final
class InvalidAddress(ValidationError):
    """An address with nothing left to compare once normalised.

    .. versionadded:: 0.1.0
    """


@final
class InvalidSignature(ValidationError):
    """A request whose signature is missing, or does not sign what it carries.

    `field` is where the signature was sought: a webhook's header
    (`WebhookVerifier`), or a request's parameter (`ParamsVerifier`, `sign`),
    or the signed time's when it lies outside the tolerance; `value` is what
    it held (`None` when missing). Answer such a request with 401 and read
    nothing in it.

    .. versionadded:: 0.1.0
    """


@final
class IdempotencyConflict(OrderkitError, ValueError):
    """A key already used for a different request; nothing was run.

    Attributes:
        key: The idempotency key, as text.

    .. versionadded:: 0.1.0
    """

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"idempotency key {key!r} was used before for a different request"
        )


@final
class KeyInProgress(OrderkitError, RuntimeError):
    """A request whose key another run holds and has not finished; nothing was run.

    Retry after `until`: by then the first run has stored its outcome (and
    the retry replays it), or its lease has passed and the retry takes over.

    Attributes:
        key: The idempotency key, as text.
        until: When the other run's lease ends (UTC).

    .. versionadded:: 0.1.0
    """

    def __init__(self, key: str, until: dt.datetime) -> None:
        self.key = key
        self.until = until
        super().__init__(
            f"idempotency key {key!r} is in progress until {until.isoformat()};"
            " retry after that"
        )


@final
class CalendarDataMissing(OrderkitError, LookupError):
    """A business calendar asked about a year its data does not cover.

    Holidays are decided by governments year by year (China announces the
    next year's 调休 make-up workdays each winter): a calendar never guesses.

    Attributes:
        calendar: The calendar's name (`"CN"`).
        year: The year asked about.

    .. versionadded:: 0.1.0
    """

    def __init__(self, calendar: str, year: int) -> None:
        self.calendar = calendar
        self.year = year
        super().__init__(
            f"calendar {calendar!r} has no data for {year}; add that year's table"
        )


@final
class ConfigurationError(OrderkitError, RuntimeError):
    """orderkit was set up wrong, such as a fingerprint secret missing.

    Attributes:
        setting: The setting that is wrong or missing.
        field: The same setting, as every input error names its field.
        value: The setting's value, where it is not a secret; else `None`.

    .. versionadded:: 0.1.0
    """

    field: str

    def __init__(self, setting: str, problem: str, *, value: object = None) -> None:
        self.setting = setting
        self.field = setting
        self.value = value
        super().__init__(f"{setting}: {problem}")


@final
class ClockAhead(ValidationError):
    """A caller's time runs ahead of the shared database server's clock.

    A store shared by several hosts judges holds due by the latest time
    any of them has written (see `orderkit.adapters.postgres`), so one host
    whose clock runs ahead would expire every other host's holds early.
    The PostgreSQL ledger refuses such a time before writing anything:
    `field` is `"now"` and `value` the caller's time.

    .. versionadded:: 0.1.0
    """


@final
class InvalidOffer(ValidationError):
    """A discount offer or stacking policy that cannot be applied as given.

    A percent outside 0..100, a float, a negative amount, an unknown offer
    kind, or something that is not an offer at all.

    .. versionadded:: 0.1.0
    """


@final
class CaptureExceedsAuthorisation(ValidationError):
    """A capture above what its payment has authorised and not captured yet.

    .. versionadded:: 0.1.0
    """


@final
class RefundExceedsCapture(ValidationError):
    """A refund above what its payment captured, less what is refunded or pending.

    .. versionadded:: 0.1.0
    """


@final
class RefundNotPending(ValidationError):
    """A refund settled after it failed, or failed after it settled.

    .. versionadded:: 0.1.0
    """


@final
class UnknownPayment(ValidationError, LookupError):
    """A payment id the ledger has no authorisation for.

    .. versionadded:: 0.1.0
    """


@final
class UnknownRefund(ValidationError, LookupError):
    """A refund id the ledger has never recorded.

    .. versionadded:: 0.1.0
    """


@final
class UnknownSerial(ValidationError, LookupError):
    """A returned serial number that was not shipped on the line it came back for.

    .. versionadded:: 0.1.0
    """
