"""Shopify order edits: what `current_quantity` says is left of a line.

Since Admin API 2024-01 a line item states `current_quantity`, the units
ordered less those removed by an order edit or refunded; `quantity` keeps
what was bought. An edit that removes units also shows as a refund that
moves no money (`restock_type` `cancel`, no transactions). The desk sees an
edit as a change of the order's lines (`"edited"`). Payloads are derived in
code from Shopify's own sample order (`order-3-line-items-discount-shipping`,
see tests/fixtures/SOURCES.md), priced so that their totals add up.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pendulum
import pytest

from orderkit.adapters.channels.shopify import ShopifyPayloads
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import Fingerprinter
from orderkit.errors import EmptyOrder, InvalidQuantity
from orderkit.integrations import ChannelOrder, RefundLine
from orderkit.money import Money
from orderkit.orders import PaymentCaptured
from orderkit.ports import UnitOfWork
from orderkit.pricing import AmountOff, PricingPolicy, TotalsPolicy
from orderkit.services import (
    Accepted,
    AlreadyAccepted,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
)
from orderkit.testing import FrozenClock


ORDER: Final = (
    Path(__file__).resolve().parents[2]
    / "fixtures/channels/shopify/order-3-line-items-discount-shipping.json"
)
ADAPTER: Final = ShopifyPayloads()
NOW: Final = pendulum.datetime(2026, 11, 11, 14, 0)
WHERE: Final = "NYC-1"
# The fixture's three lines, in its order.
GREEN, RED, BLACK = "IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def placed(quantities: tuple[int, ...] = (1, 1, 1)) -> dict[str, Any]:
    """The fixture order, paid, unfulfilled, priced to add up.

    Lines of 199.00 at `quantities`, the code TENOFF (10.00 off), no
    shipping, 6% tax on the goods less the discount; every line states its
    `current_quantity`, as API 2024-01 on does.
    """
    order: dict[str, Any] = json.loads(ORDER.read_text(encoding="utf-8"))["order"]
    order.update(
        id=1001,
        financial_status="paid",
        created_at="2026-11-11T09:00:00-05:00",
        updated_at="2026-11-11T09:05:00-05:00",
        processed_at="2026-11-11T09:00:00-05:00",
        fulfillments=[],
        refunds=[],
    )
    for item, quantity in zip(order["line_items"], quantities, strict=True):
        item.update(quantity=quantity, current_quantity=quantity)
    _price(order, "", quantities)
    return order


def _price(order: dict[str, Any], prefix: str, quantities: tuple[int, ...]) -> None:
    """Set the order's totals (`total_price`..., or `current_...`) for `quantities`."""
    goods = 199 * sum(quantities)
    discount = 10 if goods else 0
    tax = round((goods - discount) * 0.06, 2)
    order[f"{prefix}total_discounts"] = f"{discount:.2f}"
    order[f"{prefix}subtotal_price"] = f"{goods - discount:.2f}"
    order[f"{prefix}total_tax"] = f"{tax:.2f}"
    order[f"{prefix}total_price"] = f"{goods - discount + tax:.2f}"


def edited(
    order: dict[str, Any], current: tuple[int, ...], *, discount: str | None = None
) -> dict[str, Any]:
    """`order` after an edit left `current` units of each line.

    As Shopify shows it: `quantity` kept, `current_quantity` and the
    `current_` totals lowered, and a refund that moves no money naming the
    removed units (`restock_type` `cancel`, no transactions). `discount`
    is the current total discount (default: the code's whole 10.00).
    """
    after = copy.deepcopy(order)
    after["updated_at"] = "2026-11-11T09:30:00-05:00"
    removed: list[dict[str, Any]] = []
    for item, left in zip(after["line_items"], current, strict=True):
        gone = item["current_quantity"] - left
        item["current_quantity"] = left
        if gone:
            removed.append(
                {
                    "id": 70 + len(removed),
                    "line_item_id": item["id"],
                    "quantity": gone,
                    "restock_type": "cancel",
                }
            )
    _price(after, "current_", current)
    if discount is not None:
        after["current_total_discounts"] = discount
        goods = 199 * sum(current)
        cut = goods - float(discount)
        tax = round(cut * 0.06, 2)
        after["current_subtotal_price"] = f"{cut:.2f}"
        after["current_total_tax"] = f"{tax:.2f}"
        after["current_total_price"] = f"{cut + tax:.2f}"
    after["refunds"] = [
        {
            "id": 901,
            "order_id": after["id"],
            "created_at": "2026-11-11T09:30:00-05:00",
            "note": "order edit",
            "refund_line_items": removed,
            "transactions": [],
        }
    ]
    return after


def read(payload: dict[str, Any]) -> ChannelOrder:
    [record] = ADAPTER.parse(payload, topic="orders/updated")
    assert isinstance(record, ChannelOrder)
    return record


