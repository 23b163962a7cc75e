"""The order desk: intake, events and timers, each in one unit of work."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from tests.services._samples import SLA, awaiting_payment, cny

from orderkit.adapters.channels import ShopifyPayloads
from orderkit.dedupe import Fingerprinter, IdempotencyKey, ReviewState
from orderkit.errors import (
    IllegalTransition,
    StoreError,
    TransientError,
    UnknownOrder,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    FulfilmentStage,
    PickLine,
    PickTask,
    TrackingEvent,
    TrackingStatus,
    load_json,
)
from orderkit.inventory import Backorder, Preorder
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    Cancelled,
    Completed,
    FieldChange,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    Recorded,
    ReturnLine,
    Saga,
    ShipmentLine,
    Shipped,
    Unchanged,
    approve_case,
    inspect_return,
    receive_return,
    refund_case,
    request_return,
    resolve_case,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import (
    ApprovalTiers,
    LimitRule,
    LimitScope,
    PaymentLedger,
    PriceFloor,
    PricingPolicy,
)
from orderkit.services import (
    DEFAULT_PICKING_ORDER,
    Accepted,
    AlreadyAccepted,
    DeskPolicy,
    DuplicateDetector,
    Held,
    Ledger,
    OrderDesk,
    PickingKey,
    RefusalReason,
    Refused,
    StuckOrder,
    StuckReason,
    status_changed_at,
    stuck_orders,
)
from orderkit.services import _desk as desk_module
from orderkit.services._desk_notes import held_for
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 0, 0)  # Singles' Day, 08:00 in Shanghai
SECRET = b"desk-tests-secret-0123456789"
WINDOW = dt.timedelta(days=1)
TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))


def key(order_id: str, kind: str, n: str = "1") -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, order_id, n)


def incoming(
    order_id: str = "DY-1001",
    *,
    buyer: str = "buyer-42",
    phone: str | None = "+8613800138000",
    quantity: int = 2,
    price: str = "199.00",
    stated: str | None = None,
    events: tuple[OrderEvent, ...] = (),
    at: pendulum.DateTime = T0,
) -> ChannelOrder:
    """A retro alarm clock or two, bought in a Douyin live stream."""
    placed = OrderPlaced(
        order_id=order_id,
        key=key(order_id, "trade.created"),
        occurred_at=at,
        channel="douyin",
        buyer=Buyer(buyer, "李雷", phone=phone),
        address=Address("CN", "北京市", "北京市", "朝阳区", f"建国路 {order_id} 号"),
        lines=[OrderLine("L1", "RETRO-CLOCK", quantity, cny(price))],
    )
    stated_total = None if stated is None else cny(stated)
    return awaiting_payment(placed, stated=stated_total, events=events)


def paid(
    order_id: str = "DY-1001",
    amount: str = "398.00",
    at: pendulum.DateTime | None = None,
) -> PaymentCaptured:
    """Alipay's capture of `amount` for the order, five minutes in unless `at`."""
    return PaymentCaptured(
        order_id=order_id,
        key=key(order_id, "trade.paid"),
        occurred_at=T0.add(minutes=5) if at is None else at,
        payment_id=f"alipay-{order_id}",
        amount=cny(amount),
    )


def buyer_cancelled() -> Cancelled:
    """The buyer cancels DY-1001 an hour in."""
    return Cancelled(
        order_id="DY-1001",
        key=key("DY-1001", "trade.cancelled"),
        occurred_at=T0.add(hours=1),
        reason="buyer changed their mind",
    )


def picking_started() -> PickingStarted:
    """The warehouse starts picking DY-1001, two hours in."""
    return PickingStarted(
        order_id="DY-1001",
        key=key("DY-1001", "wms.picking"),
        occurred_at=T0.add(hours=2),
    )


def parcel_shipped(units: int = 2) -> Shipped:
    """DY-1001's parcel S1, with `units` clocks, handed to SF Express three hours in."""
    return Shipped(
        order_id="DY-1001",
        key=key("DY-1001", "wms.shipped"),
        occurred_at=T0.add(hours=3),
        shipment_id="S1",
        lines=[ShipmentLine("L1", units)],
        carrier="SF",
        tracking_number="SF1400123456",
    )


def stock(unit: UnitOfWork, clock: FrozenClock, quantity: int = 10) -> None:
    with unit as uow:
        Ledger(uow.ledger, clock).receive("RETRO-CLOCK", "BJ-1", quantity)
        uow.commit()


def desk(unit: UnitOfWork, clock: FrozenClock, **policy: Any) -> OrderDesk:
    return OrderDesk(
        unit, clock, DeskPolicy(locations=["BJ-1"], **policy), Fingerprinter(SECRET)
    )


def desk_with_order(
    unit: UnitOfWork, clock: FrozenClock, *events: OrderEvent
) -> OrderDesk:
    """A stocked desk that has accepted DY-1001, with `events` at intake."""
    stock(unit, clock)
    the_desk = desk(unit, clock)
    the_desk.accept(incoming(events=events))
    return the_desk


