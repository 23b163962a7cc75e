"""The strategies every other one builds on: ids, money, parties, lines, lifecycles.

`orderkit.testing.strategies` re-exports the public ones; `ID`, `TEXT`,
`STOCKED` and `unique_lines` are shared with the other strategy modules of
the kit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from hypothesis import strategies as st

from orderkit._iso4217 import MINOR_UNITS
from orderkit._time import to_utc
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Buyer,
    Completed,
    Delivered,
    Event,
    InTransit,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    ShipmentStatus,
    Shipped,
)


ID = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N"), include_characters="-_"
    ),
    min_size=1,
    max_size=12,
)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("C", "Zl", "Zp")),
    max_size=20,
)


def currencies() -> st.SearchStrategy[Currency]:
    """Any active ISO 4217 currency.

    .. versionadded:: 0.1.0
    """
    return st.sampled_from(sorted(MINOR_UNITS)).map(Currency)


def money(
    currency: Currency | str | None = None,
    *,
    min_minor: int = -(10**9),
    max_minor: int = 10**9,
) -> st.SearchStrategy[Money]:
    """Amounts of one currency (any, if not given), between two minor-unit bounds.

    The default range is signed: from -1,000,000,000 to 1,000,000,000 minor
    units, zero and negative amounts (refunds, discounts) included. For
    prices, which are above zero, give `min_minor=1`.

    Args:
        currency: A `Currency` or its code; any active currency if omitted.
        min_minor: The least amount, in minor units (inclusive).
        max_minor: The greatest amount, in minor units (inclusive).

    .. versionadded:: 0.1.0
    """
    cur = st.just(Currency(currency) if isinstance(currency, str) else currency)
    chosen = currencies() if currency is None else cur
    return st.builds(
        Money.from_minor, st.integers(min_value=min_minor, max_value=max_minor), chosen
    )


_EARLIEST = pendulum.datetime(2000, 1, 1, tz="UTC")
_LATEST = pendulum.datetime(2100, 1, 1, tz="UTC")


def instants(
    min_value: dt.datetime = _EARLIEST,
    max_value: dt.datetime = _LATEST,
) -> st.SearchStrategy[pendulum.DateTime]:
    """UTC instants, as orderkit hands them back, to the microsecond.

    Every instant is a `pendulum.DateTime` in UTC between the bounds
    (inclusive), whatever zone the bounds are given in.

    Args:
        min_value: The earliest instant, timezone-aware, in any zone.
        max_value: The latest instant, timezone-aware, in any zone.

    Raises:
        NaiveDatetime: A bound has no UTC offset (naming it).
        ValidationError: `max_value` is before `min_value`.

    .. versionadded:: 0.1.0
    """
    low, high = to_utc(min_value, "min_value"), to_utc(max_value, "max_value")
    if high < low:
        raise ValidationError("max_value", max_value, "must not be before min_value")
    # Naive UTC bounds: given aware ones, hypothesis draws wall-clock times
    # and then random zones for them, so instants in any zone, some outside.
    return st.datetimes(min_value=_naive(low), max_value=_naive(high)).map(
        lambda d: pendulum.instance(d, tz="UTC")
    )


def _naive(utc: pendulum.DateTime) -> dt.datetime:
    return dt.datetime(  # noqa: DTZ001 - the UTC wall clock, for st.datetimes
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond
    )


def idempotency_keys() -> st.SearchStrategy[IdempotencyKey]:
    """Keys with printable parts, separators and very long parts included.

    .. versionadded:: 0.1.0
    """
    part = st.one_of(
        ID,
        st.text(
            st.characters(codec="utf-8", categories=("L", "N", "P")),
            min_size=1,
            max_size=300,
        ),
    )
    return st.builds(IdempotencyKey, part, part, part, part)


def buyers() -> st.SearchStrategy[Buyer]:
    """Buyers, with and without phone and e-mail.

    Phones as a channel may send them: national (`13812348000`), masked
    (`138****8000`) or spaced international (`+1 212 555 0100`), as a
    stored order may hold them. `channel_orders()` draws them as an
    adapter reads them instead (E.164).

    .. versionadded:: 0.1.0
    """
    return st.builds(
        Buyer,
        ID,
        TEXT,
        st.none() | st.sampled_from(["13812348000", "138****8000", "+1 212 555 0100"]),
        st.none() | st.emails(),
    )


def addresses() -> st.SearchStrategy[Address]:
    """Addresses in China and abroad.

    .. versionadded:: 0.1.0
    """
    return st.builds(
        Address,
        st.sampled_from(["CN", "US", "DE", "JP"]),
        st.sampled_from(["北京市", "广东省", "New York", ""]),
        st.sampled_from(["北京市", "深圳市", "Brooklyn", ""]),
        TEXT,
        TEXT,
        st.from_regex(r"[0-9]{0,6}", fullmatch=True),
        TEXT,
        st.none() | st.just("13812348000"),
    )


# Whether a line is stocked: mostly, and shrinking to stocked.
STOCKED = st.sampled_from([True, True, True, False])


def order_lines(
    currency: Currency | str = "CNY", *, unstocked: bool = True
) -> st.SearchStrategy[OrderLine]:
    """Order lines priced in one currency, about one in four unstocked.

    An unstocked line (`OrderLine.stocked` false) is a gift card, a fee or
    a download: the ledger never holds it.

    Args:
        currency: The currency of the unit prices.
        unstocked: Draw unstocked lines too; `False` for stocked ones only.

    .. versionadded:: 0.1.0
    """
    return st.builds(
        OrderLine,
        ID,
        st.sampled_from(["RETRO-CLOCK", "VELVET-LAMP", "TEAK-STOOL", "JADE-TEAPOT"]),
        st.integers(min_value=1, max_value=50),
        money(currency, min_minor=1, max_minor=10**7),
        TEXT,
        stocked=STOCKED if unstocked else st.just(value=True),
    )


def unique_lines(
    currency: Currency | str = "CNY", *, unstocked: bool = True
) -> st.SearchStrategy[list[OrderLine]]:
    return st.lists(
        order_lines(currency, unstocked=unstocked),
        min_size=1,
        max_size=5,
        unique_by=lambda line: line.line_id,
    )


_Step = tuple[type[Event], str, dict[str, Any]]
_LIFECYCLE_START = pendulum.datetime(2026, 11, 11, tz="UTC")


@st.composite
def _parcels(draw: st.DrawFn, lines: list[OrderLine], *, complete: bool) -> list[_Step]:
    """Parcels carrying the lines; an unstocked line rides with stocked units.

    Once every stocked unit has shipped, a later parcel is refused (or, of
    unstocked lines alone, stale): so that any delivery order of the parcels
    applies each one, a parcel carries an unstocked line only beside stocked
    units (or all of an order with none), and sometimes none carries it.
    """
    stocked = [line for line in lines if line.stocked]
    if not stocked:
        parts = [ShipmentLine(line.line_id, line.quantity) for line in lines]
        return _parcel_steps(draw, [parts], complete=complete)
    count = draw(st.integers(min_value=1, max_value=3))
    contents: list[list[ShipmentLine]] = [[] for _ in range(count)]
    for line in stocked:
        box = draw(st.integers(min_value=0, max_value=count - 1))
        first = line.quantity
        if count > 1 and line.quantity > 1 and draw(st.booleans()):
            first = draw(st.integers(min_value=1, max_value=line.quantity - 1))
            contents[(box + 1) % count].append(
                ShipmentLine(line.line_id, line.quantity - first)
            )
        contents[box].append(ShipmentLine(line.line_id, first))
    boxes = [c for c in contents if c]
    for line in lines:
        if not line.stocked and draw(st.booleans()):
            box = draw(st.integers(min_value=0, max_value=len(boxes) - 1))
            boxes[box].append(ShipmentLine(line.line_id, line.quantity))
    if not complete and len(boxes) > 1 and draw(st.booleans()):
        boxes.pop()  # some units stay in the warehouse: partially shipped
    return _parcel_steps(draw, boxes, complete=complete)


def _parcel_steps(
    draw: st.DrawFn, boxes: list[list[ShipmentLine]], *, complete: bool
) -> list[_Step]:
    """Each box shipped, then moved on as far as a drawn status."""
    statuses = list(ShipmentStatus)
    least = statuses.index(draw(st.sampled_from(statuses)))
    reached = [draw(st.sampled_from(statuses[least:])) for _ in boxes]
    steps: list[_Step] = []
    for n, parts in enumerate(boxes):
        fields = {"shipment_id": f"S{n + 1}", "lines": parts, "carrier": "SF"}
        steps.append((Shipped, "wms.shipped", {**fields, "tracking_number": f"SF{n}"}))
    for n, status in enumerate(reached):
        sid = {"shipment_id": f"S{n + 1}"}
        if status is not ShipmentStatus.SHIPPED:
            steps.append((InTransit, "sf.transit", sid))
        if status is ShipmentStatus.DELIVERED:
            steps.append((Delivered, "sf.delivered", sid))
    if complete and all(s is ShipmentStatus.DELIVERED for s in reached):
        steps.append((Completed, "order.completed", {}))
    return steps


@st.composite
def lifecycles(
    draw: st.DrawFn,
    *,
    order_id: str = "DY-1001",
    currency: Currency | str = "CNY",
    start: dt.datetime = _LIFECYCLE_START,
    unstocked: bool = False,
) -> list[OrderEvent]:
    """A legal event stream for one order, in the order it happened.

    It always starts with `OrderPlaced` and goes as far as a drawn stage:
    payment, picking, shipments (lines spread, and sometimes split, across
    one to three parcels, each going as far as shipped, in transit or
    delivered, some units possibly left unshipped) and completion once every
    parcel is delivered. The stage is weighted towards shipping: about one
    stream in eight is `OrderPlaced` alone, one in eight stops at payment,
    one in eight at picking, and the rest reach a parcel. Cancellation and
    closing are left out on purpose: they race with payment, and
    `RefundDue` settles that race. Hypothesis shrinks a stream towards the
    shortest: `OrderPlaced` alone.

    With `unstocked=True`, about one line in four is unstocked
    (`OrderLine.stocked` false): it rides in a parcel beside stocked units,
    or in none, and the order has shipped once its stocked units have. Off
    by default: without them, an order ships every unit before it has
    shipped.

    .. versionadded:: 0.1.0
    """
    # Weighted towards the shipping stages, where most of the rules are, and
    # in ascending order: hypothesis shrinks towards the first, the shortest.
    # Drawn first: a draw after the lines, buyer and address often came out
    # as the first stage (`OrderPlaced` alone) in four streams of ten.
    stage = draw(st.sampled_from([0, 1, 2, 3, 3, 4, 4, 4]))
    lines = draw(unique_lines(currency, unstocked=unstocked))
    placed = {
        "channel": "douyin",
        "buyer": draw(buyers()),
        "address": draw(addresses()),
        "lines": lines,
    }
    steps: list[_Step] = [(OrderPlaced, "order.created", placed)]
    if stage >= 1:
        total = sum((line.amount for line in lines), Money.zero(currency))
        paid = {"payment_id": "PAY-1", "amount": total}
        steps.append((PaymentCaptured, "order.paid", paid))
    if stage >= 2:
        steps.append((PickingStarted, "wms.picking", {}))
    if stage >= 3:
        steps.extend(draw(_parcels(lines, complete=stage >= 4)))
    t = to_utc(start, "start")
    stream: list[OrderEvent] = []
    for n, (cls, kind, fields) in enumerate(steps):
        ref = fields.get("shipment_id", order_id)
        key = IdempotencyKey("douyin", kind, order_id, f"{kind}#{ref}")
        event = cls(order_id=order_id, key=key, occurred_at=t.add(minutes=n), **fields)
        stream.append(event)  # type: ignore[arg-type]
    return stream
