"""Strategies for what arrives from outside: channel orders, event deliveries, steps.

`orderkit.testing.strategies` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, final

import attrs
import pendulum
from hypothesis import strategies as st

from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.money import Currency, Money
from orderkit.orders import (
    OrderEvent,
)
from orderkit.testing import _desk_ops as desk
from orderkit.testing._desk_ops import DeskOperation
from orderkit.testing._ledger_ops import (
    LOCATIONS,
    OWNERS,
    SKUS,
    LedgerAction,
    LedgerOperation,
)
from orderkit.testing._samples import channel_order
from orderkit.testing._value_strategies import (
    ID,
    STOCKED,
    addresses,
    buyers,
    instants,
    lifecycles,
    money,
)


_CATALOGUE = ("RETRO-CLOCK", "VELVET-LAMP", "TEAK-STOOL", "JADE-TEAPOT")
_ORDERS_FROM = pendulum.datetime(2024, 1, 1, tz="UTC")
_ORDERS_UNTIL = pendulum.datetime(2030, 1, 1, tz="UTC")
# Phones as `orderkit.integrations.read_phone` hands them to an adapter: in
# E.164 when they are numbers, a masked one kept as sent (platforms mask
# buyers' numbers; matching treats it as absent). Raw forms are the
# adapters' concern, and `buyers()` and `addresses()` still draw them.
_READ_PHONES = st.none() | st.sampled_from(
    ["+8613812348000", "+12125550100", "138****8000"]
)
_READ_ADDRESS_PHONES = st.none() | st.just("+8613812348000")


@final
@attrs.frozen(slots=True)
class EventStream:
    """One order's events as they happened, and as a channel delivered them.

    Attributes:
        events: The legal stream, in the order it happened (a
            `lifecycles()` stream).
        delivered: The same events as the channel delivered them: with
            `event_streams()`' defaults, at least one of them twice or
            more (the same event, the same key), and, when there are two
            or more, first delivered in an order other than `events`.

    .. versionadded:: 0.1.0
    """

    events: tuple[OrderEvent, ...]
    delivered: tuple[OrderEvent, ...]

    @property
    def repeats(self) -> int:
        """How many deliveries were repeats of an event delivered before."""
        return len(self.delivered) - len(self.events)


def event_streams(
    *, duplicates: bool = True, reorder: bool = True, order_id: str = "DY-1001"
) -> st.SearchStrategy[EventStream]:
    """One order's lifecycle, delivered with repeats and out of order.

    What a webhook consumer must survive: channels retry deliveries (the
    same event again, under the same key) and do not keep their order.
    Applying `delivered` with `orderkit.orders.apply_all` ends in the same
    order as applying `events`.

    Every stream keeps each promise it can: with `duplicates`, one to
    `len(events)` repeats (`EventStream.repeats` is at least 1); with
    `reorder` and two or more events, the events are first delivered in an
    order other than the one they happened in. A one-event stream
    (`OrderPlaced` alone) cannot be out of order. Hypothesis shrinks
    towards `OrderPlaced` delivered twice, or, for a failure that needs
    more events, a short stream with one repeat and two events swapped.

    Args:
        duplicates: Deliver at least one event more than once; `False`
            delivers each exactly once.
        reorder: Deliver the events in a drawn order, never the one they
            happened in; `False` keeps it, each repeat arriving right after
            its event (a retry).
        order_id: The order's id.

    .. versionadded:: 0.1.0
    """

    @st.composite
    def build(draw: st.DrawFn) -> EventStream:
        stream = draw(lifecycles(order_id=order_id))
        resent = (
            draw(st.lists(st.sampled_from(stream), min_size=1, max_size=len(stream)))
            if duplicates
            else []
        )
        if not reorder:
            # Each repeat arrives right after its first delivery: a retry.
            delivered = [
                e for event in stream for e in [event] * (1 + resent.count(event))
            ]
            return EventStream(tuple(stream), tuple(delivered))
        delivered = draw(st.permutations(stream + resent))
        if len(stream) > 1 and _first_deliveries(delivered) == stream:
            # Drawn in the order it happened (a permutation shrinks towards
            # it): swap two events' first deliveries, so one overtakes the
            # one before it.
            n = draw(st.integers(0, len(stream) - 2))
            early, late = (delivered.index(stream[i]) for i in (n, n + 1))
            delivered[early], delivered[late] = delivered[late], delivered[early]
        return EventStream(tuple(stream), tuple(delivered))

    return build()


def _first_deliveries(delivered: Sequence[OrderEvent]) -> list[OrderEvent]:
    """Each event once, where it was first delivered."""
    return list(dict.fromkeys(delivered))


def channel_orders(  # noqa: PLR0913 - keyword-only options, each with a default
    *,
    channel: str = "douyin",
    currency: Currency | str = "CNY",
    skus: Sequence[str] = _CATALOGUE,
    unit_prices: st.SearchStrategy[Money] | None = None,
    paid: bool | None = None,
    unstocked: bool = True,
) -> st.SearchStrategy[ChannelOrder]:
    """Orders as a channel adapter reads them: placed, priced, perhaps paid.

    Each has one to four lines of distinct SKUs drawn from `skus`, one to
    five units each, a quote whose stated total is what the lines cost (no
    offers, shipping or tax), and, when paid, a `PaymentCaptured` of that
    total five minutes after placing. Phones are as an adapter reads them
    (`orderkit.integrations.read_phone`): the buyer's and the address's in
    E.164 (`+8613812348000`), or the buyer's masked as the platform sent
    it (`138****8000`), or none. About one line in four is unstocked
    (`OrderLine.stocked` false: drop-shipped, a gift card, a fee), which a
    desk takes in without stock. Give them to `OrderDesk.accept`, or check
    your own pricing rules on their `quote`.

    Args:
        channel: The channel the orders come from.
        currency: The currency of every amount.
        skus: The SKUs lines are drawn from (at least one).
        unit_prices: Unit prices, in `currency` and more than zero; any
            from 0.01 to 10,000.00 (in minor units of two decimals) if
            omitted. Give `money(currency, min_minor=1)`, not `money()`'s
            signed default range.
        paid: Paid orders only (`True`), unpaid only (`False`), or both.
        unstocked: Draw unstocked lines too; `False` for stocked ones only.

    Raises:
        ValidationError: When drawing, a unit price from `unit_prices`
            that is not `Money` of `currency` above zero (naming
            `unit_prices` and the price).

    .. versionadded:: 0.1.0
    """
    prices = (
        money(currency, min_minor=1, max_minor=1_000_000)
        if unit_prices is None
        else unit_prices
    )
    catalogue = tuple(skus)
    code = currency.code if isinstance(currency, Currency) else currency

    def unit_price(draw: st.DrawFn) -> Money:
        # Checked here, as drawn: a price in another currency would give an
        # order in it without a word, a negative one an error about a line.
        # Typed as any object: a host's strategy may draw what it likes.
        drawn: object = draw(prices)
        if (
            isinstance(drawn, Money)
            and drawn.currency.code == code
            and drawn.amount > 0
        ):
            return drawn
        raise ValidationError(
            "unit_prices", drawn, f"must draw amounts of {code} above zero"
        )

    @st.composite
    def build(draw: st.DrawFn) -> ChannelOrder:
        chosen = draw(
            st.lists(st.sampled_from(catalogue), min_size=1, max_size=4, unique=True)
        )
        record = channel_order(
            [(sku, draw(st.integers(1, 5)), unit_price(draw)) for sku in chosen],
            order_id=draw(ID),
            channel=channel,
            currency=currency,
            paid=draw(st.booleans()) if paid is None else paid,
            at=draw(instants(_ORDERS_FROM, _ORDERS_UNTIL)),
            buyer=attrs.evolve(draw(buyers()), phone=draw(_READ_PHONES)),
            address=attrs.evolve(draw(addresses()), phone=draw(_READ_ADDRESS_PHONES)),
        )
        if not unstocked:
            return record
        lines = tuple(
            line if draw(STOCKED) else attrs.evolve(line, stocked=False)
            for line in record.placed.lines
        )
        return attrs.evolve(
            record,
            placed=attrs.evolve(record.placed, lines=lines),
            quote=attrs.evolve(record.quote, lines=lines),
        )

    return build()


def ledger_operations(
    *, max_size: int = 40
) -> st.SearchStrategy[list[LedgerOperation]]:
    """Steps for `orderkit.testing.check_ledger_laws`, goods in first.

    Receipts, counts, transfers, reservations, commits, releases,
    extensions, shipments, give-backs, sweeps, waits and repeats under the
    same key, over two SKUs at two locations for three owners. Hypothesis
    shrinks a failing list to its fewest steps:

    ```python
    @given(ost.ledger_operations())
    def test_my_store_keeps_the_laws(steps):
        check_ledger_laws(MyLedgerStore, operations=steps)
    ```

    Args:
        max_size: At most this many steps.

    .. versionadded:: 0.1.0
    """
    sku, location = st.sampled_from(SKUS), st.sampled_from(LOCATIONS)
    pick = st.integers(0, 99)
    receive = st.builds(LedgerOperation.receive, sku, location, st.integers(1, 6))
    lines = st.lists(
        st.tuples(sku, location, st.integers(1, 4)), min_size=1, max_size=3
    )
    step = st.one_of(
        receive,
        st.builds(LedgerOperation.stocktake, sku, location, st.integers(0, 8)),
        st.builds(
            lambda s, places, q: LedgerOperation.transfer(s, places[0], places[1], q),
            sku,
            st.permutations(LOCATIONS),
            st.integers(1, 4),
        ),
        st.builds(LedgerOperation.reserve, st.sampled_from(OWNERS), lines),
        st.builds(LedgerOperation.extend, pick, st.integers(1, 30)),
        st.builds(LedgerOperation.commit, pick, st.integers(0, 3)),
        st.builds(LedgerOperation.release, pick),
        st.builds(
            LedgerOperation,
            action=st.sampled_from([LedgerAction.SHIP, LedgerAction.UNALLOCATE]),
            pick=pick,
            quantity=st.integers(1, 4),
        ),
        st.just(LedgerOperation.sweep()),
        st.builds(LedgerOperation.wait, st.integers(1, 20)),
        st.builds(LedgerOperation.repeat, pick),
    )
    return st.tuples(
        st.lists(receive, min_size=1, max_size=3), st.lists(step, max_size=max_size)
    ).map(lambda parts: (parts[0] + parts[1])[:max_size])


def desk_operations(*, max_size: int = 40) -> st.SearchStrategy[list[DeskOperation]]:
    """Steps for `orderkit.testing.check_desk_laws`, goods in first.

    Goods in, channel orders (few order ids and buyers, so notices come
    again and suspected duplicates are held), later notices (one whose
    price the channel cut among them), payments,
    cancellations, releases, picking, parcels, after-sales cases, the
    channels' own refunds, refunds sent, unpaid orders closed, sweeps,
    manual price changes (applied at once, or pending until approved,
    rejected or expired), waits and retries. Hypothesis shrinks a failing
    list to its fewest steps:

    ```python
    @given(ost.desk_operations())
    def test_my_unit_keeps_the_laws(steps):
        check_desk_laws(MyUnitOfWork, operations=steps)
    ```

    Args:
        max_size: At most this many steps.

    .. versionadded:: 0.1.0
    """
    sku = st.sampled_from(desk.SKUS)
    receive = st.builds(
        DeskOperation.receive,
        sku,
        st.sampled_from(desk.LOCATIONS),
        st.integers(1, 8),
    )
    channel = st.sampled_from(desk.CHANNELS)
    accept = st.builds(
        lambda c, n, buyer, lines, paid: DeskOperation.accept(
            c, f"{c[:2].upper()}-{n}", buyer, lines, paid=paid
        ),
        channel,
        st.integers(1, 6),
        st.sampled_from(("buyer-1", "buyer-2", "buyer-3")),
        st.lists(
            st.tuples(sku, st.integers(1, 2)),
            min_size=1,
            max_size=2,
            unique_by=lambda line: line[0],
        ),
        st.booleans(),
    )
    step = st.one_of(
        receive,
        accept,
        st.builds(
            DeskOperation.on,
            st.sampled_from(sorted(desk.PICKED)),
            st.integers(0, 99),
        ),
        st.builds(DeskOperation.timer, st.sampled_from(sorted(desk.TIMERS))),
        st.builds(DeskOperation.wait, st.integers(1, 90)),
    )
    # An order and the steps that take it on, so that a short list reaches
    # a parcel, a case and its refund: steps apart, it rarely would.
    journey = st.builds(
        lambda first, n, pick: [
            first,
            *(_onward(a, pick) for a in _JOURNEY[:n]),
        ],
        accept,
        st.integers(0, len(_JOURNEY)),
        st.integers(0, 3),
    )
    # An order, a price change on it and its fate: a pending change is
    # decided, or lapses once the clock has passed its expiry.
    repriced = st.builds(
        lambda first, pick, fate: [
            first,
            DeskOperation.on(desk.DeskAction.PRICE_CHANGE, pick),
            *(_onward(a, pick) if isinstance(a, desk.DeskAction) else a for a in fate),
        ],
        accept,
        st.integers(0, 3),
        st.sampled_from(_FATES),
    )
    parts = st.lists(
        st.one_of(step.map(lambda op: [op]), journey, repriced), max_size=max_size
    )
    return st.tuples(st.lists(receive, min_size=1, max_size=3), parts).map(
        lambda drawn: (drawn[0] + [op for part in drawn[1] for op in part])[:max_size]
    )


_JOURNEY = (
    desk.DeskAction.PAY,
    desk.DeskAction.PICK,
    desk.DeskAction.SHIP,
    desk.DeskAction.CASE,
    desk.DeskAction.REFUND,
)


# What becomes of a price change just asked for: decided, or left to lapse;
# and the order paid at the price it left, once or twice (a retry).
_FATES: Final[tuple[tuple[desk.DeskAction | DeskOperation, ...], ...]] = (
    (desk.DeskAction.APPROVE_PRICE_CHANGE, desk.DeskAction.PAY),
    (desk.DeskAction.REJECT_PRICE_CHANGE,),
    (DeskOperation.wait(20), desk.DeskAction.EXPIRE_PRICE_CHANGE),
    (desk.DeskAction.PAY, desk.DeskAction.REPEAT),
)


def _onward(action: desk.DeskAction, pick: int) -> DeskOperation:
    if action in desk.TIMERS:
        return DeskOperation.timer(action)
    return DeskOperation.on(action, pick)
