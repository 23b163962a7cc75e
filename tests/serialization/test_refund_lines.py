"""`Refund.lines` on the wire: written when a refund names units, `()` when absent.

Orders stored before refunds kept their units have no `lines` key in their
ledger's refunds: they read back with none, by every converter, and are
written back byte for byte as they were (`OLD_LEDGER`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.serialization.test_refund_provider_ids import (
    AT,
    CONVERTERS,
    OLD_LEDGER,
    PRICE,
    old_order_document,
    order_with,
)

from orderkit.errors import StructureError
from orderkit.money import Money
from orderkit.orders import Order
from orderkit.pricing import PaymentLedger, RefundLine
from orderkit.serialization import Converter


IDS = ["fast", "detailed", "slow", "stdlib"]


def refunded(*lines: RefundLine) -> PaymentLedger:
    """The channel's refund RF-9 of 199.00, naming `lines`."""
    return (
        PaymentLedger("DY-2001", "CNY")
        .authorise("alipay-77", PRICE, AT)
        .capture("alipay-77", PRICE, AT)
        .request_refund(
            "RF-9", "alipay-77", Money("199.00", "CNY"), "破损", AT, lines=lines
        )
    )


@pytest.mark.parametrize("converter", CONVERTERS, ids=IDS)
def test_an_old_document_reads_back_with_no_units(converter: Converter) -> None:
    ledger = converter.loads(OLD_LEDGER.encode(), PaymentLedger)
    assert [(), ()] == [r.lines for r in ledger.refunds]
    assert OLD_LEDGER.encode() == converter.dumps(ledger)
    document = old_order_document()
    assert document == converter.dumps(converter.loads(document, Order))


@pytest.mark.parametrize("converter", CONVERTERS, ids=IDS)
def test_the_units_are_written_and_read_back(converter: Converter) -> None:
    order = order_with(refunded(RefundLine("L1", 1, restock=True)))
    written = converter.dumps(order)
    (refund,) = json.loads(written)["payment_ledger"]["refunds"]
    assert [{"line_id": "L1", "quantity": 1, "restock": True}] == refund["lines"]
    read = converter.loads(written, Order)
    assert read == order
    for other in CONVERTERS:
        assert written == other.dumps(other.loads(written, Order))


def test_a_refund_of_money_alone_leaves_the_key_out() -> None:
    (refund,) = json.loads(CONVERTERS[0].dumps(refunded()))["refunds"]
    assert "lines" not in refund


@pytest.mark.parametrize("quantity", [0, -1, "1", 1.0, None])
def test_a_unit_count_that_is_not_a_positive_int_is_refused(quantity: object) -> None:
    document: dict[str, Any] = json.loads(old_order_document())
    document["payment_ledger"]["refunds"][1]["lines"] = [
        {"line_id": "L1", "quantity": quantity}
    ]
    for converter in CONVERTERS:
        with pytest.raises(StructureError) as caught:
            converter.structure(document, Order)
        assert caught.value.field.startswith("payment_ledger.refunds[1].lines[0]")
