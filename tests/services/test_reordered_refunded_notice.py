"""A notice refunded in full, delivered before the notice of its capture.

WooCommerce and Shopify state no capture for an order the channel refunded
in full before any goods left, only its refunds (the shop holds none of the
money). Webhooks are not ordered: when that notice comes first, the desk
takes the order in with refunds it cannot place yet, and they are parked in
its trail; the older notice of the capture, whichever way it reaches the
order, places them before it applies. Either arrival order ends with
nothing owed back and the same payment ledger.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.services._samples import backend

from orderkit.adapters.channels import ShopifyPayloads, WooCommercePayloads
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter
from orderkit.integrations import ChannelOrder, ChannelRecord, load_json
from orderkit.money import Money
from orderkit.orders import Order, OrderStatus, PaymentCaptured, Recorded, Unchanged
from orderkit.orders._payments import RefundLine
from orderkit.orders._status import ENDED
from orderkit.ports import ChannelPayloads, UnitOfWork
from orderkit.services import Accepted, AlreadyAccepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import ChannelContract, Sample


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "channels"
WOO = FIXTURES / "woocommerce" / "order-v3-retrieve-2-line-items-shipping-tax.json"
SHOPIFY = FIXTURES / "shopify" / "order-3-line-items-discount-shipping.json"
SHOPIFY_REFUND = FIXTURES / "shopify" / "refund-2-line-items-restock.json"
WOO_ID, SHOPIFY_ID = "727", "450789469"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


# ---------------------------------------------------------------------------
# The notices


def _woo(body: dict[str, Any]) -> ChannelOrder:
    [record] = WooCommercePayloads().parse(body, topic="order.updated")
    assert isinstance(record, ChannelOrder)
    return record


def woo_paid() -> ChannelOrder:
    """WooCommerce's order 727, processing: paid 29.35."""
    return _woo(json.loads(WOO.read_text(encoding="utf-8")))


def woo_refunds(*totals: str) -> list[dict[str, Any]]:
    """The order's `refunds`, as WooCommerce lists them: ids 9001 on."""
    return [
        {"id": 9001 + i, "reason": "buyer asked", "total": f"-{total}"}
        for i, total in enumerate(totals)
    ]


def woo_later(status: str, *totals: str, hour: int = 10) -> ChannelOrder:
    """A later notice of order 727: `status`, with refunds of `totals`."""
    body = json.loads(WOO.read_text(encoding="utf-8"))
    body.update(
        status=status,
        date_modified=f"2017-03-23T{hour:02}:00:00",
        date_modified_gmt=f"2017-03-23T{hour + 3:02}:00:00",
        refunds=woo_refunds(*totals),
    )
    return _woo(body)


def woo_cancelled_refunded() -> ChannelOrder:
    """Cancelled and refunded in full: states no capture, only its refund."""
    return woo_later("cancelled", "29.35")


def _shopify(changed: dict[str, Any]) -> ChannelOrder:
    body = load_json(SHOPIFY.read_bytes())
    body["order"].update(changed)
    [record] = ShopifyPayloads().parse(body, topic="orders/updated")
    assert isinstance(record, ChannelOrder)
    return record


def shopify_refund(amount: str, **changed: object) -> dict[str, Any]:
    """One refund of the fixture order, as Shopify embeds it in the order."""
    transaction = {
        "id": 179259969,
        "order_id": 450789469,
        "kind": "refund",
        "status": "success",
        "amount": amount,
        "currency": "USD",
        "created_at": "2008-01-11T10:00:00-05:00",
        "parent_id": 389404469,
    }
    # The units of the fixture refund: two of the order's three lines.
    units = load_json(SHOPIFY_REFUND.read_bytes())["refund"]["refund_line_items"]
    return {
        "id": 509562969,
        "order_id": 450789469,
        "transactions": [transaction],
        "refund_line_items": units,
        **changed,
    }


def shopify_paid() -> ChannelOrder:
    """Shopify's order #1001, paid 409.94."""
    return _shopify({"financial_status": "paid"})


def shopify_cancelled_refunded() -> ChannelOrder:
    """Cancelled, refunded in full before anything left: only its refund."""
    return _shopify(
        {
            "financial_status": "refunded",
            "cancelled_at": "2008-01-11T11:00:00-05:00",
            "cancel_reason": "customer",
            "fulfillments": [],
            "refunds": [shopify_refund("409.94")],
            "updated_at": "2008-01-11T11:00:00-05:00",
        }
    )


