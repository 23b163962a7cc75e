"""Suspected duplicates: what matched, the review queue's entries, and their states."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, final

import attrs
import pendulum

from orderkit._time import plus, to_utc
from orderkit._validate import Validator, as_tuple, is_sequence
from orderkit.dedupe._claims import check_duration, check_text
from orderkit.dedupe._fingerprints import Fingerprint, FingerprintKind
from orderkit.dedupe._phones import normalize_phone
from orderkit.errors import ConcurrencyConflict, ValidationError


if TYPE_CHECKING:
    # Only for annotations: orderkit.orders imports orderkit.dedupe.
    from orderkit.dedupe._fingerprints import Fingerprinter
    from orderkit.orders import Order


@final
class ReviewState(enum.StrEnum):
    """Where a suspected duplicate stands in the review queue.

    `ReviewState("bogus")` raises `ValidationError`.

    .. versionadded:: 0.1.0
    """

    PENDING = "pending"
    """待审核: flagged, waiting for a person; the order is held."""
    RELEASED = "released"
    """已放行: a person confirmed it is not a duplicate; the order proceeds."""
    REJECTED = "rejected"
    """已驳回: a person found it a duplicate; the host cancels the order."""

    # Enum hashes in Python; str hashes in C, and equal values hash equal.
    __hash__ = str.__hash__

    @classmethod
    def _missing_(cls, value: object) -> ReviewState:
        raise ValidationError("state", value, "not a review state")


_KIND_RANK: Final = {kind: rank for rank, kind in enumerate(FingerprintKind)}


def check_name(field: str) -> Validator:
    """An attrs validator for a channel or an order id (see `check_text`)."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        check_text(field, value)

    return check


def _kinds(value: Iterable[FingerprintKind | str]) -> tuple[FingerprintKind, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("kinds", value, "must be a collection of kinds")
    kinds = {FingerprintKind(kind) for kind in value}
    if not kinds:
        raise ValidationError("kinds", value, "at least one kind must match")
    return tuple(sorted(kinds, key=_KIND_RANK.__getitem__))


def _placed_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "placed_at")


def _flagged_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "flagged_at")


def _resolved_at(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "resolved_at")


def _matches(value: Iterable[Match]) -> tuple[Match, ...]:
    matches = as_tuple(value, "matches", Match)
    if not matches:
        raise ValidationError("matches", matches, "a suspicion needs a match")
    return matches


@final
@attrs.frozen(slots=True)
class Sighting:
    """An order the duplicate detector has seen: where, which, and when placed.

    Attributes:
        channel: The sales channel (`"douyin"`).
        order_id: The order's id on that channel.
        placed_at: When the buyer placed it (UTC).

    Raises:
        ValidationError: The channel or the id is not printable text of 1
            to 255 characters, or `placed_at` is naive.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=check_name("channel"))
    order_id: str = attrs.field(validator=check_name("order_id"))
    placed_at: pendulum.DateTime = attrs.field(converter=_placed_at)


@final
@attrs.frozen(slots=True)
class Match:
    """Another order that shares fingerprints with the one checked.

    Attributes:
        channel: The other order's channel.
        order_id: The other order's id on that channel.
        placed_at: When the other order was placed (UTC).
        kinds: Which fingerprints both orders share (the reason), in
            `FingerprintKind` order, each once: `(PHONE_SKUS, ADDRESS_SKUS)`
            says the phone and the address matched, each with the SKUs.

    Raises:
        ValidationError: A field is invalid, or `kinds` is empty or names an
            unknown kind.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=check_name("channel"))
    order_id: str = attrs.field(validator=check_name("order_id"))
    placed_at: pendulum.DateTime = attrs.field(converter=_placed_at)
    kinds: tuple[FingerprintKind, ...] = attrs.field(converter=_kinds)

    def __str__(self) -> str:
        """The reason in words: `phone+skus, address+skus as douyin DY-6920001`."""
        kinds = ", ".join(kind.value for kind in self.kinds)
        return f"{kinds} as {self.channel} {self.order_id}"


