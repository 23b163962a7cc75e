"""The outbox relay: claim, publish in order per stream, mark sent after publishing."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from orderkit.adapters.memory import MemoryInbox, MemoryOutbox
from orderkit.errors import TransientError, ValidationError
from orderkit.orders import OutboxMessage, order_stream
from orderkit.services import DEFAULT_RELAY_LEASE, Relayed, relay
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
DY1 = order_stream("douyin", "DY-1001")
DY2 = order_stream("douyin", "DY-1002")


def message(message_id: str, stream: str = DY1) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=stream,
        topic="milestone",
        payload=b'{"milestone":"shipped"}',
        created_at=T0,
    )


@pytest.fixture
def outbox() -> MemoryOutbox:
    box = MemoryOutbox()
    box.add([message("m1"), message("m2", DY2), message("m3"), message("m4", DY2)])
    return box


class TestPublishing:
    """A pass publishes oldest first and marks sent what was published."""

    def test_everything_is_published_in_order_and_marked(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """Published in the order added; nothing is left unsent."""
        published: list[str] = []
        done = relay(
            outbox,
            lambda m: published.append(m.message_id),
            clock=clock,
            name="relay-1",
        )
        assert published == ["m1", "m2", "m3", "m4"]
        assert done == Relayed(published=("m1", "m2", "m3", "m4"))
        assert outbox.unsent() == []

    def test_a_publish_that_outlives_its_lease_is_reported_unmarked(
        self, clock: FrozenClock
    ) -> None:
        """Another relay took the message over: this pass's mark did not count."""
        outbox = MemoryOutbox()
        outbox.add([message("m1")])
        lease = dt.timedelta(seconds=60)

        def slow(_: OutboxMessage) -> None:
            clock.advance(seconds=120)
            taken = outbox.claim(relay="relay-2", now=clock.now(), lease=lease)
            assert [m.message_id for m in taken] == ["m1"]

        done = relay(outbox, slow, clock=clock, name="relay-1", lease=lease)

        assert done == Relayed(published=("m1",), unmarked=1)
        assert [m.message_id for m in outbox.unsent()] == ["m1"]

    def test_an_empty_outbox_is_a_quiet_pass(self, clock: FrozenClock) -> None:
        """Nothing to claim: nothing published, nothing raised."""
        assert relay(MemoryOutbox(), print, clock=clock, name="relay-1") == Relayed()

    def test_limit_bounds_a_pass(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """At most `limit` messages per pass; the next pass takes the rest."""
        published: list[str] = []
        relay(
            outbox,
            lambda m: published.append(m.message_id),
            clock=clock,
            name="r",
            limit=3,
        )
        assert published == ["m1", "m2", "m3"]
        relay(
            outbox,
            lambda m: published.append(m.message_id),
            clock=clock,
            name="r",
            limit=3,
        )
        assert published == ["m1", "m2", "m3", "m4"]

    def test_marks_are_made_after_publishing(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """While publish runs, its message is still unsent."""
        unsent_during: list[int] = []
        relay(
            outbox,
            lambda _: unsent_during.append(len(outbox.unsent())),
            clock=clock,
            name="r",
        )
        assert unsent_during == [4, 4, 4, 4]


class TestFailures:
    """A failed publish stops its stream only; the lease brings it back."""

    def test_a_failure_stops_its_stream_and_no_other(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """m1 fails: m3 waits behind it; the other stream goes on."""
        published: list[str] = []

        def publish(m: OutboxMessage) -> None:
            if m.message_id == "m1":
                raise TransientError("mq.publish", "broker unavailable")
            published.append(m.message_id)

        done = relay(outbox, publish, clock=clock, name="relay-1")
        assert published == ["m2", "m4"]
        assert (done.published, done.failed, done.held_back) == (
            ("m2", "m4"),
            ("m1",),
            ("m3",),
        )
        assert isinstance(done.errors[0], TransientError)
        assert [m.message_id for m in outbox.unsent()] == ["m1", "m3"]

    def test_the_failed_stream_comes_back_after_the_lease(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """Before the lease ends nothing is claimable; after it, in order."""
        lease = dt.timedelta(seconds=30)

        def fail(m: OutboxMessage) -> None:
            raise TransientError("mq.publish", f"broker down for {m.message_id}")

        relay(outbox, fail, clock=clock, name="relay-1", lease=lease)
        published: list[str] = []
        clock.sleep(29)
        assert (
            relay(
                outbox,
                lambda m: published.append(m.message_id),
                clock=clock,
                name="relay-2",
                lease=lease,
            )
            == Relayed()
        )
        clock.sleep(1)
        relay(
            outbox,
            lambda m: published.append(m.message_id),
            clock=clock,
            name="relay-2",
            lease=lease,
        )
        assert published == ["m1", "m2", "m3", "m4"]

    def test_a_relay_dying_mid_pass_delivers_again_and_the_inbox_drops_it(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """At least once: the consumer acts on each message exactly once."""
        inbox = MemoryInbox()
        acted: list[str] = []

        def consume(m: OutboxMessage) -> None:
            if not inbox.seen("notifier", m.message_id, now=clock.now()):
                acted.append(m.message_id)

        class Died(BaseException):
            """The relay's process ending mid-pass."""

        def dying(m: OutboxMessage) -> None:
            consume(m)
            if m.message_id == "m2":
                raise Died

        with pytest.raises(Died):
            relay(outbox, dying, clock=clock, name="relay-1")
        assert len(outbox.unsent()) == 4  # nothing was marked
        clock.sleep(DEFAULT_RELAY_LEASE.total_seconds())
        done = relay(outbox, consume, clock=clock, name="relay-2")
        assert done.published == ("m1", "m2", "m3", "m4")
        assert acted == ["m1", "m2", "m3", "m4"]


class TestArguments:
    """Bad arguments are refused before anything is claimed."""

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"name": ""}, "name"),
            ({"lease": dt.timedelta(0)}, "lease"),
            ({"limit": 0}, "limit"),
            ({"clock": object()}, "clock"),
        ],
    )
    def test_bad_arguments_name_themselves(
        self,
        outbox: MemoryOutbox,
        clock: FrozenClock,
        kwargs: dict[str, object],
        field: str,
    ) -> None:
        """Each refused argument is named; every message stays claimable."""
        arguments: dict[str, object] = {"clock": clock, "name": "relay-1", **kwargs}
        with pytest.raises(ValidationError) as error:
            relay(outbox, print, **arguments)  # type: ignore[arg-type]
        assert error.value.field == field
        assert len(outbox.claim(relay="r", now=T0, lease=DEFAULT_RELAY_LEASE)) == 4

    def test_a_port_without_claim_is_refused(self, clock: FrozenClock) -> None:
        """The outbox must be an outbox."""
        with pytest.raises(ValidationError) as error:
            relay(object(), print, clock=clock, name="r")  # type: ignore[arg-type]
        assert error.value.field == "outbox"

    def test_publish_must_be_callable(
        self, outbox: MemoryOutbox, clock: FrozenClock
    ) -> None:
        """A publisher that cannot be called is refused."""
        with pytest.raises(ValidationError) as error:
            relay(outbox, "mq", clock=clock, name="r")  # type: ignore[arg-type]
        assert error.value.field == "publish"