def shopify_refunded() -> ChannelOrder:
    """Refunded in full and not cancelled: Shopify states only its refund."""
    return _shopify(
        {
            "financial_status": "refunded",
            "fulfillments": [],
            "refunds": [shopify_refund("409.94")],
            "updated_at": "2008-01-11T11:00:00-05:00",
        }
    )


# ---------------------------------------------------------------------------
# The desk


def desk_for(
    unit: UnitOfWork, record: ChannelOrder, at: pendulum.DateTime
) -> OrderDesk:
    """A desk at W1 holding ten of each of the record's SKUs."""
    clock = FrozenClock(at)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        for line in record.placed.lines:
            if line.stocked:
                ledger.receive(line.sku, "W1", 10, key=f"PO:{line.sku}")
        uow.commit()
    return OrderDesk(
        unit, clock, DeskPolicy(locations=["W1"]), Fingerprinter.for_tests()
    )


def woo_desk(unit: UnitOfWork) -> OrderDesk:
    return desk_for(unit, woo_paid(), pendulum.datetime(2017, 3, 24))


def shopify_desk(unit: UnitOfWork) -> OrderDesk:
    return desk_for(unit, shopify_paid(), pendulum.datetime(2008, 1, 12))


def deliver(desk: OrderDesk, notices: Sequence[ChannelOrder]) -> None:
    """Each notice as a host gives it: `accept`, else `update`."""
    for notice in notices:
        if isinstance(desk.accept(notice), AlreadyAccepted):
            desk.update(notice)


def stored(unit: UnitOfWork, channel: str, order_id: str) -> Order:
    with unit as uow:
        order = uow.orders.get(channel, order_id)
    assert order is not None
    return order


def owed(unit: UnitOfWork) -> list[str]:
    """The amounts of the `refund` messages: money orderkit would send back."""
    with unit as uow:
        return [
            json.loads(m.payload)["amount"]
            for m in uow.outbox.unsent(limit=1000)
            if m.topic == "refund"
        ]


def money_of(order: Order) -> tuple[object, ...]:
    """What the order's payments and ledger say of its money."""
    ledger = order.payment_ledger
    assert ledger is not None
    return (
        order.status,
        tuple((p.payment_id, p.amount) for p in order.payments),
        tuple((p.payment_id, p.captured) for p in ledger.payments),
        tuple(
            (r.refund_id, r.payment_id, r.amount, r.state, r.lines)
            for r in ledger.refunds
        ),
        order.cancelled_units,
        order.review,
    )


def shelf(unit: UnitOfWork) -> list[tuple[str, int, int, int]]:
    """Each Shopify SKU at W1: on hand, reserved and allocated."""
    clock = FrozenClock(pendulum.datetime(2008, 1, 12))
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        balances = [
            (line.sku, ledger.balance(line.sku, "W1"))
            for line in shopify_paid().placed.lines
            if line.stocked
        ]
    return [(sku, b.on_hand, b.reserved, b.allocated) for sku, b in balances]


def woo_shelf(unit: UnitOfWork) -> list[tuple[str, int, int, int]]:
    """Each WooCommerce SKU at W1: on hand, reserved and allocated."""
    clock = FrozenClock(pendulum.datetime(2017, 3, 24))
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        balances = [
            (line.sku, ledger.balance(line.sku, "W1"))
            for line in woo_paid().placed.lines
            if line.stocked
        ]
    return [(sku, b.on_hand, b.reserved, b.allocated) for sku, b in balances]


def audit(unit: UnitOfWork, channel: str, order_id: str) -> list[str]:
    with unit as uow:
        return [r.event_type for r in uow.audit.records(channel, order_id)]


# ---------------------------------------------------------------------------
# WooCommerce


