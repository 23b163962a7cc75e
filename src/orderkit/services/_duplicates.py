"""The duplicate detector: orders that repeat within a window go to review."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final, final

import pendulum

from orderkit._fast import builder
from orderkit._time import before_or_first, to_utc
from orderkit.dedupe import (
    Fingerprinter,
    ReviewState,
    Screening,
    Sighting,
    Suspicion,
    normalize_phone,
)
from orderkit.dedupe._claims import check_duration, check_text, fit_keys
from orderkit.errors import ValidationError
from orderkit.orders import Order
from orderkit.ports import Clock, DetectorStore


DEFAULT_DETECTOR_RETENTION = dt.timedelta(days=7)
"""How long `DuplicateDetector.prune` keeps an order: longer than any channel lags."""


@final
class DuplicateDetector:
    """Finds orders that repeat across channels and queues them for review.

    Each order is fingerprinted (`Fingerprinter`: phone + SKUs, address +
    SKUs, buyer account + SKUs) and recorded in the store. An order any of
    whose fingerprints was seen on another order placed within `window` of
    it, before or after, from any channel, is a suspected duplicate (疑似重复):
    it goes to the review queue with the reason (which kinds matched, and
    the other order's channel and id), never silently dropped. A person then
    `confirm`s it (not a duplicate: the order is released and proceeds) or
    `reject`s it (a duplicate: the host cancels it).

    The window is measured between the orders' `placed_at` instants, both
    ends included: orders placed exactly `window` apart match. When they
    were checked does not matter.

    Args:
        window: How far apart two orders may be placed and still match.
        store: Where the detector's state lives.
        fingerprinter: Computes the fingerprints, with the host's secret; its
            regions also read the buyer's phone for the buyer index.
        clock: Where the time comes from (when an order was flagged or
            resolved).
        retention: How long `prune` keeps an order after it was placed, at
            least `window`; choose it longer than the latest a channel
            delivers an order, so a late order still meets the ones it
            repeats.

    Raises:
        ValidationError: `window` or `retention` is not a positive
            timedelta, or `retention` is shorter than `window`.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        window: dt.timedelta,
        store: DetectorStore,
        fingerprinter: Fingerprinter,
        clock: Clock,
        *,
        retention: dt.timedelta = DEFAULT_DETECTOR_RETENTION,
    ) -> None:
        """Create the detector over `store`."""
        self._window = check_duration("window", window)
        self._retention = check_duration("retention", retention)
        if retention < window:
            raise ValidationError(
                "retention", retention, f"must be at least the window ({window})"
            )
        if not isinstance(fingerprinter, Fingerprinter):
            raise ValidationError(
                "fingerprinter", fingerprinter, "must be a Fingerprinter"
            )
        self._store = store
        self._fingerprinter = fingerprinter
        self._clock = clock

    @property
    def window(self) -> dt.timedelta:
        """How far apart two orders may be placed and still match."""
        return self._window

    def check(self, order: Order) -> Screening:
        """Fingerprint and record `order`; queue it if it repeats another.

        Checking an order again (a re-polled page, a retried job) returns
        its first screening, with its suspicion as it stands now, and
        records nothing: the first check stands, even if the order's
        address changed since.

        Args:
            order: The order, as placed.

        Returns:
            What the detector found: the orders it matched, each with the
            kinds that matched, and its suspicion (`None` when it matched
            nothing).

        Raises:
            ValidationError: `order` is not an `Order`, a SKU is blank once
                normalised, or its channel or id is longer than 255
                characters; nothing was recorded.
            StoreError: The store failed; nothing was recorded, and checking
                again is safe.
        """
        if not isinstance(order, Order):
            raise ValidationError("order", order, "must be an Order")
        sighting = _sighting(order)
        # The fingerprints and `buyer_phone(fingerprinter, order)`, the phone
        # read once for both.
        fingerprints, phone = self._fingerprinter._screen(order)  # noqa: SLF001
        return self._store.record(
            sighting, fingerprints, phone=phone, window=self._window, now=self._now()
        )

    def pending(self, *, limit: int = 1000) -> Sequence[Suspicion]:
        """Return up to `limit` suspected duplicates awaiting review, oldest first."""
        return self._store.pending(limit=limit)

    def suspicion(self, channel: str, order_id: str) -> Suspicion | None:
        """Return the order's suspicion, pending or resolved, or `None`."""
        return self._store.suspicion(channel, order_id)

    def confirm(self, channel: str, order_id: str, *, actor: str) -> Suspicion:
        """Confirm the order is not a duplicate: release it (已放行).

        Confirming again is a no-op that returns the suspicion as first
        confirmed.

        Args:
            channel: The suspected order's channel.
            order_id: The suspected order's id on that channel.
            actor: Who decided (a support agent's id).

        Returns:
            The suspicion, `RELEASED`, with who released it and when.

        Raises:
            ValidationError: The order has no suspicion, or `actor` is not
                printable text of 1 to 255 characters.
            ConcurrencyConflict: Someone rejected it already.
        """
        return self._resolve(channel, order_id, ReviewState.RELEASED, actor)

    def reject(self, channel: str, order_id: str, *, actor: str) -> Suspicion:
        """Find the order a duplicate: reject it (已驳回), for the host to cancel.

        Rejecting again is a no-op that returns the suspicion as first
        rejected.

        Args:
            channel: The suspected order's channel.
            order_id: The suspected order's id on that channel.
            actor: Who decided (a support agent's id).

        Returns:
            The suspicion, `REJECTED`, with who rejected it and when.

        Raises:
            ValidationError: The order has no suspicion, or `actor` is not
                printable text of 1 to 255 characters.
            ConcurrencyConflict: Someone confirmed it already.
        """
        return self._resolve(channel, order_id, ReviewState.REJECTED, actor)

    def orders_of_buyer(self, phone: str, *, region: str = "CN") -> Sequence[Sighting]:
        """The orders a buyer placed, on every channel, joined by their phone.

        Args:
            phone: The buyer's phone, in any form `normalize_phone` reads
                (`"+86 138-0013-8000"`, `"13800138000"`), its extension
                kept: give a mobile's number without one to find its
                orders on channels outside the fingerprinter's
                `relay_channels`, which index it without.
            region: The region for a number without a country code.

        Returns:
            The orders checked with this buyer phone, oldest first; none for
            a masked number (`138****8000`), which identifies nobody.

        Raises:
            InvalidPhone: `phone` is not a phone number.
            ConfigurationError: `region` is not a region phonenumbers knows.
        """
        number = normalize_phone(phone, region, field="phone")
        if number is None:
            return ()
        return self._store.orders_of_buyer(number)

    def prune(self) -> int:
        """Forget orders placed longer than the retention ago, unless pending.

        Returns:
            How many orders were forgotten.
        """
        return self._store.prune(before_or_first(self._now(), self._retention))

    def _resolve(
        self, channel: str, order_id: str, state: ReviewState, actor: str
    ) -> Suspicion:
        check_text("actor", actor)
        return self._store.resolve(
            channel, order_id, state, actor=actor, now=self._now()
        )

    def _now(self) -> pendulum.DateTime:
        return to_utc(self._clock.now(), "clock.now()")


_new_sighting: Final = builder(Sighting)


def _sighting(order: Order) -> Sighting:
    """The order's `Sighting`, built unchecked when the order's checks suffice.

    An `Order` holds its channel and id as non-blank printable text and its
    `placed_at` in UTC already; only the length limit of 255 is the
    sighting's own.
    """
    channel, order_id = order.channel, order.order_id
    if fit_keys(channel, order_id):
        return _new_sighting(channel, order_id, order.placed_at)
    return Sighting(channel, order_id, order.placed_at)
