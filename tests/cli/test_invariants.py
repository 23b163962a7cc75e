"""The end-of-run checks of `orderkit simulate` see a broken store.

One small day runs on a SQLite file; each test corrupts a copy of it the
way a bug would (an event applied twice, a record lost, a status moved
back, a balance gone, a refund beyond its capture, a statement line that
no order records) and runs the checks as the command does. A check that
cannot see its violation would let a broken run report "every invariant
holds".
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.cli._backends import Database
from orderkit.cli._invariants import (
    Findings,
    _check_once,
    _check_shipped,
    _reconcile,
    check,
)
from orderkit.cli._plans import OrderPlan, Rates
from orderkit.cli._run import _stock
from orderkit.cli._traffic import plan_day
from orderkit.cli._workers import Job, run_here
from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import SettlementLine, TransactionKind
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AuditRecord,
    Buyer,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
    apply_all,
)


ORDERS, SEED = 300, 5
Corruption = Callable[[sqlite3.Connection], None]


@attrs.frozen
class Day:
    path: str
    plans: Sequence[OrderPlan]
    ended: pendulum.DateTime
    sellable: Mapping[str, int]
    provider_holds: Mapping[str, int]
    statement: Sequence[SettlementLine]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """One small run kept on disk, with what the command hands to `check`."""
    path = str(tmp_path_factory.mktemp("day") / "day.db")
    database = Database(path)
    unit = database.open()
    try:
        _stock(unit, ORDERS)
        reports = run_here(Job(path, ORDERS, SEED, Rates(), 1), unit, lambda *_: None)
        plans = plan_day(ORDERS, SEED, Rates())
        ended = max(r.ended_at for r in reports)
        holds = reports[0].provider_holds
        statement = reports[0].statement
        clean = check(
            unit,
            plans,
            ended,
            sellable=reports[0].sellable,
            provider_holds=holds,
            statement=statement,
        )
    finally:
        database.close()
    assert clean.count == 0, clean.violations
    assert holds, "the provider holds no money at all: nothing was checked"
    return Day(path, plans, ended, reports[0].sellable, holds, statement)


def _checked(
    day: Day,
    tmp_path: Path,
    corrupt: Corruption,
    provider_holds: Mapping[str, int] | None = None,
    statement: Sequence[SettlementLine] | None = None,
) -> Findings:
    copy = str(tmp_path / "corrupt.db")
    shutil.copy(day.path, copy)
    with sqlite3.connect(copy) as con:
        corrupt(con)
    unit = SqliteUnitOfWork(copy)
    try:
        return check(
            unit,
            day.plans,
            day.ended,
            sellable=day.sellable,
            provider_holds=provider_holds,
            statement=statement,
        )
    finally:
        unit.close()


def _untouched(con: sqlite3.Connection) -> None:
    del con


def _trail(con: sqlite3.Connection, ref: tuple[str, str]) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT record FROM orderkit_audit WHERE channel = ? AND order_id = ?"
        " ORDER BY version",
        ref,
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def _document(con: sqlite3.Connection, ref: tuple[str, str]) -> dict[str, Any]:
    (found,) = con.execute(
        "SELECT document FROM orderkit_orders WHERE channel = ? AND order_id = ?", ref
    ).fetchone()
    document: dict[str, Any] = json.loads(found)
    return document


def _put_document(
    con: sqlite3.Connection, ref: tuple[str, str], document: dict[str, Any]
) -> None:
    con.execute(
        "UPDATE orderkit_orders SET document = ?, version = ?, status = ?"
        " WHERE channel = ? AND order_id = ?",
        (
            json.dumps(document, ensure_ascii=False).encode(),
            document["version"],
            document["status"],
            *ref,
        ),
    )


def _put_record(
    con: sqlite3.Connection, ref: tuple[str, str], record: dict[str, Any]
) -> None:
    con.execute(
        "INSERT INTO orderkit_audit (channel, order_id, version, record)"
        " VALUES (?, ?, ?, ?)",
        (*ref, record["version"], json.dumps(record, ensure_ascii=False).encode()),
    )


def _an_order(con: sqlite3.Connection, status: str) -> tuple[str, str]:
    found = con.execute(
        "SELECT channel, order_id FROM orderkit_orders WHERE status = ?"
        " ORDER BY order_id",
        (status,),
    ).fetchone()
    assert found is not None, f"no {status} order in the day"
    return found[0], found[1]


def _said(found: Findings, words: str) -> None:
    assert found.count > 0
    assert any(words in v for v in found.violations), found.violations


def test_an_event_applied_twice_is_seen(day: Day, tmp_path: Path) -> None:
    def corrupt(con: sqlite3.Connection) -> None:
        ref = _an_order(con, "delivered")
        last = _trail(con, ref)[-1]
        again = last["version"] + 1
        _put_record(con, ref, {**last, "version": again})
        _put_document(con, ref, {**_document(con, ref), "version": again})

    _said(_checked(day, tmp_path, corrupt), "twice")


def test_a_record_lost_from_the_middle_is_seen(day: Day, tmp_path: Path) -> None:
    def corrupt(con: sqlite3.Connection) -> None:
        ref = _an_order(con, "delivered")
        con.execute(
            "DELETE FROM orderkit_audit WHERE channel = ? AND order_id = ?"
            " AND version = ?",
            (*ref, _trail(con, ref)[-2]["version"]),
        )

    _said(_checked(day, tmp_path, corrupt), "version")


def test_a_record_lost_from_the_end_is_seen(day: Day, tmp_path: Path) -> None:
    """The last record left the status as it was: only the versions tell."""

    def corrupt(con: sqlite3.Connection) -> None:
        for channel, order_id in con.execute(
            "SELECT channel, order_id FROM orderkit_orders ORDER BY order_id"
        ).fetchall():
            last = _trail(con, (channel, order_id))[-1]
            if last["version"] > 1 and last["from_status"] == last["to_status"]:
                con.execute(
                    "DELETE FROM orderkit_audit WHERE channel = ? AND order_id = ?"
                    " AND version = ?",
                    (channel, order_id, last["version"]),
                )
                return
        pytest.fail("no order whose last record keeps its status")

    _said(_checked(day, tmp_path, corrupt), "its trail ends at")


@pytest.mark.parametrize(
    ("old", "new"), [("closed", "pending_payment"), ("cancelled", "paid")]
)
def test_a_status_moved_back_with_its_record_is_seen(
    day: Day, tmp_path: Path, old: str, new: str
) -> None:
    def corrupt(con: sqlite3.Connection) -> None:
        ref = _an_order(con, old)
        last = _trail(con, ref)[-1]
        version = last["version"] + 1
        key = {"channel": "x", "event_type": "x", "object_id": ref[1], "event_id": "x"}
        moved = {**last, "version": version, "from_status": old, "to_status": new}
        _put_record(con, ref, {**moved, "event_type": "PaymentCaptured", "key": key})
        document = _document(con, ref)
        _put_document(con, ref, {**document, "status": new, "version": version})

    _said(_checked(day, tmp_path, corrupt), "which the lifecycle never does")


def test_a_sku_whose_balances_vanished_is_seen(day: Day, tmp_path: Path) -> None:
    def corrupt(con: sqlite3.Connection) -> None:
        (sku,) = con.execute(
            "SELECT sku FROM orderkit_balances GROUP BY sku HAVING sum(on_hand) > 0"
            " ORDER BY sku LIMIT 1"
        ).fetchone()
        con.execute("DELETE FROM orderkit_balances WHERE sku = ?", (sku,))

    _said(_checked(day, tmp_path, corrupt), "its movements replay to")


def test_a_refund_beyond_its_capture_is_counted_not_raised(
    day: Day, tmp_path: Path
) -> None:
    def corrupt(con: sqlite3.Connection) -> None:
        for channel, order_id, stored in con.execute(
            "SELECT channel, order_id, document FROM orderkit_orders ORDER BY order_id"
        ).fetchall():
            document = json.loads(stored)
            ledger = document["payment_ledger"]
            if ledger and ledger["refunds"]:
                ledger["refunds"][0]["amount"]["amount"] = "99999.00"
                _put_document(con, (channel, order_id), document)
                return
        pytest.fail("no refund in the day")

    found = _checked(day, tmp_path, corrupt)
    assert found.refunds_over_captured == 1
    _said(found, "cannot be read")


@pytest.mark.parametrize("event_type", ["AfterSalesRecorded", "PaymentsRecorded"])
def test_a_desk_record_applied_twice_is_seen(
    day: Day, tmp_path: Path, event_type: str
) -> None:
    """An amendment recorded again, one version on, as a double execution leaves it."""

    def corrupt(con: sqlite3.Connection) -> None:
        for channel, order_id in con.execute(
            "SELECT channel, order_id FROM orderkit_orders ORDER BY order_id"
        ).fetchall():
            ref = (channel, order_id)
            trail = _trail(con, ref)
            found = [r for r in trail if r["event_type"] == event_type]
            if found:
                version, status = trail[-1]["version"] + 1, trail[-1]["to_status"]
                again = {**found[0], "version": version}
                _put_record(
                    con, ref, {**again, "from_status": status, "to_status": status}
                )
                _put_document(con, ref, {**_document(con, ref), "version": version})
                return
        pytest.fail(f"no {event_type} record in the day")

    _said(_checked(day, tmp_path, corrupt), f"applied {event_type}")


def test_money_the_provider_holds_for_no_order_is_seen(
    day: Day, tmp_path: Path
) -> None:
    """A capture whose reply was lost, on an order that never recorded it."""
    holds = {**day.provider_holds, "taobao:lost-reply": 100}
    found = _checked(day, tmp_path, _untouched, provider_holds=holds)
    assert found.count == 1
    _said(found, "provider: holds 100 (minor units) of payment taobao:lost-reply")


def test_money_the_provider_holds_beyond_a_refund_is_seen(
    day: Day, tmp_path: Path
) -> None:
    """A refund the order records settled that the provider never sent."""
    with sqlite3.connect(day.path) as con:
        payment = next(
            refund["payment_id"]
            for (stored,) in con.execute("SELECT document FROM orderkit_orders")
            for refund in (json.loads(stored)["payment_ledger"] or {}).get(
                "refunds", []
            )
            if refund["state"] == "refunded"
        )
    holds = {**day.provider_holds, payment: day.provider_holds.get(payment, 0) + 1}
    _said(_checked(day, tmp_path, _untouched, provider_holds=holds), payment)


def test_the_day_reconciles_with_the_statements_of_both_its_days(
    day: Day, tmp_path: Path
) -> None:
    """The day runs past midnight UTC, when the provider starts a new statement.

    Its returns and their refunds come days later, on statements of their own.
    """
    found = _checked(day, tmp_path, _untouched, statement=day.statement)
    assert (found.count, found.payment_discrepancies) == (0, 0)
    assert found.payments_reconciled == len(day.statement)
    days = {line.settled_at.in_timezone("UTC").date() for line in day.statement}
    assert {dt.date(2026, 11, 10), dt.date(2026, 11, 11)} < days


def test_a_refund_the_stores_do_not_know_is_seen(day: Day, tmp_path: Path) -> None:
    """The provider sent money back that no order records as refunded."""
    capture = next(x for x in day.statement if x.kind is TransactionKind.CAPTURE)
    stray = attrs.evolve(
        capture,
        transaction_id="w0-ref-999999",
        kind=TransactionKind.REFUND,
        amount=Money("1.00", capture.amount.currency),
        fee=Money(0, capture.amount.currency),
    )
    statement = [*day.statement, stray]
    found = _checked(day, tmp_path, _untouched, statement=statement)
    assert (found.count, found.payment_discrepancies) == (1, 1)
    # The provider's lines name no order, so a refund no order records is
    # one for "an order neither side shows as paid".
    _said(found, "reconciliation: missing_in_orders w0-ref-999999")


def test_a_refund_the_provider_never_sent_is_seen(day: Day, tmp_path: Path) -> None:
    """An order records a refund settled that no statement lists."""
    refund = next(x for x in day.statement if x.kind is TransactionKind.REFUND)
    statement = [line for line in day.statement if line is not refund]
    found = _checked(day, tmp_path, _untouched, statement=statement)
    assert (found.count, found.payment_discrepancies) == (1, 1)
    _said(found, f"the provider's {refund.transaction_id}")
    _said(found, "reconciliation: missing_in_statement")


@pytest.fixture(scope="module")
def paid_orders(day: Day) -> list[Order]:
    """The day's orders, read once."""
    unit = SqliteUnitOfWork(day.path)
    try:
        with unit as uow:
            return list(uow.orders.orders(limit=10 * ORDERS))
    finally:
        unit.close()


