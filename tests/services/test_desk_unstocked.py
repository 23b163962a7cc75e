"""Lines with no stock behind them: a gift card, a fee, a download.

The desk takes such a line in, prices and ships it with the order, and
never asks the ledger for it: no route, hold, commit, pick task, shipment
or restock. An order of those lines alone is accepted with no holds.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from tests.services._samples import awaiting_payment, backend, cny

from orderkit.adapters.postgres import PostgresUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ReturnLine,
    ShipmentLine,
    Shipped,
    approve_case,
    inspect_return,
    receive_return,
    request_return,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import ApprovalTiers, PriceFloor, PricingPolicy
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk, Refused
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeWarehouse


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
OWNER = "order:douyin:DY-1001"
CLOCKS = OrderLine("L1", "RETRO-CLOCK", 2, cny("199.00"), "复古闹钟")
GIFT_CARD = OrderLine("L2", "custom:L2", 1, cny("100.00"), "礼品卡", stocked=False)
TIERS = ApprovalTiers.of((None, "finance"))
_PG_DSN = os.environ.get("ORDERKIT_PG_DSN", "")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    """An empty backend: in memory, in a SQLite file, or a PostgreSQL schema."""
    if request.param != "postgres":
        yield from backend(request.param, tmp_path / "desk.db")
        return
    if not _PG_DSN:
        pytest.skip("ORDERKIT_PG_DSN is not set: no PostgreSQL server")
    import psycopg  # noqa: PLC0415 - only with a server to talk to

    schema = f"orderkit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in _PG_DSN else "?"
    pg = PostgresUnitOfWork(f"{_PG_DSN}{joiner}options=-csearch_path%3D{schema}")
    try:
        yield pg
    finally:
        pg.close()
        with psycopg.connect(_PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def key(kind: str, n: str = "1") -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, "DY-1001", n)


def incoming(*lines: OrderLine, events: tuple[Any, ...] = ()) -> Any:
    placed = OrderPlaced(
        order_id="DY-1001",
        key=key("trade.created"),
        occurred_at=T0,
        channel="douyin",
        buyer=Buyer("buyer-42", "李雷", phone="+8613800138000"),
        address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 1 号"),
        lines=lines,
    )
    return awaiting_payment(placed, events=events)


def paid(amount: str = "498.00") -> PaymentCaptured:
    return PaymentCaptured(
        order_id="DY-1001",
        key=key("trade.paid"),
        occurred_at=T0.add(minutes=5),
        payment_id="alipay-DY-1001",
        amount=cny(amount),
    )


def picking() -> PickingStarted:
    return PickingStarted(
        order_id="DY-1001", key=key("wms.picking"), occurred_at=T0.add(hours=2)
    )


def parcel(*parts: ShipmentLine, n: str = "1") -> Shipped:
    return Shipped(
        order_id="DY-1001",
        key=key("wms.shipped", n),
        occurred_at=T0.add(hours=3),
        shipment_id=f"S{n}",
        lines=parts,
        carrier="SF",
        tracking_number=f"SF140012345{n}",
    )


def desk(unit: UnitOfWork, clock: FrozenClock, **policy: Any) -> OrderDesk:
    return OrderDesk(
        unit,
        clock,
        DeskPolicy(locations=["BJ-1"], **policy),
        Fingerprinter(b"unstocked-tests-secret-012345678"),
    )


def stocked_desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        Ledger(uow.ledger, clock).receive("RETRO-CLOCK", "BJ-1", 10)
        uow.commit()
    return desk(unit, clock)


def balance(unit: UnitOfWork, clock: FrozenClock) -> tuple[int, int, int]:
    with unit as uow:
        b = Ledger(uow.ledger, clock).balance("RETRO-CLOCK", "BJ-1")
    return (b.on_hand, b.reserved, b.allocated)


def ledger_skus(unit: UnitOfWork) -> set[str]:
    """Every SKU the ledger has a hold, a balance or a movement of."""
    with unit as uow:
        holds = {h.sku for h in uow.ledger.holds()}
        movements = {m.sku for m in uow.ledger.movements()}
        balances = {b.sku for b in uow.ledger.balances(T0)}
    return holds | movements | balances


def sellable_skus(unit: UnitOfWork) -> set[str]:
    with unit as uow:
        return {
            json.loads(m.payload)["sku"]
            for m in uow.outbox.unsent()
            if m.topic == "sellable"
        }


class TestIntake:
    def test_an_order_of_unstocked_lines_alone_is_accepted_with_no_holds(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        outcome = desk(unit, clock).accept(incoming(GIFT_CARD))
        assert isinstance(outcome, Accepted), outcome
        assert outcome.order.lines == (GIFT_CARD,)
        assert ledger_skus(unit) == set()
        assert sellable_skus(unit) == set()
        with unit as uow:
            # Stored and read back, on every backend, still unstocked.
            assert uow.orders.get("douyin", "DY-1001") == outcome.order

    def test_the_same_sku_stocked_is_refused_out_of_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        stocked = OrderLine("L2", "custom:L2", 1, cny("100.00"))
        outcome = desk(unit, clock).accept(incoming(stocked))
        assert isinstance(outcome, Refused)

    def test_only_the_stocked_lines_of_an_order_are_held(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        outcome = stocked_desk(unit, clock).accept(incoming(CLOCKS, GIFT_CARD))
        assert isinstance(outcome, Accepted), outcome
        assert balance(unit, clock) == (10, 2, 0)
        with unit as uow:
            assert {(h.sku, h.quantity) for h in uow.ledger.holds(owner=OWNER)} == {
                ("RETRO-CLOCK", 2)
            }
        assert "custom:L2" not in ledger_skus(unit) | sellable_skus(unit)

    def test_a_paid_order_of_unstocked_lines_is_paid_and_waits_for_nobody(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk(unit, clock)
        the_desk.accept(incoming(GIFT_CARD))
        recorded = the_desk.record("douyin", "DY-1001", paid("100.00"))
        assert recorded.order.status is OrderStatus.PAID
        assert recorded.order.review == ()
        assert ledger_skus(unit) == set()

    def test_an_unstocked_line_is_priced_as_any_other(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        """A price floor on its SKU holds it for pricing as for a stocked line."""
        floors = [PriceFloor("custom:L2", cny("150.00"))]
        the_desk = desk(unit, clock, pricing=PricingPolicy(floors=floors))
        outcome = the_desk.accept(incoming(GIFT_CARD))
        assert not isinstance(outcome, Accepted)
        assert outcome.order.review == ("pricing",)  # type: ignore[union-attr]


class TestFulfilment:
    def test_payment_commits_the_stocked_units_only(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(incoming(CLOCKS, GIFT_CARD))
        recorded = the_desk.record("douyin", "DY-1001", paid())
        assert recorded.order.status is OrderStatus.PAID
        assert recorded.order.review == ()
        assert balance(unit, clock) == (10, 0, 2)

    def test_pick_tasks_name_the_stocked_lines_only(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(incoming(CLOCKS, GIFT_CARD, events=(paid(),)))
        warehouse = FakeWarehouse(clock)
        started = the_desk.start_picking("douyin", "DY-1001", warehouse)
        assert started.order.status is OrderStatus.PICKING
        (task,) = warehouse.tasks.values()
        assert [(p.line_id, p.sku, p.quantity) for p in task.lines] == [
            ("L1", "RETRO-CLOCK", 2)
        ]

    def test_an_order_of_unstocked_lines_alone_is_picked_with_no_task(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk(unit, clock)
        the_desk.accept(incoming(GIFT_CARD, events=(paid("100.00"),)))
        warehouse = FakeWarehouse(clock)
        started = the_desk.start_picking("douyin", "DY-1001", warehouse)
        assert started.order.status is OrderStatus.PICKING
        assert warehouse.tasks == {}

    def test_the_stocked_units_shipped_ship_the_order_in_full(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(incoming(CLOCKS, GIFT_CARD, events=(paid(),)))
        the_desk.record("douyin", "DY-1001", picking())
        shipped = the_desk.record("douyin", "DY-1001", parcel(ShipmentLine("L1", 2)))
        assert shipped.order.status is OrderStatus.SHIPPED
        assert shipped.order.review == ()
        assert balance(unit, clock) == (8, 0, 0)
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1001") == shipped.order

    def test_a_parcel_may_carry_the_unstocked_line_too(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(incoming(CLOCKS, GIFT_CARD, events=(paid(),)))
        the_desk.record("douyin", "DY-1001", picking())
        first = the_desk.record(
            "douyin", "DY-1001", parcel(ShipmentLine("L2", 1), ShipmentLine("L1", 1))
        )
        assert first.order.status is OrderStatus.PARTIALLY_SHIPPED
        assert first.order.review == ()
        assert balance(unit, clock) == (9, 0, 1)
        second = the_desk.record(
            "douyin", "DY-1001", parcel(ShipmentLine("L1", 1), n="2")
        )
        assert second.order.status is OrderStatus.SHIPPED
        assert balance(unit, clock) == (8, 0, 0)

    def test_a_parcel_of_unstocked_lines_alone_moves_no_stock(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = desk(unit, clock)
        the_desk.accept(incoming(GIFT_CARD, events=(paid("100.00"),)))
        the_desk.record("douyin", "DY-1001", picking())
        shipped = the_desk.record("douyin", "DY-1001", parcel(ShipmentLine("L2", 1)))
        assert shipped.order.status is OrderStatus.SHIPPED
        assert shipped.order.review == ()
        assert ledger_skus(unit) == set()

    def test_cancelling_gives_back_the_stocked_units_only(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(incoming(CLOCKS, GIFT_CARD, events=(paid(),)))
        cancelled = Cancelled(
            order_id="DY-1001",
            key=key("trade.cancelled"),
            occurred_at=T0.add(hours=1),
            reason="buyer changed their mind",
        )
        ended = the_desk.record("douyin", "DY-1001", cancelled)
        assert ended.order.status is OrderStatus.CANCELLED
        assert balance(unit, clock) == (10, 0, 0)
        assert "custom:L2" not in ledger_skus(unit)


class TestAfterSales:
    def test_a_passed_inspection_restocks_the_stocked_lines_only(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        the_desk = stocked_desk(unit, clock)
        the_desk.accept(incoming(CLOCKS, GIFT_CARD, events=(paid(),)))
        the_desk.record("douyin", "DY-1001", picking())
        the_desk.record("douyin", "DY-1001", parcel(ShipmentLine("L1", 2)))
        # The gift card never shipped: it comes back all the same, to nowhere.
        case = request_return(
            case_id="AS-1",
            order_id="DY-1001",
            payment_id="alipay-DY-1001",
            lines=[
                ReturnLine("L1", "RETRO-CLOCK", 1),
                ReturnLine("L2", "custom:L2", 1),
            ],
            refund_amount=cny("299.00"),
            reason="七天无理由退货",
            requester="buyer:buyer-42",
            return_to="BJ-1",
            at=T0.add(days=3),
        )
        case = approve_case(case, "mgr.li", "finance", TIERS, T0.add(days=4))
        case = receive_return(case, {}, {}, T0.add(days=6))
        case = inspect_return(case, passed=True, at=T0.add(days=7)).case
        the_desk.amend(
            "douyin", "DY-1001", case, key=key("as"), actor="ops.wu", source="erp"
        )
        assert balance(unit, clock) == (9, 0, 0)
        assert "custom:L2" not in ledger_skus(unit)