def quantities(record: ChannelOrder) -> dict[str, int]:
    return {line.sku: line.quantity for line in record.placed.lines}


# ----------------------------------------------------------------------
# Reading


def test_an_order_not_edited_reads_as_without_current_quantity() -> None:
    order = placed()
    older = copy.deepcopy(order)
    for item in older["line_items"]:
        del item["current_quantity"]
    assert read(order) == read(older)


def test_a_reduced_line_reads_at_its_current_quantity() -> None:
    record = read(edited(placed((2, 1, 1)), (1, 1, 1)))
    assert quantities(record) == {GREEN: 1, RED: 1, BLACK: 1}
    assert record.quote.stated_total == usd("622.22")
    assert record.quote.tax == usd("35.22")


def test_a_removed_line_is_dropped_and_the_totals_are_the_current_ones() -> None:
    record = read(edited(placed(), (0, 1, 1)))
    assert quantities(record) == {RED: 1, BLACK: 1}
    assert record.quote.lines == record.placed.lines
    assert record.quote.stated_total == usd("411.28")
    assert record.quote.tax == usd("23.28")
    # The money refund of the removal is owed, not sent: no refund stated.
    assert record.refunds == ()
    # What the buyer paid at checkout is still the capture.
    [paid] = record.events
    assert isinstance(paid, PaymentCaptured)
    assert paid.amount == usd("622.22")


def test_the_discount_removed_with_a_line_comes_off_the_code() -> None:
    record = read(edited(placed(), (0, 1, 1), discount="6.67"))
    assert record.quote.offers == (AmountOff("TENOFF", usd("6.67")),)
    assert record.quote.stated_total == usd("414.81")


def test_a_money_refund_of_a_unit_keeps_it_in_the_line() -> None:
    # The desk cancels a refunded unit itself (`record_refund`): read out of
    # the line as well, it would be taken off twice.
    order = placed((2, 1, 1))
    order["line_items"][0]["current_quantity"] = 1
    order["financial_status"] = "partially_refunded"
    order["refunds"] = [
        {
            "id": 902,
            "order_id": 1001,
            "created_at": "2026-11-11T10:00:00-05:00",
            "refund_line_items": [
                {
                    "id": 1,
                    "line_item_id": order["line_items"][0]["id"],
                    "quantity": 1,
                    "restock_type": "cancel",
                }
            ],
            "transactions": [
                {
                    "id": 5001,
                    "order_id": 1001,
                    "kind": "refund",
                    "status": "success",
                    "amount": "210.94",
                    "currency": "USD",
                    "created_at": "2026-11-11T10:00:00-05:00",
                }
            ],
        }
    ]
    record = read(order)
    assert quantities(record) == {GREEN: 2, RED: 1, BLACK: 1}
    [refund] = record.refunds
    line_id = str(order["line_items"][0]["id"])
    assert refund.lines == (RefundLine(line_id, 1, restock=True),)
    assert record.quote.stated_total == usd(order["total_price"])


@pytest.mark.parametrize("status", ["pending", "failure"])
def test_a_refund_whose_money_has_not_settled_is_no_edit(status: str) -> None:
    # Its money not gone yet, the refund states no `ChannelRefund`; its
    # units are the refund's all the same (it settles later, and the desk
    # cancels them then), so the line is not read as edited.
    order = placed((2, 1, 1))
    order["line_items"][0]["current_quantity"] = 1
    order["refunds"] = [
        {
            "id": 903,
            "order_id": 1001,
            "created_at": "2026-11-11T10:00:00-05:00",
            "refund_line_items": [
                {
                    "id": 1,
                    "line_item_id": order["line_items"][0]["id"],
                    "quantity": 1,
                    "restock_type": "return",
                }
            ],
            "transactions": [
                {
                    "id": 5002,
                    "order_id": 1001,
                    "kind": "refund",
                    "status": status,
                    "amount": "210.94",
                    "currency": "USD",
                    "created_at": "2026-11-11T10:00:00-05:00",
                }
            ],
        }
    ]
    record = read(order)
    assert quantities(record) == {GREEN: 2, RED: 1, BLACK: 1}
    assert record.refunds == ()


def test_a_fulfilled_unit_is_never_read_removed() -> None:
    order = placed((2, 1, 1))
    green = order["line_items"][0]
    green["current_quantity"] = 0
    order["fulfillments"] = [
        {
            "id": 31,
            "status": "success",
            "created_at": "2026-11-11T11:00:00-05:00",
            "line_items": [{"id": green["id"], "quantity": 1}],
        }
    ]
    assert quantities(read(order))[GREEN] == 1


def test_an_order_every_line_of_which_was_removed_is_refused() -> None:
    with pytest.raises(EmptyOrder) as caught:
        read(edited(placed(), (0, 0, 0)))
    assert caught.value.field == "line_items"


