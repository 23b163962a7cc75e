"""Guards of the order core against input that used to slip through.

Serials shipped as a bare string, a requester approving their own case under
a full-width login, two same-instant address changes that differ only in a
missing phone, an order pushed past the last version a store holds, and a
`PriceChanged` record built by hand.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    InvalidQuantity,
    NaiveDatetime,
    UnknownSerial,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AddressChanged,
    AfterSalesCase,
    Buyer,
    CaseState,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    Payment,
    PaymentCaptured,
    ReturnLine,
    apply,
    apply_all,
    approve_case,
    receive_return,
    record_payments,
    request_return,
)
from orderkit.pricing import (
    ApprovalTiers,
    Decided,
    PaymentLedger,
    PriceChanged,
    approve,
    request_change,
)
from orderkit.serialization import make_converter


T0 = pendulum.datetime(2026, 11, 11, 2, 30)
MAX_VERSION = 2**63 - 1
TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))
CONVERTER = make_converter()


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def full_width(ascii_text: str) -> str:
    """`ascii_text` as a CJK keyboard in full-width mode types it."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


def case(requester: str = "buyer:dy-42") -> AfterSalesCase:
    return request_return(
        case_id="AS-1",
        order_id="DY-1",
        payment_id="PAY-1",
        lines=[ReturnLine("L1", "RICE-COOKER", 1)],
        refund_amount=cny("50.00"),
        reason="七天无理由退货",
        requester=requester,
        return_to="WH-1",
        at=T0,
    )


def approved() -> AfterSalesCase:
    return approve_case(case(), "mgr.li", "finance", TIERS, T0.add(hours=1))


