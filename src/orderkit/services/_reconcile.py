"""Orders against a payment provider's settlement statement.

The orders say what money should have moved; the statement says what did.
`reconcile_payments` compares the two by transaction id and reports every
difference as a `Discrepancy`, together with the rows the statement reader
could not read, so one bad row never hides the rest of the statement.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
from collections.abc import Iterable, Mapping
from typing import Final, Protocol, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    Validator,
    as_tuple,
    count,
    instance_of,
    optional_text,
)
from orderkit.calendar import DayWindow
from orderkit.errors import ValidationError
from orderkit.integrations import SettlementLine, TransactionKind
from orderkit.money import Money
from orderkit.orders import Order
from orderkit.pricing import RefundState
from orderkit.services._cells import spreadsheet_cell


__all__ = [
    "Discrepancy",
    "DiscrepancyKind",
    "Reconciliation",
    "RowProblem",
    "reconcile_payments",
]


@final
class DiscrepancyKind(enum.StrEnum):
    """What differs between the orders and a settlement statement.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def _missing_(cls, value: object) -> DiscrepancyKind:
        known = ", ".join(kind.value for kind in cls)
        raise ValidationError("kind", value, f"is not a discrepancy kind ({known})")

    MISSING_IN_STATEMENT = "missing_in_statement"
    """The orders record a capture or settled refund the statement lacks."""
    MISSING_IN_ORDERS = "missing_in_orders"
    """The statement moved money under a transaction no order records (or
    one its order records as failed: the detail says so)."""
    AMOUNT_MISMATCH = "amount_mismatch"
    """The same transaction, another amount."""
    CURRENCY_MISMATCH = "currency_mismatch"
    """The same transaction, another currency."""
    ORDER_MISMATCH = "order_mismatch"
    """The same transaction, attributed to another order."""
    DUPLICATE_CAPTURE = "duplicate_capture"
    """Money taken twice: a repeated statement line, or a second capture for
    an order whose recorded captures the statement already settled."""
    DUPLICATE_REFUND = "duplicate_refund"
    """A refund the statement lists twice (under one of its ids, or under
    each: its refund id and the provider's)."""
    REFUND_WITHOUT_PAYMENT = "refund_without_payment"
    """Money sent back for an order that neither side shows as paid."""
    MALFORMED_ROW = "malformed_row"
    """A statement row that could not be read; see its line number."""


class RowProblem(Protocol):
    """**Protocol:** a statement row a reader could not read.

    `orderkit.adapters.statements.MalformedRow` is one; a host's own reader
    may return anything with these attributes.

    .. versionadded:: 0.1.0
    """

    @property
    def line(self) -> int:
        """The row's line number in the file, from 1."""
        ...

    @property
    def field(self) -> str:
        """The column that could not be read (empty for the whole row)."""
        ...

    @property
    def problem(self) -> str:
        """What was wrong with it."""
        ...


def _optional_money(field: str) -> Validator:
    check = instance_of(field, Money)

    def optional(instance: object, attribute: object, value: Money | None) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional


@final
@attrs.frozen(slots=True, kw_only=True)
class Discrepancy:
    """One difference between the orders and the statement.

    Attributes:
        kind: What differs.
        order_id: The order concerned, when either side names it.
        transaction_id: The transaction concerned, if any.
        expected: What the orders record, if they record it.
        actual: What the statement shows, if it shows it.
        line: The statement's line number, for a malformed row.
        detail: The difference in words, for people.

    .. versionadded:: 0.1.0
    """

    kind: DiscrepancyKind = attrs.field(converter=DiscrepancyKind)
    order_id: str | None = attrs.field(
        default=None, validator=optional_text("order_id")
    )
    transaction_id: str | None = attrs.field(
        default=None, validator=optional_text("transaction_id")
    )
    expected: Money | None = attrs.field(
        default=None,
        validator=_optional_money("expected"),
    )
    actual: Money | None = attrs.field(
        default=None, validator=_optional_money("actual")
    )
    line: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(count("line"))
    )
    detail: str = attrs.field(default="", validator=instance_of("detail", str))


_CSV_COLUMNS: Final = (
    "kind",
    "order_id",
    "transaction_id",
    "expected_amount",
    "expected_currency",
    "statement_amount",
    "statement_currency",
    "line",
    "detail",
)


def _discrepancies(value: Iterable[Discrepancy]) -> tuple[Discrepancy, ...]:
    return as_tuple(value, "discrepancies", Discrepancy)