class TestWooCommerce:
    """orderkit's own WooCommerce adapter: order 727, paid, then cancelled."""

    def in_order(self, unit: UnitOfWork) -> Order:
        deliver(woo_desk(unit), [woo_paid(), woo_cancelled_refunded()])
        assert [] == owed(unit)
        return stored(unit, "woocommerce", WOO_ID)

    def test_the_cancelled_notice_first_owes_nothing(self, unit: UnitOfWork) -> None:
        deliver(woo_desk(unit), [woo_cancelled_refunded(), woo_paid()])

        assert [] == owed(unit)
        order = stored(unit, "woocommerce", WOO_ID)
        expected = self.in_order(MemoryUnitOfWork())
        assert money_of(expected) == money_of(order)
        assert OrderStatus.CANCELLED == order.status

    def test_the_refund_is_parked_at_intake(self, unit: UnitOfWork) -> None:
        desk = woo_desk(unit)

        taken = desk.accept(woo_cancelled_refunded())

        assert isinstance(taken, Accepted)
        assert taken.order.payment_ledger is None
        assert ["OrderPlaced", "ParkedChannelRefund", "Cancelled"] == audit(
            unit, "woocommerce", WOO_ID
        )
        with unit as uow:
            [parked] = [
                r
                for r in uow.audit.records("woocommerce", WOO_ID)
                if r.event_type == "ParkedChannelRefund"
            ]
        [refund] = woo_cancelled_refunded().refunds
        assert (refund.key, refund.created_at) == (parked.key, parked.occurred_at)

    def test_the_capture_recorded_alone_places_the_parked_refund(
        self, unit: UnitOfWork
    ) -> None:
        desk = woo_desk(unit)
        desk.accept(woo_cancelled_refunded())
        [capture] = woo_paid().events

        recorded = desk.record("woocommerce", WOO_ID, capture)

        assert () == recorded.refund_due
        assert [] == owed(unit)
        ledger = recorded.order.payment_ledger
        assert ledger is not None
        assert (usd("29.35"), usd("29.35")) == (ledger.captured, ledger.refunded)
        # The refund first, then the capture, in one unit.
        assert ["PaymentsRecorded", "PaymentCaptured"] == audit(
            unit, "woocommerce", WOO_ID
        )[-2:]

    def test_the_refund_webhook_later_changes_nothing(self, unit: UnitOfWork) -> None:
        desk = woo_desk(unit)
        deliver(desk, [woo_cancelled_refunded(), woo_paid()])
        before = stored(unit, "woocommerce", WOO_ID)
        [refund] = woo_cancelled_refunded().refunds

        again = desk.record_refund("woocommerce", WOO_ID, refund)

        assert isinstance(again, Unchanged)
        assert before == stored(unit, "woocommerce", WOO_ID)
        assert [] == owed(unit)

    def test_the_cancelled_notice_again_parks_nothing_more(
        self, unit: UnitOfWork
    ) -> None:
        desk = woo_desk(unit)
        desk.accept(woo_cancelled_refunded())
        before = audit(unit, "woocommerce", WOO_ID)

        [again] = desk.update(woo_cancelled_refunded())[:1]

        assert isinstance(again, Unchanged)
        assert before == audit(unit, "woocommerce", WOO_ID)

    def test_an_unpaid_notice_first_then_the_refunded_one_parks_it(
        self, unit: UnitOfWork
    ) -> None:
        # Placed awaiting payment, then cancelled and refunded in full (the
        # notice of the payment is late): `update` parks the refund rather
        # than fail, and the late capture places it.
        body = json.loads(WOO.read_text(encoding="utf-8"))
        body.update(status="pending", date_paid_gmt=None, date_paid=None)
        desk = woo_desk(unit)
        desk.accept(_woo(body))

        [parked, *_] = desk.update(woo_cancelled_refunded())
        assert isinstance(parked, Recorded)
        assert OrderStatus.CANCELLED == stored(unit, "woocommerce", WOO_ID).status
        deliver(desk, [woo_paid()])

        assert [] == owed(unit)
        ledger = stored(unit, "woocommerce", WOO_ID).payment_ledger
        assert ledger is not None
        assert usd("29.35") == ledger.refunded

    def test_a_notice_stating_the_capture_and_a_refund_places_the_rest(
        self, unit: UnitOfWork
    ) -> None:
        # Refunded 10.00 and 19.35 before the cancellation; the notice of the
        # first refund (it states the capture) comes after the cancelled one.
        desk = woo_desk(unit)
        desk.accept(woo_later("cancelled", "10.00", "19.35", hour=12))

        deliver(desk, [woo_later("processing", "10.00", hour=10)])

        assert [] == owed(unit)
        ledger = stored(unit, "woocommerce", WOO_ID).payment_ledger
        assert ledger is not None
        assert ["10.00", "19.35"] == [str(r.amount.amount) for r in ledger.refunds]

    def test_a_larger_reading_of_a_parked_refund_grows_it(
        self, unit: UnitOfWork
    ) -> None:
        # The refund read first for part of its money (a transaction of it
        # pending), then for all of it: both parked, each under a key of its
        # own, and the late capture owes nothing back.
        full = woo_cancelled_refunded()
        [refund] = full.refunds
        part = attrs.evolve(full, refunds=(attrs.evolve(refund, amount=usd("20.00")),))
        desk = woo_desk(unit)
        desk.accept(part)

        desk.update(full)
        deliver(desk, [woo_paid()])

        assert [] == owed(unit)
        ledger = stored(unit, "woocommerce", WOO_ID).payment_ledger
        assert ledger is not None
        assert [("9001", usd("29.35"))] == [
            (r.refund_id, r.amount) for r in ledger.refunds
        ]
        with unit as uow:
            trail = uow.audit.records("woocommerce", WOO_ID)
        keys = [(r.event_type, r.key) for r in trail]
        assert len(set(keys)) == len(keys)

    def test_units_a_parked_refund_names_go_back_once_the_capture_commits(
        self, unit: UnitOfWork
    ) -> None:
        # An adapter stating, for an order refunded in full and not
        # cancelled, only its refund with its units (as Shopify's does):
        # the same shelf whichever notice comes first.
        paid = woo_paid()
        [refund] = woo_cancelled_refunded().refunds
        units = tuple(
            RefundLine(line.line_id, line.quantity) for line in paid.placed.lines
        )
        refunded = attrs.evolve(
            paid, events=(), refunds=(attrs.evolve(refund, lines=units),)
        )
        deliver(woo_desk(unit), [refunded, paid])
        other = MemoryUnitOfWork()
        deliver(woo_desk(other), [paid, refunded])

        late, in_order = (
            stored(unit, "woocommerce", WOO_ID),
            stored(other, "woocommerce", WOO_ID),
        )
        assert money_of(in_order) == money_of(late)
        assert units == late.cancelled_units
        assert woo_shelf(other) == woo_shelf(unit)
        assert [] == owed(unit)

    def test_a_parked_refund_beyond_the_capture_holds_the_order(
        self, unit: UnitOfWork
    ) -> None:
        # The channel says it paid back more than the capture took: a person's.
        body = json.loads(WOO.read_text(encoding="utf-8"))
        body.update(
            status="cancelled",
            date_modified_gmt="2017-03-23T13:00:00",
            total="40.00",
            refunds=woo_refunds("40.00"),
        )
        desk = woo_desk(unit)
        desk.accept(_woo(body))

        deliver(desk, [woo_paid()])

        order = stored(unit, "woocommerce", WOO_ID)
        assert "refund" in order.review
        assert order.payment_ledger is None or not order.payment_ledger.refunds
        # Nothing sent back by a saga: the buyer may be paid twice.
        assert [] == owed(unit)
        assert order.saga is None


