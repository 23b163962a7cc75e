"""The order desk's milestone messages: one for every status the order passes."""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest
from tests.services._samples import awaiting_payment, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    InTransit,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import UnitOfWork
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeWarehouse


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
SECRET = b"desk-tests-secret-0123456789"
STREAM = "order:douyin:DY-1001"


def key(kind: str) -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, "DY-1001", "1")


def placed() -> OrderPlaced:
    """Two retro alarm clocks, bought in a Douyin live stream."""
    return OrderPlaced(
        order_id="DY-1001",
        key=key("trade.created"),
        occurred_at=T0,
        channel="douyin",
        buyer=Buyer("buyer-42", "李雷", phone="+8613800138000"),
        address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 1 号"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 2, cny("199.00"))],
    )


def paid() -> PaymentCaptured:
    return PaymentCaptured(
        order_id="DY-1001",
        key=key("trade.paid"),
        occurred_at=T0.add(minutes=5),
        payment_id="alipay-1",
        amount=cny("398.00"),
    )


def picking() -> PickingStarted:
    return PickingStarted(
        order_id="DY-1001", key=key("wms.picking"), occurred_at=T0.add(hours=2)
    )


def shipped() -> Shipped:
    return Shipped(
        order_id="DY-1001",
        key=key("wms.shipped"),
        occurred_at=T0.add(hours=3),
        shipment_id="S1",
        lines=[ShipmentLine("L1", 2)],
        carrier="SF",
        tracking_number="SF1400123456",
    )


def in_transit() -> InTransit:
    return InTransit(
        order_id="DY-1001",
        key=key("carrier.transit"),
        occurred_at=T0.add(hours=5),
        shipment_id="S1",
    )


def cancelled() -> Cancelled:
    return Cancelled(
        order_id="DY-1001",
        key=key("trade.cancelled"),
        occurred_at=T0.add(minutes=10),
        reason="buyer changed their mind",
    )


def stocked_desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive("RETRO-CLOCK", "BJ-1", 10)
        uow.commit()
    policy = DeskPolicy(locations=["BJ-1"])
    return OrderDesk(unit, clock, policy, Fingerprinter(SECRET))


def milestones(unit: UnitOfWork) -> list[tuple[str, dict[str, Any]]]:
    """The milestone messages in the outbox, in order: their ids and bodies."""
    with unit as uow:
        return [
            (m.message_id, json.loads(m.payload))
            for m in uow.outbox.unsent()
            if m.topic == "milestone"
        ]


def ids(*statuses: str) -> list[str]:
    return [f"milestone:{STREAM}:{status}" for status in statuses]


class TestMilestones:
    """The buyer hears of every status the order passes, once."""

    def test_a_parked_shipment_applied_behind_picking_tells_of_both(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(awaiting_payment(placed()))
        the_desk.record("douyin", "DY-1001", paid())
        # The warehouse's ship notice overtakes the desk's PickingStarted.
        the_desk.record("douyin", "DY-1001", shipped())

        done = the_desk.start_picking("douyin", "DY-1001", FakeWarehouse(clock))

        assert done.order.status is OrderStatus.SHIPPED
        sent = milestones(unit)
        assert [i for i, _ in sent] == ids(
            "pending_payment", "paid", "picking", "shipped"
        )
        bodies = dict(sent)
        preparing = bodies[f"milestone:{STREAM}:picking"]
        assert preparing["template"] == "order.preparing.zh"
        # As the buyer would have heard it had picking come first: no parcel.
        assert "tracking_number" not in preparing["params"]
        assert bodies[f"milestone:{STREAM}:shipped"]["params"]["tracking_number"] == (
            "SF1400123456"
        )

    def test_every_parked_event_applied_writes_its_milestone(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(awaiting_payment(placed()))
        for early in (picking(), shipped(), in_transit()):
            parked = the_desk.record("douyin", "DY-1001", early)
            assert parked.order.status is OrderStatus.PENDING_PAYMENT

        done = the_desk.record("douyin", "DY-1001", paid())

        assert done.order.status is OrderStatus.IN_TRANSIT
        assert [i for i, _ in milestones(unit)] == ids(
            "pending_payment", "paid", "picking", "shipped", "in_transit"
        )

    def test_an_order_taken_in_advanced_tells_of_every_status_it_passed(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """The same rule at intake: the statuses its events moved it through."""
        the_desk = stocked_desk(unit, clock)

        taken = the_desk.accept(awaiting_payment(placed(), events=(paid(), picking())))

        assert isinstance(taken, Accepted)
        assert taken.order.status is OrderStatus.PICKING
        assert [i for i, _ in milestones(unit)] == ids(
            "pending_payment", "paid", "picking"
        )

    def test_an_order_taken_in_cancelled_tells_of_each_status_once(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        events: tuple[OrderEvent, ...] = (paid(), cancelled())
        the_desk.accept(awaiting_payment(placed(), events=events))
        # Delivered again, and the cancellation re-sent: nothing new to hear.
        the_desk.accept(awaiting_payment(placed(), events=events))
        the_desk.record("douyin", "DY-1001", cancelled())

        assert [i for i, _ in milestones(unit)] == ids(
            "pending_payment", "paid", "cancelled"
        )


class TestLanguage:
    """A shop writing to its buyers in English says so in its policy."""

    def desk(self, unit: UnitOfWork, clock: FrozenClock, **languages: Any) -> OrderDesk:
        with unit as uow:
            Ledger(uow.ledger, clock).receive("RETRO-CLOCK", "BJ-1", 10)
            uow.commit()
        policy = DeskPolicy(locations=["BJ-1"], **languages)
        return OrderDesk(unit, clock, policy, Fingerprinter(SECRET))

    def test_the_policys_language_names_the_template_and_the_label(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = self.desk(unit, clock, language="en")
        the_desk.accept(awaiting_payment(placed()))
        the_desk.record("douyin", "DY-1001", paid())

        bodies = [body for _, body in milestones(unit)]
        assert [b["template"] for b in bodies] == [
            "order.submitted.en",
            "order.paid.en",
        ]
        assert all(b["params"]["milestone"].isascii() for b in bodies)

    def test_a_channels_own_language_comes_first(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = self.desk(
            unit, clock, language="en", channel_languages={"douyin": "zh"}
        )
        the_desk.accept(awaiting_payment(placed()))

        assert [b["template"] for _, b in milestones(unit)] == ["order.submitted.zh"]

    @pytest.mark.parametrize(
        ("field", "languages"),
        [
            ("language", {"language": "fr"}),
            ("channel_languages['shopify']", {"channel_languages": {"shopify": "EN"}}),
            ("channel_languages", {"channel_languages": ["en"]}),
        ],
        ids=["french", "upper-case", "not-a-mapping"],
    )
    def test_a_language_without_templates_is_refused(
        self, field: str, languages: dict[str, Any]
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            DeskPolicy(locations=["BJ-1"], **languages)
        assert caught.value.field == field