@given(data=st.data())
def test_each_line_missing_from_the_statements_is_one_discrepancy(
    day: Day, paid_orders: list[Order], data: st.DataObject
) -> None:
    """Whatever lines the provider's statements lack, each is counted, once."""
    lost = data.draw(st.sets(st.sampled_from(range(len(day.statement))), max_size=6))
    kept = [line for i, line in enumerate(day.statement) if i not in lost]
    found = Findings()
    _reconcile(paid_orders, kept, found)
    assert found.payment_discrepancies == len(lost) == found.count
    assert found.payments_reconciled == len(kept)
    assert all("missing_in_statement" in v for v in found.violations)


def test_two_orders_claiming_one_capture_are_a_violation_not_a_crash(
    day: Day, paid_orders: list[Order]
) -> None:
    """An order copied under another id: the books cannot be read as one."""
    order = next(o for o in paid_orders if o.payments)
    twin = attrs.evolve(order, order_id=f"{order.order_id}-twin")
    found = Findings()
    _reconcile([*paid_orders, twin], day.statement, found)
    assert (found.count, found.payment_discrepancies) == (1, 1)
    _said(found, "reconciliation: not done")


def test_every_record_is_applied_once_a_saga_may_begin_again() -> None:
    """A saga may begin again under its key once it ended; nothing else may repeat."""

    def record(version: int, event_type: str) -> AuditRecord:
        return AuditRecord(
            order_id="DY-1",
            version=version,
            from_status=OrderStatus.PAID,
            to_status=OrderStatus.PAID,
            event_type=event_type,
            key=IdempotencyKey("douyin", "paid", "DY-1", "1"),
            actor="system",
            source="douyin",
            occurred_at=pendulum.datetime(2026, 11, 11),
            recorded_at=pendulum.datetime(2026, 11, 11),
        )

    def violations(*event_types: str) -> int:
        found = Findings()
        trail = [record(v, e) for v, e in enumerate(event_types, start=2)]
        _check_once(trail, "DY-1", found)
        return found.count

    assert violations("SagaStarted", "SagaEnded", "SagaStarted", "SagaEnded") == 0
    assert violations("SagaEnded", "SagaStarted", "SagaEnded") == 0
    assert violations("SagaStarted", "SagaStarted") == 1
    assert violations("SagaStarted", "SagaEnded", "SagaEnded") == 1
    for event_type in ("PaymentCaptured", "AfterSalesRecorded", "PaymentsRecorded"):
        assert violations(event_type, event_type) == 1, event_type