class TestReceiveReturnChecksWhatWasShipped:
    def test_a_serial_is_not_matched_inside_a_shipped_string(self) -> None:
        # RC5-0004 is another unit; a str would match it as a substring.
        with pytest.raises(ValidationError) as caught:
            receive_return(
                approved(), {"L1": ["RC5-0004"]}, {"L1": "RC5-000451"}, T0.add(days=1)
            )
        assert caught.value.field == "shipped_serials[L1]"

    @pytest.mark.parametrize("shipped", [None, 5, ["RC5-000451", 7]])
    def test_bad_shipped_serials_name_their_line(self, shipped: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            receive_return(
                approved(), {"L1": ["RC5-000451"]}, {"L1": shipped}, T0.add(days=1)
            )
        assert caught.value.field == "shipped_serials[L1]"

    def test_a_line_id_of_another_type_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            receive_return(
                approved(),
                {1: ["x"], "L1": ["RC5-000451"]},  # type: ignore[dict-item]
                {"L1": frozenset({"RC5-000451"})},
                T0.add(days=1),
            )
        assert caught.value.field == "serials"
        assert caught.value.value == 1

    def test_shipped_serials_in_any_collection_are_checked(self) -> None:
        got = receive_return(
            approved(), {"L1": ["RC5-000451"]}, {"L1": ["RC5-000451"]}, T0.add(days=1)
        )
        assert got.state is CaseState.RECEIVED
        with pytest.raises(UnknownSerial):
            receive_return(
                approved(), {"L1": ["RC5-0004"]}, {"L1": ["RC5-000451"]}, T0.add(days=1)
            )


class TestCaseApproval:
    def test_the_requester_in_full_width_letters_cannot_approve(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve_case(case("li.wei"), full_width("Li.Wei"), "finance", TIERS, T0)
        assert caught.value.field == "approver"


def _address_change(name: str, phone: str | None) -> AddressChanged:
    return AddressChanged(
        order_id="DY-1",
        key=IdempotencyKey("douyin", "address", "DY-1", name),
        occurred_at=T0.add(minutes=5),
        address=Address("CN", "广东省", "深圳市", phone=phone),
    )


class TestSameInstantAddressChanges:
    def test_no_phone_and_an_empty_phone_converge(self) -> None:
        placed = OrderPlaced(
            order_id="DY-1",
            key=IdempotencyKey("douyin", "created", "DY-1", "1"),
            occurred_at=T0,
            channel="douyin",
            buyer=Buyer("b"),
            address=Address("CN", "北京市", "北京市"),
            lines=[OrderLine("L1", "SKU", 1, cny("1.00"))],
        )
        none, empty = _address_change("a", None), _address_change("b", "")
        now = T0.add(hours=1)
        one = apply_all(None, [placed, none, empty], now=now).order
        two = apply_all(None, [placed, empty, none], now=now).order
        assert one is not None
        assert two is not None
        # No phone ranks below any phone, so the empty phone sorts last and wins.
        assert one.address == two.address == empty.address


def _order(version: int, **changes: Any) -> Order:
    return Order(
        order_id="DY-1",
        channel="douyin",
        buyer=Buyer("b"),
        address=Address("CN"),
        lines=[OrderLine("L1", "SKU", 1, cny("1.00"))],
        placed_at=T0,
        version=version,
        **changes,
    )


def _capture() -> PaymentCaptured:
    return PaymentCaptured(
        order_id="DY-1",
        key=IdempotencyKey("douyin", "paid", "DY-1", "1"),
        occurred_at=T0,
        payment_id="PAY-1",
        amount=cny("1.00"),
    )


class TestLastVersion:
    def test_apply_refuses_to_go_past_the_last_version(self) -> None:
        with pytest.raises(InvalidQuantity) as caught:
            apply(_order(MAX_VERSION), _capture(), now=T0)
        assert caught.value.field == "version"
        assert caught.value.value == MAX_VERSION + 1

    def test_apply_reaches_the_last_version_and_it_loads_back(self) -> None:
        out = apply(_order(MAX_VERSION - 1), _capture(), now=T0)
        assert out.order is not None
        assert out.order.version == MAX_VERSION
        loaded = CONVERTER.loads(CONVERTER.dumps(out.order), Order)
        assert loaded == out.order

    def test_an_amendment_refuses_to_go_past_the_last_version(self) -> None:
        order = _order(
            MAX_VERSION,
            status=OrderStatus.PAID,
            payments=[Payment("PAY-1", cny("1.00"), T0)],
        )
        ledger = PaymentLedger("DY-1", "CNY").authorise("PAY-1", cny("1.00"), T0)
        with pytest.raises(InvalidQuantity) as caught:
            record_payments(
                order,
                ledger,
                key=IdempotencyKey("back-office", "amend", "DY-1", "1"),
                actor="clerk",
                source="desk",
                now=T0,
            )
        assert caught.value.field == "version"


def _price_changed(**changes: Any) -> PriceChanged:
    fields: dict[str, Any] = {
        "change_id": "PC-1",
        "order_id": "DY-1",
        "line_id": "L1",
        "old_unit_price": cny("2.00"),
        "new_unit_price": cny("1.00"),
        "quantity": 1,
        "actor": "clerk.zhang",
        "approver": "mgr.li",
        "approver_role": "finance",
        "at": T0,
        "reason": "scratched lid",
        "evidence": "ticket://CS-1",
    }
    return PriceChanged(**{**fields, **changes})


class TestPriceChangedRecord:
    def test_a_naive_instant_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime) as caught:
            _price_changed(at=dt.datetime(2026, 1, 1))  # noqa: DTZ001
        assert caught.value.field == "at"

    def test_an_aware_instant_is_kept_in_utc(self) -> None:
        shanghai = pendulum.datetime(2026, 11, 11, 10, 30, tz="Asia/Shanghai")
        at = _price_changed(at=shanghai).at
        assert at == T0
        assert at.utcoffset() == dt.timedelta(0)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("old_unit_price", 1.5),
            ("new_unit_price", Decimal("1.00")),
            ("new_unit_price", cny("-1.00")),
            ("quantity", -3),
            ("quantity", 2**63),
            ("actor", ""),
            ("approver", ""),
            ("approver_role", ""),
            ("change_id", "\x00"),
            ("reason", None),
            ("evidence", ""),
        ],
    )
    def test_a_bad_field_is_refused_by_name(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            _price_changed(**{field: value})
        assert caught.value.field == field

    def test_prices_in_two_currencies_are_refused(self) -> None:
        with pytest.raises(CurrencyMismatch):
            _price_changed(new_unit_price=Money("1.00", "USD"))

    def test_the_requester_cannot_be_the_approver(self) -> None:
        with pytest.raises(ValidationError) as caught:
            _price_changed(approver=full_width("Clerk.Zhang"))
        assert caught.value.field == "approver"

    def test_the_record_of_an_approval_round_trips(self) -> None:
        change = request_change(
            TIERS,
            change_id="PC-1",
            order_id="DY-1",
            line_id="L1",
            sku="SKU",
            quantity=2,
            old_unit_price=cny("10.00"),
            new_unit_price=cny("5.00"),
            reason="r",
            requester="clerk.zhang",
            evidence="e",
            requested_at=T0,
            ttl=dt.timedelta(hours=1),
        )
        decided = approve(change, TIERS, approver="mgr.li", role="finance", now=T0)
        assert isinstance(decided, Decided)
        record = decided.record
        assert record is not None
        loaded = CONVERTER.loads(CONVERTER.dumps(record), PriceChanged)
        assert loaded == record
        assert CONVERTER.loads(CONVERTER.dumps(decided), Decided) == decided