# ---------------------------------------------------------------------------
# Shopify


class TestShopify:
    """Shopify states no capture, only its refunds, for an order refunded in full."""

    @pytest.mark.parametrize("later", [shopify_cancelled_refunded, shopify_refunded])
    def test_either_arrival_order_ends_the_same(
        self, later: Any, unit: UnitOfWork
    ) -> None:
        notice = later()
        assert not any(isinstance(e, PaymentCaptured) for e in notice.events)
        assert notice.refunds

        deliver(shopify_desk(unit), [notice, shopify_paid()])

        assert [] == owed(unit)
        other = MemoryUnitOfWork()
        deliver(shopify_desk(other), [shopify_paid(), later()])
        assert [] == owed(other)
        assert money_of(stored(other, "shopify", SHOPIFY_ID)) == money_of(
            stored(unit, "shopify", SHOPIFY_ID)
        )
        # The refunded units are cancelled either way, and the shelf the same.
        assert stored(unit, "shopify", SHOPIFY_ID).cancelled_units
        assert shelf(other) == shelf(unit)

    def test_the_refund_and_its_units_come_off_the_late_capture(
        self, unit: UnitOfWork
    ) -> None:
        desk = shopify_desk(unit)
        desk.accept(shopify_cancelled_refunded())

        desk.update(shopify_paid())

        ledger = stored(unit, "shopify", SHOPIFY_ID).payment_ledger
        assert ledger is not None
        [refund] = ledger.refunds
        assert ("order-450789469", "409.94") == (
            refund.payment_id,
            str(refund.amount.amount),
        )