@final
@attrs.frozen(slots=True, kw_only=True)
class Reconciliation:
    """The result of `reconcile_payments`: what matched and what did not.

    Attributes:
        discrepancies: Every difference: malformed rows first (by line),
            then the statement's lines in statement order, then what the
            statement lacks in the orders' order.
        matched: Transactions found on both sides with the same amount,
            currency and order.
        expected: Captures and settled refunds the orders record, and
            the pending refunds the statement shows.
        settled: Statement lines that moved money (captures, sales, refunds).
        skipped: Statement lines that moved none (authorisations, voids).

    .. versionadded:: 0.1.0
    """

    discrepancies: tuple[Discrepancy, ...] = attrs.field(converter=_discrepancies)
    matched: int = attrs.field(validator=count("matched"))
    expected: int = attrs.field(validator=count("expected"))
    settled: int = attrs.field(validator=count("settled"))
    skipped: int = attrs.field(default=0, validator=count("skipped"))

    @property
    def ok(self) -> bool:
        """Whether the two sides agree entirely."""
        return not self.discrepancies

    def of_kind(self, kind: DiscrepancyKind | str) -> tuple[Discrepancy, ...]:
        """The discrepancies of one kind, in report order."""
        wanted = DiscrepancyKind(kind)
        return tuple(d for d in self.discrepancies if d.kind is wanted)

    def to_csv(self) -> str:
        """The discrepancies as CSV text: a header row, then one row each.

        Columns, in this order: kind, order_id, transaction_id,
        expected_amount, expected_currency, statement_amount,
        statement_currency, line, detail. Amounts are plain decimals with
        the currency in its own column; rows end with CRLF (RFC 4180).
        Encode the text as UTF-8 (`utf-8-sig` for spreadsheet programs that
        need the BOM to read Chinese text).

        Any cell, in any column, that starts with `=`, `+`, `-`, `@`, a tab
        or a carriage return is written with an apostrophe before it
        (`'=HYPERLINK(...)`), so that a spreadsheet program shows a
        transaction or order id from the statement as text instead of
        running it as a formula. A cell that is a plain decimal number
        (digits with an optional minus sign and fraction, such as `-12.00`)
        is no formula and is written as it is. To read an id back exactly,
        take the apostrophe off a cell that starts with `'` and then one of
        those characters.
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_CSV_COLUMNS)
        for d in self.discrepancies:
            writer.writerow(
                spreadsheet_cell(cell)
                for cell in (
                    d.kind.value,
                    d.order_id or "",
                    d.transaction_id or "",
                    "" if d.expected is None else str(d.expected.amount),
                    "" if d.expected is None else d.expected.currency.code,
                    "" if d.actual is None else str(d.actual.amount),
                    "" if d.actual is None else d.actual.currency.code,
                    "" if d.line is None else str(d.line),
                    d.detail,
                )
            )
        return out.getvalue()


# A capture and a sale both take money; a refund sends it back. Statement
# lines of other kinds (authorisations, voids) move no money.
_CAPTURE: Final = "capture"
_REFUND: Final = "refund"
_CLASS_OF: Final = {
    TransactionKind.CAPTURE: _CAPTURE,
    TransactionKind.SALE: _CAPTURE,
    TransactionKind.REFUND: _REFUND,
}


@final
@attrs.frozen(slots=True)
class _Expected:
    order_id: str
    transaction_id: str
    money_class: str
    amount: Money
    # A pending refund may or may not have reached the statement yet.
    required: bool
    # The id the provider gave a refund: a statement may list it under that.
    provider_id: str | None = None


_Period = tuple[pendulum.DateTime, pendulum.DateTime]


def _expected_of(order: Order, period: _Period | None) -> list[_Expected]:
    """The money movements one order records, as the statement should show them.

    With a `period`, only those made in it must be there; the others are
    matched if they are (a capture settled late) and missed by no one.
    """

    def due(at: pendulum.DateTime | None) -> bool:
        return period is None or (at is not None and period[0] <= at < period[1])

    oid = order.order_id
    ledger = order.payment_ledger
    captures = (
        []
        if ledger is None
        else [
            _Expected(oid, c.capture_id, _CAPTURE, c.amount, required=due(c.at))
            for p in ledger.payments
            for c in p.captures
        ]
    )
    # A payment the ledger does not keep is a capture under its payment id,
    # as on an order without a ledger: a payment recorded after orderkit
    # made the ledger for a refund is not in it. Only while the ledger's
    # captures fall short of the order's payments: a host's ledger may know
    # the same money under the provider's ids.
    kept = set() if ledger is None else {p.payment_id for p in ledger.payments}
    held = sum((e.amount for e in captures), Money.zero(order.currency))
    paid = sum((p.amount for p in order.payments), Money.zero(order.currency))
    found = (
        [
            _Expected(
                oid, p.payment_id, _CAPTURE, p.amount, required=due(p.captured_at)
            )
            for p in order.payments
            if p.payment_id not in kept
        ]
        if held < paid
        else []
    )
    if ledger is None:
        return found
    found += captures
    found += [
        _Expected(
            oid,
            r.refund_id,
            _REFUND,
            r.amount,
            required=r.state is RefundState.REFUNDED and due(r.decided_at),
            provider_id=r.provider_id,
        )
        for r in ledger.refunds
        if r.state is not RefundState.FAILED
    ]
    return found


# Where a transaction id is unique: a capture's all over the provider; a
# refund's only within its order (Alipay's 退款请求号 need only be unique
# under its trade), so a refund's key holds its order.
_Key = tuple[str, str, str]


def _key(item: _Expected) -> _Key:
    scope = item.order_id if item.money_class == _REFUND else ""
    return item.money_class, scope, item.transaction_id


def _keys(item: _Expected) -> list[_Key]:
    """Every key a line may match `item` under: a refund's provider id too.

    The first is the item's own (`_key`), which stands for it wherever
    it is counted, so that a refund is matched, missed or repeated once
    whichever of its ids the statement lists.
    """
    own = _key(item)
    other = item.provider_id
    if other is None or other == item.transaction_id:
        return [own]
    return [own, (own[0], own[1], other)]


def _line_key(
    line: SettlementLine,
    money_class: str,
    refunds: Mapping[str, list[str]],
    named: set[_Key],
) -> _Key:
    """The key a statement line is matched under (see `_key`).

    `named` holds the refund keys that some line names exactly, order and
    all: those are never taken by a line naming another order that only
    shares the number (a line naming no order repeats the refund).
    """
    tid = line.transaction_id
    if money_class != _REFUND:
        return money_class, "", tid
    exact = (_REFUND, line.order_id or "", tid)
    if exact in named:
        return exact
    # A line that names no order, or another: its refund id alone, when one
    # order records it and no line names it exactly (then a line naming
    # another order is an ORDER_MISMATCH). A line naming no order takes
    # that refund even when another line names it, and so repeats it; one
    # naming another order may be that order's refund of the same number.
    owners = refunds.get(tid, [])
    if len(owners) == 1:
        only = (_REFUND, owners[0], tid)
        if not line.order_id or only not in named:
            return only
    return exact


def _refund_owners(expected: Mapping[_Key, _Expected]) -> dict[str, list[str]]:
    """The orders that record each refund id."""
    owners: dict[str, list[str]] = {}
    for money_class, order_id, tid in expected:
        if money_class == _REFUND:
            owners.setdefault(tid, []).append(order_id)
    return owners


def _index_orders(
    orders: Iterable[Order], period: _Period | None
) -> dict[_Key, _Expected]:
    """The orders' movements, under each key a line may match them by (`_keys`)."""
    expected: dict[_Key, _Expected] = {}
    for i, order in enumerate(as_tuple(orders, "orders", Order)):
        for item in _expected_of(order, period):
            for key in _keys(item):
                first = expected.get(key)
                if first is not None:
                    raise ValidationError(
                        f"orders[{i}]",
                        key[2],
                        f"repeats a {item.money_class} of order {first.order_id!r}",
                    )
                expected[key] = item
    return expected


