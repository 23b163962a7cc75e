"""An address changed on the channel after intake reaches the order.

Shopify's `orders/updated` states the order's `shipping_address` as it is
now. `OrderDesk.update` compared lines only: a buyer who changed the
address after paying was answered `unchanged`, nothing was recorded, and
the parcel went to the old address. The notice's address now goes to the
lifecycle as an `AddressChanged`, whose rules decide: the change made last
on the channel wins, and once a parcel shipped it is refused, visibly.
"""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from tests.services.test_reordered_refunded_notice import (
    SHOPIFY,
    SHOPIFY_ID,
    stored,
)

from orderkit.adapters.channels import ShopifyPayloads
from orderkit.dedupe import Fingerprinter
from orderkit.errors import IllegalTransition
from orderkit.integrations import ChannelOrder, load_json
from orderkit.orders import AddressChanged, Applied, Duplicate, OrderStatus, Stale
from orderkit.ports import UnitOfWork
from orderkit.pricing import PricingPolicy
from orderkit.services import (
    AlreadyAccepted,
    DeskPolicy,
    EventRecorded,
    Ledger,
    OrderDesk,
)
from orderkit.services._duplicates import DuplicateDetector
from orderkit.services._limits import PurchaseLimits
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeWarehouse


AT = pendulum.datetime(2008, 1, 12)


NEW_STREET = {"address1": "1 New Street", "city": "Boston", "province": "Massachusetts"}
OTHER_STREET = {"address1": "9 Other Road", "city": "Albany", "province": "New York"}


def notice(
    updated_at: str,
    *,
    financial: str = "paid",
    address: dict[str, Any] | None = None,
    **changed: Any,
) -> ChannelOrder:
    """Shopify's order #1001 as `orders/updated` states it at `updated_at`."""
    body = load_json(SHOPIFY.read_bytes())
    order = body["order"]
    order.update(financial_status=financial, updated_at=updated_at, **changed)
    if address is not None:
        order["shipping_address"] = {**order["shipping_address"], **address}
    [record] = ShopifyPayloads().parse(body, topic="orders/updated")
    assert isinstance(record, ChannelOrder)
    return record


def paid() -> ChannelOrder:
    return notice("2008-01-10T11:00:00-05:00")


def moved(at: str = "2008-01-10T12:00:00-05:00", **address: Any) -> ChannelOrder:
    return notice(at, address=address or NEW_STREET)


def desk(unit: UnitOfWork) -> OrderDesk:
    """A desk at W1 with ten of each SKU, taking Shopify's totals as stated."""
    clock = FrozenClock(AT)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        for line in paid().placed.lines:
            ledger.receive(line.sku, "W1", 10, key=f"PO:{line.sku}")
        uow.commit()
    policy = DeskPolicy(
        locations=["W1"], pricing=PricingPolicy(totals="accept_channel")
    )
    return OrderDesk(unit, clock, policy, Fingerprinter.for_tests())


def address_outcomes(done: tuple[Any, ...]) -> list[Any]:
    """The outcomes of the `AddressChanged` events among `update`'s answers."""
    return [
        outcome
        for answer in done
        if isinstance(answer, EventRecorded)
        for outcome in answer.outcomes
        if isinstance(getattr(outcome, "event", None), AddressChanged)
    ]


def trail(unit: UnitOfWork) -> list[str]:
    with unit as uow:
        return [r.event_type for r in uow.audit.records("shopify", SHOPIFY_ID)]


