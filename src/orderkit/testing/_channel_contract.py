"""The contract every channel adapter runs with its own sample payloads."""

from __future__ import annotations

import abc
import copy
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, final

import attrs
import pendulum
import pytest

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import OrderkitError, UnknownStatus, ValidationError
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    ChannelRefund,
    ChannelTransaction,
    load_json,
)
from orderkit.money import Money
from orderkit.orders import Early, Order, OrderEvent, apply, apply_all
from orderkit.orders._status import ENDED
from orderkit.ports import ChannelPayloads
from orderkit.pricing import PricingPolicy, ViolationCode, price, validate
from orderkit.serialization import make_converter
from orderkit.services import DriftKind, status_drift
from orderkit.testing._contract_base import refuse_abstract_test_class
from orderkit.testing._payload_fuzz import took
from orderkit.testing._reordered_notices import owed_after


@final
@attrs.frozen(slots=True)
class Sample:
    """One payload a channel sent, and what reading it must give.

    Attributes:
        name: A name for test ids (`"order-3-line-items"`).
        topic: The payload's kind, one of the channel's `topics`.
        text: The payload as the channel sent it (JSON text).
        refused: The error type reading it must raise, or `None` when it
            must map onto valid records.
        stated_total_differs: The channel's stated total is known not to
            add up from the quote's lines, offers, shipping and tax (a
            channel the desk prices with `totals="accept_channel"`); by
            default the contract refuses a `total_mismatch`, which the
            desk's default policy holds for a person.
        status_ahead_of_events: The payload carries no event for the
            status the channel states (a paid order with no capture in it,
            a completed one without its parcels), so the order's events
            stop short of `ChannelOrder.status` and `status_drift` reports
            it; by default the contract refuses that.

    .. versionadded:: 0.1.0
    """

    name: str
    topic: str
    text: str | bytes
    refused: type[OrderkitError] | None = None
    stated_total_differs: bool = attrs.field(default=False, kw_only=True)
    status_ahead_of_events: bool = attrs.field(default=False, kw_only=True)

    @classmethod
    def from_file(
        cls,
        path: Path,
        topic: str,
        refused: type[OrderkitError] | None = None,
        *,
        stated_total_differs: bool = False,
        status_ahead_of_events: bool = False,
    ) -> Sample:
        """A sample read from a fixture file, named after it."""
        return cls(
            path.stem,
            topic,
            path.read_bytes(),
            refused,
            stated_total_differs=stated_total_differs,
            status_ahead_of_events=status_ahead_of_events,
        )


_CONVERTER = make_converter()
# No floors, no limits: the contract asks whether the total adds up, not
# whether a shop's own prices allow it.
_NO_FLOORS = PricingPolicy()


def _instants(record: object) -> Iterator[tuple[str, object]]:
    """Every datetime inside a record, with its attribute path."""
    if isinstance(record, dt.datetime):
        yield "", record
    elif attrs.has(type(record)):
        for field in attrs.fields(type(record)):  # type: ignore[arg-type]
            for path, value in _instants(getattr(record, field.name)):
                yield f".{field.name}{path}", value
    elif isinstance(record, tuple | list | frozenset):
        for i, item in enumerate(record):
            for path, value in _instants(item):
                yield f"[{i}]{path}", value


def _parked_message(
    sample: Sample, order: Order, parked: Sequence[OrderEvent], now: dt.datetime
) -> str:
    """Which stated events wait for a step the adapter never states."""
    waits = []
    for event in parked:
        # The batch parked it as `Early`: applied again, it says what it waits for.
        outcome = apply(order, event, now=now)
        why = outcome.reason if isinstance(outcome, Early) else "waits"
        waits.append(f"{type(event).__name__} ({why})")
    return (
        f"{sample.name}: {', '.join(waits)} stay parked and the order stays"
        f" {order.status.value}: the lifecycle needs every step, so state the"
        " missing one yourself, with its own key, when the channel has no such"
        " step (PickingStarted at the first parcel, InTransit before"
        " Delivered)"
    )


def _behind(order: Order, record: ChannelOrder) -> bool:
    """Whether the events stop short of the status the channel states."""
    for drift in status_drift([order], [record]):
        if drift.kind is DriftKind.CHANNEL_AHEAD:
            return True
        # An ended channel order its events do not end: its cancellation
        # was never stated.
        if drift.kind is DriftKind.CONFLICT and record.status in ENDED:
            return True
    return False


def _behind_message(sample: Sample, order: Order, record: ChannelOrder) -> str:
    return (
        f"{sample.name}: the channel says {record.status.value} but the events"
        f" stated leave the order {order.status.value}: state the events that"
        " take it there (a capture, PickingStarted and the parcels, the"
        " cancellation), or give the sample status_ahead_of_events=True when"
        " the payload carries none"
    )


def _reordered(value: Any) -> Any:  # noqa: ANN401 - decoded JSON
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(value)}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


