"""The kit's fakes: one for every port, and the warehouse and channel ones at work."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orderkit.ports
import orderkit.testing
from orderkit.adapters.channels import ShopifyPayloads
from orderkit.adapters.memory import MemoryCursorStore, MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import IdempotencyConflict, ValidationError
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    FulfilmentStage,
    PickLine,
    PickTask,
    TransactionKind,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    ReturnLine,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    approve_case,
    inspect_return,
    receive_return,
    request_return,
)
from orderkit.pricing import ApprovalTiers, Quote
from orderkit.services import (
    Checkout,
    DeskPolicy,
    Ledger,
    OrderDesk,
    Refunded,
    Refunds,
    Shipping,
    pull,
    reconcile_payments,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import (
    FakeCarrier,
    FakeChannel,
    FakePayments,
    FakeWarehouse,
)


T0 = pendulum.datetime(2026, 11, 11, 2, tz="UTC")


# --------------------------------------------------------------------------
# A fake for every port


def _kit_table() -> dict[str, str]:
    """The port -> fake table of `orderkit.testing`'s docstring."""
    doc = orderkit.testing.__doc__ or ""
    return dict(re.findall(r"^\| `(\w+)` \| `([\w.]+)` \|$", doc, re.MULTILINE))


def _resolve(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _protocol_members(port: type) -> set[str]:
    return {
        name
        for name, value in vars(port).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


class TestEveryPortHasAFake:
    """`orderkit.testing` names an in-memory fake for each port, and it fits."""

    def test_the_table_covers_every_port(self) -> None:
        assert sorted(orderkit.ports.__all__) == sorted(_kit_table())

    @pytest.mark.parametrize("port", sorted(orderkit.ports.__all__))
    def test_the_fake_has_every_member_of_the_port(self, port: str) -> None:
        protocol = getattr(orderkit.ports, port)
        fake = _resolve(_kit_table()[port])
        members = set().union(
            *(_protocol_members(base) for base in inspect.getmro(protocol)[:-1])
        )
        missing = sorted(m for m in members if not hasattr(fake, m))
        assert [] == missing


# --------------------------------------------------------------------------
# The warehouse


def _task(task_id: str = "PT-1", quantity: int = 2) -> PickTask:
    return PickTask(
        task_id=task_id,
        order_id="DY-1001",
        location="HZ-1",
        lines=[PickLine("L1", "JADE-TEAPOT", quantity)],
        key=IdempotencyKey("orderkit", "pick", "DY-1001", task_id),
    )


class TestFakeWarehouse:
    """Pick tasks once per task id; confirmations as the WMS would send them."""

    def test_a_task_sent_again_is_the_same_task(self) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        first = wms.create_pick_task(_task())
        assert first == wms.create_pick_task(_task())
        assert {"PT-1": 1} == dict(wms.effects)
        assert {"PT-1": 2} == dict(wms.calls)
        assert {"PT-1": _task()} == wms.tasks

    def test_another_task_under_the_same_id_conflicts(self) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        wms.create_pick_task(_task())
        with pytest.raises(IdempotencyConflict):
            wms.create_pick_task(_task(quantity=3))
        assert {"PT-1": 1} == dict(wms.effects)

    def test_a_confirmation_reads_back_and_a_resend_keeps_its_key(self) -> None:
        clock = FrozenClock(T0)
        wms = FakeWarehouse(clock)
        wms.create_pick_task(_task())
        payload = wms.confirm(
            "PT-1", "shipped", carrier="SF", tracking_number="SF0000000001"
        )
        first = wms.parse_confirmation(payload)
        clock.advance(minutes=5)
        again = wms.parse_confirmation(dict(payload))
        assert FulfilmentStage.SHIPPED is first.stage
        assert ("DY-1001", "SF", "SF0000000001") == (
            first.order_id,
            first.carrier,
            first.tracking_number,
        )
        assert T0 == first.at
        assert first.key == again.key

    def test_each_stage_has_its_own_key(self) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        wms.create_pick_task(_task())
        picked = wms.parse_confirmation(wms.confirm("PT-1", FulfilmentStage.PICKED))
        packed = wms.parse_confirmation(wms.confirm("PT-1", FulfilmentStage.PACKED))
        assert picked.key != packed.key

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ([], "payload"),
            (
                {"task_id": "PT-1", "order_id": "DY-1001", "stage": "picked"},
                "payload.at",
            ),
            (
                {
                    "task_id": "PT-1",
                    "order_id": "D",
                    "stage": "lost",
                    "at": "2026-11-11",
                },
                "payload.stage",
            ),
            (
                {"task_id": "PT-1", "order_id": "D", "stage": "picked", "at": "soon"},
                "payload.at",
            ),
        ],
    )
    def test_a_payload_it_cannot_read_names_the_path(
        self, payload: object, field: str
    ) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        with pytest.raises(ValidationError) as caught:
            wms.parse_confirmation(payload)
        assert field == caught.value.field

    @pytest.mark.parametrize(
        "at",
        [
            "12:00",  # a time of day: it was dated with the machine's today
            "2026-11-11",
            "2026-11-11T10:00:00",  # no offset: whose 10 o'clock?
            "2026-11-11 10:00",
            "Wed, 11 Nov 2026 10:00:00 +0800",
        ],
    )
    def test_at_must_be_an_instant_with_its_offset(self, at: str) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        wms.create_pick_task(_task())
        payload = {**wms.confirm("PT-1", "picked"), "at": at}
        with pytest.raises(ValidationError) as caught:
            wms.parse_confirmation(payload)
        assert ("payload.at", at) == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize(
        "at", ["2026-11-11T10:00:00+08:00", "2026-11-11T02:00Z", "20261111T020000Z"]
    )
    def test_at_in_any_offset_reads_as_the_same_instant(self, at: str) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        wms.create_pick_task(_task())
        payload = {**wms.confirm("PT-1", "picked"), "at": at}
        assert T0 == wms.parse_confirmation(payload).at

    def test_a_shipped_confirmation_needs_its_tracking_number(self) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        wms.create_pick_task(_task())
        with pytest.raises(ValidationError, match="tracking_number"):
            wms.parse_confirmation(wms.confirm("PT-1", "shipped", carrier="SF"))

    @pytest.mark.parametrize(
        ("fields", "path"),
        [
            ({"task_id": ""}, "payload.task_id"),
            ({"order_id": " "}, "payload.order_id"),
            ({"stage": "shipped", "tracking_number": "SF1"}, "payload.carrier"),
            (
                {"stage": "shipped", "carrier": 123, "tracking_number": "SF1"},
                "payload.carrier",
            ),
            ({"stage": "shipped", "carrier": "SF"}, "payload.tracking_number"),
            ({"carrier": 7}, "payload.carrier"),
        ],
    )
    def test_a_bad_field_names_its_payload_path(
        self, fields: dict[str, object], path: str
    ) -> None:
        payload = {
            "task_id": "PT-1",
            "order_id": "DY-1001",
            "stage": "packed",
            "at": "2026-11-11T02:00:00+00:00",
            **fields,
        }
        with pytest.raises(ValidationError) as caught:
            FakeWarehouse(FrozenClock(T0)).parse_confirmation(payload)
        assert path == caught.value.field

    def test_only_its_own_tasks_can_be_confirmed(self) -> None:
        wms = FakeWarehouse(FrozenClock(T0))
        with pytest.raises(ValidationError) as caught:
            wms.confirm("PT-404", "picked")
        assert "task_id" == caught.value.field


