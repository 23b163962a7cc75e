from __future__ import annotations

import itertools

import pendulum
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from orderkit import IdempotencyKey
from orderkit.errors import IllegalTransition
from orderkit.orders import (
    Applied,
    AuditRecord,
    Cancelled,
    Completed,
    Delivered,
    Duplicate,
    Early,
    InTransit,
    Order,
    OrderEvent,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    RefundDue,
    ShipmentStatus,
    Shipped,
    apply,
    apply_all,
)
from orderkit.testing import strategies as ost


NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
_RANK = {
    status: rank
    for rank, status in enumerate(
        [
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.PAID,
            OrderStatus.PICKING,
            OrderStatus.PARTIALLY_SHIPPED,
            OrderStatus.SHIPPED,
            OrderStatus.IN_TRANSIT,
            OrderStatus.DELIVERED,
            OrderStatus.COMPLETED,
        ]
    )
}


_CANCELLABLE = {OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.PICKING}


def _trail(records: tuple[AuditRecord, ...]) -> list[tuple[str, str, str, str]]:
    """An audit trail up to order: what was applied, by whom, when it happened."""
    return sorted(
        (str(r.key), r.event_type, r.actor, r.occurred_at.isoformat()) for r in records
    )


class TestAnyDeliveryOrder:
    """Any shuffle of a legal stream, with re-deliveries, ends in the same order."""

    @given(st.data())
    def test_shuffled_stream_with_duplicates_converges(
        self, data: st.DataObject
    ) -> None:
        stream = data.draw(ost.lifecycles(), label="stream")
        resent = data.draw(st.lists(st.sampled_from(stream), max_size=len(stream)))
        arrival = data.draw(st.permutations(stream + resent), label="arrival")

        in_order = apply_all(None, stream, now=NOW)
        shuffled = apply_all(None, arrival, now=NOW)

        assert in_order.order is not None
        assert in_order.order == shuffled.order
        assert () == shuffled.parked
        assert _trail(in_order.records) == _trail(shuffled.records)
        assert len(stream) == len(shuffled.records)
        duplicates = [o for o in shuffled.outcomes if isinstance(o, Duplicate)]
        assert len(resent) == len(duplicates)

    @given(ost.lifecycles())
    def test_in_order_stream_applies_every_event_once(
        self, stream: list[OrderEvent]
    ) -> None:
        batch = apply_all(None, stream, now=NOW)

        assert all(isinstance(o, Applied) for o in batch.outcomes)
        assert batch.order is not None
        assert len(stream) == batch.order.version
        statuses = [r.to_status for r in batch.records]
        assert statuses == sorted(statuses, key=_RANK.__getitem__)


class _Model:
    """A plain model of the lifecycle: which events have landed, and what follows."""

    def __init__(self, stream: list[OrderEvent]) -> None:
        placed = stream[0]
        assert isinstance(placed, OrderPlaced)
        self.lines = {line.line_id: line.quantity for line in placed.lines}
        self.shipments = {
            e.shipment_id: {p.line_id: p.quantity for p in e.lines}
            for e in stream
            if isinstance(e, Shipped)
        }
        self.landed: set[str] = set()
        self.parcel: dict[str, str] = {}

    def ready(self, event: OrderEvent) -> bool:
        """Whether every predecessor of the event has landed."""
        landed = self.landed
        match event:
            case OrderPlaced():
                return True
            case PaymentCaptured():
                return "placed" in landed
            case PickingStarted():
                return "paid" in landed
            case Shipped():
                return "picking" in landed
            case InTransit(shipment_id=sid):
                return self.parcel.get(sid) == "shipped"
            case Delivered(shipment_id=sid):
                return self.parcel.get(sid) == "in_transit"
            case Completed():
                return self.status() == "delivered"
        raise AssertionError(event)  # pragma: no cover

    def land(self, event: OrderEvent) -> None:
        match event:
            case OrderPlaced():
                self.landed.add("placed")
            case PaymentCaptured():
                self.landed.add("paid")
            case PickingStarted():
                self.landed.add("picking")
            case Shipped(shipment_id=sid):
                self.parcel[sid] = "shipped"
            case InTransit(shipment_id=sid):
                self.parcel[sid] = "in_transit"
            case Delivered(shipment_id=sid):
                self.parcel[sid] = "delivered"
            case Completed():
                self.landed.add("completed")

    def status(self) -> str:
        if "completed" in self.landed:
            return "completed"
        if self.parcel:
            shipped = dict.fromkeys(self.lines, 0)
            for sid in self.parcel:
                for line, qty in self.shipments[sid].items():
                    shipped[line] += qty
            if shipped != self.lines:
                return "partially_shipped"
            order = ["shipped", "in_transit", "delivered"]
            return min(self.parcel.values(), key=order.index)
        for stage in ("picking", "paid"):
            if stage in self.landed:
                return stage
        return "pending_payment"