@final
@attrs.frozen(slots=True)
class Suspicion:
    """A suspected duplicate (疑似重复) in the review queue, with its reason.

    A suspicion is never dropped: it waits as `PENDING` until a person
    releases the order (not a duplicate) or rejects it (a duplicate: the
    host cancels it).

    Attributes:
        channel: The suspected order's channel.
        order_id: The suspected order's id on that channel.
        placed_at: When the suspected order was placed (UTC).
        matches: The earlier-seen orders it matched, at least one, each with
            the kinds that matched; ordered by `placed_at`, then channel and
            id.
        flagged_at: When it was queued (UTC).
        state: Where it stands.
        actor: Who resolved it; `None` while pending.
        resolved_at: When it was resolved (UTC); `None` while pending.

    Raises:
        ValidationError: A field is invalid; there are no matches; or the
            state contradicts `actor` and `resolved_at` (a pending suspicion
            has neither, a resolved one both).

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=check_name("channel"))
    order_id: str = attrs.field(validator=check_name("order_id"))
    placed_at: pendulum.DateTime = attrs.field(converter=_placed_at)
    matches: tuple[Match, ...] = attrs.field(converter=_matches)
    flagged_at: pendulum.DateTime = attrs.field(converter=_flagged_at)
    state: ReviewState = attrs.field(default=ReviewState.PENDING, converter=ReviewState)
    actor: str | None = attrs.field(default=None)
    resolved_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_resolved_at
    )

    def __attrs_post_init__(self) -> None:
        if self.actor is not None:
            check_text("actor", self.actor)
        pending = self.state is ReviewState.PENDING
        if pending != (self.actor is None) or pending != (self.resolved_at is None):
            need = "neither" if pending else "both"
            raise ValidationError(
                "state",
                self.state,
                f"a {self.state} suspicion needs {need} of actor and resolved_at",
            )

    @property
    def reason(self) -> str:
        """What matched, in words: `phone+skus, address+skus as douyin DY-1`.

        One clause per matched order, joined with `; `.
        """
        return "; ".join(str(match) for match in self.matches)


@final
@attrs.frozen(slots=True)
class Screening:
    """What the duplicate detector found for one order.

    Attributes:
        channel: The order's channel.
        order_id: The order's id on that channel.
        matches: The orders seen before it that it matched (empty when
            none): the same as `suspicion.matches` when suspected.
        suspicion: The order's entry in the review queue, as it stands now
            (a repeated check reports how it was resolved); `None` when
            nothing matched.

    .. versionadded:: 0.1.0
    """

    channel: str
    order_id: str
    matches: tuple[Match, ...]
    suspicion: Suspicion | None

    @property
    def suspected(self) -> bool:
        """Whether the order matched an earlier one and went to review."""
        return self.suspicion is not None


# Store-side checks, shared by every DetectorStore so that all refuse alike.

_E164: Final = re.compile(r"\+[1-9][0-9]{1,14}(;ext=[0-9]{1,10})?")


def check_sighting(value: object) -> Sighting:
    """Return `value` if it is a `Sighting`.

    Raises:
        ValidationError: Naming the field `sighting`.
    """
    if not isinstance(value, Sighting):
        raise ValidationError("sighting", value, "must be a Sighting")
    return value


def check_fingerprints(value: object) -> tuple[str, ...]:
    """Return the stored forms of `value`, a sequence of `Fingerprint`s, each once.

    Raises:
        ValidationError: Naming the field `fingerprints` (or an item of it).
    """
    if not is_sequence(value):
        raise ValidationError(
            "fingerprints", value, "must be a sequence of Fingerprint"
        )
    found: dict[str, None] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Fingerprint):
            raise ValidationError(f"fingerprints[{i}]", item, "must be a Fingerprint")
        found[str(item)] = None
    return tuple(found)


def check_phone(value: object) -> str | None:
    """Return `value` if it is `None` or a phone number in E.164.

    Raises:
        ValidationError: Naming the field `phone`.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not _E164.fullmatch(value):
        raise ValidationError(
            "phone", value, "must be None or E.164, such as '+8613800138000'"
        )
    return value


