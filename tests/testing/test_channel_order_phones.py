"""`channel_orders()` draws phones as an adapter reads them, `buyers()` as sent."""

from __future__ import annotations

from hypothesis import given, settings

from orderkit.dedupe import normalize_phone
from orderkit.integrations import ChannelOrder, read_phone
from orderkit.orders import Buyer
from orderkit.testing import strategies as ost


@settings(max_examples=50, database=None)
@given(ost.channel_orders())
def test_channel_orders_phones_are_as_read_phone_gives_them(
    order: ChannelOrder,
) -> None:
    """Read again, the buyer's and the address's phones come back unchanged."""
    placed = order.placed
    for path, phone in (
        ("buyer.phone", placed.buyer.phone),
        ("address.phone", placed.address.phone),
    ):
        if phone is None:
            continue
        # The channel's home region and another: a masked number read in
        # some regions (DE) parses as a shorter one, so not every region.
        for region in ("CN", "US"):
            assert read_phone(phone, path=path, region=region) == phone, path
        if phone.startswith("+"):
            assert normalize_phone(phone, "CN", field=path) == phone, path


def test_channel_orders_draw_every_kind_of_phone_read() -> None:
    """E.164 numbers of home and abroad, a masked one, and none."""
    seen: set[str | None] = set()

    @settings(max_examples=100, database=None)
    @given(ost.channel_orders())
    def draw(order: ChannelOrder) -> None:
        seen.add(order.placed.buyer.phone)

    draw()
    assert seen == {None, "+8613812348000", "+12125550100", "138****8000"}


def test_buyers_still_draw_phones_as_a_channel_sends_them() -> None:
    """Stored orders may hold raw phones: `buyers()` draws those on purpose."""
    raw: set[str] = set()

    @settings(max_examples=100, database=None)
    @given(ost.buyers())
    def draw(buyer: Buyer) -> None:
        if buyer.phone is not None and buyer.phone != read_phone(
            buyer.phone, path="phone", region="CN"
        ):
            raw.add(buyer.phone)

    draw()
    assert raw
