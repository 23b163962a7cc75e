"""Milestone messages: one per order and milestone, rendered in Chinese and English."""

from __future__ import annotations

from typing import Literal

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.notifications import (
    MILESTONE_TEMPLATES,
    Sent,
    TemplateNotifier,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import TransientError, ValidationError
from orderkit.integrations import Message, milestone_message
from orderkit.money import Money
from orderkit.orders import (
    MILESTONES,
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Shipment,
    ShipmentLine,
)
from orderkit.testing import strategies as ost


AT = pendulum.datetime(2026, 11, 11, 2, 0)


def shipped_order(**changes: object) -> Order:
    """A Yixing teapot, paid and handed to SF Express."""
    order = Order(
        order_id="TB-20261111-8841",
        channel="taobao",
        buyer=Buyer("tb-buyer-7", "王芳", phone="+8613800138000"),
        address=Address("CN", "浙江省", "杭州市", "西湖区", phone="138****8000"),
        lines=[OrderLine("L1", "TEAPOT-ZISHA", 1, Money("399.00", "CNY"))],
        placed_at=AT,
        status=OrderStatus.SHIPPED,
        payments=[Payment("alipay-1", Money("399.00", "CNY"), AT)],
        shipments=[Shipment("S1", [ShipmentLine("L1", 1)], "SF", "SF1400123456", AT)],
    )
    return attrs.evolve(order, **changes)  # type: ignore[arg-type]


class TestMilestoneMessage:
    """What the buyer is told, and to which number."""

    def test_shipped_names_the_parcel(self) -> None:
        message = milestone_message(shipped_order())
        assert message is not None
        assert message.recipient == "+8613800138000"
        assert message.template == "order.shipped.zh"
        assert dict(message.params) == {
            "order_id": "TB-20261111-8841",
            "milestone": "已发货",
            "carrier": "SF",
            "tracking_number": "SF1400123456",
        }
        assert message.key == IdempotencyKey(
            "taobao", "milestone", "TB-20261111-8841", "shipped"
        )

    def test_english(self) -> None:
        message = milestone_message(shipped_order(), language="en")
        assert message is not None
        assert message.template == "order.shipped.en"
        assert dict(message.params)["milestone"] == "Shipped"

    def test_the_recipients_phone_when_the_buyers_is_masked(self) -> None:
        order = shipped_order(
            buyer=Buyer("tb-buyer-7", phone="138****8000"),
            address=Address("CN", phone="+8613900139000"),
        )
        message = milestone_message(order)
        assert message is not None
        assert message.recipient == "+8613900139000"

    def test_nobody_to_tell(self) -> None:
        order = shipped_order(buyer=Buyer("tb-buyer-7", phone="138****8000"))
        assert milestone_message(order) is None


class TestTemplateNotifier:
    """Rendered from approved templates, each key sent once."""

    def test_renders_and_sends_once(self) -> None:
        delivered: list[Sent] = []
        notifier = TemplateNotifier(deliver=delivered.append)
        message = milestone_message(shipped_order())
        assert message is not None
        notifier.send(message)
        notifier.send(message)
        assert [sent.text for sent in notifier.sent] == [
            "【已发货】您的订单 TB-20261111-8841 已由 SF 发出，运单号 SF1400123456。"  # noqa: RUF001
        ]
        assert delivered == list(notifier.sent)

    def test_a_failed_delivery_is_sent_again_under_its_key(self) -> None:
        """A gateway that fails once: the retry delivers, and only then is it sent."""
        attempts: list[Sent] = []

        def gateway(sent: Sent) -> None:
            attempts.append(sent)
            if len(attempts) == 1:
                raise TransientError("sms.send", "503 Service Unavailable")

        notifier = TemplateNotifier(deliver=gateway)
        message = milestone_message(shipped_order())
        assert message is not None
        with pytest.raises(TransientError):
            notifier.send(message)
        assert notifier.sent == ()
        notifier.send(message)
        notifier.send(message)
        assert len(attempts) == 2
        assert list(notifier.sent) == attempts[1:]

    def test_a_template_with_a_stray_dollar_is_refused_when_given(self) -> None:
        with pytest.raises(ValidationError) as caught:
            TemplateNotifier(templates={"promo.zh": "满$100减$20，订单 $order_id"})  # noqa: RUF001
        assert caught.value.field == "templates['promo.zh']"
        TemplateNotifier(templates={"promo.zh": "满$$100减$$20，订单 $order_id"})  # noqa: RUF001

    def test_an_unknown_template(self) -> None:
        message = Message(
            order_id="1",
            recipient="+8613800138000",
            template="promo.double11",
            key=IdempotencyKey("taobao", "promo", "1", "1"),
        )
        with pytest.raises(ValidationError) as caught:
            TemplateNotifier().send(message)
        assert caught.value.field == "template"

    def test_a_missing_parameter_sends_nothing(self) -> None:
        message = Message(
            order_id="1",
            recipient="+8613800138000",
            template="order.shipped.en",
            params={"order_id": "1"},
            key=IdempotencyKey("taobao", "milestone", "1", "shipped"),
        )
        notifier = TemplateNotifier()
        with pytest.raises(ValidationError) as caught:
            notifier.send(message)
        assert caught.value.field == "params"
        assert notifier.sent == ()

    def test_every_milestone_has_both_languages(self) -> None:
        for stage in MILESTONES.values():
            assert f"order.{stage.code}.zh" in MILESTONE_TEMPLATES
            assert f"order.{stage.code}.en" in MILESTONE_TEMPLATES

    @given(ost.orders(), st.sampled_from(["zh", "en"]))
    def test_the_message_is_what_its_constructor_makes(
        self, order: Order, language: Literal["zh", "en"]
    ) -> None:
        # milestone_message skips the checks the order made: the same message.
        message = milestone_message(order, language=language)
        if message is None:
            return
        assert message == Message(
            order_id=message.order_id,
            recipient=message.recipient,
            template=message.template,
            params=dict(message.params),
            key=message.key,
        )

    @pytest.mark.parametrize("language", ["fr", "en\n", "zh\ud800", None, ["zh"]])
    def test_a_language_of_no_template_is_refused(self, language: object) -> None:
        with pytest.raises(ValidationError) as caught:
            milestone_message(shipped_order(), language=language)  # type: ignore[arg-type]
        assert "language" == caught.value.field

    def test_a_phone_with_a_control_character_is_refused(self) -> None:
        # The order stores any phone as text; the message refuses, as it did.
        order = attrs.evolve(shipped_order(), buyer=Buyer("b", phone="+86138\n0013"))
        with pytest.raises(ValidationError) as caught:
            milestone_message(order)
        assert "recipient" == caught.value.field

    @given(ost.orders())
    def test_any_order_renders_in_both_languages(self, order: Order) -> None:
        reachable = attrs.evolve(order, buyer=Buyer("b", phone="+8613800138000"))
        for language in ("zh", "en"):
            message = milestone_message(reachable, language=language)
            assert message is not None
            text = TemplateNotifier().render(message)
            assert order.order_id in text
            assert MILESTONES[order.status].label(language) in text