# --------------------------------------------------------------------------
# The payment provider


class TestFakePaymentsStatement:
    """The statement names what the services record, so it reconciles."""

    def test_a_capture_and_a_case_refund_reconcile(self) -> None:
        clock = FrozenClock(T0)
        unit = MemoryUnitOfWork()
        with unit as uow:
            Ledger(uow.ledger, clock).receive("JADE-TEAPOT", "SH-1", 5)
            uow.commit()
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["SH-1"]),
            Fingerprinter(b"kit-fakes-secret-0123456789"),
        )
        desk.accept(_order(1))
        payments = FakePayments(clock)
        Checkout(unit, clock, desk, payments).pay(
            "fakeshop", "FS-1", "alipay-1", Money("88.00", "CNY")
        )
        Shipping(unit, clock, desk, FakeCarrier(clock)).ship("fakeshop", "FS-1", "S1")
        desk.amend(
            "fakeshop",
            "FS-1",
            _passed_case(),
            key=IdempotencyKey("erp", "aftersales", "AS-1", "1"),
            actor="ops.wu",
            source="erp",
        )
        (refunded,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(refunded, Refunded)
        statement = payments.statement(T0.date())

        report = reconcile_payments([refunded.order], statement)

        assert report.ok, report.to_csv()
        assert (2, 2) == (report.matched, report.expected)
        assert [None, None] == [line.order_id for line in statement]

    def test_a_second_capture_of_a_payment_is_reported(self) -> None:
        """The services capture a payment once: another is money taken twice."""
        clock = FrozenClock(T0)
        payments = FakePayments(clock)
        payments.capture("alipay-1", Money("88.00", "CNY"), key="k1")
        payments.capture("alipay-1", Money("88.00", "CNY"), key="k2")
        report = reconcile_payments([], payments.statement(T0.date()))
        assert [
            ("missing_in_orders", "alipay-1"),
            ("duplicate_capture", "alipay-1"),
        ] == [(d.kind, d.transaction_id) for d in report.discrepancies]


_PRINTABLE = st.characters(codec="utf-8", categories=["L", "N", "P", "S"])


class TestFakePaymentsIds:
    """Providers given prefixes of their own never give the same id."""

    @pytest.mark.parametrize(
        ("prefix", "given_id"),
        [("", "ref-000002"), ("w1-", "w1-ref-000002")],
        ids=["none", "worker"],
    )
    def test_the_prefix_goes_before_the_count(self, prefix: str, given_id: str) -> None:
        payments = FakePayments(FrozenClock(T0), id_prefix=prefix)
        payments.capture("alipay-1", Money("88.00", "CNY"), key="c")
        refund = payments.refund("alipay-1", Money("8.00", "CNY"), key="r", reason="x")
        assert given_id == refund.transaction_id
        (line,) = [
            line
            for line in payments.statement(T0.date())
            if line.kind is TransactionKind.REFUND
        ]
        assert given_id == line.transaction_id

    @given(st.lists(st.text(_PRINTABLE), min_size=2, max_size=2, unique=True))
    def test_two_prefixes_never_give_the_same_id(self, prefixes: list[str]) -> None:
        given_ids: list[set[str]] = []
        for prefix in prefixes:
            payments = FakePayments(FrozenClock(T0), id_prefix=prefix)
            payments.capture("alipay-1", Money("88.00", "CNY"), key="c")
            payments.refund("alipay-1", Money("8.00", "CNY"), key="r", reason="x")
            ids = {t.transaction_id for t in payments.transactions}
            assert all(i.startswith(prefix) for i in ids)
            statement = payments.statement(T0.date())
            # A capture's line still names its payment: the orders record that.
            assert ["alipay-1"] == [
                line.transaction_id
                for line in statement
                if line.kind is TransactionKind.CAPTURE
            ]
            given_ids.append(ids)
        assert not given_ids[0] & given_ids[1]

    @pytest.mark.parametrize("prefix", [None, 7, "w\n"], ids=["none", "int", "newline"])
    def test_a_prefix_that_is_not_printable_text_is_refused(
        self, prefix: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            FakePayments(FrozenClock(T0), id_prefix=prefix)  # type: ignore[arg-type]
        assert "id_prefix" == caught.value.field


def _passed_case() -> AfterSalesCase:
    """FS-1's teapot back to SH-1, its inspection passed."""
    case = request_return(
        case_id="AS-1",
        order_id="FS-1",
        payment_id="alipay-1",
        lines=[ReturnLine("L1", "JADE-TEAPOT", 1)],
        refund_amount=Money("88.00", "CNY"),
        reason="七天无理由退货",
        requester="buyer:B1",
        return_to="SH-1",
        at=T0,
    )
    tiers = ApprovalTiers.of((None, "store_manager"))
    case = approve_case(case, "mgr.li", "store_manager", tiers, T0)
    case = receive_return(case, {}, {}, T0)
    return inspect_return(case, passed=True, at=T0).case


# --------------------------------------------------------------------------
# The channel


def _order(n: int) -> ChannelOrder:
    order_id = f"FS-{n}"
    lines = [OrderLine("L1", "JADE-TEAPOT", 1, Money("88.00", "CNY"))]
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey("fakeshop", "order.created", order_id, "1"),
        occurred_at=T0,
        channel="fakeshop",
        buyer=Buyer("B1", "李雷"),
        address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=lines,
    )
    return ChannelOrder(
        placed=placed,
        quote=Quote(order_id, "fakeshop", lines),
        status=OrderStatus.PENDING_PAYMENT,
        channel_status="unpaid",
    )


class TestFakeChannel:
    """A feed a test publishes to, pulled page by page; pushes kept once."""

    def test_pull_reads_every_record_once_and_resumes_after_more(self) -> None:
        channel = FakeChannel()
        cursors = MemoryCursorStore()
        accepted: list[ChannelRecord] = []
        records: list[ChannelRecord] = [_order(n) for n in range(5)]
        channel.publish(*records)

        first = pull(channel, cursors, "fakeshop:orders", accepted.extend, limit=2)
        assert first.caught_up
        assert records == accepted

        later: list[ChannelRecord] = [_order(n) for n in range(5, 8)]
        channel.publish(*later)
        pull(channel, cursors, "fakeshop:orders", accepted.extend, limit=2)
        # The last page is read again on the next pull, as the port allows:
        # the records' keys make that harmless.
        assert [*records, records[-1], *later] == accepted
        assert [None, "2", "4", "4", "6"] == channel.pulls

    def test_a_cursor_it_never_handed_out_is_refused(self) -> None:
        channel = FakeChannel()
        for cursor in ("7", "-1", "two", "\u00b2"):
            with pytest.raises(ValidationError) as caught:
                channel.pull(cursor, limit=10)
            assert "cursor" == caught.value.field

    @pytest.mark.parametrize("cursor", [5, b"2", 2.0])
    def test_a_cursor_that_is_not_text_is_refused(self, cursor: object) -> None:
        channel = FakeChannel()
        channel.publish(*(_order(n) for n in range(7)))
        with pytest.raises(ValidationError) as caught:
            channel.pull(cursor, limit=1)  # type: ignore[arg-type]
        assert ("cursor", cursor) == (caught.value.field, caught.value.value)

    def test_pushes_are_kept_once(self) -> None:
        channel = FakeChannel()
        parcel = Shipment(
            "S1",
            [ShipmentLine("L1", 1)],
            "SF",
            "SF0000000001",
            T0,
            ShipmentStatus.SHIPPED,
        )
        channel.push_shipment("DY-1001", parcel)
        channel.push_shipment("DY-1001", parcel)
        channel.push_stock("JADE-TEAPOT", 7)
        channel.push_stock("JADE-TEAPOT", 5)
        assert {"DY-1001": (parcel,)} == channel.shipments
        assert {"JADE-TEAPOT": 5} == channel.stock

    def test_parse_uses_the_payloads_given(self) -> None:
        shopify = ShopifyPayloads()
        channel = FakeChannel("shopify", payloads=shopify)
        assert shopify.topics == channel.topics
        with pytest.raises(ValidationError) as caught:
            FakeChannel().parse({}, topic="orders/create")
        assert "topic" == caught.value.field
