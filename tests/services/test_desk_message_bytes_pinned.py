"""The desk's milestone messages, byte for byte as orderkit wrote them before.

Hosts store and relay an outbox message's id, stream and body verbatim: the
desk writes its milestone bodies and keys by hand (without building the
`Message`), and these were captured from the code that built them, so that
no change of that path alters one byte. Also: the parts it writes them from
are the message `milestone_message` builds.
"""

from __future__ import annotations

import attrs
import pendulum
import pytest

from orderkit.integrations import milestone_message
from orderkit.integrations._notices import milestone_terms
from orderkit.orders import Buyer, Order
from orderkit.services._desk_notes import milestone_body, order_messages

from ._samples import S, order


NOW = pendulum.datetime(2026, 11, 11, 8, tz="UTC")
MOBILE = "+8613800138000"


def _phoned(placed: Order, buyer: str = MOBILE, address: str | None = None) -> Order:
    placed = attrs.evolve(placed, buyer=Buyer("buyer-小林", phone=buyer))
    if address is None:
        return placed
    return attrs.evolve(placed, address=attrs.evolve(placed.address, phone=address))


LONG = "X" * 250
CASES = {
    "pending_zh": (_phoned(order("DY-1", S.PENDING_PAYMENT)), "zh"),
    "shipped_en": (_phoned(order("DY-2", S.SHIPPED)), "en"),
    "escaped": (_phoned(order("a:b%c", S.PAID, channel="shop:1%")), "zh"),
    "long_id": (_phoned(order(LONG, S.PICKING)), "en"),
    "address_phone": (
        _phoned(
            order("DY-3", S.DELIVERED), buyer="138****8000", address="+12025550123"
        ),
        "zh",
    ),
    "quoted": (_phoned(order('DY-"4"\\', S.COMPLETED)), "zh"),
}
PINNED = {
    "pending_zh": (
        "milestone:order:douyin:DY-1:pending_payment",
        "order:douyin:DY-1",
        (
            b'{"key": "douyin:milestone:DY-1:submitted", "params": {"milestone": '
            b'"\xe5\xb7\xb2\xe6\x8f\x90\xe4\xba\xa4", "order_id": "DY-1"}, '
            b'"recipient": "+8613800138000", "template": "order.submitted.zh"}'
        ),
    ),
    "shipped_en": (
        "milestone:order:douyin:DY-2:shipped",
        "order:douyin:DY-2",
        (
            b'{"key": "douyin:milestone:DY-2:shipped", "params": {"carrier": "SF", '
            b'"milestone": "Shipped", "order_id": "DY-2", "tracking_number": '
            b'"SF1400123456789"}, "recipient": "+8613800138000", '
            b'"template": "order.shipped.en"}'
        ),
    ),
    "escaped": (
        "milestone:order:shop%3A1%25:a%3Ab%25c:paid",
        "order:shop%3A1%25:a%3Ab%25c",
        (
            b'{"key": "shop%3A1%25:milestone:a%3Ab%25c:paid", "params": {"milestone": '
            b'"\xe5\xb7\xb2\xe6\x94\xaf\xe4\xbb\x98", "order_id": "a:b%c"}, '
            b'"recipient": "+8613800138000", "template": "order.paid.zh"}'
        ),
    ),
    "long_id": (
        (
            f"milestone:order:douyin:{'X' * 160}:sha256="
            "7eb42e4de40a9dceb23733b0bfc3a5b6057001bd3a1e35e262aa8d3117567287"
        ),
        f"order:douyin:{LONG}",
        b'{"key": "douyin:milestone:sha256='
        b'79b8e97af5c2e74f3d807c295787e0028e05a9f48fff41740cf5ac4e172260b3", '
        b'"params": {"milestone": "Preparing", "order_id": "'
        + LONG.encode()
        + b'"}, "recipient": "+8613800138000", "template": "order.preparing.en"}',
    ),
    "address_phone": (
        "milestone:order:douyin:DY-3:delivered",
        "order:douyin:DY-3",
        (
            b'{"key": "douyin:milestone:DY-3:delivered", "params": {"carrier": "SF", '
            b'"milestone": "\xe5\xb7\xb2\xe7\xad\xbe\xe6\x94\xb6", "order_id": "DY-3", '
            b'"tracking_number": "SF1400123456789"}, "recipient": "+12025550123", '
            b'"template": "order.delivered.zh"}'
        ),
    ),
    "quoted": (
        'milestone:order:douyin:DY-"4"\\:completed',
        'order:douyin:DY-"4"\\',
        (
            b'{"key": "douyin:milestone:DY-\\"4\\"\\\\:completed", "params": '
            b'{"carrier": "SF", "milestone": "\xe5\xb7\xb2\xe5\xae\x8c\xe6\x88\x90", '
            b'"order_id": "DY-\\"4\\"\\\\", "tracking_number": "SF1400123456789"}, '
            b'"recipient": "+8613800138000", "template": "order.completed.zh"}'
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_milestone_message_keeps_its_pinned_id_stream_and_body(case: str) -> None:
    placed, language = CASES[case]
    (message,) = order_messages([placed], placed, [], NOW, language)  # type: ignore[arg-type]
    assert (message.message_id, message.stream, message.payload) == PINNED[case]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_desk_writes_the_body_of_the_built_message(case: str) -> None:
    placed, language = CASES[case]
    built = milestone_message(placed, language=language)  # type: ignore[arg-type]
    assert built is not None
    assert milestone_body(built) == PINNED[case][2]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_milestone_terms_are_the_built_messages(case: str) -> None:
    placed, language = CASES[case]
    built = milestone_message(placed, language=language)  # type: ignore[arg-type]
    terms = milestone_terms(placed, language)  # type: ignore[arg-type]
    assert built is not None
    assert terms is not None
    recipient, template, params, code = terms
    assert (recipient, template, params) == (
        built.recipient,
        built.template,
        built.params,
    )
    assert code == built.key.event_id


def test_an_order_no_one_can_be_told_of_has_no_terms() -> None:
    placed = _phoned(order("DY-5", S.PAID), buyer="138****8000")
    assert milestone_terms(placed, "zh") is None
    assert milestone_message(placed) is None
