"""The outbox relay: publish what committed, in order per stream, at least once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final, final

import attrs

from orderkit._validate import positive_int
from orderkit.dedupe._claims import check_duration, check_text
from orderkit.errors import ValidationError
from orderkit.orders._messages import OutboxMessage
from orderkit.ports import Clock, Outbox


DEFAULT_RELAY_LEASE: Final = dt.timedelta(seconds=60)
"""How long a relay holds the messages it claimed before others may take them.

Longer than a pass takes to publish `limit` messages: a lease that ends
mid-pass lets another relay publish the same messages again.

.. versionadded:: 0.1.0
"""


@final
@attrs.frozen(slots=True, kw_only=True)
class Relayed:
    """What one `relay` pass did.

    Attributes:
        published: The ids of the messages published, in the order
            published; all but `unmarked` of them were marked sent.
        failed: The ids of the messages whose publishing raised, one per
            stream at most; each comes back, with the rest of its stream,
            when the lease ends.
        held_back: The ids of the messages claimed but not published,
            because an earlier message of their stream failed.
        errors: What publishing each failed message raised, in the order of
            `failed`.
        unmarked: How many of `published` were not marked sent: their lease
            ran out while they were being published, so another relay took
            them over and publishes them again (the outbox delivers at least
            once; the inbox drops the repeat). Zero when publishing is
            quicker than the lease.

    .. versionadded:: 0.1.0
    """

    published: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    held_back: tuple[str, ...] = ()
    errors: tuple[Exception, ...] = attrs.field(default=(), eq=False)
    unmarked: int = 0


def relay(  # noqa: PLR0913 - the ports, the relay's name, then bounds
    outbox: Outbox,
    publish: Callable[[OutboxMessage], object],
    *,
    clock: Clock,
    name: str,
    lease: dt.timedelta = DEFAULT_RELAY_LEASE,
    limit: int = 100,
) -> Relayed:
    """Run one pass of the outbox relay: claim, publish in order, mark sent.

    Claims up to `limit` messages for `name` until `clock.now() + lease`,
    hands each to `publish` in the order claimed (oldest first, in order per
    stream), and marks the published ones sent once the pass is over, at
    `clock.now()`. When `publish` raises for a message, that stream stops:
    its later messages in the pass are not published (`held_back`), and the
    failed one and those come back to be claimed when the lease ends. Other
    streams go on.

    Delivery is at least once: a relay that dies after publishing and
    before marking sent leaves the messages leased, and another relay
    publishes them again once the lease ends. Consumers drop repeats with
    an `orderkit.ports.Inbox`. Call it in a loop, or from a scheduler; it
    returns at once when there is nothing to send.

    Args:
        outbox: The outbox to drain: one of its own (`SqliteOutbox`,
            `PostgresOutbox`: each call commits itself), or a unit's
            `uow.outbox` inside `with unit as uow`, whose claims and marks
            last only once the unit commits: call `uow.commit()` after the
            pass, or every message is claimed and published again.
        publish: Sends one message (to a queue, a webhook, a notifier); it
            returns once the message is accepted, and raises if it is not.
        clock: Where the pass reads the time.
        name: This relay's name, unique among running relays
            (`"relay-web-1"`).
        lease: How long the claimed messages stay this relay's.
        limit: At most this many messages per pass.

    Returns:
        The ids published, failed and held back.

    Raises:
        ValidationError: A bad argument, naming it; nothing was claimed.
        InvalidQuantity: `limit` is not a positive integer.
        StoreError: The outbox failed. Messages published before a failure
            to mark them are published again after the lease.
        BaseException: Anything `publish` raises that is not an
            `Exception` (a `KeyboardInterrupt`) stops the pass at once,
            marking nothing.

    .. versionadded:: 0.1.0
    """
    _check_port("outbox", outbox, ("claim", "mark_sent"))
    if not callable(publish):
        raise ValidationError("publish", publish, "must be callable")
    _check_port("clock", clock, ("now",))
    relay_name = check_text("name", name)
    span = check_duration("lease", lease)
    positive_int("limit")(None, None, limit)

    claimed = outbox.claim(relay=relay_name, now=clock.now(), lease=span, limit=limit)
    published: list[str] = []
    failed: list[str] = []
    held_back: list[str] = []
    errors: list[Exception] = []
    stopped: set[str] = set()
    for message in claimed:
        if message.stream in stopped:
            held_back.append(message.message_id)
            continue
        try:
            publish(message)
        except Exception as exc:  # noqa: BLE001 - any failure stops only its stream
            stopped.add(message.stream)
            failed.append(message.message_id)
            errors.append(exc)
            continue
        published.append(message.message_id)
    marked = 0
    if published:
        marked = outbox.mark_sent(published, relay=relay_name, now=clock.now())
    return Relayed(
        published=tuple(published),
        failed=tuple(failed),
        held_back=tuple(held_back),
        errors=tuple(errors),
        unmarked=len(published) - marked,
    )


def _check_port(field: str, port: object, methods: tuple[str, ...]) -> None:
    """Refuse `port` unless it has every method named."""
    missing = [m for m in methods if not callable(getattr(port, m, None))]
    if missing:
        needs = ", ".join(f"{m}()" for m in methods)
        raise ValidationError(field, port, f"must be a port with {needs}")
