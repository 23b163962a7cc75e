"""The health report read from the stores, checked against figures worked by hand."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import cast

import pendulum
import pytest

from orderkit.calendar import CN, DayWindow, SlaPolicy
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import InvalidQuantity, NaiveDatetime, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
)
from orderkit.ports import AuditLog, OrderStore, UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import (
    DeskPolicy,
    HealthMeasure,
    Ledger,
    OrderDesk,
    StockCount,
    StuckReason,
    StuckRules,
    health_from_stores,
    health_report,
    stuck_from_stores,
)
from orderkit.testing import FrozenClock


SECRET = b"health-stores-secret-012345"
ZONE = "Asia/Shanghai"
# Wednesday 11 November 2026 in Shanghai: 2026-11-10 16:00 to 11-11 16:00 UTC.
WINDOW = DayWindow(dt.date(2026, 11, 11), ZONE)
SLA = SlaPolicy(CN, ZONE, business_days=1, cutoff=dt.time(16))
RULES = StuckRules(sla=SLA)
# The report is read the next morning, 09:00 in Shanghai.
NOW = pendulum.datetime(2026, 11, 12, 1, 0)


def at(day: int, hour: int, minute: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(2026, 11, day, hour, minute)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


class Shop:
    """A desk whose clock the test moves, so every recorded_at is known."""

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.clock = FrozenClock(at(8, 0))
        with unit as uow:
            ledger = Ledger(uow.ledger, self.clock)
            ledger.receive("RETRO-CLOCK", "BJ-1", 10)
            ledger.receive("JADE-TEAPOT", "BJ-1", 5)
            uow.commit()
        self.desk = OrderDesk(
            unit, self.clock, DeskPolicy(locations=["BJ-1"]), Fingerprinter(SECRET)
        )

    def now(self, when: pendulum.DateTime) -> None:
        self.clock.advance(seconds=(when - self.clock.now()).in_seconds())

    def accept(
        self,
        order_id: str,
        when: pendulum.DateTime,
        recorded: pendulum.DateTime | None = None,
    ) -> None:
        self.now(when if recorded is None else recorded)
        placed = OrderPlaced(
            order_id=order_id,
            key=IdempotencyKey("douyin", "trade.created", order_id, "1"),
            occurred_at=when,
            channel="douyin",
            buyer=Buyer(f"buyer-{order_id}", "李雷"),
            address=Address("CN", "北京市", "北京市", "朝阳区", f"建国路 {order_id}"),
            lines=[OrderLine("L1", "RETRO-CLOCK", 1, cny("199.00"))],
        )
        self.desk.accept(
            ChannelOrder(
                placed=placed,
                quote=Quote(order_id, "douyin", placed.lines),
                status=OrderStatus.PENDING_PAYMENT,
                channel_status="WAIT_BUYER_PAY",
            )
        )

    def pay(
        self, order_id: str, occurred: pendulum.DateTime, recorded: pendulum.DateTime
    ) -> None:
        self.now(recorded)
        paid = PaymentCaptured(
            order_id=order_id,
            key=IdempotencyKey("douyin", "trade.paid", order_id, "1"),
            occurred_at=occurred,
            payment_id=f"alipay-{order_id}",
            amount=cny("199.00"),
        )
        self.desk.record("douyin", order_id, paid)

    def cancel(self, order_id: str, when: pendulum.DateTime) -> None:
        """The buyer cancels at `when`, recorded at once."""
        self.now(when)
        cancel = Cancelled(
            order_id=order_id,
            key=IdempotencyKey("douyin", "trade.cancel", order_id, "1"),
            occurred_at=when,
            reason="买家取消 / the buyer cancelled",
        )
        self.desk.record("douyin", order_id, cancel)

    def ship(self, order_id: str, when: pendulum.DateTime) -> None:
        self.now(when)
        self.desk.record(
            "douyin",
            order_id,
            PickingStarted(
                order_id=order_id,
                key=IdempotencyKey("wms", "picking", order_id, "1"),
                occurred_at=when,
            ),
        )
        self.desk.record(
            "douyin",
            order_id,
            Shipped(
                order_id=order_id,
                key=IdempotencyKey("wms", "shipped", order_id, "1"),
                occurred_at=when,
                shipment_id=f"S-{order_id}",
                lines=[ShipmentLine("L1", 1)],
                carrier="SF",
                tracking_number=f"SF{order_id}",
            ),
        )


def refund_owed(shop: Shop) -> None:
    """DY-REFUND paid Monday, then cancelled: its refund saga left in flight."""
    shop.accept("DY-REFUND", at(9, 2))
    shop.pay("DY-REFUND", at(9, 2, 5), at(9, 2, 5))
    shop.cancel("DY-REFUND", at(9, 3))
    shop.now(NOW)


def a_day_of_orders(unit: UnitOfWork) -> Shop:
    """Five orders around Wednesday's window; three of them are its orders."""
    shop = Shop(unit)
    # Monday: placed and closed unpaid, before the window: not the window's.
    shop.accept("DY-OLD", at(9, 2))
    shop.now(at(9, 3))
    shop.desk.close_unpaid()
    # Monday: paid and never shipped: open, so it counts against Wednesday.
    shop.accept("DY-STUCK", at(9, 2))
    shop.pay("DY-STUCK", at(9, 2, 5), at(9, 2, 5))
    # Wednesday 09:00 Shanghai: paid and shipped, every change synced at once.
    shop.accept("DY-1", at(11, 1))
    shop.pay("DY-1", at(11, 1, 5), at(11, 1, 5))
    shop.ship("DY-1", at(11, 5))
    # Wednesday 10:00: the payment reached us 30 minutes late.
    shop.accept("DY-2", at(11, 2))
    shop.pay("DY-2", at(11, 2, 5), at(11, 2, 35))
    # Thursday 01:00 Shanghai: after the window.
    shop.accept("DY-NEXT", at(11, 17))
    shop.now(NOW)
    return shop


