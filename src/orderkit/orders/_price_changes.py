"""Manual price changes: approval tiers as data, and a change's pure lifecycle.

A price change is requested, routed to the role its amount needs
(`ApprovalTiers`), then approved, rejected or left to expire. Only an approved
change moves money: it yields a `PriceChanged` record (old and new value,
requester, approver, time, reason), and `record_price_change` applies it to
the order with an `AuditRecord` in the order's trail.

The amount routed is the absolute change of the line total,
`|new_unit_price - old_unit_price| * quantity`: cutting 10 units by 20.00 each
moves 200.00, and needs the approval of 200.00. On an order, a change is
routed by the line's whole move since the order was taken in, so that small
steps cannot add up past an approver's tier (`role_needed`, and
`record_price_change` refuses an approval whose approver's tier is too low
for it).
"""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, final

import attrs
import pendulum

from orderkit._time import ending, to_utc
from orderkit._validate import (
    instance_of,
    optional_name,
    plain_text,
    positive_int,
    text,
)
from orderkit.errors import CurrencyMismatch, ValidationError
from orderkit.money import Money
from orderkit.orders._tiers import ApprovalTier, ApprovalTiers, non_negative_money


if TYPE_CHECKING:
    from orderkit.orders._order import Order


__all__ = [
    "AlreadyDecided",
    "ChangeState",
    "Decided",
    "PriceChange",
    "PriceChanged",
    "approve",
    "expire",
    "reject",
    "request_change",
    "role_needed",
]


@final
class ChangeState(enum.StrEnum):
    """Where a price change stands; it leaves `PENDING` exactly once.

    .. versionadded:: 0.1.0
    """

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


def _requested_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "requested_at")


def _expires_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "expires_at")


def _decided_at(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "decided_at")


def _at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "at")


def _check_prices(old: Money, new: Money) -> None:
    if new.currency != old.currency:
        raise CurrencyMismatch("new_unit_price", new.currency.code, old.currency.code)
    if new == old:
        raise ValidationError(
            "new_unit_price", new, "is the old price; there is nothing to change"
        )