class TestAfterPayment:
    def test_the_new_address_is_the_orders(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(paid())

        done = d.update(moved())

        [outcome] = address_outcomes(done)
        assert isinstance(outcome, Applied)
        order = stored(unit, "shopify", SHOPIFY_ID)
        assert (order.address.street, order.address.city) == ("1 New Street", "Boston")
        assert order.address_changed_at == pendulum.datetime(2008, 1, 10, 17)
        with unit as uow:
            [record] = [
                r
                for r in uow.audit.records("shopify", SHOPIFY_ID)
                if r.event_type == "AddressChanged"
            ]
        assert (record.actor, record.source) == ("shopify", "shopify")
        assert record.key.channel == "shopify"
        assert record.key.event_type == "address_changed"
        assert record.occurred_at == pendulum.datetime(2008, 1, 10, 17)
        assert "Boston" in record.changes[0].new

    def test_the_same_notice_again_records_nothing(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(paid())
        d.update(moved())
        before = stored(unit, "shopify", SHOPIFY_ID)

        assert address_outcomes(d.update(moved())) == []
        assert stored(unit, "shopify", SHOPIFY_ID) == before

    def test_a_redelivered_change_is_a_duplicate(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(paid())
        d.update(moved())
        d.update(moved("2008-01-10T13:00:00-05:00", **OTHER_STREET))

        [outcome] = address_outcomes(d.update(moved()))

        assert isinstance(outcome, Duplicate)
        assert stored(unit, "shopify", SHOPIFY_ID).address.city == "Albany"

    def test_an_older_change_arriving_later_is_stale(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(paid())
        d.update(moved("2008-01-10T13:00:00-05:00", **OTHER_STREET))

        [outcome] = address_outcomes(d.update(moved()))

        assert isinstance(outcome, Stale)
        assert stored(unit, "shopify", SHOPIFY_ID).address.city == "Albany"

    def test_a_notice_older_than_intake_changes_nothing(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(moved())

        done = d.update(notice("2008-01-10T11:00:00-05:00"))

        assert address_outcomes(done) == []
        assert stored(unit, "shopify", SHOPIFY_ID).address.city == "Boston"

    def test_the_buyer_is_not_screened_or_limited_again(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        d = desk(unit)
        d.accept(paid())
        calls: list[str] = []
        for cls, name in (
            (DuplicateDetector, "check"),
            (PurchaseLimits, "check"),
            (PurchaseLimits, "record"),
        ):
            real = getattr(cls, name)

            def spy(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
                calls.append(_name)
                return _real(*args, **kw)

            monkeypatch.setattr(cls, name, spy)

        d.update(moved())

        assert calls == []
        assert trail(unit)[-1] == "AddressChanged"
        assert trail(unit).count("AddressChanged") == 1


class TestWhilePicking:
    def test_the_address_changes_before_a_label_is_booked(
        self, unit: UnitOfWork
    ) -> None:
        d = desk(unit)
        d.accept(paid())
        d.start_picking("shopify", SHOPIFY_ID, FakeWarehouse(FrozenClock(AT)))

        d.update(moved())

        order = stored(unit, "shopify", SHOPIFY_ID)
        assert order.status is OrderStatus.PICKING
        assert order.address.city == "Boston"
        # No label yet: nothing went to the old address, no one is asked.
        assert order.review == ()


class TestBeforePayment:
    def test_a_pending_order_takes_the_new_address(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(notice("2008-01-10T11:00:00-05:00", financial="pending"))

        d.update(
            notice("2008-01-10T12:00:00-05:00", financial="pending", address=NEW_STREET)
        )

        order = stored(unit, "shopify", SHOPIFY_ID)
        assert order.status is OrderStatus.PENDING_PAYMENT
        assert order.address.city == "Boston"


class TestAfterShipping:
    def test_the_change_is_refused_in_the_answer(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        fulfilment = {
            **load_json(SHOPIFY.read_bytes())["order"]["fulfillments"][0],
            "status": "success",
            "tracking_company": "UPS",
            "tracking_number": "1Z2345",
        }
        shipped = notice("2008-01-10T12:00:00-05:00", fulfillments=[fulfilment])
        d.accept(shipped)
        # A parcel left: the fixture's fulfilment carries two of three lines.
        assert stored(unit, "shopify", SHOPIFY_ID).shipments
        late = notice(
            "2008-01-10T13:00:00-05:00", address=NEW_STREET, fulfillments=[fulfilment]
        )
        assert isinstance(d.accept(late), AlreadyAccepted)

        done = d.update(late)

        [answer] = [a for a in done if isinstance(a, EventRecorded) and a.rejected]
        [refused] = answer.rejected
        assert isinstance(refused.event, AddressChanged)
        assert isinstance(refused.error, IllegalTransition)
        order = stored(unit, "shopify", SHOPIFY_ID)
        assert order.address.city == "Louisville"
        assert "AddressChanged" not in trail(unit)


class TestNoAddressStated:
    def test_only_a_country_is_no_address(self, unit: UnitOfWork) -> None:
        d = desk(unit)
        d.accept(paid())
        blank = dict.fromkeys(("address1", "address2", "city", "province", "zip"), "")

        done = d.update(moved(**blank))

        assert address_outcomes(done) == []
        assert stored(unit, "shopify", SHOPIFY_ID).address.city == "Louisville"