def _shipped_order(parcel: Sequence[tuple[str, int]]) -> Order:
    """A paid order of two clocks and a gift card, shipped in one `parcel`."""
    t = pendulum.datetime(2026, 11, 11, tz="UTC")
    key = IdempotencyKey
    yuan = Money("99.00", "CNY")
    events: list[OrderEvent] = [
        OrderPlaced(
            order_id="DY-1",
            key=key("douyin", "trade", "DY-1", "created"),
            occurred_at=t,
            channel="douyin",
            buyer=Buyer("b-1", "王芳"),
            address=Address(
                "CN", province="广东省", city="深圳市", street="科技园路1号"
            ),
            lines=[
                OrderLine("L1", "CLOCK", 2, yuan),
                OrderLine("L2", "GIFT-CARD", 1, yuan, stocked=False),
            ],
        ),
        PaymentCaptured(
            order_id="DY-1",
            key=key("douyin", "trade", "DY-1", "paid"),
            occurred_at=t,
            payment_id="P1",
            amount=Money("297.00", "CNY"),
        ),
        PickingStarted(
            order_id="DY-1",
            key=key("douyin", "trade", "DY-1", "picking"),
            occurred_at=t,
        ),
        Shipped(
            order_id="DY-1",
            key=key("douyin", "trade", "DY-1", "shipped"),
            occurred_at=t,
            shipment_id="S1",
            lines=[ShipmentLine(line_id, n) for line_id, n in parcel],
            carrier="SF",
            tracking_number="SF1",
        ),
    ]
    order = apply_all(None, events, now=t).order
    assert order is not None
    return order


@pytest.mark.parametrize("parcel", [[("L1", 2)], [("L1", 2), ("L2", 1)]])
def test_a_gift_card_need_not_ride_in_a_parcel(
    parcel: Sequence[tuple[str, int]],
) -> None:
    order = _shipped_order(parcel)
    assert order.status is OrderStatus.SHIPPED
    found = Findings()
    _check_shipped(order, "douyin:DY-1", found)
    assert found.violations == []
