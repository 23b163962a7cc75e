"""The buyer's milestone message goes only to a phone that is a valid number."""

from __future__ import annotations

import pendulum
import pytest

from orderkit.integrations import milestone_message
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus


def _order(buyer_phone: str | None, address_phone: str | None) -> Order:
    """A paid order with the given phones, as an adapter may have kept them."""
    return Order(
        order_id="SH-1001",
        channel="shopify",
        buyer=Buyer("buyer-1", "Bob Norman", phone=buyer_phone),
        address=Address("US", "KY", "Louisville", phone=address_phone),
        lines=(OrderLine("L1", "IPOD2008GREEN", 1, Money("199.00", "USD")),),
        status=OrderStatus.PAID,
        placed_at=pendulum.datetime(2026, 11, 11),
        version=2,
    )


class TestRecipient:
    """E.164 only: what read_phone kept as sent reaches no one."""

    @pytest.mark.parametrize(
        "kept", ["+1 502 555 012", "+", "++86", "+86 138****8000", "5025550123"]
    )
    def test_the_address_phone_when_the_buyers_is_no_number(self, kept: str) -> None:
        message = milestone_message(_order(kept, "+15025550123"))
        assert message is not None
        assert "+15025550123" == message.recipient

    @pytest.mark.parametrize("kept", ["+1 502 555 012", "+", "++86", None])
    def test_no_message_when_neither_is_a_number(self, kept: str | None) -> None:
        assert milestone_message(_order(kept, "+1 502 555 01")) is None

    def test_a_valid_buyer_phone_is_used_as_it_is(self) -> None:
        message = milestone_message(_order("+8613800138000", "+15025550123"))
        assert message is not None
        assert "+8613800138000" == message.recipient

    def test_an_extension_is_kept(self) -> None:
        message = milestone_message(_order("+8613800138000;ext=1234", None))
        assert message is not None
        assert "+8613800138000;ext=1234" == message.recipient