@final
@attrs.frozen(slots=True, kw_only=True)
class PriceChange:
    """A request to change one order line's unit price, and its decision.

    Attributes:
        change_id: The change's id.
        order_id: The order.
        line_id: The line whose unit price changes.
        sku: The line's SKU (anomaly reports compare with its list price).
        quantity: The line's quantity: the change of the line total is
            `(new_unit_price - old_unit_price) * quantity`.
        old_unit_price: The unit price now.
        new_unit_price: The unit price asked for; never negative.
        reason: Why, in the requester's words.
        requester: Who asked: the actor of the change.
        evidence: A reference to the evidence (ticket, chat log, photo).
        requested_at: When it was asked (UTC).
        expires_at: When a pending change lapses (UTC, exclusive).
        required_role: The role the amount was routed to.
        state: `PENDING` until approved, rejected or expired.
        decided_by: Who approved or rejected it; `None` otherwise.
        decided_at: When it left `PENDING` (UTC); `None` while pending.
        note: The decider's note, such as why it was rejected.
        approver_tier: For a change approved by `approve`, the approver's
            tier: the role they approved in and the most it approves
            (`up_to`, `None` for the open-ended tier). `record_price_change`
            holds the line's whole move since intake to it. `None` for a
            change approved otherwise, or not approved.

    Raises:
        ValidationError: A field is empty or of the wrong type, a price is
            negative, the prices are equal, the change expires before it
            was requested, or a change not approved has an `approver_tier`.
        CurrencyMismatch: The two prices are in different currencies.

    .. versionadded:: 0.1.0
    """

    change_id: str = attrs.field(validator=text("change_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    line_id: str = attrs.field(validator=text("line_id"))
    sku: str = attrs.field(validator=text("sku"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    old_unit_price: Money = attrs.field(validator=non_negative_money("old_unit_price"))
    new_unit_price: Money = attrs.field(validator=non_negative_money("new_unit_price"))
    reason: str = attrs.field(validator=text("reason"))
    requester: str = attrs.field(validator=text("requester"))
    evidence: str = attrs.field(validator=text("evidence"))
    requested_at: pendulum.DateTime = attrs.field(converter=_requested_at)
    expires_at: pendulum.DateTime = attrs.field(converter=_expires_at)
    required_role: str = attrs.field(validator=text("required_role"))
    state: ChangeState = attrs.field(
        default=ChangeState.PENDING, validator=instance_of("state", ChangeState)
    )
    decided_by: str | None = attrs.field(
        default=None,
        validator=optional_name("decided_by"),
    )
    decided_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_decided_at
    )
    note: str = attrs.field(default="", validator=plain_text("note"))
    approver_tier: ApprovalTier | None = attrs.field(
        default=None,
        validator=instance_of("approver_tier", (ApprovalTier, type(None))),
    )

    def __attrs_post_init__(self) -> None:
        _check_prices(self.old_unit_price, self.new_unit_price)
        if self.approver_tier is not None and self.state is not ChangeState.APPROVED:
            raise ValidationError(
                "approver_tier", self.approver_tier, f"does not fit state {self.state}"
            )
        if self.expires_at <= self.requested_at:
            raise ValidationError(
                "expires_at", self.expires_at, "must be after requested_at"
            )
        pending = self.state is ChangeState.PENDING
        if pending != (self.decided_at is None):
            raise ValidationError(
                "decided_at", self.decided_at, f"does not fit state {self.state}"
            )
        decided = self.state in {ChangeState.APPROVED, ChangeState.REJECTED}
        if decided != (self.decided_by is not None):
            raise ValidationError(
                "decided_by", self.decided_by, f"does not fit state {self.state}"
            )
        # What `approve` and `reject` check, held by the value itself: a
        # decision made any other way (a copy with its fields set, a
        # document read back) cannot skip it.
        if self.decided_by is not None and _same_person(
            self.decided_by, self.requester
        ):
            raise ValidationError(
                "decided_by", self.decided_by, "requested the change; cannot decide it"
            )
        at = self.decided_at  # set whenever the change is decided (checked above)
        if decided and at is not None and not self.requested_at <= at < self.expires_at:
            raise ValidationError(
                "decided_at",
                at,
                f"must be from requested_at ({self.requested_at}) to before"
                f" expires_at ({self.expires_at})",
            )

    @property
    def delta(self) -> Money:
        """The change of the line total, signed: negative for a price cut."""
        return (self.new_unit_price - self.old_unit_price) * self.quantity

    @property
    def amount(self) -> Money:
        """The amount routed through the tiers: `abs(delta)`."""
        return abs(self.delta)


@final
@attrs.frozen(slots=True, kw_only=True)
class PriceChanged:
    """An approved price change, applied: what the order's audit trail keeps.

    Attributes:
        change_id: The price change.
        order_id: The order.
        line_id: The line.
        old_unit_price: The unit price before.
        new_unit_price: The unit price after.
        quantity: The line's quantity.
        actor: Who requested the change.
        approver: Who approved it.
        approver_role: The role they approved it in.
        at: When it was approved, and so applied (UTC).
        reason: The requester's reason.
        evidence: The requester's evidence reference.

    Raises:
        ValidationError: A field is empty or of the wrong type, a price is
            negative, the prices are equal, or the approver is the requester
            (`field` names it).
        NaiveDatetime: `at` has no UTC offset.
        CurrencyMismatch: The two prices are in different currencies.

    .. versionadded:: 0.1.0
    """

    change_id: str = attrs.field(validator=text("change_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    line_id: str = attrs.field(validator=text("line_id"))
    old_unit_price: Money = attrs.field(validator=non_negative_money("old_unit_price"))
    new_unit_price: Money = attrs.field(validator=non_negative_money("new_unit_price"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    actor: str = attrs.field(validator=text("actor"))
    approver: str = attrs.field(validator=text("approver"))
    approver_role: str = attrs.field(validator=text("approver_role"))
    at: pendulum.DateTime = attrs.field(converter=_at)
    reason: str = attrs.field(validator=text("reason"))
    evidence: str = attrs.field(validator=text("evidence"))

    def __attrs_post_init__(self) -> None:
        # What `PriceChange` holds of a decided change, held by the record
        # too: one built or read back any other way cannot skip it.
        _check_prices(self.old_unit_price, self.new_unit_price)
        if _same_person(self.approver, self.actor):
            raise ValidationError(
                "approver", self.approver, "requested the change; cannot approve it"
            )


@final
@attrs.frozen(slots=True)
class Decided:
    """The change left `PENDING`.

    Attributes:
        change: The change in its new state.
        record: The applied change, for an approval; `None` otherwise.

    .. versionadded:: 0.1.0
    """

    change: PriceChange
    record: PriceChanged | None = None


@final
@attrs.frozen(slots=True)
class AlreadyDecided:
    """The same decision was taken before; nothing changed.

    Attributes:
        change: The change, unchanged: `decided_by` and `decided_at` tell
            who decided it and when.

    .. versionadded:: 0.1.0
    """

    change: PriceChange


def request_change(  # noqa: PLR0913 - keyword-only fields of one request
    tiers: ApprovalTiers,
    *,
    change_id: str,
    order_id: str,
    line_id: str,
    sku: str,
    quantity: int,
    old_unit_price: Money,
    new_unit_price: Money,
    reason: str,
    requester: str,
    evidence: str,
    requested_at: dt.datetime,
    ttl: dt.timedelta,
) -> PriceChange:
    """Request a price change, routed to the role its amount needs.

    Args:
        tiers: The approval tiers.
        change_id: The change's id.
        order_id: The order.
        line_id: The line.
        sku: The line's SKU.
        quantity: The line's quantity.
        old_unit_price: The line's unit price now.
        new_unit_price: The unit price asked for.
        reason: Why.
        requester: Who asks.
        evidence: A reference to the evidence.
        requested_at: When (timezone-aware).
        ttl: How long the request waits for a decision (elapsed time).

    Returns:
        The pending change; `required_role` is the tier of its `amount`.

    Raises:
        ValidationError: A field is invalid, `ttl` is not positive, or a price
            is negative (`field` names it).
        CurrencyMismatch: A price is in another currency than the tiers.
    """
    _check_ttl(ttl)
    at = to_utc(requested_at, "requested_at")
    change = PriceChange(
        change_id=change_id,
        order_id=order_id,
        line_id=line_id,
        sku=sku,
        quantity=quantity,
        old_unit_price=old_unit_price,
        new_unit_price=new_unit_price,
        reason=reason,
        requester=requester,
        evidence=evidence,
        requested_at=at,
        expires_at=ending(at, ttl, "ttl"),
        required_role=tiers.roles[-1],
    )
    return attrs.evolve(change, required_role=tiers.role_for(change.amount))


def _check_ttl(ttl: object) -> None:
    if not isinstance(ttl, dt.timedelta) or ttl <= dt.timedelta(0):
        raise ValidationError("ttl", ttl, "must be a positive timedelta")


def login(name: str) -> str:
    """`name` as back offices compare logins: "Li.Wei" and " li.wei" are one.

    Width and compatibility forms fold (NFKC) as well as case, as RFC 8265
    compares user names: "Li.Wei" typed in full-width letters in a CJK back
    office is the same person.
    """
    # NFKC again after case folding: folding can leave non-NFKC sequences.
    folded = unicodedata.normalize("NFKC", name).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def _same_person(a: str, b: str) -> bool:
    return login(a) == login(b)


def _check_decider(
    change: PriceChange, tiers: ApprovalTiers, decider: str, role: str, verb: str
) -> None:
    text("approver")(None, None, decider)
    if _same_person(decider, change.requester):
        raise ValidationError(
            "approver",
            decider,
            f"requested change {change.change_id!r}; cannot {verb} it",
        )
    # Routed again by the amount, as an after-sales refund is: a change built
    # directly, read back or evolved may carry a role its amount is above. A
    # stored role above the amount's still binds (the tiers may have moved).
    needed = tiers.role_for(change.amount)
    if tiers.rank(change.required_role) > tiers.rank(needed):
        needed = change.required_role
    if not tiers.can_approve(role, needed):
        raise ValidationError(
            "role",
            role,
            f"cannot {verb} change {change.change_id!r}: "
            f"its {change.amount} needs {needed!r} or higher",
        )


def _decide(  # noqa: PLR0913 - the shared steps of approve and reject
    change: PriceChange,
    tiers: ApprovalTiers,
    target: ChangeState,
    *,
    approver: str,
    role: str,
    now: dt.datetime,
    note: str,
) -> Decided | AlreadyDecided:
    at = to_utc(now, "now")
    if change.state is target:
        return AlreadyDecided(change)
    verb = "approve" if target is ChangeState.APPROVED else "reject"
    if change.state is not ChangeState.PENDING:
        raise ValidationError(
            "state",
            change.state,
            f"change {change.change_id!r} is already {change.state}; "
            f"only a pending change can be decided",
        )
    if at >= change.expires_at:
        raise ValidationError(
            "now",
            at,
            f"change {change.change_id!r} expired at {change.expires_at}; expire it",
        )
    if at < change.requested_at:
        raise ValidationError(
            "now", at, f"is before the change was requested ({change.requested_at})"
        )
    _check_decider(change, tiers, approver, role, verb)
    decided = attrs.evolve(
        change, state=target, decided_by=approver, decided_at=at, note=note
    )
    if target is not ChangeState.APPROVED:
        return Decided(decided)
    # Kept with the change: recording it on the order, which sees the line's
    # earlier changes, holds their sum to the approver's tier too.
    tier = ApprovalTier(role, tiers.tiers[tiers.rank(role)].up_to)
    decided = attrs.evolve(decided, approver_tier=tier)
    record = PriceChanged(
        change_id=change.change_id,
        order_id=change.order_id,
        line_id=change.line_id,
        old_unit_price=change.old_unit_price,
        new_unit_price=change.new_unit_price,
        quantity=change.quantity,
        actor=change.requester,
        approver=approver,
        approver_role=role,
        at=at,
        reason=change.reason,
        evidence=change.evidence,
    )
    return Decided(decided, record)


def approve(
    change: PriceChange,
    tiers: ApprovalTiers,
    *,
    approver: str,
    role: str,
    now: dt.datetime,
) -> Decided | AlreadyDecided:
    """Approve a pending change: the new change and its `PriceChanged` record.

    `role` must be the role `tiers` route `change.amount` to, or a higher
    tier's role (and no lower than `change.required_role`), and the approver
    must not be the requester (compared ignoring case and spaces). The amount
    is routed again here: a change whose stored `required_role` is below its
    amount's (built directly, read back, or evolved from a smaller request)
    still needs the amount's role.

    `approve` sees the change alone. The approved change keeps the
    approver's tier (`approver_tier`), and `record_price_change` refuses it
    when the line's whole move since intake, with the line's earlier
    approved changes, is above that tier: ask `role_needed(order, change,
    tiers)` for the role to approve in.

    Returns:
        `Decided` with the record to apply; `AlreadyDecided` when the change
        was approved before (nothing changes, whoever asks).

    Raises:
        ValidationError: The change was rejected or expired (`field` is
            `"state"`), is past `expires_at` (`"now"`), the approver requested
            it (`"approver"`), or `role` is too low or unknown, or
            `change.required_role` is not one of the tiers' roles (`"role"`).
        CurrencyMismatch: The change is in another currency than the tiers.
        NaiveDatetime: `now` has no UTC offset.
    """
    return _decide(
        change,
        tiers,
        ChangeState.APPROVED,
        approver=approver,
        role=role,
        now=now,
        note="",
    )


def reject(  # noqa: PLR0913 - keyword-only fields of one decision
    change: PriceChange,
    tiers: ApprovalTiers,
    *,
    approver: str,
    role: str,
    now: dt.datetime,
    note: str = "",
) -> Decided | AlreadyDecided:
    """Reject a pending change; the same people who could approve it may.

    Returns:
        `Decided` (with no record); `AlreadyDecided` when it was rejected before.

    Raises:
        ValidationError: As for `approve`.
        CurrencyMismatch: As for `approve`.
        NaiveDatetime: `now` has no UTC offset.
    """
    if not isinstance(note, str):
        raise ValidationError("note", note, "must be a string")
    return _decide(
        change,
        tiers,
        ChangeState.REJECTED,
        approver=approver,
        role=role,
        now=now,
        note=note,
    )


def expire(change: PriceChange, now: dt.datetime) -> Decided | AlreadyDecided:
    """Expire a pending change whose time is up.

    Returns:
        `Decided` with state `EXPIRED` and `decided_at` the change's
        `expires_at`; `AlreadyDecided` when it expired before.

    Raises:
        ValidationError: The change was approved or rejected (`field` is
            `"state"`), or is not due yet (`"now"`).
        NaiveDatetime: `now` has no UTC offset.
    """
    at = to_utc(now, "now")
    if change.state is ChangeState.EXPIRED:
        return AlreadyDecided(change)
    if change.state is not ChangeState.PENDING:
        raise ValidationError(
            "state",
            change.state,
            f"change {change.change_id!r} is already {change.state}; "
            "only a pending change can expire",
        )
    if at < change.expires_at:
        raise ValidationError(
            "now", at, f"change {change.change_id!r} expires at {change.expires_at}"
        )
    return Decided(
        attrs.evolve(change, state=ChangeState.EXPIRED, decided_at=change.expires_at)
    )


def intake_price(
    line_price: Money, line_id: str, changes: Iterable[PriceChange]
) -> Money:
    """The unit price a line was taken in at: its price now, less every move.

    Every approved change on the line was applied to it in turn (recording
    one needs the line at its `old_unit_price`), so their moves add up to
    the line's whole move, in whatever order they sit in `changes`.
    """
    moved = Money.zero(line_price.currency)
    for change in changes:
        if change.state is ChangeState.APPROVED and change.line_id == line_id:
            moved += change.new_unit_price - change.old_unit_price
    return line_price - moved


def routed_amount(change: PriceChange, intake: Money) -> Money:
    """What `change` is routed by on a line taken in at `intake` a unit.

    Its own `amount`; and, when it takes the line farther from its intake
    price, the line's whole move after it, `|new - intake| * quantity`,
    if that is more. The earlier moves count with their signs (a raise back
    offsets a cut), and a change that brings the line back towards its
    intake price needs no more than its own amount: every price the line
    sits at was reached, from nearer its intake price, by an approver whose
    tier holds its whole distance from it.
    """
    after = abs(change.new_unit_price - intake)
    if after <= abs(change.old_unit_price - intake):
        return change.amount
    return max(change.amount, after * change.quantity)


def role_needed(order: Order, change: PriceChange, tiers: ApprovalTiers) -> str:
    """The role that may approve `change` on `order`, its line's earlier changes seen.

    Ask it before approving (or route a request by it): `approve` routes a
    change alone, and `record_price_change` refuses an approval whose
    approver's tier is below this role's. The role is the tiers' for the
    line's whole move since intake when the change takes the line farther
    from its intake price (`|new - intake| * quantity`, with the line's
    earlier approved changes, raises offsetting cuts), else for the change's
    own amount; and never below `change.required_role`.

    Raises:
        ValidationError: The order has no such line, or `change.required_role`
            is not one of the tiers' roles.
        CurrencyMismatch: The change is in another currency than the tiers.
    """
    line = order.line(change.line_id)
    intake = intake_price(line.unit_price, line.line_id, order.price_changes)
    needed = tiers.role_for(routed_amount(change, intake))
    if tiers.rank(change.required_role) > tiers.rank(needed):
        return change.required_role
    return needed