def _compare(line: SettlementLine, item: _Expected) -> Discrepancy | None:
    if line.amount.currency != item.amount.currency:
        kind = DiscrepancyKind.CURRENCY_MISMATCH
        detail = f"the order records {item.amount}, the statement {line.amount}"
    elif line.amount != item.amount:
        kind = DiscrepancyKind.AMOUNT_MISMATCH
        detail = f"the order records {item.amount}, the statement {line.amount}"
    elif line.order_id is not None and line.order_id != item.order_id:
        kind = DiscrepancyKind.ORDER_MISMATCH
        detail = (
            f"order {item.order_id!r} records it; "
            f"the statement names order {line.order_id!r}"
        )
    else:
        return None
    return Discrepancy(
        kind=kind,
        order_id=item.order_id,
        transaction_id=line.transaction_id,
        expected=item.amount,
        actual=line.amount,
        detail=detail,
    )


def _failed_refunds(orders: tuple[Order, ...]) -> dict[str, set[str]]:
    """The orders whose ledgers record each refund id as failed (its provider's too)."""
    failed: dict[str, set[str]] = {}
    for order in orders:
        ledger = order.payment_ledger
        for refund in () if ledger is None else ledger.refunds:
            if refund.state is RefundState.FAILED:
                for tid in (refund.refund_id, refund.provider_id):
                    if tid is not None:
                        failed.setdefault(tid, set()).add(order.order_id)
    return failed


