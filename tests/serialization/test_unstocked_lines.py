"""`OrderLine.stocked` on the wire: written when false, stocked when absent.

Documents stored before lines could be unstocked have no `stocked` key:
they read as stocked lines, by the fast readers and by the constructors
alike, and a stocked line is written as it always was.
"""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest

from orderkit.errors import StructureError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus
from orderkit.serialization import Converter, make_converter
from orderkit.serialization._converter import _configure
from orderkit.serialization._readers import read_lines


FAST = make_converter()
DETAILED = make_converter(detailed=True)
SLOW = Converter(detailed_validation=False)
_configure(SLOW, readers=False)
CONVERTERS = [FAST, DETAILED, SLOW]

CLOCK = OrderLine("L1", "RETRO-CLOCK", 1, Money("199.00", "CNY"), "复古闹钟")
GIFT_CARD = OrderLine("L2", "custom:L2", 1, Money("100.00", "CNY"), stocked=False)
ORDER = Order(
    order_id="DY-1001",
    channel="douyin",
    buyer=Buyer("buyer-42"),
    address=Address("CN"),
    lines=[CLOCK, GIFT_CARD],
    placed_at=pendulum.datetime(2026, 11, 11),
    status=OrderStatus.PENDING_PAYMENT,
)


def _document(order: Order = ORDER) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FAST.dumps(order))
    return loaded


def test_an_unstocked_line_is_written_and_read_back() -> None:
    lines = _document()["lines"]
    assert "stocked" not in lines[0]
    assert lines[1]["stocked"] is False
    for converter in CONVERTERS:
        assert converter.loads(FAST.dumps(ORDER), Order) == ORDER
        assert converter.structure(FAST.unstructure(GIFT_CARD), OrderLine) == GIFT_CARD


def test_a_stored_line_without_the_key_is_stocked() -> None:
    """An order stored before `stocked` existed: its lines are stocked."""
    document = _document()
    del document["lines"][1]["stocked"]
    for converter in CONVERTERS:
        read = converter.structure(document, Order)
        assert [line.stocked for line in read.lines] == [True, True]


def test_a_stocked_line_says_so_when_written_out_in_full() -> None:
    document = _document()
    document["lines"][0]["stocked"] = True
    for converter in CONVERTERS:
        assert converter.structure(document, Order) == ORDER


@pytest.mark.parametrize("value", [0, 1, "false", None, []])
def test_stocked_must_be_true_or_false(value: object) -> None:
    document = _document()
    document["lines"][1]["stocked"] = value
    for converter in CONVERTERS:
        with pytest.raises(StructureError) as caught:
            converter.structure(document, Order)
        assert caught.value.field == "lines[1].stocked"


def test_the_fast_reader_reads_unstocked_lines_itself() -> None:
    """No fallback to the constructors: the reader knows the key."""
    lines = _document()["lines"]
    assert read_lines(lines) == (CLOCK, GIFT_CARD)
    del lines[1]["stocked"]
    assert [line.stocked for line in read_lines(lines)] == [True, True]
