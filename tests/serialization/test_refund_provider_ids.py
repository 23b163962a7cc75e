"""`Refund.provider_id` on the wire: written when set, `None` when absent.

Orders stored before refunds kept the provider's id have no `provider_id`
key in their ledger's refunds: they read back unchanged, by every
converter, and are written back byte for byte as they were.
"""

from __future__ import annotations

import json
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import StructureError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.pricing import PaymentLedger, Refund
from orderkit.serialization import Converter, make_converter
from orderkit.serialization._converter import _configure


FAST = make_converter()
DETAILED = make_converter(detailed=True)
SLOW = Converter(detailed_validation=False)
_configure(SLOW, readers=False)
STDLIB = make_converter(json="stdlib")
CONVERTERS = [FAST, DETAILED, SLOW, STDLIB]

AT = pendulum.datetime(2026, 11, 11, 2)
PRICE = Money("398.00", "CNY")

# A ledger as orderkit wrote it before refunds kept the provider's id: the
# saga's refund, settled, and one pending, both without the key.
OLD_LEDGER = (
    '{"order_id":"DY-2001","currency":"CNY","payments":[{"payment_id":"alipay-77",'
    '"authorised":{"amount":"398.00","currency":"CNY"},'
    '"authorised_at":"2026-11-11T02:00:00Z","captures":[{"capture_id":"alipay-77",'
    '"amount":{"amount":"398.00","currency":"CNY"},"at":"2026-11-11T02:00:00Z"}]}],'
    '"refunds":[{"refund_id":"refund:order:douyin:DY-2001:case:AS-1",'
    '"payment_id":"alipay-77","amount":{"amount":"199.00","currency":"CNY"},'
    '"reason":"七天无理由退货","requested_at":"2026-11-11T02:00:00Z",'
    '"state":"refunded","decided_at":"2026-11-11T02:00:00Z"},'
    '{"refund_id":"RF-2","payment_id":"alipay-77",'
    '"amount":{"amount":"10.00","currency":"CNY"},"reason":"差价",'
    '"requested_at":"2026-11-11T02:00:00Z","state":"pending","decided_at":null}],'
    '"overrides":[]}'
)


def order_with(ledger: PaymentLedger) -> Order:
    return Order(
        order_id="DY-2001",
        channel="douyin",
        buyer=Buyer("buyer-7"),
        address=Address("CN", "上海市", "上海市"),
        lines=[OrderLine("L1", "JADE-TEAPOT", 1, PRICE)],
        placed_at=AT,
        status=OrderStatus.PAID,
        payments=[Payment("alipay-77", PRICE, AT)],
        payment_ledger=ledger,
    )


def old_order_document() -> bytes:
    """A stored order of before, its ledger `OLD_LEDGER`, as orderkit wrote it."""
    ledger = FAST.loads(OLD_LEDGER.encode(), PaymentLedger)
    document = FAST.dumps(order_with(ledger))
    assert OLD_LEDGER.encode() in document
    return document


def with_provider_id(provider_id: str | None = "re_3Nx1") -> PaymentLedger:
    return (
        PaymentLedger("DY-2001", "CNY")
        .authorise("alipay-77", PRICE, AT)
        .capture("alipay-77", PRICE, AT)
        .request_refund(
            "refund:order:douyin:DY-2001:case:AS-1",
            "alipay-77",
            Money("199.00", "CNY"),
            "七天无理由退货",
            AT,
            provider_id=provider_id,
        )
    )


@pytest.mark.parametrize(
    "converter", CONVERTERS, ids=["fast", "detailed", "slow", "stdlib"]
)
def test_an_old_document_reads_back_and_is_written_back_byte_for_byte(
    converter: Converter,
) -> None:
    ledger = converter.loads(OLD_LEDGER.encode(), PaymentLedger)
    assert [None, None] == [r.provider_id for r in ledger.refunds]
    assert OLD_LEDGER.encode() == converter.dumps(ledger)
    document = old_order_document()
    order = converter.loads(document, Order)
    assert order.payment_ledger == ledger
    assert document == converter.dumps(order)


@pytest.mark.parametrize(
    "converter", CONVERTERS, ids=["fast", "detailed", "slow", "stdlib"]
)
def test_a_provider_id_is_written_and_read_back(converter: Converter) -> None:
    order = order_with(with_provider_id())
    written = converter.dumps(order)
    (refund,) = json.loads(written)["payment_ledger"]["refunds"]
    assert "re_3Nx1" == refund["provider_id"]
    assert list(refund)[-1] == "provider_id"
    read = converter.loads(written, Order)
    assert read == order
    assert read.payment_ledger is not None
    assert "re_3Nx1" == read.payment_ledger.refunds[0].provider_id
    for other in CONVERTERS:
        assert written == other.dumps(other.loads(written, Order))


def test_without_one_the_key_is_left_out() -> None:
    (refund,) = json.loads(FAST.dumps(with_provider_id(None)))["refunds"]
    assert "provider_id" not in refund


@pytest.mark.parametrize(
    "converter", CONVERTERS, ids=["fast", "detailed", "slow", "stdlib"]
)
def test_a_null_provider_id_written_out_is_none(converter: Converter) -> None:
    ledger: dict[str, Any] = json.loads(OLD_LEDGER)
    ledger["refunds"][0]["provider_id"] = None
    read = converter.structure(ledger, PaymentLedger)
    assert read == converter.loads(OLD_LEDGER.encode(), PaymentLedger)


@pytest.mark.parametrize("value", ["", " ", "re\n1", 7, ["re_1"]])
def test_a_provider_id_that_is_not_printable_text_is_refused(value: object) -> None:
    document: dict[str, Any] = json.loads(old_order_document())
    document["payment_ledger"]["refunds"][1]["provider_id"] = value
    for converter in CONVERTERS:
        with pytest.raises(StructureError) as caught:
            converter.structure(document, Order)
        assert "payment_ledger.refunds[1].provider_id" == caught.value.field


def test_one_provider_id_for_two_refunds_is_refused() -> None:
    document: dict[str, Any] = json.loads(old_order_document())
    for refund in document["payment_ledger"]["refunds"]:
        refund["provider_id"] = "re_3Nx1"
    for converter in CONVERTERS:
        with pytest.raises(StructureError):
            converter.structure(document, Order)


@given(
    st.lists(
        st.none() | st.from_regex(r"re_[A-Za-z0-9]{1,24}", fullmatch=True),
        min_size=1,
        max_size=4,
    )
)
def test_any_ledger_with_or_without_provider_ids_round_trips(
    given_ids: list[str | None],
) -> None:
    ledger = PaymentLedger("DY-2001", "CNY").authorise("alipay-77", PRICE, AT)
    ledger = ledger.capture("alipay-77", PRICE, AT)
    refunds: list[Refund] = []
    for n, provider_id in enumerate(given_ids):
        taken = {r.provider_id for r in refunds}
        refunds.append(
            Refund(
                f"RF-{n}",
                "alipay-77",
                Money("1.00", "CNY"),
                "退货",
                AT,
                provider_id=None if provider_id in taken else provider_id,
            )
        )
    ledger = PaymentLedger("DY-2001", "CNY", ledger.payments, refunds)
    order = order_with(ledger)
    written = FAST.dumps(order)
    for converter in CONVERTERS:
        assert converter.loads(written, Order) == order
        assert converter.dumps(order) == written
    keys = [
        "provider_id" in r for r in json.loads(written)["payment_ledger"]["refunds"]
    ]
    assert keys == [r.provider_id is not None for r in ledger.refunds]