def _order_of(records: Sequence[ChannelRecord]) -> ChannelOrder:
    """The one order among `records`."""
    [order] = [r for r in records if isinstance(r, ChannelOrder)]
    return order


def _keys(records: Sequence[ChannelRecord]) -> list[IdempotencyKey]:
    keys: list[IdempotencyKey] = []
    for record in records:
        if isinstance(record, ChannelOrder):
            keys += [
                record.placed.key,
                *(event.key for event in record.events),
                *(refund.key for refund in record.refunds),
            ]
        else:
            keys.append(record.key)
    return keys


class ChannelContract(abc.ABC):
    """The rules every `orderkit.ports.ChannelPayloads` implementation follows.

    Subclass it in your tests, say how to make the adapter and which samples
    it reads, and pytest checks each sample: it maps onto valid canonical
    records (the order can be placed and every event applied, none left
    parked, the events reach the status the channel states, the quote
    prices and its stated total adds up, it survives the serializer) or
    raises the typed error the sample names; reading is deterministic; a
    re-delivery gives the same keys;
    every time is a UTC instant; an unknown status is reported, not guessed;
    an unknown topic is refused; with `refunded_in_full`, a paid order's
    notice and its notice refunded in full owe nothing back in either
    arrival order.

    ```python
    class TestMyChannel(ChannelContract):
        def make_channel(self):
            return MyChannel()

        def samples(self):
            return [Sample.from_file(FIXTURES / "order.json", "order")]

        def with_status(self, payload, topic, status):
            payload["status"] = status
            return payload
    ```

    A subclass pytest collects (its name starts with `Test`) must define
    `make_channel` and `samples`: one that does not is refused with a
    `TypeError` as its module is imported, not skipped in silence.

    .. versionadded:: 0.1.0
    """

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        refuse_abstract_test_class(cls)

    @abc.abstractmethod
    def make_channel(self) -> ChannelPayloads:
        """Return the adapter under test."""

    @abc.abstractmethod
    def samples(self) -> Sequence[Sample]:
        """Return the sample payloads, real ones where the channel has them."""

    def with_status(self, payload: Any, topic: str, status: str) -> Any | None:  # noqa: ANN401, ARG002 - decoded JSON; a hook
        """Return the payload with its order status set to `status`.

        `None` (the default) when the topic carries no status; the
        unknown-status rule is then checked only for samples where it does.
        """
        return None

    def refunded_in_full(self, payload: Any, topic: str) -> Any | None:  # noqa: ANN401, ARG002 - decoded JSON; a hook
        """Return a paid order's payload once it was cancelled and refunded in full.

        As the channel sends it when the order was refunded before any
        goods left. `None` (the default) when the sample is no paid order, or the
        adapter has no such notice; the late-capture rule is then skipped.
        """
        return None

    # ------------------------------------------------------------------
    # Fixtures

    @pytest.fixture
    def channel(self) -> ChannelPayloads:
        """The adapter under test."""
        return self.make_channel()

    def _parsed(self) -> Iterator[tuple[Sample, Any]]:
        for sample in self.samples():
            yield sample, load_json(sample.text)

    # ------------------------------------------------------------------
    # Rules

    def test_samples_are_of_topics_it_reads(self, channel: ChannelPayloads) -> None:
        """There are samples, each of a topic the adapter says it reads."""
        topics = {sample.topic for sample in self.samples()}
        assert topics, "give at least one sample"
        assert topics <= channel.topics, topics - channel.topics

    def test_every_sample_maps_or_is_refused(self, channel: ChannelPayloads) -> None:
        """A sample maps onto valid records, or raises the error it names."""
        for sample, payload in self._parsed():
            if sample.refused is not None:
                with pytest.raises(sample.refused):
                    channel.parse(payload, topic=sample.topic)
                continue
            records = channel.parse(payload, topic=sample.topic)
            assert records, f"{sample.name}: no records"
            for record in records:
                assert isinstance(
                    record, ChannelOrder | ChannelRefund | ChannelTransaction
                )
                if isinstance(record, ChannelOrder):
                    self._check_order(sample, channel, record)
                else:
                    assert record.key.channel == channel.channel

    def _check_order(
        self, sample: Sample, channel: ChannelPayloads, record: ChannelOrder
    ) -> None:
        assert record.channel == channel.channel, sample.name
        assert record.placed.key.channel == channel.channel, sample.name
        now = pendulum.datetime(2100, 1, 1)
        batch = apply_all(None, [record.placed, *record.events], now=now)
        assert batch.order is not None, f"{sample.name}: the order was not placed"
        for outcome in batch.outcomes:
            assert took(outcome), (sample.name, outcome)
        if batch.parked:
            raise AssertionError(
                _parked_message(sample, batch.order, batch.parked, now)
            )
        if not sample.status_ahead_of_events and _behind(batch.order, record):
            raise AssertionError(_behind_message(sample, batch.order, record))
        price(record.quote)
        if not sample.stated_total_differs:
            mismatch = [
                v
                for v in validate(record.quote, _NO_FLOORS).violations
                if v.code is ViolationCode.TOTAL_MISMATCH
            ]
            if mismatch:
                raise AssertionError(
                    f"{sample.name}: {mismatch[0].message}: the desk holds such"
                    " an order for pricing; read the lines, offers, shipping"
                    " and tax the channel charged, or give the sample"
                    " stated_total_differs=True if the channel's totals are"
                    " known to differ"
                )
        assert _CONVERTER.loads(_CONVERTER.dumps(batch.order), Order) == batch.order

    def test_reading_is_deterministic(self, channel: ChannelPayloads) -> None:
        """The same payload read twice gives equal records."""
        for sample, payload in self._parsed():
            if sample.refused is None:
                first = channel.parse(payload, topic=sample.topic)
                again = channel.parse(copy.deepcopy(payload), topic=sample.topic)
                assert first == again, sample.name

    def redelivered(self, payload: Any, topic: str) -> Any:  # noqa: ANN401, ARG002 - decoded JSON; a hook
        """Return the payload as the channel sends the same fact again.

        By default every object's keys in reverse order: a channel that
        serialises again may order fields differently, and keys must not
        depend on it. Override to change what else a re-send changes (a
        delivery id, a retry counter).
        """
        return _reordered(payload)

    def test_redelivery_gives_the_same_keys(self, channel: ChannelPayloads) -> None:
        """A re-sent payload has the same idempotency keys; no key repeats."""
        for sample, payload in self._parsed():
            if sample.refused is None:
                first = channel.parse(payload, topic=sample.topic)
                resent = self.redelivered(load_json(sample.text), sample.topic)
                again = channel.parse(resent, topic=sample.topic)
                keys = _keys(first)
                assert keys == _keys(again), sample.name
                assert len(set(keys)) == len(keys), f"{sample.name}: keys repeat"

    def test_times_are_utc_instants(self, channel: ChannelPayloads) -> None:
        """Every time in every record is timezone-aware UTC."""
        for sample, payload in self._parsed():
            if sample.refused is None:
                for record in channel.parse(payload, topic=sample.topic):
                    for path, value in _instants(record):
                        assert isinstance(value, pendulum.DateTime), (sample.name, path)
                        assert value.utcoffset() == dt.timedelta(0), (sample.name, path)

    def test_unknown_status_is_reported(self, channel: ChannelPayloads) -> None:
        """A status the channel never documented raises `UnknownStatus`."""
        checked = 0
        for sample, payload in self._parsed():
            if sample.refused is not None:
                continue
            changed = self.with_status(payload, sample.topic, "no-such-status-🦄")
            if changed is not None:
                checked += 1
                with pytest.raises(UnknownStatus):
                    channel.parse(changed, topic=sample.topic)
        if not checked:
            pytest.skip("with_status() sets no sample's status: override it")

    def test_a_late_capture_owes_back_what_the_channel_holds(
        self, channel: ChannelPayloads
    ) -> None:
        """A notice refunded in full, then the older one of its capture, owe nothing.

        Webhooks are not ordered. For each sample `refunded_in_full` ends,
        the paid notice and the refunded one go to a fresh desk in both
        orders: neither owes money back (the channel holds none), and the
        payment ledger says the same was refunded. A notice of the refunded
        order that states neither the capture nor its refunds fails here:
        a late capture would be owed back again.
        """
        checked = 0
        for sample, payload in self._parsed():
            if sample.refused is not None:
                continue
            later = self.refunded_in_full(copy.deepcopy(payload), sample.topic)
            if later is None:
                continue
            paid = _order_of(channel.parse(payload, topic=sample.topic))
            ended = _order_of(channel.parse(later, topic=sample.topic))
            checked += 1
            in_order = owed_after([paid, ended])
            late = owed_after([ended, paid])
            zero = Money.zero(paid.quote.currency.code)
            assert (zero, zero) == (in_order[0], late[0]), (
                f"{sample.name}: owed back {in_order[0]} with the notices in "
                f"order and {late[0]} with the refunded one first: state the "
                "refunds of an order refunded in full, with or without its "
                "capture, so that the desk takes a late capture's money off them"
            )
            assert in_order[1] == late[1], (sample.name, in_order[1], late[1])
        if not checked:
            pytest.skip("refunded_in_full() ends no sample: override it")

    def test_unknown_topic_is_refused(self, channel: ChannelPayloads) -> None:
        """A payload kind the adapter does not read raises naming `topic`."""
        payload = load_json(self.samples()[0].text)
        with pytest.raises(ValidationError) as caught:
            channel.parse(payload, topic="no/such-topic")
        assert caught.value.field == "topic"

    def test_a_payload_of_the_wrong_shape_is_refused(
        self, channel: ChannelPayloads
    ) -> None:
        """Not an object at all: a typed error, never another exception."""
        for topic in sorted(channel.topics):
            payloads: list[object] = [[], "order", 42, None, {}]
            for payload in payloads:
                with pytest.raises(OrderkitError):
                    channel.parse(payload, topic=topic)