def _unmatched(
    line: SettlementLine,
    money_class: str,
    captured_orders: set[str],
    paid_orders: set[str],
    failed: Mapping[str, set[str]],
) -> Discrepancy:
    """A money line no order records: extra, duplicate or unpaid refund."""
    owners = failed.get(line.transaction_id, set())
    if money_class == _REFUND and owners and line.order_id in {*owners, None}:
        # Not missing: the order knows it, as one the provider refused,
        # so finance looks at a refund paid after all, not a stray one.
        kind = DiscrepancyKind.MISSING_IN_ORDERS
        detail = "a refund the order records as failed; the statement shows it paid"
    elif money_class == _CAPTURE and line.order_id in captured_orders:
        kind = DiscrepancyKind.DUPLICATE_CAPTURE
        detail = (
            f"a second {line.kind} for order {line.order_id!r}, whose "
            "recorded captures the statement settles already"
        )
    elif (
        money_class == _REFUND
        and line.order_id is not None
        and line.order_id not in paid_orders
    ):
        # A line that names no order is no refund of an unpaid one: nobody
        # can tell whose payment it came off.
        kind = DiscrepancyKind.REFUND_WITHOUT_PAYMENT
        detail = "a refund for an order neither side shows as paid"
    else:
        kind = DiscrepancyKind.MISSING_IN_ORDERS
        detail = f"a {line.kind} no order records"
    return Discrepancy(
        kind=kind,
        order_id=line.order_id,
        transaction_id=line.transaction_id,
        actual=line.amount,
        detail=detail,
    )


def _malformed(rejected: Iterable[RowProblem]) -> list[Discrepancy]:
    rows: tuple[RowProblem, ...] = as_tuple(rejected, "rejected", object)  # type: ignore[arg-type]
    for i, row in enumerate(rows):
        if not all(
            isinstance(getattr(row, name, None), kind)
            for name, kind in (("line", int), ("field", str), ("problem", str))
        ):
            raise ValidationError(f"rejected[{i}]", row, "must be a RowProblem")
    return [
        Discrepancy(
            kind=DiscrepancyKind.MALFORMED_ROW,
            line=row.line,
            detail=f"{row.field}: {row.problem}" if row.field else row.problem,
        )
        for row in sorted(rows, key=lambda row: row.line)
    ]


def _period(period: object) -> _Period | None:
    if period is None:
        return None
    if isinstance(period, DayWindow):
        return period.start, period.end
    if not isinstance(period, tuple) or len(period) != 2:
        raise ValidationError(
            "period", period, "must be a DayWindow or a (start, end) pair"
        )
    start, end = to_utc(period[0], "period[0]"), to_utc(period[1], "period[1]")
    if end <= start:
        raise ValidationError("period", period, "must end after it starts")
    return start, end


