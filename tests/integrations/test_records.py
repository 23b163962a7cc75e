"""Canonical records of the outside world: they check what they are given."""

from __future__ import annotations

import datetime as dt

import attrs
import pendulum
import pytest

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    NaiveDatetime,
    OrderMismatch,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelPage,
    ChannelTransaction,
    FulfilmentStage,
    Message,
    PickLine,
    PickTask,
    SettlementLine,
    TrackingEvent,
    TrackingStatus,
    TransactionKind,
    WarehouseConfirmation,
)
from orderkit.money import Money
from orderkit.orders import Address, Buyer, OrderLine, OrderPlaced, OrderStatus
from orderkit.pricing import Quote


AT = pendulum.datetime(2026, 11, 11, 0, 0, 5)


def key(event_id: str = "placed") -> IdempotencyKey:
    return IdempotencyKey("taobao", "trade", "TB-1001", event_id)


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="TB-1001",
        key=key(),
        occurred_at=AT,
        channel="taobao",
        buyer=Buyer("tb-buyer-7", "王芳"),
        address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=[OrderLine("L1", "LONGJING-250G", 2, Money("50.00", "CNY"))],
    )


def quote(**changes: object) -> Quote:
    event = placed()
    base = Quote(order_id=event.order_id, channel="taobao", lines=event.lines)
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