class LifecycleMachine(RuleBasedStateMachine):
    """Delivers a legal stream with duplicates, delays and reordering."""

    def __init__(self) -> None:
        super().__init__()
        self.order: Order | None = None
        self.undelivered: list[OrderEvent] = []
        self.delivered: list[OrderEvent] = []
        self.parked: list[OrderEvent] = []
        self.records: list[AuditRecord] = []
        self.model: _Model | None = None
        self.highest = -1

    @initialize(stream=ost.lifecycles())
    def start(self, stream: list[OrderEvent]) -> None:
        self.undelivered = list(stream)
        self.model = _Model(stream)
        note(f"stream: {[type(e).__name__ for e in stream]}")

    def _deliver(self, event: OrderEvent) -> None:
        assert self.model is not None
        before = self.order
        outcome = apply(self.order, event, now=NOW)
        if isinstance(outcome, Early):
            assert not self.model.ready(event)
            assert before is outcome.order
            self.parked.append(event)
            return
        if isinstance(outcome, Duplicate):
            assert event in self.delivered
            assert before is outcome.order
            return
        assert isinstance(outcome, Applied), outcome
        assert self.model.ready(event)
        self.model.land(event)
        self.order = outcome.order
        self.records += outcome.records
        self._unpark()

    def _unpark(self) -> None:
        waiting, self.parked = self.parked, []
        for event in waiting:
            self._deliver(event)

    @precondition(lambda self: bool(self.undelivered))
    @rule(data=st.data())
    def deliver_any_pending_event(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.undelivered))
        self.undelivered.remove(event)
        self.delivered.append(event)
        self._deliver(event)

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data())
    def redeliver_an_event(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.delivered))
        if event in self.parked:
            return
        outcome = apply(self.order, event, now=NOW)
        assert isinstance(outcome, Duplicate)
        assert self.order is outcome.order

    @precondition(lambda self: self.order is not None)
    @rule()
    def try_to_cancel(self) -> None:
        """Cancelling works before shipping, is refused after; tried, not kept."""
        assert self.order is not None
        event = Cancelled(
            order_id=self.order.order_id,
            key=IdempotencyKey("douyin", "order.cancelled", self.order.order_id, "try"),
            occurred_at=NOW,
            reason="buyer changed their mind",
        )
        before = self.order
        if self.order.status in _CANCELLABLE:
            outcome = apply(self.order, event, now=NOW)
            assert isinstance(outcome, Applied | RefundDue)
            assert OrderStatus.CANCELLED == outcome.order.status
            assert isinstance(outcome, RefundDue) == bool(before.payments)
        else:
            with pytest.raises(IllegalTransition):
                apply(self.order, event, now=NOW)
        assert before is self.order

    @invariant()
    def status_matches_the_model(self) -> None:
        if self.order is None or self.model is None:
            return
        assert self.model.status() == self.order.status

    @invariant()
    def status_never_moves_backwards(self) -> None:
        if self.order is None:
            return
        rank = _RANK[self.order.status]
        assert rank >= self.highest
        self.highest = rank

    @invariant()
    def one_audit_record_and_one_version_per_applied_event(self) -> None:
        if self.order is None:
            return
        assert len(self.records) == self.order.version
        assert len({str(r.key) for r in self.records}) == len(self.records)
        assert list(range(1, self.order.version + 1)) == [
            r.version for r in self.records
        ]
        for before, after in itertools.pairwise(self.records):
            assert before.to_status == after.from_status
            assert _RANK[before.to_status] <= _RANK[after.to_status]

    @invariant()
    def shipments_match_the_model(self) -> None:
        if self.order is None or self.model is None:
            return
        actual = {s.shipment_id: s.status for s in self.order.shipments}
        assert {k: ShipmentStatus(v) for k, v in self.model.parcel.items()} == actual

    def teardown(self) -> None:
        if not self.undelivered and self.model is not None:
            assert [] == self.parked


TestLifecycleMachine = LifecycleMachine.TestCase
TestLifecycleMachine.__doc__ = (
    "The lifecycle agrees with a plain model under any delivery."
)