# ---------------------------------------------------------------------------
# Every arrival order


WOO_NOTICES: dict[str, Callable[[], ChannelOrder]] = {
    "paid": woo_paid,
    "refunded": lambda: woo_later("processing", "10.00", hour=10),
    "cancelled_refunded": lambda: woo_later("cancelled", "10.00", "19.35", hour=12),
    "cancelled_partly": lambda: woo_later("cancelled", "10.00", hour=12),
}
_SETS: dict[tuple[str, ...], tuple[str, str]] = {
    # Refunded in full: nothing is owed back.
    ("paid", "refunded", "cancelled_refunded"): ("29.35", "29.35"),
    # Cancelled after a partial refund (it states the capture): the rest.
    ("paid", "refunded", "cancelled_partly"): ("29.35", "10.00"),
}


@given(
    chosen=st.sampled_from(sorted(_SETS)).flatmap(
        lambda names: st.tuples(
            st.just(names),
            st.permutations(names),
            st.lists(st.sampled_from(names), max_size=2),
        )
    ),
    kind=st.sampled_from(["memory", "sqlite"]),
)
def test_every_arrival_order_owes_captured_less_refunded(
    chosen: tuple[tuple[str, ...], list[str], list[str]], kind: str
) -> None:
    names, order, again = chosen
    captured, refunded = _SETS[names]
    with tempfile.TemporaryDirectory() as folder:
        # One pass: the backend is closed once the loop ends.
        for unit in backend(kind, Path(folder) / "backend.db"):
            deliver(woo_desk(unit), [WOO_NOTICES[n]() for n in [*order, *again]])
            stored_order = stored(unit, "woocommerce", WOO_ID)
            sent = owed(unit)
    ledger = stored_order.payment_ledger
    assert ledger is not None
    assert (usd(captured), usd(refunded)) == (ledger.captured, ledger.refunded)
    left = usd(captured) - usd(refunded)
    assert ([str(left.amount)] if left.amount else []) == sent
    assert OrderStatus.CANCELLED == stored_order.status
    assert () == stored_order.review


# ---------------------------------------------------------------------------
# The channel contract's late-capture rule


def _woo_refunded_in_full(payload: Any) -> Any:
    payload.update(
        status="cancelled",
        date_modified_gmt="2017-03-23T13:00:00",
        refunds=woo_refunds(payload["total"]),
    )
    return payload


class TestWooCommerceLateCapture(ChannelContract):
    """orderkit's WooCommerce adapter keeps the late-capture rule."""

    def make_channel(self) -> ChannelPayloads:
        return WooCommercePayloads(currency="USD")

    def samples(self) -> list[Sample]:
        return [Sample.from_file(WOO, "order.updated")]

    def with_status(self, payload: Any, topic: str, status: str) -> Any | None:  # noqa: ARG002 - a hook
        payload["status"] = status
        return payload

    def refunded_in_full(self, payload: Any, topic: str) -> Any | None:  # noqa: ARG002 - decoded JSON
        return _woo_refunded_in_full(payload)


class _Forgetful:
    """An adapter that leaves the hole: refunded in full, it states no refund."""

    def __init__(self) -> None:
        self._woo = WooCommercePayloads(currency="USD")

    @property
    def channel(self) -> str:
        return self._woo.channel

    @property
    def topics(self) -> frozenset[str]:
        return self._woo.topics

    def parse(self, payload: object, *, topic: str) -> tuple[ChannelRecord, ...]:
        return tuple(
            attrs.evolve(record, refunds=())
            if isinstance(record, ChannelOrder) and record.status in ENDED
            else record
            for record in self._woo.parse(payload, topic=topic)
        )


class _ForgetfulContract(ChannelContract):
    """The rule run on `_Forgetful`: not collected (no `Test` prefix)."""

    def make_channel(self) -> ChannelPayloads:
        return _Forgetful()

    def samples(self) -> list[Sample]:
        return [Sample.from_file(WOO, "order.updated")]

    def refunded_in_full(self, payload: Any, topic: str) -> Any | None:  # noqa: ARG002 - decoded JSON
        return _woo_refunded_in_full(payload)


def test_the_late_capture_rule_catches_an_adapter_stating_no_refund() -> None:
    contract = _ForgetfulContract()
    with pytest.raises(AssertionError, match="state the refunds"):
        contract.test_a_late_capture_owes_back_what_the_channel_holds(
            contract.make_channel()
        )