def by_open_status(store: type[OrderStore]) -> Callable[..., Sequence[Order]]:
    """The store class's `orders()`, failing the test when asked for ended orders."""
    every = store.orders

    def listed(
        self: OrderStore,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        if status is None or status.is_terminal:
            pytest.fail(f"orders of {status} were read")
        return every(self, status=status, after=after, limit=limit)

    return listed


COUNTS = (
    # 10 received, 1 shipped (DY-1) by noon: agrees.
    StockCount("RETRO-CLOCK", "BJ-1", 9, at(11, 12)),
    # 5 received, 4 on the shelf: a unit is missing.
    StockCount("JADE-TEAPOT", "BJ-1", 4, at(11, 12)),
)


class TestFiguresFromTheStores:
    """Every figure is read from the stores and matches the hand count."""

    def test_each_measure_and_the_score(self, unit: UnitOfWork) -> None:
        shop = a_day_of_orders(unit)
        report = health_from_stores(
            unit,
            shop.clock,
            window=WINDOW,
            counts=COUNTS,
            complaints=1,
            stuck_rules=RULES,
        )

        def figures(measure: HealthMeasure) -> tuple[int, int, Decimal | None]:
            c = report.component(measure)
            return c.numerator, c.denominator, c.value

        # DY-1: placed, paid, picking, shipped on time; DY-2: placed on
        # time, paid 30 minutes late. DY-STUCK's changes were on Monday.
        assert figures(HealthMeasure.STATUS_SYNC) == (5, 6, Decimal("0.8333"))
        assert figures(HealthMeasure.INVENTORY_ACCURACY) == (1, 2, Decimal("0.5000"))
        # Three window orders (DY-STUCK, DY-1, DY-2), one complaint.
        assert figures(HealthMeasure.COMPLAINT_RATE) == (1, 3, Decimal("0.6667"))
        # DY-1 shipped before Thursday's 16:00 UTC deadline; DY-STUCK was
        # due Tuesday and waits; DY-2 is not due yet.
        assert figures(HealthMeasure.ON_TIME_FULFILMENT) == (1, 2, Decimal("0.5000"))
        assert report.missing == (HealthMeasure.CHANGE_APPROVAL,)
        # 100 * (.30 * 5/6 + .25 * 1/2 + .15 * 2/3 + .10 * 1/2) / .80 = 65.625
        assert report.score == Decimal("65.62")
        # Awaiting shipment: DY-STUCK and DY-2, of three paid orders.
        assert report.backlog_rate == Decimal("0.6667")
        assert [(s.order_id, s.reason) for s in report.stuck] == [
            ("DY-STUCK", StuckReason.PAST_SHIP_BY),
            ("DY-2", StuckReason.STATUS_LIMIT),
        ]
        # DY-2 has been paid since the payment was recorded, 02:35 UTC.
        assert report.stuck[1].since == at(11, 2, 35)
        assert report.stuck_rate == Decimal("0.6667")
        assert report.consistency_index is None

    def test_without_a_complaint_figure_the_score_says_so_and_renormalises(
        self, unit: UnitOfWork
    ) -> None:
        shop = a_day_of_orders(unit)
        report = health_from_stores(
            unit, shop.clock, window=WINDOW, counts=COUNTS, stuck_rules=RULES
        )
        assert report.missing == (
            HealthMeasure.CHANGE_APPROVAL,
            HealthMeasure.COMPLAINT_RATE,
        )
        # 100 * (.30 * 5/6 + .25 * 1/2 + .10 * 1/2) / .65 = 65.3846...
        assert report.score == Decimal("65.38")
        sync = report.component(HealthMeasure.STATUS_SYNC)
        assert sync.effective_weight == Decimal("0.4615")  # .30 / .65

    def test_it_is_health_report_over_what_the_stores_hold(
        self, unit: UnitOfWork
    ) -> None:
        shop = a_day_of_orders(unit)
        ids = ("DY-STUCK", "DY-1", "DY-2")
        with unit as uow:
            orders = [uow.orders.get("douyin", i) for i in ids]
            trails = {i: list(uow.audit.records("douyin", i)) for i in ids}
        records = [
            r
            for i in ids
            for r in trails[i]
            if WINDOW.start <= r.recorded_at < WINDOW.end
        ]
        by_hand = health_report(
            [o for o in orders if o is not None],
            now=NOW,
            zone=ZONE,
            records=records,
            complaints=0,
            stuck_rules=RULES,
            changed_at={
                ("douyin", "DY-STUCK"): at(9, 2, 5),
                ("douyin", "DY-1"): at(11, 5),
                ("douyin", "DY-2"): at(11, 2, 35),
            },
        )
        read = health_from_stores(
            unit, shop.clock, window=WINDOW, complaints=0, stuck_rules=RULES
        )
        assert read == by_hand


class TestTheWindow:
    """Which orders a window counts, and how it is given."""

    def test_an_old_order_still_owing_a_refund_counts(self, unit: UnitOfWork) -> None:
        shop = Shop(unit)
        refund_owed(shop)
        report = health_from_stores(unit, shop.clock, window=WINDOW, complaints=0)
        # One window order, cancelled with its refund saga left in flight.
        assert report.component(HealthMeasure.COMPLAINT_RATE).denominator == 1
        (stuck,) = report.stuck
        assert (stuck.order_id, stuck.reason) == (
            "DY-REFUND",
            StuckReason.SAGA_STALLED,
        )
        assert report.stuck_rate is None  # no open order

    def test_a_pair_of_instants_needs_a_zone(self, unit: UnitOfWork) -> None:
        shop = a_day_of_orders(unit)
        pair = (WINDOW.start, WINDOW.end)
        with pytest.raises(ValidationError) as caught:
            health_from_stores(unit, shop.clock, window=pair)
        assert caught.value.field == "zone"
        by_pair = health_from_stores(
            unit, shop.clock, window=pair, zone=ZONE, complaints=2
        )
        by_day = health_from_stores(unit, shop.clock, window=WINDOW, complaints=2)
        assert by_pair == by_day

    @pytest.mark.parametrize("zone", ["", 0])
    def test_a_bad_zone_beside_a_day_is_refused(
        self, unit: UnitOfWork, zone: object
    ) -> None:
        shop = a_day_of_orders(unit)
        with pytest.raises(ValidationError) as caught:
            health_from_stores(unit, shop.clock, window=WINDOW, zone=zone)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("zone", zone)

    @pytest.mark.parametrize(
        "window",
        [
            (at(11, 16), at(11, 16)),
            (at(11, 16), at(10, 16)),
            (at(10, 16),),
            "yesterday",
        ],
    )
    def test_a_window_must_end_after_it_starts(
        self, unit: UnitOfWork, window: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            health_from_stores(
                unit,
                FrozenClock(NOW),
                window=window,  # type: ignore[arg-type]
                zone=ZONE,
            )
        assert caught.value.field == "window"

    def test_naive_instants_and_bad_pages_are_refused(self, unit: UnitOfWork) -> None:
        naive = (dt.datetime(2026, 11, 11), dt.datetime(2026, 11, 12))  # noqa: DTZ001
        with pytest.raises(NaiveDatetime):
            health_from_stores(unit, FrozenClock(NOW), window=naive, zone=ZONE)
        with pytest.raises(InvalidQuantity):
            health_from_stores(unit, FrozenClock(NOW), window=WINDOW, page=0)

    @pytest.mark.parametrize("reads", ["window", "every-order"])
    def test_orders_outside_the_window_are_not_read(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch, reads: str
    ) -> None:
        """From stores with the reads of a window, its orders and those in flight.

        The orders placed in the window, those it changed and the open and
        waiting ones are read, by their own listings: no listing of every
        order (or of an ended status), and no order done with before the
        window. An order placed before the window and cancelled in it is
        found by its audit record; one placed in it and taken in after it
        ends, by its placed instant. A host's store without the reads is
        read whole, to the same report.
        """
        shop = a_day_of_orders(unit)
        refund_owed(shop)
        # Placed Monday, cancelled unpaid on Wednesday: ended, in the window.
        shop.accept("DY-CANCELLED", at(9, 4))
        shop.cancel("DY-CANCELLED", at(11, 3))
        # Placed Wednesday 23:30 in Shanghai, taken in the next morning.
        shop.accept("DY-LATE", at(11, 15, 30), recorded=at(11, 23))
        shop.now(NOW)
        whole = health_from_stores(unit, shop.clock, window=WINDOW, complaints=0)
        with unit as uow:
            orders, audit = type(uow.orders), type(uow.audit)
        get = orders.get

        def not_old(self: OrderStore, channel: str, order_id: str) -> Order | None:
            if order_id == "DY-OLD":
                pytest.fail("DY-OLD, done with on Monday, was read")
            return get(self, channel, order_id)

        if reads == "window":
            monkeypatch.setattr(orders, "orders", by_open_status(orders))
            monkeypatch.setattr(orders, "get", not_old)
        else:
            monkeypatch.setattr(audit, "recorded_between", None, raising=False)
        found = health_from_stores(
            unit, shop.clock, window=WINDOW, complaints=0, page=1
        )

        assert found == whole
        # DY-STUCK, DY-1, DY-2, DY-REFUND, DY-CANCELLED and DY-LATE.
        assert whole.component(HealthMeasure.COMPLAINT_RATE).denominator == 6

    def test_each_orders_trail_is_read_once(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An order placed in the window, changed in it and still open: one read.

        It is among the window's orders, the orders it changed and the
        open ones; its trail is read once all the same.
        """
        shop = a_day_of_orders(unit)
        refund_owed(shop)
        with unit as uow:
            audit = type(uow.audit)
        every = audit.records
        reads: Counter[str] = Counter()

        def counted(self: AuditLog, channel: str, order_id: str) -> Sequence[object]:
            reads[order_id] += 1
            return every(self, channel, order_id)

        monkeypatch.setattr(audit, "records", counted)
        health_from_stores(unit, shop.clock, window=WINDOW, complaints=0, page=1)
        assert reads == dict.fromkeys(["DY-STUCK", "DY-1", "DY-2", "DY-REFUND"], 1)

    def test_orders_are_read_page_by_page(self, unit: UnitOfWork) -> None:
        shop = a_day_of_orders(unit)
        whole = health_from_stores(unit, shop.clock, window=WINDOW, complaints=1)
        paged = health_from_stores(
            unit, shop.clock, window=WINDOW, complaints=1, page=1
        )
        assert paged == whole
        assert whole.component(HealthMeasure.COMPLAINT_RATE).denominator == 3


class TestStuckFromTheStores:
    """The stuck orders of a backend, each judged from its own audit trail."""

    def test_the_days_stuck_orders(self, unit: UnitOfWork) -> None:
        shop = a_day_of_orders(unit)
        stuck = stuck_from_stores(unit, shop.clock, rules=RULES)
        assert [(s.order_id, s.reason, s.deadline) for s in stuck] == [
            # Paid Monday 10:05 in Shanghai, one business day to ship.
            ("DY-STUCK", StuckReason.PAST_SHIP_BY, at(10, 16)),
            # Paid as the payment was recorded (02:35), 30 minutes to pick.
            ("DY-2", StuckReason.STATUS_LIMIT, at(11, 3, 5)),
        ]

    def test_read_a_page_at_a_time_it_finds_the_same(self, unit: UnitOfWork) -> None:
        shop = a_day_of_orders(unit)
        whole = stuck_from_stores(unit, shop.clock, rules=RULES)
        assert stuck_from_stores(unit, shop.clock, rules=RULES, page=1) == whole

    @pytest.mark.parametrize("listing", ["waiting", "every-order"])
    def test_orders_done_with_are_not_read(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch, listing: str
    ) -> None:
        """A store that lists the orders that wait is read by status and for those.

        The open orders are read by status, the ended ones among the orders
        that wait: a cancelled order whose refund saga stalled is found, and
        no listing of every order (or of an ended status) is asked for. A
        host's store without `waiting()` is read whole, to the same result.
        """
        shop = a_day_of_orders(unit)
        refund_owed(shop)
        whole = stuck_from_stores(unit, shop.clock, rules=RULES)
        with unit as uow:
            store = type(uow.orders)
        if listing == "waiting":
            monkeypatch.setattr(store, "orders", by_open_status(store))
        else:
            monkeypatch.setattr(store, "waiting", None, raising=False)
        found = stuck_from_stores(unit, shop.clock, rules=RULES, page=1)

        assert found == whole
        assert ("DY-REFUND", StuckReason.SAGA_STALLED) in [
            (s.order_id, s.reason) for s in whole
        ]
        assert len(whole) == 3

    @pytest.mark.parametrize("move", ["picked", "cancelled"])
    def test_an_order_moving_on_between_listings_is_judged_once(
        self, unit: UnitOfWork, monkeypatch: pytest.MonkeyPatch, move: str
    ) -> None:
        """Read as paid, then picked (or cancelled) before a later listing reads it.

        The listings are not one snapshot: the order is read twice, and
        judged once, as the later read found it: still past its ship-by
        while picking; cancelled, its refund saga just started, not stuck.
        """
        shop = Shop(unit)
        shop.accept("DY-1", at(9, 2))
        shop.pay("DY-1", at(9, 2, 5), at(9, 2, 5))
        shop.now(NOW)
        if move == "picked":
            event: PickingStarted | Cancelled = PickingStarted(
                order_id="DY-1",
                key=IdempotencyKey("wms", "picking", "DY-1", "1"),
                occurred_at=NOW,
            )
        else:
            event = Cancelled(
                order_id="DY-1",
                key=IdempotencyKey("douyin", "trade.cancel", "DY-1", "1"),
                occurred_at=NOW,
                reason="买家取消 / the buyer cancelled",
            )
        with unit as uow:
            store = type(uow.orders)
        every = store.orders
        paid_read: list[bool] = []

        def listed(
            self: OrderStore,
            *,
            status: OrderStatus | None = None,
            after: tuple[str, str] | None = None,
            limit: int = 100,
        ) -> Sequence[Order]:
            found = every(self, status=status, after=after, limit=limit)
            paid_read.append(status is OrderStatus.PAID and bool(found))
            return found

        monkeypatch.setattr(store, "orders", listed)

        class MovesOn:
            """The unit; DY-1 moves on as the first unit after its paid read begins."""

            def __enter__(self) -> object:
                if any(paid_read) and not moved:
                    moved.append(True)
                    shop.desk.record("douyin", "DY-1", event)
                return unit.__enter__()

            def __exit__(self, *exc: object) -> None:
                unit.__exit__(*exc)  # type: ignore[arg-type]

        moved: list[bool] = []
        moving = cast("UnitOfWork", MovesOn())
        stuck = stuck_from_stores(moving, shop.clock, rules=RULES)
        assert moved
        assert [(s.order_id, s.status, s.reason) for s in stuck] == {
            "picked": [("DY-1", OrderStatus.PICKING, StuckReason.PAST_SHIP_BY)],
            "cancelled": [],
        }[move]

    def test_an_empty_backend_has_none(self, unit: UnitOfWork) -> None:
        assert stuck_from_stores(unit, FrozenClock(NOW)) == []

    def test_page_must_be_positive(self, unit: UnitOfWork) -> None:
        with pytest.raises(InvalidQuantity):
            stuck_from_stores(unit, FrozenClock(NOW), page=0)