class TestChannelOrder:
    """The placement, the quote and the events are of one order."""

    def test_a_whole_order(self) -> None:
        order = ChannelOrder(
            placed=placed(),
            quote=quote(stated_total=Money("100.00", "CNY")),
            status="paid",
            channel_status="WAIT_SELLER_SEND_GOODS",
        )
        assert (order.order_id, order.channel) == ("TB-1001", "taobao")
        assert order.status is OrderStatus.PAID

    def test_a_quote_of_another_order(self) -> None:
        with pytest.raises(OrderMismatch):
            ChannelOrder(
                placed=placed(),
                quote=quote(order_id="TB-9"),
                status="paid",
                channel_status="x",
            )

    def test_a_quote_with_other_lines(self) -> None:
        other = [OrderLine("L1", "LONGJING-250G", 3, Money("50.00", "CNY"))]
        with pytest.raises(ValidationError) as caught:
            ChannelOrder(
                placed=placed(),
                quote=quote(lines=other),
                status="paid",
                channel_status="x",
            )
        assert caught.value.field == "quote.lines"

    @pytest.mark.parametrize(
        ("events", "field"),
        [(["paid"], "events[0]"), ("paid", "events"), (None, "events")],
    )
    def test_events_that_are_not_events(self, events: object, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            ChannelOrder(
                placed=placed(),
                quote=quote(),
                status="paid",
                channel_status="x",
                events=events,  # type: ignore[arg-type]
            )
        assert caught.value.field == field

    def test_an_unknown_status(self) -> None:
        with pytest.raises(ValueError, match="shipped-ish"):
            ChannelOrder(
                placed=placed(), quote=quote(), status="shipped-ish", channel_status=""
            )


class TestTransactionsAndPages:
    """Money moves are positive and timed; pages hold records only."""

    def test_transaction(self) -> None:
        capture = ChannelTransaction(
            transaction_id="389404469",
            order_id="TB-1001",
            key=key("capture"),
            kind="capture",
            amount=Money("100.00", "CNY"),
            succeeded=True,
            created_at=AT,
            parent_id="389404468",
        )
        assert capture.kind is TransactionKind.CAPTURE
        page = ChannelPage(records=[capture], cursor="page-2")
        assert page.records == (capture,)

    def test_naive_time_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime) as caught:
            ChannelTransaction(
                transaction_id="1",
                order_id="TB-1001",
                key=key("capture"),
                kind="capture",
                amount=Money("1.00", "CNY"),
                succeeded=True,
                created_at=dt.datetime(2026, 11, 11),  # noqa: DTZ001 - naive on purpose
            )
        assert caught.value.field == "created_at"

    def test_a_page_of_something_else(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ChannelPage(records=["order"])  # type: ignore[list-item]
        assert caught.value.field == "records[0]"

    def test_a_page_of_nothing_at_all(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ChannelPage(records=None)  # type: ignore[arg-type]
        assert caught.value.field == "records"


class TestFulfilment:
    """Shipped means a carrier and a tracking number; scans are normalised."""

    def test_pick_task(self) -> None:
        task = PickTask(
            task_id="PT-1",
            order_id="TB-1001",
            location="HZ-Xihu",
            lines=[PickLine("L1", "LONGJING-250G", 2)],
            key=key("pick"),
        )
        assert task.lines[0].quantity == 2

    def test_shipped_needs_a_tracking_number(self) -> None:
        with pytest.raises(ValidationError) as caught:
            WarehouseConfirmation(
                task_id="PT-1",
                order_id="TB-1001",
                stage=FulfilmentStage.SHIPPED,
                at=AT,
                key=key("shipped"),
                carrier="SF",
            )
        assert caught.value.field == "tracking_number"

    def test_packed_needs_none(self) -> None:
        packed = WarehouseConfirmation(
            task_id="PT-1", order_id="TB-1001", stage="packed", at=AT, key=key("packed")
        )
        assert packed.stage is FulfilmentStage.PACKED

    def test_tracking_event(self) -> None:
        scan = TrackingEvent(
            carrier="SF",
            tracking_number="SF1001",
            status="delivered",
            at=AT,
            key=key("scan"),
            carrier_code="80",
            description="已签收",
        )
        assert scan.status is TrackingStatus.DELIVERED


class TestNotices:
    """Messages carry template parameters; settlement lines net their fee."""

    def test_message_params_are_sorted_pairs(self) -> None:
        message = Message(
            order_id="TB-1001",
            recipient="+8613800138000",
            template="SMS_2088_SHIPPED",
            params={"tracking": "SF1001", "carrier": "顺丰"},
            key=key("sms"),
        )
        assert message.params == (("carrier", "顺丰"), ("tracking", "SF1001"))
        assert hash(message) == hash(attrs.evolve(message))

    def test_message_params_must_be_text(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Message(
                order_id="TB-1001",
                recipient="+8613800138000",
                template="T",
                params={"count": 3},
                key=key("sms"),
            )
        assert caught.value.field == "params['count']"

    def test_settlement_net(self) -> None:
        line = SettlementLine(
            transaction_id="2088-1",
            kind="sale",
            amount=Money("100.00", "CNY"),
            fee=Money("0.60", "CNY"),
            settled_at=AT,
        )
        assert line.net == Money("99.40", "CNY")

    @pytest.mark.parametrize(
        ("kind", "fee", "net"),
        [
            ("refund", "-0.35", "-58.65"),  # sent back, the fee returned
            ("refund", "0.00", "-59.00"),
            ("void", "0.00", "0.00"),
            ("capture", "0.35", "58.65"),
        ],
    )
    def test_settlement_net_by_kind(self, kind: str, fee: str, net: str) -> None:
        line = SettlementLine(
            transaction_id="RF-1",
            kind=kind,
            amount=Money("59.00", "CNY"),
            fee=Money(fee, "CNY"),
            settled_at=AT,
        )
        assert line.net == Money(net, "CNY")

    def test_a_fee_in_another_currency(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            SettlementLine(
                transaction_id="2088-1",
                kind="sale",
                amount=Money("100.00", "CNY"),
                fee=Money("0.60", "USD"),
                settled_at=AT,
            )
        assert caught.value.field == "fee"

    def test_an_unknown_kind(self) -> None:
        with pytest.raises(ValidationError) as caught:
            SettlementLine(
                transaction_id="2088-1",
                kind="payment",
                amount=Money("100.00", "CNY"),
                fee=Money("0.60", "CNY"),
                settled_at=AT,
            )
        assert (caught.value.field, caught.value.value) == ("kind", "payment")