def reconcile_payments(
    orders: Iterable[Order],
    lines: Iterable[SettlementLine],
    *,
    rejected: Iterable[RowProblem] = (),
    period: DayWindow | tuple[dt.datetime, dt.datetime] | None = None,
) -> Reconciliation:
    """Compare what the orders record with what a settlement statement shows.

    The orders' side: each order's payment ledger when it keeps one (every
    capture under its capture id; every settled refund under its refund id
    and under the id its provider gave it, `Refund.provider_id`, if the
    ledger keeps one: a statement may list it under either, and it is one
    refund, matched, missed or repeated once whichever it lists; a pending
    refund is matched when the statement has it and not missed when it
    does not; a failed one moved no money), and each of its
    `payments` the ledger does not keep (a capture under its payment id, as
    for an order without a ledger: orderkit makes one for the payments it
    or the channel refunded, and a payment recorded later is not in it),
    while the ledger's captures come to less than the payments (a host's
    ledger may keep the same money under the provider's ids). A
    free order paid with a
    capture of zero records no payment, so no line is due for it. The
    statement's side: its captures and sales (money taken) and refunds
    (money sent back), matched to the orders' by transaction id;
    authorisations and voids move no money and are only counted.

    A transaction on both sides is matched when the currency, the amount
    and (if the statement names one) the order agree, and is a
    `CURRENCY_MISMATCH`, `AMOUNT_MISMATCH` or `ORDER_MISMATCH` otherwise.
    A statement line under a transaction id seen earlier in the statement
    is a `DUPLICATE_CAPTURE` (or `DUPLICATE_REFUND`), and so is a line under
    a refund's other id. One no order records
    is a `DUPLICATE_CAPTURE` when its order already has every recorded
    capture in the statement, a `REFUND_WITHOUT_PAYMENT` when it is a
    refund for an order neither side shows a capture for, and
    `MISSING_IN_ORDERS` otherwise. A capture or settled refund the
    statement lacks is `MISSING_IN_STATEMENT`. Rows the reader rejected
    become `MALFORMED_ROW`s with their line numbers; the rest of the
    statement is reconciled all the same.

    A daily bill shows the money of its day only: give its `period` (a
    `DayWindow`, or a `(start, end)` pair of instants, end excluded) and a
    capture or settled refund made outside it is not required, so a refund
    settled days after its capture reconciles on the day it settled. It is
    still matched when the statement has it (a payment made just before
    midnight and settled after). Without a period, all of them are required.

    Args:
        orders: The orders the statement's period covers.
        lines: The statement's lines.
        rejected: The rows the statement reader could not read.
        period: The statement's period, if it covers one.

    Returns:
        The report; nothing is written anywhere.

    Raises:
        ValidationError: An argument is not a sequence of the right items,
            two orders record the same capture id (or one order the same
            refund id twice, its own or its provider's), or the period is
            not one (naive, or ending before it starts).

    .. versionadded:: 0.1.0
    """
    recorded_orders = as_tuple(orders, "orders", Order)
    expected = _index_orders(recorded_orders, _period(period))
    failed = _failed_refunds(recorded_orders)
    statement = as_tuple(lines, "lines", SettlementLine)
    malformed = _malformed(rejected)

    money_lines = [(line, _CLASS_OF.get(line.kind)) for line in statement]
    paid_orders = {e.order_id for e in expected.values() if e.money_class == _CAPTURE}
    paid_orders |= {
        line.order_id
        for line, money_class in money_lines
        if money_class == _CAPTURE and line.order_id is not None
    }

    # First pass: match by transaction id, so that what counts as a second
    # capture does not depend on the order of the statement's lines.
    found: dict[int, Discrepancy | None] = {}
    # What the lines matched, each under its own key (`_keys`): a refund
    # listed under its provider's id and again under its own is one refund.
    seen: dict[_Key, str] = {}
    refunds = _refund_owners(expected)
    named = {
        key
        for line, money_class in money_lines
        if money_class == _REFUND
        and (key := (_REFUND, line.order_id or "", line.transaction_id)) in expected
    }
    matched = skipped = 0
    for i, (line, money_class) in enumerate(money_lines):
        if money_class is None:
            skipped += 1
            continue
        key = _line_key(line, money_class, refunds, named)
        item = expected.get(key)
        own = key if item is None else _key(item)
        first = seen.get(own)
        if first is not None:
            kind = (
                DiscrepancyKind.DUPLICATE_CAPTURE
                if money_class == _CAPTURE
                else DiscrepancyKind.DUPLICATE_REFUND
            )
            again = "" if first == line.transaction_id else f" (listed as {first})"
            found[i] = Discrepancy(
                kind=kind,
                order_id=line.order_id,
                transaction_id=line.transaction_id,
                actual=line.amount,
                detail=f"the statement lists this {line.kind} again{again}",
            )
            continue
        seen[own] = line.transaction_id
        if item is not None:
            found[i] = _compare(line, item)
            matched += found[i] is None
    # An order counts as captured once every capture it records is in the
    # statement: only then is another capture for it a second charge.
    items = {_key(e): e for e in expected.values()}
    recorded: dict[str, set[_Key]] = {}
    for key, e in items.items():
        if e.money_class == _CAPTURE:
            recorded.setdefault(e.order_id, set()).add(key)
    captured_orders = {oid for oid, keys in recorded.items() if keys <= seen.keys()}
    for i, (line, money_class) in enumerate(money_lines):
        if money_class is not None and i not in found:
            found[i] = _unmatched(
                line, money_class, captured_orders, paid_orders, failed
            )

    missing = [
        Discrepancy(
            kind=DiscrepancyKind.MISSING_IN_STATEMENT,
            order_id=e.order_id,
            transaction_id=e.transaction_id,
            expected=e.amount,
            detail=(
                f"the order records this {e.money_class}"
                + ("" if len(_keys(e)) == 1 else f" (the provider's {e.provider_id})")
                + "; the statement lacks it"
            ),
        )
        for key, e in items.items()
        if e.required and key not in seen
    ]
    listed = [found[i] for i in sorted(found)]
    return Reconciliation(
        discrepancies=[*malformed, *(d for d in listed if d is not None), *missing],
        matched=matched,
        expected=sum(e.required or key in seen for key, e in items.items()),
        settled=len(statement) - skipped,
        skipped=skipped,
    )