def check_window(value: object) -> dt.timedelta:
    """Return `value` if it is a positive `timedelta` of at most 100 years.

    Raises:
        ValidationError: Naming the field `window`.
    """
    return check_duration("window", value)


def check_decision(value: object) -> ReviewState:
    """Return `value` as a resolved state: `RELEASED` or `REJECTED`.

    Raises:
        ValidationError: Naming the field `state`.
    """
    if not isinstance(value, str):
        raise ValidationError("state", value, "must be a ReviewState")
    state = ReviewState(value)
    if state is ReviewState.PENDING:
        raise ValidationError("state", value, "resolve to released or rejected")
    return state


_EARLIEST: Final = pendulum.DateTime.min.replace(tzinfo=pendulum.UTC)
_LATEST: Final = pendulum.DateTime.max.replace(tzinfo=pendulum.UTC)


def window_around(
    placed_at: pendulum.DateTime, window: dt.timedelta
) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    """The instants an order placed at `placed_at` matches: both ends included.

    Clamped to the range of datetimes, so an order near year 1 or 9999
    still has a window.
    """
    try:
        earliest = plus(placed_at, -window)
    except OverflowError:
        earliest = _EARLIEST
    try:
        latest = plus(placed_at, window)
    except OverflowError:
        latest = _LATEST
    return earliest, latest


def check_before(value: dt.datetime) -> pendulum.DateTime:
    """Return `value` in UTC.

    Raises:
        NaiveDatetime: Naming the field `before`.
    """
    return to_utc(value, "before")


def no_suspicion(channel: str, order_id: str) -> ValidationError:
    """The error for resolving an order that has no suspicion."""
    return ValidationError(
        "order_id", order_id, f"no suspected duplicate on {channel!r} has this id"
    )


def decided_otherwise(channel: str, order_id: str) -> ConcurrencyConflict:
    """The error for resolving a suspicion to the state it was not resolved to."""
    return ConcurrencyConflict(f"suspicion:{channel}:{order_id}")


def check_limit(value: object) -> int:
    """Return `value` if it is a positive integer.

    Raises:
        ValidationError: Naming the field `limit`.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError("limit", value, "must be a positive integer")
    return value


def group_matches(
    found: Iterable[tuple[str, str, pendulum.DateTime, str]],
) -> tuple[Match, ...]:
    """Group `(channel, order_id, placed_at, fingerprint)` rows by order.

    Returns one `Match` per order with the kinds of its fingerprints,
    ordered by `placed_at`, then channel and id.
    """
    by_order: dict[tuple[str, str], tuple[pendulum.DateTime, set[str]]] = {}
    for channel, order_id, placed_at, fingerprint in found:
        entry = by_order.setdefault((channel, order_id), (placed_at, set()))
        entry[1].add(fingerprint.split(":", 2)[1])
    matches = [
        Match(channel, order_id, placed_at, kinds)
        for (channel, order_id), (placed_at, kinds) in by_order.items()
    ]
    matches.sort(key=lambda m: (m.placed_at, m.channel, m.order_id))
    return tuple(matches)


def buyer_phone(fingerprinter: Fingerprinter, order: Order) -> str | None:
    """The buyer's phone in E.164, read in the region the fingerprinter uses.

    `None` when it is absent, masked or not a valid number: the buyer index
    never joins orders on junk.
    """
    raw = order.buyer.phone
    if raw is None or not raw.strip():
        return None
    # Same package: the region per channel is the fingerprinter's setting.
    region = fingerprinter._channel_regions.get(order.channel, fingerprinter._region)  # noqa: SLF001
    phone = normalize_phone(
        raw,
        region,
        lenient=True,
        mobile_extensions=fingerprinter.keeps_mobile_extensions(order.channel),
    )
    return phone if isinstance(phone, str) else None