@pytest.mark.parametrize("value", [-1, "x", 1.5, True])
def test_a_current_quantity_not_a_count_is_refused_at_its_path(value: object) -> None:
    order = placed()
    order["line_items"][1]["current_quantity"] = value
    with pytest.raises(InvalidQuantity) as caught:
        read(order)
    assert caught.value.field == "line_items[1].current_quantity"


# ----------------------------------------------------------------------
# Through the desk, in memory and in SQLite


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    if request.param == "memory":
        yield MemoryUnitOfWork()
        return
    sqlite = SqliteUnitOfWork(tmp_path / "desk.db")
    yield sqlite
    sqlite.close()


def stocked(unit: UnitOfWork) -> OrderDesk:
    """A desk that rejects totals that do not add up, 5 of each SKU on hand."""
    clock = FrozenClock(NOW)
    with unit as uow:
        for sku in (GREEN, RED, BLACK):
            Ledger(uow.ledger, clock).receive(sku, WHERE, 5)
        uow.commit()
    policy = DeskPolicy(
        locations=[WHERE], pricing=PricingPolicy(totals=TotalsPolicy.REJECT)
    )
    return OrderDesk(unit, clock, policy, Fingerprinter(b"a-secret-of-16-bytes"))


def allocated(unit: UnitOfWork, sku: str) -> int:
    with unit as uow:
        return Ledger(uow.ledger, FrozenClock(NOW)).balance(sku, WHERE).allocated


def test_an_edit_that_removes_a_line_holds_the_order(unit: UnitOfWork) -> None:
    desk = stocked(unit)
    order = placed()
    assert isinstance(desk.accept(read(order)), Accepted)
    later = read(edited(order, (0, 1, 1)))
    assert isinstance(desk.accept(later), AlreadyAccepted)
    held = desk.update(later)[0]
    assert isinstance(held, Held)
    assert held.order.review == ("edited",)
    green = order["line_items"][0]["id"]
    assert f"lines[{green}]: {GREEN} x1 @ 199.00 USD -> -" in held.detail
    assert desk.picking_queue() == ()
    # Told once: the same notice again holds nothing more.
    assert not any(isinstance(done, Held) for done in desk.update(later))


def test_an_edit_that_reduces_a_line_holds_the_order(unit: UnitOfWork) -> None:
    desk = stocked(unit)
    order = placed((2, 1, 1))
    assert isinstance(desk.accept(read(order)), Accepted)
    held = desk.update(read(edited(order, (1, 1, 1))))[0]
    assert isinstance(held, Held)
    assert held.order.review == ("edited",)
    green = order["line_items"][0]["id"]
    assert held.detail.endswith(f"lines[{green}].quantity: 2 -> 1")
    assert desk.picking_queue() == ()


def test_an_order_edited_before_intake_takes_in_what_is_left(unit: UnitOfWork) -> None:
    desk = stocked(unit)
    taken = desk.accept(read(edited(placed(), (0, 1, 1), discount="6.67")))
    # Its current totals add up: not held for pricing.
    assert isinstance(taken, Accepted)
    assert [line.sku for line in taken.order.lines] == [RED, BLACK]
    assert allocated(unit, GREEN) == 0
    assert allocated(unit, RED) == allocated(unit, BLACK) == 1
    assert [o.order_id for o in desk.picking_queue()] == ["1001"]


def test_a_money_refund_cancels_its_unit_once(unit: UnitOfWork) -> None:
    desk = stocked(unit)
    order = placed((2, 1, 1))
    assert isinstance(desk.accept(read(order)), Accepted)
    refunded = copy.deepcopy(order)
    refunded["updated_at"] = "2026-11-11T10:00:00-05:00"
    refunded["financial_status"] = "partially_refunded"
    refunded["line_items"][0]["current_quantity"] = 1
    refunded["refunds"] = [
        {
            "id": 902,
            "order_id": 1001,
            "created_at": "2026-11-11T10:00:00-05:00",
            "refund_line_items": [
                {
                    "id": 1,
                    "line_item_id": order["line_items"][0]["id"],
                    "quantity": 1,
                    "restock_type": "cancel",
                }
            ],
            "transactions": [
                {
                    "id": 5001,
                    "order_id": 1001,
                    "kind": "refund",
                    "status": "success",
                    "amount": "210.94",
                    "currency": "USD",
                    "created_at": "2026-11-11T10:00:00-05:00",
                }
            ],
        }
    ]
    done = desk.update(read(refunded))
    assert not any(isinstance(step, Held) for step in done)
    with unit as uow:
        stored = uow.orders.get("shopify", "1001")
    assert stored is not None
    assert stored.review == ()
    assert [(u.line_id, u.quantity) for u in stored.cancelled_units] == [
        (str(order["line_items"][0]["id"]), 1)
    ]
    assert allocated(unit, GREEN) == 1
