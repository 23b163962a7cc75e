"""What intake builds without checking again is what the checking constructors build.

The desk's milestone and `sellable` messages, its order streams, the
milestone's key and the routing of a policy's locations skip checks their
parts passed already: the values are equal to the checked ones, and input
the checks refuse is still refused, with the same error. The milestone's
body, written by hand, has the encoder's very bytes.
"""

from __future__ import annotations

import attrs
import pendulum
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orderkit._validate import is_unicode
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.integrations import Message, milestone_message
from orderkit.inventory import Balance, route
from orderkit.orders import (
    MAX_STREAM_LENGTH,
    Buyer,
    Order,
    OutboxMessage,
    order_stream,
)
from orderkit.orders._messages import known_order_stream, made_message
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.services._desk_notes import milestone_body
from orderkit.services._sellable import _sellable_message, outbox_message
from orderkit.testing import FrozenClock

from ._samples import S, order, pulled


def _error(call: object, *args: object) -> tuple[type, str]:
    with pytest.raises(ValidationError) as caught:
        call(*args)  # type: ignore[operator]
    return type(caught.value), str(caught.value)


@given(
    channel=st.text(min_size=1, max_size=20).filter(
        lambda t: t.isprintable() and t.strip()
    ),
    order_id=st.text(min_size=1, max_size=40).filter(
        lambda t: t.isprintable() and t.strip()
    ),
)
def test_a_known_order_stream_is_the_order_stream(channel: str, order_id: str) -> None:
    assert known_order_stream(channel, order_id) == order_stream(channel, order_id)


@pytest.mark.parametrize("longest", ["channel", "order_id"])
def test_a_part_too_long_for_a_stream_is_refused_alike(longest: str) -> None:
    parts = {"channel": "douyin", "order_id": "DY-1"}
    parts[longest] = "x" * (MAX_STREAM_LENGTH + 1)
    expected = _error(order_stream, parts["channel"], parts["order_id"])
    assert _error(known_order_stream, parts["channel"], parts["order_id"]) == expected


def test_a_stream_of_long_parts_that_fit_is_hashed_alike() -> None:
    channel, order_id = "c" * MAX_STREAM_LENGTH, "o:%" * 300
    expected = order_stream(channel, order_id)
    assert len(expected) < MAX_STREAM_LENGTH
    assert known_order_stream(channel, order_id) == expected


def test_a_made_message_is_the_constructed_one() -> None:
    at = pendulum.datetime(2026, 11, 11, 8, tz="Asia/Shanghai")
    message_id, stream = "milestone:order:douyin:DY-1:paid", "order:douyin:DY-1"
    made = made_message(message_id, stream, "milestone", b"{}", at)
    built = OutboxMessage(
        message_id=message_id,
        stream=stream,
        topic="milestone",
        payload=b"{}",
        created_at=at,
    )
    assert made == built
    assert type(made.created_at) is type(built.created_at)
    assert made.created_at.tzinfo is built.created_at.tzinfo


def test_a_made_message_converts_its_instant_as_the_constructor() -> None:
    naive = pendulum.naive(2026, 11, 11)
    with pytest.raises(ValidationError) as made:
        made_message("m", "s", "t", b"", naive)
    with pytest.raises(ValidationError) as built:
        OutboxMessage(
            message_id="m", stream="s", topic="t", payload=b"", created_at=naive
        )
    assert (type(made.value), str(made.value)) == (type(built.value), str(built.value))


@pytest.mark.parametrize(
    ("sku", "cause"),
    [("a\x00b", "k"), ("S", "k\x01"), ("x" * 1100, "k")],
)
def test_a_sellable_message_of_parts_a_message_refuses_is_refused(
    sku: str, cause: str
) -> None:
    now = pendulum.datetime(2026, 11, 11, tz="UTC")
    expected = _error(
        lambda: OutboxMessage(
            message_id=f"sellable:{sku}:{cause}"[:255],
            stream=f"sku:{sku}",
            topic="sellable",
            payload=b"{}",
            created_at=now,
        )
    )
    assert _error(_sellable_message, sku, [("W1", 1)], cause, now)[0] is expected[0]


def _reachable() -> Order:
    """An order waiting for payment, whose buyer a milestone reaches."""
    return attrs.evolve(
        order("DY-1", S.PENDING_PAYMENT),
        buyer=Buyer("buyer-42", "李雷", phone="+8613800138000"),
    )


def test_the_milestone_key_is_the_constructed_one() -> None:
    placed = _reachable()
    message = milestone_message(placed)
    assert message is not None
    code = message.template.split(".")[1]
    expected = IdempotencyKey(placed.channel, "milestone", placed.order_id, code)
    assert message.key == expected
    assert hash(message.key) == hash(expected)
    assert str(message.key) == str(expected)


def test_every_message_of_an_accepted_order_is_one_the_constructor_takes() -> None:
    unit = MemoryUnitOfWork()
    placed = _reachable()
    clock = FrozenClock(placed.placed_at)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for line in placed.lines:
            ledger.receive(line.sku, "WH-1", 100, key=f"in:{line.sku}")
        uow.commit()
    desk = OrderDesk(
        unit, clock, DeskPolicy(locations=("WH-1",)), Fingerprinter.for_tests()
    )
    assert isinstance(desk.accept(pulled(placed, placed.status)), Accepted)
    with unit as uow:
        messages = list(uow.outbox.unsent())
    assert {m.topic for m in messages} >= {"milestone", "sellable"}
    for message in messages:
        assert OutboxMessage(**attrs.asdict(message, recurse=False)) == message


def test_a_policy_tuple_of_locations_refused_once_is_refused_again() -> None:
    stock = [Balance("S", "A", on_hand=5)]

    def routed(locations: tuple[str, ...]) -> object:
        return route({"S": 1}, stock, locations=locations, strategy="location_order")

    bad = ("A", " ")
    assert _error(routed, bad) == _error(routed, bad)
    good = ("A",)
    assert routed(good) == routed(good)
    twice = ("A", "A")
    assert _error(routed, twice) == _error(routed, twice)
    assert routed(good) == routed(("A",))


# Printable, non-blank text: letters, digits, punctuation, symbols, and spaces.
_TEXT = st.text(
    st.characters(categories=["L", "N", "P", "S"]) | st.just(" "),
    min_size=1,
    max_size=12,
).filter(str.strip)


@given(
    recipient=_TEXT,
    template=_TEXT,
    params=st.lists(
        st.tuples(_TEXT, st.text(max_size=12).filter(is_unicode)), max_size=4
    ),
    parts=st.tuples(_TEXT, _TEXT, _TEXT, _TEXT),
)
@example(
    recipient='+86"\\/é',
    template="order.paid.zh",
    params=[("b", '引号"\n\u2028'), ("a", "1"), ("a", "0")],
    parts=("douyin", "milestone", "DY:1%", "paid"),
)
@example(recipient="r", template="t", params=[], parts=("c", "m", "o", "e"))
def test_a_milestone_body_is_the_encoders(
    recipient: str,
    template: str,
    params: list[tuple[str, str]],
    parts: tuple[str, str, str, str],
) -> None:
    message = Message(
        order_id="DY-1",
        recipient=recipient,
        template=template,
        params=params,
        key=IdempotencyKey(*parts),
    )
    payload = {
        "recipient": message.recipient,
        "template": message.template,
        "params": dict(message.params),
        "key": str(message.key),
    }
    now = pendulum.datetime(2026, 11, 11, tz="UTC")
    expected = outbox_message("m", "s", "milestone", payload, now).payload
    assert milestone_body(message) == expected
