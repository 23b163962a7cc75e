"""What the channel kit lets through must be what the desk can use as stated.

An adapter whose channel has no picking step, one whose status runs ahead
of the events it states, or one whose stated total contradicts its lines
passed the contract, and the desk then parked or held every such order.
And the fuzzer's check refused what the desk holds for a person.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder, ChannelRecord
from orderkit.money import Money
from orderkit.orders import (
    Cancelled,
    OrderEvent,
    OrderStatus,
    PickingStarted,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import ChannelPayloads
from orderkit.services import Held, OrderDesk
from orderkit.testing import channel_order
from orderkit.testing import strategies as ost
from orderkit.testing.contracts import ChannelContract, Sample


def _paid() -> ChannelOrder:
    return channel_order([("TEA", 2, "10.00")], paid=True)


def _key(kind: str, event_id: str) -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, "DY-1001", event_id)


def _picking() -> PickingStarted:
    at = _paid().placed.occurred_at.add(hours=1)
    return PickingStarted(
        order_id="DY-1001", key=_key("order.picking", "P1"), occurred_at=at
    )


def _parcel(units: int) -> Shipped:
    return Shipped(
        order_id="DY-1001",
        key=_key("order.shipped", "P1"),
        occurred_at=_paid().placed.occurred_at.add(hours=1),
        shipment_id="P1",
        lines=[ShipmentLine("L1", units)],
        carrier="SF",
        tracking_number="SF100",
    )


def _stating(
    status: OrderStatus, *events: OrderEvent, record: ChannelOrder | None = None
) -> ChannelOrder:
    """The paid order, saying `status`, with `events` after its capture."""
    base = _paid() if record is None else record
    return attrs.evolve(
        base, status=status, channel_status=status.value, events=[*base.events, *events]
    )


CASES: Mapping[str, Callable[[], ChannelOrder]] = {
    "shipped-no-picking": lambda: _stating(OrderStatus.SHIPPED, _parcel(2)),
    "shipped-with-picking": lambda: _stating(
        OrderStatus.SHIPPED, _picking(), _parcel(2)
    ),
    "shipped-no-parcel": lambda: _stating(OrderStatus.SHIPPED),
    "cancelled-no-cancellation": lambda: _stating(OrderStatus.CANCELLED),
    "cancelled": lambda: _stating(
        OrderStatus.CANCELLED,
        Cancelled(
            order_id="DY-1001",
            key=_key("order.cancelled", "1"),
            occurred_at=_paid().placed.occurred_at.add(hours=1),
            reason="buyer asked",
        ),
    ),
    "total-off": lambda: attrs.evolve(
        _paid(),
        quote=attrs.evolve(_paid().quote, stated_total=Money("18.00", "CNY")),
    ),
}


class _Channel:
    """Reads `{"case": name}` into the order `CASES` names."""

    channel = "douyin"
    topics = frozenset({"order"})

    def parse(self, payload: Any, *, topic: str) -> tuple[ChannelRecord, ...]:
        if topic not in self.topics:
            raise ValidationError("topic", topic, "is not a topic of this channel")
        if not isinstance(payload, dict) or payload.get("case") not in CASES:
            raise ValidationError("payload", payload, "must name a case")
        return (CASES[payload["case"]](),)


def _sample(
    case: str,
    *,
    stated_total_differs: bool = False,
    status_ahead_of_events: bool = False,
) -> Sample:
    return Sample(
        case,
        "order",
        json.dumps({"case": case}),
        stated_total_differs=stated_total_differs,
        status_ahead_of_events=status_ahead_of_events,
    )


def _check(*samples: Sample) -> None:
    class _Contract(ChannelContract):
        def make_channel(self) -> ChannelPayloads:
            return _Channel()

        def samples(self) -> list[Sample]:
            return list(samples)

    contract = _Contract()
    contract.test_every_sample_maps_or_is_refused(contract.make_channel())


class TestParkedEvents:
    """A stated event that waits for a step nobody states fails the contract."""

    def test_a_parcel_without_picking_is_named_with_what_to_state(self) -> None:
        # The adapter's own picking step before the parcel: no complaint.
        _check(_sample("shipped-with-picking"))
        with pytest.raises(AssertionError) as caught:
            _check(_sample("shipped-no-picking"))
        said = str(caught.value)
        assert "shipped-no-picking: Shipped" in said
        assert "stay parked" in said
        assert "PickingStarted" in said

    def test_no_flag_lets_a_parked_event_through(self) -> None:
        with pytest.raises(AssertionError, match="stay parked"):
            _check(_sample("shipped-no-picking", status_ahead_of_events=True))


class TestStatusAheadOfEvents:
    """The events must reach the status the channel states, unless told."""

    def test_a_shipped_order_stating_no_parcel_fails(self) -> None:
        with pytest.raises(
            AssertionError, match=r"says shipped but .* leave the order paid"
        ):
            _check(_sample("shipped-no-parcel"))

    def test_a_cancelled_order_stating_no_cancellation_fails(self) -> None:
        _check(_sample("cancelled"))
        with pytest.raises(AssertionError, match="says cancelled"):
            _check(_sample("cancelled-no-cancellation"))

    def test_a_sample_may_say_its_payload_has_no_such_event(self) -> None:
        _check(
            _sample("shipped-no-parcel", status_ahead_of_events=True),
            _sample("cancelled-no-cancellation", status_ahead_of_events=True),
        )


class TestStatedTotal:
    """A total the lines and offers contradict fails, unless known to differ."""

    def test_a_total_that_does_not_add_up_fails(self) -> None:
        with pytest.raises(AssertionError) as caught:
            _check(_sample("total-off"))
        said = str(caught.value)
        assert "expected 20.00 CNY, the channel states 18.00 CNY" in said
        assert "stated_total_differs=True" in said

    def test_a_channel_known_to_differ_says_so(self) -> None:
        _check(_sample("total-off", stated_total_differs=True))

    def test_from_file_takes_the_flags(self, tmp_path: Path) -> None:
        path = tmp_path / "total-off.json"
        path.write_text(json.dumps({"case": "total-off"}))
        sample = Sample.from_file(
            path, "order", stated_total_differs=True, status_ahead_of_events=True
        )
        assert (sample.stated_total_differs, sample.status_ahead_of_events) == (
            True,
            True,
        )
        _check(sample)


class TestRefusedEvents:
    """A parcel the order refuses: the desk holds it; the check may accept it."""

    def over_shipped(self) -> ChannelOrder:
        return _stating(OrderStatus.SHIPPED, _picking(), _parcel(3))

    def test_refused_events_ok_accepts_it_as_the_desk_does(
        self,
        orderkit_desk: OrderDesk,
        orderkit_stock: Callable[[str, int], object],
    ) -> None:
        orderkit_stock("TEA", 10)
        outcome = orderkit_desk.accept(self.over_shipped())
        assert isinstance(outcome, Held), outcome
        assert "event" in outcome.order.review
        ost.check_channel_order(self.over_shipped(), refused_events_ok=True)

    def test_by_default_the_check_still_refuses_it(self) -> None:
        with pytest.raises(AssertionError, match="did not apply"):
            ost.check_channel_order(self.over_shipped())
        # Only the option lets it through: the default stays as strict.
        ost.check_channel_order(self.over_shipped(), refused_events_ok=True)

    def test_refused_events_ok_still_checks_the_quote(self) -> None:
        record = self.over_shipped()
        quote = attrs.evolve(record.quote, stated_total=Money("20.00", "USD"))
        with pytest.raises(AssertionError, match="does not validate"):
            ost.check_channel_order(
                attrs.evolve(record, quote=quote), refused_events_ok=True
            )