def held_for_its_price(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """DY-1001 taken in at 99.00 a clock, under a 150.00 floor: held, no stock."""
    stock(unit, clock)
    policy = PricingPolicy(floors=[PriceFloor("RETRO-CLOCK", cny("150.00"))])
    the_desk = desk(unit, clock, pricing=policy)
    the_desk.accept(incoming(price="99.00"))
    return the_desk


def sold_out_meanwhile(
    unit: UnitOfWork, clock: FrozenClock, order_id: str
) -> OrderDesk:
    """`order_id` taken in; 40 minutes on its hold lapsed and DY-2 took both clocks."""
    stock(unit, clock, quantity=2)
    the_desk = desk(unit, clock)
    the_desk.accept(incoming(order_id))
    clock.advance(minutes=40)
    other = incoming("DY-2", buyer="buyer-43", phone=None, at=clock.now())
    assert isinstance(the_desk.accept(other), Accepted)
    return the_desk


def refund_messages(unit: UnitOfWork) -> list[dict[str, Any]]:
    """The bodies of the refund messages waiting in the outbox."""
    return [body for topic, body in outbox(unit) if topic == "refund"]


def balance(unit: UnitOfWork, clock: FrozenClock) -> tuple[int, int, int]:
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance("RETRO-CLOCK", "BJ-1")
    return (b.on_hand, b.reserved, b.allocated)


def outbox(unit: UnitOfWork) -> list[tuple[str, dict[str, Any]]]:
    with unit as uow:
        return [(m.topic, json.loads(m.payload)) for m in uow.outbox.unsent()]


class TestAccept:
    """An order in: checked, its stock held, stored with its messages."""

    def test_accepted_holds_stock_until_the_payment_deadline(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        outcome = desk(unit, clock).accept(incoming())
        assert isinstance(outcome, Accepted)
        assert outcome.order.status is OrderStatus.PENDING_PAYMENT
        assert balance(unit, clock) == (10, 2, 0)
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1001") == outcome.order
            assert [r.event_type for r in uow.audit.records("douyin", "DY-1001")] == [
                "OrderPlaced"
            ]
            (hold,) = uow.ledger.holds(owner="order:douyin:DY-1001")
            assert hold.expires_at == T0.add(minutes=30)
        topics = outbox(unit)
        told = {"sku": "RETRO-CLOCK", "sellable": 8, "locations": {"BJ-1": 8}}
        assert ("sellable", told) in topics
        milestone = next(body for topic, body in topics if topic == "milestone")
        assert milestone["template"] == "order.submitted.zh"
        assert milestone["recipient"] == "+8613800138000"

    def test_a_redelivered_order_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        first = desk(unit, clock).accept(incoming())
        assert isinstance(first, Accepted)
        again = desk(unit, clock).accept(incoming())
        assert again == AlreadyAccepted(first.order)
        assert balance(unit, clock) == (10, 2, 0)

    def test_out_of_stock_is_refused_and_leaves_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock, quantity=1)
        outcome = desk(unit, clock).accept(incoming())
        assert isinstance(outcome, Refused)
        assert outcome.reason is RefusalReason.OUT_OF_STOCK
        [shortage] = outcome.shortages
        assert (shortage.sku, shortage.requested, shortage.available) == (
            "RETRO-CLOCK",
            2,
            1,
        )
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1001") is None
            assert uow.outbox.unsent() == []
            assert uow.detector.orders_of_buyer("+8613800138000") == []
        assert balance(unit, clock) == (1, 0, 0)

    def test_a_backordered_sku_is_taken_as_far_as_its_policy_lets_it(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock, quantity=1)
        with unit as uow:
            Ledger(uow.ledger, clock).set_policy("RETRO-CLOCK", Backorder(2))
            uow.commit()
        the_desk = desk(unit, clock)
        assert isinstance(the_desk.accept(incoming("DY-1", quantity=3)), Accepted)
        assert balance(unit, clock) == (1, 3, 0)
        outcome = the_desk.accept(incoming("DY-2", buyer="buyer-43", phone=None))
        assert isinstance(outcome, Refused)
        [shortage] = outcome.shortages
        assert (shortage.requested, shortage.available) == (2, 0)

    def test_stock_on_hand_elsewhere_comes_before_a_backorder(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            ledger.receive("RETRO-CLOCK", "BJ-1", 1)
            ledger.receive("RETRO-CLOCK", "SH-1", 10)
            ledger.set_policy("RETRO-CLOCK", Backorder(5))
            uow.commit()
        policy = DeskPolicy(locations=["BJ-1", "SH-1"])
        the_desk = OrderDesk(unit, clock, policy, Fingerprinter(SECRET))

        assert isinstance(the_desk.accept(incoming()), Accepted)  # 2 units

        with unit as uow:
            holds = uow.ledger.holds(owner="order:douyin:DY-1001")
        assert [(h.location, h.quantity) for h in holds] == [("SH-1", 2)]

    def test_a_closed_preorder_takes_only_the_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock, quantity=1)
        with unit as uow:
            closed = Preorder(5, ends_at=T0.subtract(hours=1))
            Ledger(uow.ledger, clock).set_policy("RETRO-CLOCK", closed)
            uow.commit()
        outcome = desk(unit, clock).accept(incoming())
        assert isinstance(outcome, Refused)
        [shortage] = outcome.shortages
        assert (shortage.requested, shortage.available) == (2, 1)

    def test_purchase_limits_refuse_before_pricing_and_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        rule = LimitRule(LimitScope.BUYER, limit=1, window=dt.timedelta(days=1))
        the_desk = desk(unit, clock, limits=[rule])
        assert isinstance(the_desk.accept(incoming("DY-1", quantity=1)), Accepted)
        refused = the_desk.accept(incoming("DY-2", quantity=1, price="1.00"))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS
        assert refused.overages
        assert balance(unit, clock) == (10, 1, 0)

    def test_an_order_taken_in_already_ended_buys_nothing_and_owes_its_refund(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Paid, then cancelled before the desk heard of it: no limit counts it."""
        stock(unit, clock)
        rule = LimitRule(LimitScope.BUYER, limit=1, window=dt.timedelta(days=1))
        the_desk = desk(unit, clock, limits=[rule])

        def ended(order_id: str, quantity: int, owed: str) -> ChannelOrder:
            cancelled = attrs.evolve(
                buyer_cancelled(), order_id=order_id, key=key(order_id, "cancel")
            )
            events = (paid(order_id, owed), cancelled)
            return incoming(order_id, quantity=quantity, events=events)

        # Each buys a different number of clocks: none is a suspected duplicate.
        first = the_desk.accept(ended("DY-1", 1, "199.00"))
        live = the_desk.accept(incoming("DY-2", quantity=2))  # the one use
        second = the_desk.accept(ended("DY-3", 3, "597.00"))

        assert isinstance(first, Accepted)
        assert isinstance(live, Accepted)
        assert isinstance(second, Accepted), second
        for intake, owed in ((first, "199.00"), (second, "597.00")):
            assert intake.order.status is OrderStatus.CANCELLED
            saga = intake.order.saga
            assert saga is not None
            assert (saga.name, saga.amount) == ("refund", cny(owed))
        refused = the_desk.accept(incoming("DY-4", quantity=4))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS

    @pytest.mark.parametrize("phone", ["10086", "123"])
    def test_a_phone_no_key_can_be_read_from_is_outside_phone_limits(
        self, unit: UnitOfWork, clock: FrozenClock, phone: str
    ) -> None:
        stock(unit, clock)
        rules = [
            LimitRule(LimitScope.PHONE, limit=1, window=dt.timedelta(days=1)),
            LimitRule(LimitScope.ADDRESS, limit=1, window=dt.timedelta(days=1)),
        ]
        accepted = desk(unit, clock, limits=rules).accept(incoming(phone=phone))
        assert isinstance(accepted, Accepted)

    def test_a_national_number_counts_in_the_channels_region_against_limits(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """One US buyer, once in national form, once in E.164: one phone key."""
        stock(unit, clock)
        rule = LimitRule(LimitScope.PHONE, limit=1, window=dt.timedelta(days=1))
        the_desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["BJ-1"], limits=[rule]),
            Fingerprinter(SECRET, channel_regions={"douyin": "US"}),
        )
        first = the_desk.accept(incoming("DY-1", buyer="b-1", phone="(502) 555-0143"))
        assert isinstance(first, Accepted)
        again = the_desk.accept(incoming("DY-2", buyer="b-2", phone="+15025550143"))
        assert isinstance(again, Refused)
        assert again.reason is RefusalReason.LIMITS

    def test_an_order_held_or_cancelled_still_counts_against_limits(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Limits count attempts to buy: cancelling makes no room in the window."""
        stock(unit, clock)
        the_desk = desk(
            unit,
            clock,
            limits=[LimitRule(LimitScope.BUYER, limit=1, window=dt.timedelta(days=1))],
            pricing=PricingPolicy(floors=[PriceFloor("RETRO-CLOCK", cny("150.00"))]),
            duplicate_window=dt.timedelta(hours=1),
        )
        held = the_desk.accept(incoming("DY-1", price="99.00"))
        assert isinstance(held, Held)
        refused = the_desk.accept(incoming("DY-2"))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS
        cancel = attrs.evolve(
            buyer_cancelled(), order_id="DY-1", key=key("DY-1", "cancel")
        )
        assert (
            the_desk.record("douyin", "DY-1", cancel).order.status
            is OrderStatus.CANCELLED
        )
        again = the_desk.accept(incoming("DY-3"))
        assert isinstance(again, Refused)
        assert again.reason is RefusalReason.LIMITS
        clock.advance(days=1)
        later = the_desk.accept(incoming("DY-4", at=T0.add(days=1)))
        assert isinstance(later, Accepted), later

    def test_an_order_id_as_long_as_stores_keep_is_taken_in_and_refunded(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Message ids and refund keys built from it fit, whatever its length."""
        stock(unit, clock)
        long_id = "T" * 255
        the_desk = desk(unit, clock)
        assert isinstance(the_desk.accept(incoming(long_id)), Accepted)
        the_desk.record("douyin", long_id, paid(long_id))
        cancel = Cancelled(
            order_id=long_id,
            key=key(long_id, "trade.cancelled"),
            occurred_at=T0.add(hours=1),
            reason="buyer changed their mind",
        )
        the_desk.record("douyin", long_id, cancel)
        with unit as uow:
            ids = [m.message_id for m in uow.outbox.unsent()]
        assert ids
        assert all(len(i) <= 255 for i in ids)
        assert len(refund_messages(unit)) == 1
        assert balance(unit, clock) == (10, 0, 0)

    def test_a_channel_total_the_policy_accepts_is_recorded_for_reconciliation(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        policy = PricingPolicy(totals="accept_channel")
        accepted = desk(unit, clock, pricing=policy).accept(incoming(stated="388.00"))

        assert isinstance(accepted, Accepted)
        warning = accepted.records[-1]
        assert warning.event_type == "PricingWarning"
        assert [(c.field, c.new) for c in warning.changes] == [
            ("stated_total", "388.00 CNY")
        ]
        assert accepted.order.version == warning.version == 2

    def test_a_price_below_the_floor_is_held_without_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        policy = PricingPolicy(floors=[PriceFloor("RETRO-CLOCK", cny("150.00"))])
        the_desk = desk(unit, clock, pricing=policy)
        outcome = the_desk.accept(incoming(price="99.00"))
        assert isinstance(outcome, Held)
        assert outcome.order.review == ("pricing",)
        assert "RETRO-CLOCK" in outcome.detail
        assert balance(unit, clock) == (10, 0, 0)
        released = the_desk.release("douyin", "DY-1001", actor="ops.wang")
        assert released.order.review == ()
        assert balance(unit, clock) == (10, 2, 0)
        with pytest.raises(IllegalTransition):
            the_desk.release("douyin", "DY-1001", actor="ops.wang")

    def test_a_held_order_paid_takes_no_stock_until_released(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = held_for_its_price(unit, clock)
        recorded = the_desk.record("douyin", "DY-1001", paid(amount="198.00"))
        assert recorded.order.review == ("pricing",)
        assert balance(unit, clock) == (10, 0, 0)
        the_desk.release("douyin", "DY-1001", actor="ops.wang")
        assert balance(unit, clock) == (10, 0, 2)  # held and committed: paid

    def test_an_event_the_order_cannot_take_holds_it_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        dollars = PaymentCaptured(
            order_id="DY-1001",
            key=key("DY-1001", "trade.paid"),
            occurred_at=T0.add(minutes=5),
            payment_id="alipay-DY-1001",
            amount=Money("398.00", "USD"),
        )
        outcome = desk(unit, clock).accept(incoming(events=(dollars,)))
        assert isinstance(outcome, Held)
        # A payment of its own reason: money the buyer paid stays a person's.
        assert outcome.order.review == ("payment",)
        assert "PaymentCaptured alipay-DY-1001" in outcome.detail
        assert balance(unit, clock) == (10, 0, 0)

    def test_a_payment_the_order_cannot_take_stays_a_persons_when_it_ends(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Taken in cancelled, or cancelled later: nothing else says it was paid."""
        stock(unit, clock)
        the_desk = desk(unit, clock)

        def dollars(order_id: str) -> PaymentCaptured:
            return PaymentCaptured(
                order_id=order_id,
                key=key(order_id, "trade.paid"),
                occurred_at=T0.add(minutes=5),
                payment_id=f"alipay-{order_id}",
                amount=Money("398.00", "USD"),
            )

        def cancel(order_id: str) -> Cancelled:
            return Cancelled(
                order_id=order_id,
                key=key(order_id, "trade.cancelled"),
                occurred_at=T0.add(hours=1),
                reason="buyer changed their mind",
            )

        ended = the_desk.accept(
            incoming("DY-1", events=(dollars("DY-1"), cancel("DY-1")))
        )
        assert isinstance(ended, Held)
        assert ended.order.status is OrderStatus.CANCELLED
        assert ended.order.review == ("payment",)
        held = the_desk.accept(incoming("DY-2", buyer="b-2", events=(dollars("DY-2"),)))
        assert isinstance(held, Held)
        later = the_desk.record("douyin", "DY-2", cancel("DY-2"))
        assert later.order.review == ("payment",)
        released = the_desk.release("douyin", "DY-2", actor="ops.wang")
        assert released.order.review == ()
        assert balance(unit, clock) == (10, 0, 0)

    def test_a_suspected_duplicate_is_held(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        the_desk = desk(unit, clock)
        assert isinstance(the_desk.accept(incoming("DY-1")), Accepted)
        second = the_desk.accept(incoming("DY-2"))
        assert isinstance(second, Held)
        assert second.order.review == ("duplicate",)
        assert "DY-1" in second.detail

    def test_releasing_a_suspected_duplicate_releases_its_review_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = held_duplicate(unit, clock)

        the_desk.release("douyin", "DY-2", actor="ops.wu")

        with unit as uow:
            assert list(uow.detector.pending()) == []
        assert balance(unit, clock) == (10, 4, 0)

    def test_a_duplicate_rejected_in_review_is_not_released(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = held_duplicate(unit, clock)
        with unit as uow:
            uow.detector.resolve(
                "douyin", "DY-2", ReviewState.REJECTED, actor="kefu", now=T0
            )
            uow.commit()

        with pytest.raises(IllegalTransition, match="rejected it as a duplicate"):
            the_desk.release("douyin", "DY-2", actor="ops.wu")

        assert balance(unit, clock) == (10, 2, 0)

    def test_a_duplicate_confirmed_and_pruned_in_the_detector_is_released(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # The reviewer confirmed it in the detector's queue (dedupe.md: the
        # order proceeds), and the routine prune forgot the suspicion since.
        the_desk = held_duplicate(unit, clock)
        with unit as uow:
            detector = DuplicateDetector(
                WINDOW, uow.detector, Fingerprinter(SECRET), clock
            )
            detector.confirm("douyin", "DY-2", actor="kefu")
            uow.commit()
        clock.advance(days=8)
        with unit as uow:
            pruned = DuplicateDetector(
                WINDOW, uow.detector, Fingerprinter(SECRET), clock
            )
            assert pruned.prune()
            uow.commit()
            assert uow.detector.suspicion("douyin", "DY-2") is None

        released = the_desk.release("douyin", "DY-2", actor="ops.wu")

        assert released.order.review == ()
        assert balance(unit, clock) == (10, 2, 0)  # DY-2's hold; DY-1's lapsed
        with unit as uow:
            assert uow.detector.suspicion("douyin", "DY-2") is None

    def test_a_duplicate_confirmed_in_the_detector_is_released_as_confirmed(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = held_duplicate(unit, clock)
        with unit as uow:
            uow.detector.resolve(
                "douyin", "DY-2", ReviewState.RELEASED, actor="kefu", now=T0
            )
            uow.commit()
        clock.advance(minutes=5)

        the_desk.release("douyin", "DY-2", actor="ops.wu")

        with unit as uow:
            suspicion = uow.detector.suspicion("douyin", "DY-2")
        assert suspicion is not None
        assert (suspicion.state, suspicion.actor, suspicion.resolved_at) == (
            ReviewState.RELEASED,
            "kefu",
            T0,
        )

    def test_a_racing_delivery_that_lost_the_stock_is_already_accepted(
        self, unit: UnitOfWork, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Two deliveries of one order race on a shared database: both read no
        # order, and the winner takes the last units and commits first.
        stock(unit, clock, quantity=2)
        the_desk = desk(unit, clock)
        assert isinstance(the_desk.accept(incoming()), Accepted)
        with unit as uow:
            store_type = type(uow.orders)
        real_get = store_type.get
        reads: list[str] = []

        def first_read_misses(store: Any, channel: str, order_id: str) -> Any:
            reads.append(order_id)
            return None if len(reads) == 1 else real_get(store, channel, order_id)

        monkeypatch.setattr(store_type, "get", first_read_misses)
        outcome = the_desk.accept(incoming())

        assert isinstance(outcome, AlreadyAccepted)
        assert balance(unit, clock) == (2, 2, 0)

    def test_a_duplicate_that_comes_in_cancelled_waits_for_nobody(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        the_desk = desk(unit, clock)
        the_desk.accept(incoming("DY-1"))
        cancel = Cancelled(
            order_id="DY-2",
            key=key("DY-2", "trade.cancelled"),
            occurred_at=T0,
            reason="duplicate",
        )

        done = the_desk.accept(incoming("DY-2", events=(cancel,)))

        assert isinstance(done, Accepted)
        assert (done.order.status, done.order.review) == (OrderStatus.CANCELLED, ())
        assert stuck(unit, clock.now().add(days=30)) == []
        assert balance(unit, clock) == (10, 2, 0)  # DY-1's hold alone

    def test_a_rejected_duplicate_cancelled_waits_for_nobody(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # dedupe.md: a duplicate rejected in review is cancelled by the host.
        the_desk = held_duplicate(unit, clock)
        with unit as uow:
            uow.detector.resolve(
                "douyin", "DY-2", ReviewState.REJECTED, actor="kefu", now=T0
            )
            uow.commit()
        cancel = Cancelled(
            order_id="DY-2",
            key=key("DY-2", "trade.cancelled"),
            occurred_at=T0,
            reason="duplicate",
        )

        done = the_desk.record("douyin", "DY-2", cancel)

        assert (done.order.status, done.order.review) == (OrderStatus.CANCELLED, ())
        assert stuck(unit, clock.now().add(days=30)) == []
        with unit as uow:
            last = uow.audit.records("douyin", "DY-2")[-1]
        assert (last.event_type, last.changes) == (
            "ReviewWithdrawn",
            (FieldChange("review", "duplicate", ""),),
        )


def stuck(unit: UnitOfWork, now: pendulum.DateTime) -> list[StuckOrder]:
    """The stuck orders of the desk's store at `now`, as the monitor sees them."""
    with unit as uow:
        orders = list(uow.orders.orders())
        changed = {
            (o.channel, o.order_id): status_changed_at(
                o, uow.audit.records(o.channel, o.order_id)
            )
            for o in orders
        }
    return stuck_orders(orders, now=now, changed_at=changed)


def held_duplicate(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A stocked desk holding DY-2 as a suspected duplicate of DY-1."""
    stock(unit, clock)
    the_desk = desk(unit, clock)
    the_desk.accept(incoming("DY-1"))
    the_desk.accept(incoming("DY-2"))
    return the_desk


class TestAllOrNothing:
    """A use case that fails half way leaves every store as it was."""

    def test_a_failing_outbox_undoes_the_order_and_its_stock(
        self, unit: UnitOfWork, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stock(unit, clock)
        with unit as uow:
            outbox_type = type(uow.outbox)

        def broken(*_args: object, **_kwargs: object) -> None:
            raise StoreError("outbox", "add", "disk full")

        monkeypatch.setattr(outbox_type, "add", broken)
        with pytest.raises(StoreError):
            desk(unit, clock).accept(incoming())
        monkeypatch.undo()
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1001") is None
            assert uow.audit.records("douyin", "DY-1001") == []
            assert uow.ledger.holds(owner="order:douyin:DY-1001") == []
        assert balance(unit, clock) == (10, 0, 0)
        assert isinstance(desk(unit, clock).accept(incoming()), Accepted)


class TestEvents:
    """Events move the order and its stock together."""

    def test_payment_commits_the_hold(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock)
        recorded = the_desk.record("douyin", "DY-1001", paid())
        assert recorded.order.status is OrderStatus.PAID
        assert balance(unit, clock) == (10, 0, 2)
        assert any(
            topic == "milestone" and body["template"] == "order.paid.zh"
            for topic, body in outbox(unit)
        )

    def test_an_order_paid_at_intake_is_committed_at_once(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        outcome = desk(unit, clock).accept(incoming(events=(paid(),)))
        assert isinstance(outcome, Accepted)
        assert outcome.order.status is OrderStatus.PAID
        assert balance(unit, clock) == (10, 0, 2)

    def test_early_events_stated_at_intake_are_parked_with_the_order(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # A cash-on-delivery order: picked and shipped before it is paid.
        stock(unit, clock)
        the_desk = desk(unit, clock)
        accepted = the_desk.accept(
            incoming(events=(picking_started(), parcel_shipped()))
        )
        assert isinstance(accepted, Accepted)
        assert accepted.order.status is OrderStatus.PENDING_PAYMENT
        assert accepted.order.parked == (picking_started(), parcel_shipped())
        assert [r.event_type for r in accepted.records] == [
            "OrderPlaced",
            "ParkedPickingStarted",
            "ParkedShipped",
        ]

        done = the_desk.record("douyin", "DY-1001", paid(at=T0.add(hours=5)))

        assert done.order.status is OrderStatus.SHIPPED
        assert done.order.parked == ()
        assert balance(unit, clock) == (8, 0, 0)

    def test_paid_and_cancelled_at_intake_owes_its_refund(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        cancel = buyer_cancelled()

        accepted = desk(unit, clock).accept(incoming(events=(paid(), cancel)))

        assert isinstance(accepted, Accepted)
        assert accepted.order.status is OrderStatus.CANCELLED
        saga = accepted.order.saga
        assert saga is not None
        assert (saga.name, saga.amount, saga.reference) == (
            "refund",
            cny("398.00"),
            "alipay-DY-1001",
        )
        assert [m["amount"] for m in refund_messages(unit)] == ["398.00"]
        assert balance(unit, clock) == (10, 0, 0)

    def test_a_second_refund_owed_at_intake_waits_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Paid, cancelled, paid again: a saga sends one back, a person the other."""
        stock(unit, clock)
        cancel = buyer_cancelled()
        late = PaymentCaptured(
            order_id="DY-1001",
            key=key("DY-1001", "trade.paid", "2"),
            occurred_at=T0.add(hours=2),
            payment_id="alipay-DY-1001-2",
            amount=cny("398.00"),
        )

        accepted = desk(unit, clock).accept(incoming(events=(paid(), cancel, late)))

        assert isinstance(accepted, Accepted)
        assert accepted.order.saga is not None
        assert accepted.order.saga.name == "refund"
        assert "refund" in accepted.order.review

    def test_a_parcel_of_units_the_ledger_never_gave_waits_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Its hold lapsed and the stock sold; the shop shipped from elsewhere."""
        stock(unit, clock, quantity=2)
        the_desk = desk(unit, clock)
        the_desk.accept(incoming())
        clock.advance(hours=1)  # the 30-minute payment window's hold lapses
        other = desk(unit, clock).accept(incoming("DY-2", buyer="buyer-7", phone=None))
        assert isinstance(other, Accepted)
        paid_late = the_desk.record("douyin", "DY-1001", paid(at=T0.add(minutes=50)))
        assert paid_late.order.review == ("stock",)
        the_desk.record("douyin", "DY-1001", picking_started())
        shipped = the_desk.record("douyin", "DY-1001", parcel_shipped())
        assert shipped.order.status is OrderStatus.SHIPPED
        assert shipped.order.review == ("stock",)

    def test_units_shipped_before_intake_are_taken_and_never_stay_allocated(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(
            unit, clock, paid(), picking_started(), parcel_shipped(1)
        )
        # One clock left before orderkit knew of the order: it is taken out
        # of stock as had the order come first, and the other is committed.
        assert balance(unit, clock) == (9, 0, 1)
        last = Shipped(
            order_id="DY-1001",
            key=key("DY-1001", "wms.shipped", "2"),
            occurred_at=T0.add(hours=4),
            shipment_id="S2",
            lines=[ShipmentLine("L1", 1)],
            carrier="SF",
            tracking_number="SF1400123457",
        )

        done = the_desk.record("douyin", "DY-1001", last)

        assert done.order.status is OrderStatus.SHIPPED
        assert balance(unit, clock) == (8, 0, 0)

    def test_a_payment_after_the_stock_sold_out_is_recorded_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = sold_out_meanwhile(unit, clock, "DY-1")

        late = the_desk.record("douyin", "DY-1", paid("DY-1", at=clock.now()))

        assert late.order.status is OrderStatus.PAID
        assert [p.payment_id for p in late.order.payments] == ["alipay-DY-1"]
        assert late.order.review == ("stock",)
        assert balance(unit, clock) == (2, 2, 0)  # DY-2's hold, untouched
        stock(unit, clock, quantity=2)
        released = the_desk.release("douyin", "DY-1", actor="ops.wu")
        assert released.order.review == ()
        assert balance(unit, clock) == (4, 2, 2)

    def test_a_payment_after_the_stock_sold_out_names_the_short_lines(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """The person reads what is missing, as for an order taken in paid short."""
        the_desk = sold_out_meanwhile(unit, clock, "DY-1")

        the_desk.record("douyin", "DY-1", paid("DY-1", at=clock.now()))

        with unit as uow:
            held = uow.audit.records("douyin", "DY-1")[-1]
        assert held.event_type == "HeldForReview"
        assert FieldChange("review", "", "stock") in held.changes
        assert (
            FieldChange(
                "shortages",
                "",
                "'RETRO-CLOCK' at all locations: requested 2, available 0",
            )
            in held.changes
        )

    def test_a_parcel_of_units_never_given_names_what_was_allocated(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Held for its price, never given stock, and shipped by the shop anyway."""
        the_desk = held_for_its_price(unit, clock)
        the_desk.record("douyin", "DY-1001", paid(amount="198.00"))
        the_desk.record("douyin", "DY-1001", picking_started())

        shipped = the_desk.record("douyin", "DY-1001", parcel_shipped())

        assert shipped.order.status is OrderStatus.SHIPPED
        assert shipped.order.review == ("pricing", "stock")
        with unit as uow:
            held = uow.audit.records("douyin", "DY-1001")[-1]
        assert held.event_type == "HeldForReview"
        assert (
            FieldChange(
                "shortages",
                "",
                "'RETRO-CLOCK' at all locations: requested 2, allocated 0",
            )
            in held.changes
        )
        assert balance(unit, clock) == (10, 0, 0)

    def test_a_cancelled_order_waiting_for_stock_waits_for_nobody(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = sold_out_meanwhile(unit, clock, "DY-1001")
        late = the_desk.record("douyin", "DY-1001", paid(at=clock.now()))
        assert late.order.review == ("stock",)

        done = the_desk.record("douyin", "DY-1001", buyer_cancelled())

        assert (done.order.status, done.order.review) == (OrderStatus.CANCELLED, ())
        # The money goes back through the refund saga, not through a person.
        assert done.order.saga is not None
        assert done.order.saga.name == "refund"
        assert [body["amount"] for body in refund_messages(unit)] == ["398.00"]
        with unit as uow:
            last = uow.audit.records("douyin", "DY-1001")[-1]
        assert (last.event_type, last.changes) == (
            "ReviewWithdrawn",
            (FieldChange("review", "stock", ""),),
        )
        assert balance(unit, clock) == (2, 2, 0)  # DY-2's hold, untouched
        later = clock.now().add(days=30)
        assert all(
            s.reason is not StuckReason.AWAITING_REVIEW for s in stuck(unit, later)
        )

    def test_an_ended_order_keeps_the_reasons_a_person_settles(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        desk_with_order(unit, clock, paid(), buyer_cancelled())
        with unit as uow:
            order = uow.orders.get("douyin", "DY-1001")
        assert order is not None
        waiting = attrs.evolve(
            order, review=("refund", "stock", "label", "pick", "carrier", "event")
        )

        ended, record = desk_module._withdrawn(waiting, clock.now())

        assert ended.review == ("refund", "label", "pick", "carrier")
        assert record.changes == (
            FieldChange(
                "review",
                "refund, stock, label, pick, carrier, event",
                "refund, label, pick, carrier",
            ),
        )

    def test_a_payment_the_store_finds_lapsed_holds_the_stock_again(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock)
        with unit as uow:
            (hold,) = uow.ledger.holds(owner="order:douyin:DY-1001")
        # Another worker, its clock ahead, writes just after the hold's expiry:
        # the store now judges the hold lapsed, though this clock says live.
        with unit as uow:
            ahead = FrozenClock(hold.expires_at.add(seconds=1))
            Ledger(uow.ledger, ahead).receive("MUG", "BJ-1", 1)
            uow.commit()
        clock.set(hold.expires_at.subtract(seconds=1))

        recorded = the_desk.record("douyin", "DY-1001", paid(at=clock.now()))

        assert recorded.order.status is OrderStatus.PAID
        assert recorded.order.review == ()
        assert balance(unit, clock) == (10, 0, 2)

    def test_an_early_shipment_is_parked_then_shipped(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock, paid())
        shipped = parcel_shipped()
        parked = the_desk.record("douyin", "DY-1001", shipped)
        assert parked.parked == (shipped,)
        assert parked.order.parked == (shipped,)
        assert balance(unit, clock) == (10, 0, 2)
        again = the_desk.record("douyin", "DY-1001", shipped)
        assert again.order == parked.order
        done = the_desk.record("douyin", "DY-1001", picking_started())
        assert done.order.status is OrderStatus.SHIPPED
        assert done.order.parked == ()
        assert balance(unit, clock) == (8, 0, 0)
        with unit as uow:
            trail = [r.event_type for r in uow.audit.records("douyin", "DY-1001")]
        assert trail == [
            "OrderPlaced",
            "PaymentCaptured",
            "ParkedShipped",
            "PickingStarted",
            "Shipped",
        ]

    def test_cancelling_after_payment_gives_stock_back_and_owes_a_refund(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock, paid())
        cancel = buyer_cancelled()
        recorded = the_desk.record("douyin", "DY-1001", cancel)
        assert recorded.order.status is OrderStatus.CANCELLED
        assert len(recorded.refund_due) == 1
        saga = recorded.order.saga
        assert saga is not None
        assert (saga.name, saga.step, saga.amount, saga.reference) == (
            "refund",
            "requested",
            cny("398.00"),
            "alipay-DY-1001",
        )
        assert balance(unit, clock) == (10, 0, 0)
        refunds = refund_messages(unit)
        assert refunds == [
            {
                "channel": "douyin",
                "order_id": "DY-1001",
                "amount": "398.00",
                "currency": "CNY",
            }
        ]

    def test_complete_after_delivery(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        the_desk.track("douyin", "DY-1001", scan("in_transit", "1"))
        the_desk.track("douyin", "DY-1001", scan("delivered", "2"))
        done = the_desk.record(
            "douyin",
            "DY-1001",
            Completed(
                order_id="DY-1001",
                key=key("DY-1001", "trade.finished"),
                occurred_at=T0.add(days=8),
            ),
        )
        assert done.order.status is OrderStatus.COMPLETED
        assert balance(unit, clock) == (8, 0, 0)

    @pytest.mark.parametrize("event", ["paid", None, 42])
    def test_not_an_event(
        self, unit: UnitOfWork, clock: FrozenClock, event: object
    ) -> None:
        the_desk = desk_with_order(unit, clock)
        with pytest.raises(ValidationError) as caught:
            the_desk.record("douyin", "DY-1001", event)  # type: ignore[arg-type]
        assert caught.value.field == "event"
        with pytest.raises(ValidationError) as caught:
            the_desk.track("douyin", "DY-1001", event)  # type: ignore[arg-type]
        assert caught.value.field == "scan"

    def test_an_unknown_order(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        with pytest.raises(UnknownOrder) as caught:
            desk(unit, clock).record("douyin", "DY-404", paid("DY-404"))
        assert caught.value.value == "DY-404"


class TestReading:
    """`order` reads an order as the desk holds it."""

    def test_the_order_as_stored(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        the_desk = desk_with_order(unit, clock, paid())
        read = the_desk.order("douyin", "DY-1001")
        with unit as uow:
            assert read == uow.orders.get("douyin", "DY-1001")
        assert read.status is OrderStatus.PAID

    def test_an_unknown_order(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        with pytest.raises(UnknownOrder) as caught:
            desk(unit, clock).order("douyin", "DY-404")
        assert caught.value.value == "DY-404"


def shipped_order(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """DY-1001 paid, picked and handed to SF Express."""
    the_desk = desk_with_order(unit, clock, paid())
    the_desk.record("douyin", "DY-1001", picking_started())
    the_desk.record("douyin", "DY-1001", parcel_shipped())
    return the_desk


def a_return(passed: bool) -> AfterSalesCase:
    """One clock back to Beijing, inspected."""
    return inspect_return(received_return(), passed=passed, at=T0.add(days=7)).case


def received_return() -> AfterSalesCase:
    """One clock back in Beijing, not inspected yet."""
    case = request_return(
        case_id="AS-1",
        order_id="DY-1001",
        payment_id="alipay-DY-1001",
        lines=[ReturnLine("L1", "RETRO-CLOCK", 1)],
        refund_amount=cny("199.00"),
        reason="七天无理由退货",
        requester="buyer:buyer-42",
        return_to="BJ-1",
        at=T0.add(days=3),
    )
    case = approve_case(case, "mgr.li", "finance", TIERS, T0.add(days=4))
    return receive_return(case, {}, {}, T0.add(days=6))


def amend_as_ops(
    the_desk: OrderDesk, part: AfterSalesCase, kind: str = "as"
) -> Recorded | Unchanged:
    """Store `part` on DY-1001 as ops.wu from the ERP, keyed by `kind`."""
    return the_desk.amend(
        "douyin",
        "DY-1001",
        part,
        key=key("DY-1001", kind),
        actor="ops.wu",
        source="erp",
    )


def scan(status: str, n: str, tracking: str = "SF1400123456") -> TrackingEvent:
    return TrackingEvent(
        carrier="SF",
        tracking_number=tracking,
        status=status,
        at=T0.add(hours=10 + int(n)),
        key=IdempotencyKey("sf", "route", tracking, n),
        carrier_code={"in_transit": "30", "delivered": "80", "exception": "99"}[status],
        description="快件异常" if status == "exception" else "",
    )


class _Warehouse:
    """A WMS that takes each pick task once, and can fail the first call."""

    def __init__(self, *, fail_once: bool = False) -> None:
        self.tasks: dict[str, PickTask] = {}
        self.fail_once = fail_once

    def create_pick_task(self, task: PickTask) -> str:
        if self.fail_once:
            self.fail_once = False
            raise TransientError("wms.create_pick_task", "503 Service Unavailable")
        self.tasks.setdefault(task.task_id, task)
        return f"WMS-{task.task_id}"

    def parse_confirmation(self, payload: Any) -> Any:
        raise NotImplementedError


class TestPicking:
    """A paid order goes to the warehouse as pick tasks, once."""

    def test_pick_tasks_from_where_the_units_were_committed(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock, paid())
        wms = _Warehouse()
        started = the_desk.start_picking("douyin", "DY-1001", wms)
        assert started.order.status is OrderStatus.PICKING
        (task,) = wms.tasks.values()
        assert (task.location, task.lines) == (
            "BJ-1",
            (PickLine("L1", "RETRO-CLOCK", 2),),
        )
        with pytest.raises(IllegalTransition):
            the_desk.start_picking("douyin", "DY-1001", wms)

    def test_two_lines_of_one_sku_pick_each_unit_where_it_was_committed(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            ledger.receive("RETRO-CLOCK", "BJ-1", 3)
            ledger.receive("RETRO-CLOCK", "BJ-2", 2)
            uow.commit()
        placed = OrderPlaced(
            order_id="DY-1001",
            key=key("DY-1001", "trade.created"),
            occurred_at=T0,
            channel="douyin",
            buyer=Buyer("buyer-42", "李雷", phone=None),
            address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 1 号"),
            lines=[
                OrderLine("L1", "RETRO-CLOCK", 2, cny("199.00")),
                OrderLine("L2", "RETRO-CLOCK", 3, cny("199.00")),
            ],
        )
        policy = DeskPolicy(locations=["BJ-1", "BJ-2"])
        the_desk = OrderDesk(unit, clock, policy, Fingerprinter(SECRET))
        the_desk.accept(awaiting_payment(placed, events=(paid(amount="995.00"),)))
        wms = _Warehouse()
        the_desk.start_picking("douyin", "DY-1001", wms)
        assert {t.location: t.lines for t in wms.tasks.values()} == {
            "BJ-1": (
                PickLine("L1", "RETRO-CLOCK", 2),
                PickLine("L2", "RETRO-CLOCK", 1),
            ),
            "BJ-2": (PickLine("L2", "RETRO-CLOCK", 2),),
        }

    def test_a_failing_warehouse_is_retried_safely(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock, paid())
        wms = _Warehouse(fail_once=True)
        with pytest.raises(TransientError):
            the_desk.start_picking("douyin", "DY-1001", wms)
        with unit as uow:
            order = uow.orders.get("douyin", "DY-1001")
        assert order is not None
        assert order.status is OrderStatus.PAID
        retried = the_desk.start_picking("douyin", "DY-1001", wms)
        assert retried.order.status is OrderStatus.PICKING
        assert len(wms.tasks) == 1

    def test_an_order_cancelled_while_its_tasks_go_out_waits_for_a_person(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Another process cancels between the paid check and PickingStarted."""
        the_desk = desk_with_order(unit, clock, paid())

        class _CancelledMeanwhile(_Warehouse):
            def create_pick_task(self, task: PickTask) -> str:
                the_desk.record("douyin", "DY-1001", buyer_cancelled())
                return super().create_pick_task(task)

        wms = _CancelledMeanwhile()
        with pytest.raises(IllegalTransition) as refused:
            the_desk.start_picking("douyin", "DY-1001", wms)
        (task_id,) = wms.tasks
        assert task_id in refused.value.reason
        with unit as uow:
            order = uow.orders.get("douyin", "DY-1001")
        assert order is not None
        assert (order.status, order.review) == (OrderStatus.CANCELLED, ("pick",))

    def test_an_unpaid_order_is_not_picked(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock)
        with pytest.raises(IllegalTransition):
            the_desk.start_picking("douyin", "DY-1001", _Warehouse())


class TestTracking:
    """A carrier's scans move the parcel; an exception calls a person."""

    def test_in_transit_then_delivered(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        moving = the_desk.track("douyin", "DY-1001", scan("in_transit", "1"))
        assert moving.order.status is OrderStatus.IN_TRANSIT
        done = the_desk.track("douyin", "DY-1001", scan("delivered", "2"))
        assert done.order.status is OrderStatus.DELIVERED
        again = the_desk.track("douyin", "DY-1001", scan("delivered", "2"))
        assert again.order == done.order

    def test_an_exception_holds_the_order_once(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        held = the_desk.track("douyin", "DY-1001", scan("exception", "1"))
        assert held.order.review == ("carrier",)
        again = the_desk.track("douyin", "DY-1001", scan("exception", "2"))
        assert again.order.review == ("carrier",)  # held once, the scan kept
        same = the_desk.track("douyin", "DY-1001", scan("exception", "2"))
        assert same.order == again.order
        with unit as uow:
            last = uow.audit.records("douyin", "DY-1001")[-1]
        assert last.event_type == "HeldForReview"
        assert FieldChange("tracking", "", "99: 快件异常") in last.changes

    def test_each_hold_audits_the_reasons_it_found(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """A record's `old` is the review before it, whatever the order waited for."""
        the_desk = shipped_order(unit, clock)
        with unit as uow:
            order = uow.orders.get("douyin", "DY-1001")
            assert order is not None
            uow.orders.save(
                attrs.evolve(order, review=("label",), version=order.version + 1),
                order.version,
            )
            uow.commit()
        the_desk.track("douyin", "DY-1001", scan("exception", "1"))
        the_desk.track("douyin", "DY-1001", scan("exception", "2"))
        with unit as uow:
            records = uow.audit.records("douyin", "DY-1001")
        changes = [c for r in records for c in r.changes if c.field == "review"]
        assert changes == [
            FieldChange("review", "label", "label, carrier"),
            FieldChange("review", "label, carrier", "label, carrier"),
        ]

    def test_a_stock_or_refund_hold_audits_the_reasons_it_found(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Held for stock or a refund while waiting already: `old` is that review."""
        desk_with_order(unit, clock, paid())
        with unit as uow:
            order = uow.orders.get("douyin", "DY-1001")
        assert order is not None
        waiting = attrs.evolve(order, review=("label",))
        for reason in ("stock", "refund"):
            held, record = held_for(waiting, reason, clock.now())
            assert held.review == ("label", reason)
            assert record.changes == (
                FieldChange("review", "label", f"label, {reason}"),
            )

    def test_scans_sent_again_after_a_release_hold_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """A carrier re-sending its whole history: both exceptions seen before."""
        the_desk = shipped_order(unit, clock)
        the_desk.track("douyin", "DY-1001", scan("exception", "1"))
        the_desk.track("douyin", "DY-1001", scan("exception", "2"))
        the_desk.release("douyin", "DY-1001", actor="ops.li")
        for number in ("1", "2"):
            again = the_desk.track("douyin", "DY-1001", scan("exception", number))
            assert again.order.review == ()

    def test_a_scan_of_a_parcel_parked_before_its_picking_parks_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """Shipped came before PickingStarted; the carrier's scans come next."""
        the_desk = desk_with_order(unit, clock, paid())
        the_desk.record("douyin", "DY-1001", parcel_shipped())
        moving = the_desk.track("douyin", "DY-1001", scan("in_transit", "1"))
        assert moving.order.status is OrderStatus.PAID
        assert len(moving.order.parked) == 2
        picked = the_desk.record("douyin", "DY-1001", picking_started())
        assert picked.order.status is OrderStatus.IN_TRANSIT
        assert picked.order.parked == ()

    def test_a_late_exception_about_a_delivered_parcel_holds_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        the_desk.track("douyin", "DY-1001", scan("in_transit", "1"))
        done = the_desk.track("douyin", "DY-1001", scan("delivered", "2"))
        late = the_desk.track("douyin", "DY-1001", scan("exception", "3"))
        assert late.order == done.order

    def test_releasing_a_parcel_exception_holds_no_stock_twice(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock, paid())
        the_desk.record("douyin", "DY-1001", picking_started())
        the_desk.record("douyin", "DY-1001", parcel_shipped(units=1))
        assert balance(unit, clock) == (9, 0, 1)
        held = the_desk.track("douyin", "DY-1001", scan("exception", "1"))
        assert held.order.status is OrderStatus.PARTIALLY_SHIPPED
        released = the_desk.release("douyin", "DY-1001", actor="ops.wu")
        assert released.order.review == ()
        # The unit still to ship stays committed once, not held again.
        assert balance(unit, clock) == (9, 0, 1)

    def test_an_exception_scan_delivered_again_after_release_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        exception = scan("exception", "1")
        the_desk.track("douyin", "DY-1001", exception)
        released = the_desk.release("douyin", "DY-1001", actor="ops.wu")

        again = the_desk.track("douyin", "DY-1001", exception)

        assert again.order == released.order
        assert again.order.review == ()

    def test_a_parcel_the_order_does_not_have(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        with pytest.raises(ValidationError) as caught:
            the_desk.track("douyin", "DY-1001", scan("delivered", "1", "YT999"))
        assert caught.value.field == "tracking_number"


class TestAfterSales:
    """A case joins the order; a passed inspection puts the unit back on hand."""

    def test_a_passed_inspection_restocks_once(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        assert balance(unit, clock) == (8, 0, 0)
        outcome = amend_as_ops(the_desk, a_return(passed=True))
        assert isinstance(outcome, Recorded)
        assert outcome.order.after_sales == (a_return(passed=True),)
        assert balance(unit, clock) == (9, 0, 0)
        again = amend_as_ops(the_desk, a_return(passed=True), kind="as2")
        assert isinstance(again, Unchanged)
        assert balance(unit, clock) == (9, 0, 0)

    def test_the_passed_inspections_record_says_the_refund_saga_started(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """The trail shows the saga start that its `SagaEnded` later ends."""
        the_desk = shipped_order(unit, clock)
        outcome = amend_as_ops(the_desk, a_return(passed=True))
        assert isinstance(outcome, Recorded)
        assert outcome.order.saga is not None
        started = FieldChange("saga", "", "refund/requested")
        with unit as uow:
            trail = uow.audit.records("douyin", "DY-1001")
        assert trail[-1] == outcome.record
        assert trail[-1].version == outcome.order.version
        assert started in trail[-1].changes
        assert FieldChange("after_sales[AS-1].state", "", "inspected") in (
            trail[-1].changes
        )

    def test_another_orders_case_under_the_same_id_restocks_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        the_desk.accept(incoming("DY-1002", buyer="buyer-43", phone="+8613800138001"))
        the_desk.record("douyin", "DY-1002", paid("DY-1002"))
        picking = attrs.evolve(
            picking_started(), order_id="DY-1002", key=key("DY-1002", "wms.picking")
        )
        the_desk.record("douyin", "DY-1002", picking)
        parcel = attrs.evolve(
            parcel_shipped(),
            order_id="DY-1002",
            key=key("DY-1002", "wms.shipped"),
            tracking_number="SF1400123457",
        )
        the_desk.record("douyin", "DY-1002", parcel)
        assert balance(unit, clock) == (6, 0, 0)
        amend_as_ops(the_desk, a_return(passed=True))
        assert balance(unit, clock) == (7, 0, 0)
        # Case ids are unique within an order only: DY-1002 has its own AS-1.
        theirs = attrs.evolve(
            a_return(passed=True), order_id="DY-1002", payment_id="alipay-DY-1002"
        )
        outcome = the_desk.amend(
            "douyin",
            "DY-1002",
            theirs,
            key=key("DY-1002", "as"),
            actor="ops.wu",
            source="erp",
        )
        assert isinstance(outcome, Recorded)
        assert balance(unit, clock) == (8, 0, 0)

    def test_a_passed_inspection_recorded_with_its_refund_restocks_once(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        amend_as_ops(the_desk, received_return(), kind="received")
        # Finance inspected and refunded it by hand; the ERP records both.
        ledger = (
            PaymentLedger("DY-1001", "CNY")
            .authorise("alipay-DY-1001", cny("398.00"), T0)
            .capture("alipay-DY-1001", cny("398.00"), T0)
            .request_refund("RF-1", "alipay-DY-1001", cny("199.00"), "by hand", T0)
        )
        the_desk.amend(
            "douyin",
            "DY-1001",
            ledger,
            key=key("DY-1001", "l"),
            actor="fin.zhang",
            source="erp",
        )
        by_hand = refund_case(a_return(passed=True), "RF-1", T0.add(days=8))
        outcome = amend_as_ops(the_desk, by_hand, kind="refunded")
        assert isinstance(outcome, Recorded)
        assert balance(unit, clock) == (9, 0, 0)
        # It names its refund already: none is owed.
        assert outcome.order.saga is None
        assert refund_messages(unit) == []
        done = amend_as_ops(the_desk, resolve_case(by_hand, T0.add(days=9)), "done")
        assert isinstance(done, Recorded)
        assert balance(unit, clock) == (9, 0, 0)

    def test_a_failed_inspection_keeps_the_unit_out(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        amend_as_ops(the_desk, a_return(passed=False))
        assert balance(unit, clock) == (8, 0, 0)

    def test_a_passed_inspection_owes_its_refund_through_a_saga(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        outcome = amend_as_ops(the_desk, a_return(passed=True))
        assert isinstance(outcome, Recorded)
        saga = outcome.order.saga
        assert saga is not None
        refund_key = "refund:order:douyin:DY-1001:case:AS-1"
        assert (saga.name, saga.key, saga.reference) == (
            "refund",
            refund_key,
            "alipay-DY-1001",
        )
        assert saga.amount == cny("199.00")
        assert FieldChange("saga", "", "refund/requested") in outcome.record.changes
        refunds = refund_messages(unit)
        assert refunds == [
            {
                "amount": "199.00",
                "case_id": "AS-1",
                "channel": "douyin",
                "currency": "CNY",
                "order_id": "DY-1001",
            }
        ]
        with unit as uow:
            stored = uow.orders.get("douyin", "DY-1001")
        assert stored == outcome.order

    def test_a_failed_inspection_owes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = shipped_order(unit, clock)
        outcome = amend_as_ops(the_desk, a_return(passed=False))
        assert isinstance(outcome, Recorded)
        assert outcome.order.saga is None
        assert [topic for topic, _ in outbox(unit) if topic == "refund"] == []

    def test_not_a_part(self, unit: UnitOfWork, clock: FrozenClock) -> None:
        the_desk = shipped_order(unit, clock)
        with pytest.raises(ValidationError) as caught:
            amend_as_ops(the_desk, "a refund")  # type: ignore[arg-type]
        assert caught.value.field == "part"


class TestTimersAndQueue:
    """Unpaid orders close at their deadline; paid ones queue for picking."""

    def test_unpaid_orders_close_and_release_their_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk_with_order(unit, clock)
        assert the_desk.close_unpaid() == ()
        clock.advance(minutes=31)
        [closed] = the_desk.close_unpaid()
        assert closed.order.status is OrderStatus.CLOSED
        assert balance(unit, clock) == (10, 0, 0)
        with unit as uow:
            holds = uow.ledger.holds(owner="order:douyin:DY-1001")
        assert holds
        assert not any(h.is_live(clock.now()) for h in holds)

    def test_an_order_held_at_intake_closes_waiting_for_nobody(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = held_duplicate(unit, clock)
        clock.advance(minutes=31)

        closed = {c.order.order_id: c.order for c in the_desk.close_unpaid()}

        assert (closed["DY-2"].status, closed["DY-2"].review) == (
            OrderStatus.CLOSED,
            (),
        )
        assert stuck(unit, clock.now().add(days=30)) == []

    def test_every_expired_order_closes_however_many_wait(
        self, unit: UnitOfWork, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(desk_module, "_PAGE", 2)  # pages of two orders
        stock(unit, clock)
        the_desk = desk(unit, clock)
        the_desk.accept(incoming("DY-9", buyer="z", phone=None, quantity=1))
        clock.advance(minutes=20)
        for n in range(1, 6):  # younger orders that sort before DY-9
            younger = incoming(
                f"DY-{n}", buyer=f"b{n}", phone=None, quantity=1, at=clock.now()
            )
            the_desk.accept(younger)
        clock.advance(minutes=11)
        closed = the_desk.close_unpaid(limit=100)
        assert [c.order.order_id for c in closed] == ["DY-9"]
        assert len(the_desk.close_unpaid(limit=100)) == 0

    @pytest.mark.parametrize("limit", [0, -1, "x", 1.5])
    def test_limits_are_positive_counts(
        self, unit: UnitOfWork, clock: FrozenClock, limit: object
    ) -> None:
        with pytest.raises(ValidationError):
            desk(unit, clock).picking_queue(limit=limit)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            desk(unit, clock).close_unpaid(limit=limit)  # type: ignore[arg-type]

    def test_the_picking_queue_puts_the_bigger_order_first(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        the_desk = desk(unit, clock)
        the_desk.accept(incoming("DY-1", buyer="a", phone=None, quantity=1))
        the_desk.accept(incoming("DY-2", buyer="b", phone=None, quantity=3))
        the_desk.record("douyin", "DY-1", paid("DY-1", "199.00"))
        the_desk.record("douyin", "DY-2", paid("DY-2", "597.00"))
        queue = the_desk.picking_queue()
        assert [order.order_id for order in queue] == ["DY-2", "DY-1"]
        vip = desk(
            unit, clock, tier=lambda order: 1 if order.buyer.buyer_id == "a" else 0
        )
        assert [order.order_id for order in vip.picking_queue()] == ["DY-1", "DY-2"]

    def paid_at(
        self, the_desk: OrderDesk, order_id: str, at: pendulum.DateTime, price: str
    ) -> None:
        placed = at.subtract(minutes=1)
        the_desk.accept(
            incoming(
                order_id, buyer=order_id, phone=None, quantity=1, price=price, at=placed
            )
        )
        the_desk.record("douyin", order_id, paid(order_id, price, at=at))

    def pay_small_big_and_late(self, the_desk: OrderDesk) -> None:
        """DY-SMALL and DY-BIG paid before the 16:00 cut-off, DY-LATE after it."""
        # 08:10 and 09:00 in Shanghai: before the 16:00 cut-off, due Thursday.
        self.paid_at(the_desk, "DY-SMALL", T0.add(minutes=10), "59.00")
        self.paid_at(the_desk, "DY-BIG", T0.add(hours=1), "899.00")
        # 17:00: after the cut-off, due a day later, however big and VIP.
        self.paid_at(the_desk, "DY-LATE", T0.add(hours=9), "1999.00")

    def test_the_picking_queue_keeps_the_promise_first_by_default(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        vip = {"DY-LATE"}
        the_desk = desk(
            unit, clock, sla=SLA, tier=lambda o: 1 if o.order_id in vip else 0
        )
        self.pay_small_big_and_late(the_desk)
        queue = [order.order_id for order in the_desk.picking_queue()]
        assert queue == ["DY-BIG", "DY-SMALL", "DY-LATE"]
        assert the_desk.picking_queue(limit=1)[0].order_id == "DY-BIG"
        assert DeskPolicy(locations=["BJ-1"]).picking_order == DEFAULT_PICKING_ORDER
        assert DEFAULT_PICKING_ORDER == (
            PickingKey.SHIP_BY,
            PickingKey.TIER,
            PickingKey.VALUE,
        )

    def test_the_picking_queue_follows_a_custom_order(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        vip = {"DY-SMALL"}

        def tier(order: Order) -> int:
            return 1 if order.order_id in vip else 0

        the_desk = desk(unit, clock, sla=SLA, tier=tier)
        self.pay_small_big_and_late(the_desk)

        def queue(*order: PickingKey | str) -> list[str]:
            custom = desk(unit, clock, sla=SLA, tier=tier, picking_order=order)
            return [o.order_id for o in custom.picking_queue()]

        assert queue("value", "tier", "ship_by") == ["DY-LATE", "DY-BIG", "DY-SMALL"]
        assert queue(PickingKey.TIER, PickingKey.VALUE) == [
            "DY-SMALL",
            "DY-LATE",
            "DY-BIG",
        ]
        # Without criteria: first placed, first picked.
        assert queue() == ["DY-SMALL", "DY-BIG", "DY-LATE"]

    @pytest.mark.parametrize(
        ("order", "field"),
        [
            (("value", "value"), "picking_order[1]"),
            (("age",), "picking_order[0]"),
            ("value", "picking_order"),
        ],
    )
    def test_a_picking_order_is_criteria_named_once(
        self, order: object, field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            DeskPolicy(locations=["BJ-1"], picking_order=order)  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_an_order_being_shipped_is_not_in_the_picking_queue(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stock(unit, clock)
        the_desk = desk(unit, clock)
        self.paid_at(the_desk, "DY-1", T0.add(minutes=10), "59.00")
        self.paid_at(the_desk, "DY-2", T0.add(minutes=20), "59.00")
        with unit as uow:
            order = uow.orders.get("douyin", "DY-1")
            assert order is not None
            shipping = Saga(name="ship", step="requested", key="S-DY-1", started_at=T0)
            uow.orders.save(
                attrs.evolve(order, saga=shipping, version=order.version + 1),
                order.version,
            )
            uow.commit()
        assert [o.order_id for o in the_desk.picking_queue()] == ["DY-2"]


class TestPolicyChecks:
    """A policy refuses what would fail every order later."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("duplicate_window", dt.timedelta(days=-1)),
            ("duplicate_window", "1d"),
            ("tier", 5),
        ],
    )
    def test_a_bad_field(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            DeskPolicy(locations=["BJ-1"], **{field: value})  # type: ignore[arg-type]
        assert field == caught.value.field

    def test_nearest_routing_is_refused_for_want_of_distances(self) -> None:
        with pytest.raises(ValidationError) as caught:
            DeskPolicy(locations=["BJ-1"], routing="nearest")
        assert caught.value.field == "routing"
        assert "distances" in caught.value.problem


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: TrackingStatus("lost"), "status"),
        (lambda: FulfilmentStage("delivered"), "stage"),
    ],
)
def test_unknown_codes_are_typed(make: Any, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make()
    assert field == caught.value.field


SHOPIFY_ORDER = (
    Path(__file__).resolve().parents[1]
    / "fixtures/channels/shopify/order-3-line-items-discount-shipping.json"
)


def free_shopify_order(**changed: Any) -> ChannelOrder:
    """Shopify's order #1001 made free by a 100% code: Shopify says it is paid."""
    body = load_json(SHOPIFY_ORDER.read_bytes())
    body["order"].update(
        financial_status="paid",
        fulfillments=[],
        discount_codes=[{"code": "FREE100", "amount": "597.00", "type": "percentage"}],
        total_tax="0.00",
        total_price="0.00",
        **changed,
    )
    [record] = ShopifyPayloads().parse(body, topic="orders/paid")
    assert isinstance(record, ChannelOrder)
    return record


class TestFreeOrders:
    """A free order its channel reports paid is taken in paid, and owes nothing."""

    @staticmethod
    def shopify_desk(
        unit: UnitOfWork, clock: FrozenClock, record: ChannelOrder
    ) -> OrderDesk:
        """A desk at W1 holding ten of each of the record's SKUs."""
        with unit as uow:
            for line in record.placed.lines:
                Ledger(uow.ledger, clock).receive(line.sku, "W1", 10)
            uow.commit()
        return OrderDesk(
            unit, clock, DeskPolicy(locations=["W1"]), Fingerprinter(SECRET)
        )

    @staticmethod
    def balances(
        unit: UnitOfWork, clock: FrozenClock, record: ChannelOrder
    ) -> set[tuple[int, int, int]]:
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            found = [ledger.balance(line.sku, "W1") for line in record.placed.lines]
        return {(b.on_hand, b.reserved, b.allocated) for b in found}

    def test_a_free_shopify_order_is_paid_picked_and_shipped(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        record = free_shopify_order()
        the_desk = self.shopify_desk(unit, clock, record)

        taken = the_desk.accept(record)

        assert isinstance(taken, Accepted)
        assert (OrderStatus.PAID, ()) == (taken.order.status, taken.order.payments)
        assert {(10, 0, 1)} == self.balances(unit, clock, record)  # committed
        assert [] == refund_messages(unit)
        clock.advance(days=30)
        assert () == the_desk.close_unpaid()
        order_id = record.placed.order_id
        wms = _Warehouse()
        picked = the_desk.start_picking("shopify", order_id, wms)
        assert OrderStatus.PICKING == picked.order.status
        parcel = Shipped(
            order_id=order_id,
            key=IdempotencyKey("shopify", "fulfillment", order_id, "F1"),
            occurred_at=clock.now(),
            shipment_id="F1",
            lines=[ShipmentLine(line.line_id, 1) for line in record.placed.lines],
            carrier="UPS",
            tracking_number="1Z2345",
        )
        shipped = the_desk.record("shopify", order_id, parcel)
        assert OrderStatus.SHIPPED == shipped.order.status
        assert {(9, 0, 0)} == self.balances(unit, clock, record)

    def test_a_free_order_cancelled_owes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        record = free_shopify_order()
        the_desk = self.shopify_desk(unit, clock, record)
        the_desk.accept(record)
        order_id = record.placed.order_id

        ended = the_desk.record(
            "shopify",
            order_id,
            Cancelled(
                order_id=order_id,
                key=IdempotencyKey("shopify", "order.cancelled", order_id, "1"),
                occurred_at=clock.now(),
                reason="cancelled in Shopify: customer",
            ),
        )

        assert OrderStatus.CANCELLED == ended.order.status
        assert () == ended.refund_due
        assert [] == refund_messages(unit)
        assert {(10, 0, 0)} == self.balances(unit, clock, record)

    def test_a_free_order_taken_in_cancelled_owes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        record = free_shopify_order(
            cancelled_at="2008-01-11T11:00:00-05:00", cancel_reason="customer"
        )
        the_desk = self.shopify_desk(unit, clock, record)

        taken = the_desk.accept(record)

        assert isinstance(taken, Accepted)
        assert OrderStatus.CANCELLED == taken.order.status
        assert [] == refund_messages(unit)
        assert {(10, 0, 0)} == self.balances(unit, clock, record)
