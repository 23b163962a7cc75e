"""Approval tiers as data: which role may approve an amount.

Price changes route by them now; refunds will route by the same tables.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from decimal import Decimal
from typing import final

import attrs

from orderkit._validate import Validator, as_tuple, text
from orderkit.errors import CurrencyMismatch, ValidationError
from orderkit.money import Currency, Money


__all__ = ["ApprovalTier", "ApprovalTiers", "non_negative_money"]


def _optional_money(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and not isinstance(value, Money):
            raise ValidationError(field, value, "must be a Money or None")

    return check


def non_negative_money(field: str) -> Validator:
    """Refuse anything but an amount of money, zero or more."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, Money):
            raise ValidationError(field, value, "must be a Money")
        if value.amount < 0:
            raise ValidationError(field, value, "must not be negative")

    return check


@final
@attrs.frozen(slots=True)
class ApprovalTier:
    """One row of a tier table: amounts up to `up_to` need `role`.

    Attributes:
        role: Who approves amounts in this tier (`"store_manager"`).
        up_to: The largest amount of the tier, inclusive ("up to 100" includes
            100.00); `None` for the open-ended last tier.
        starts_at: The smallest amount of the tier, when the table states it
            (a table kept as ranges). Checked, never needed: a tier starts one
            minor unit above the previous tier's `up_to`, the first at zero.

    .. versionadded:: 0.1.0
    """

    role: str = attrs.field(validator=text("role"))
    up_to: Money | None = attrs.field(validator=_optional_money("up_to"))
    starts_at: Money | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_optional_money("starts_at"),
    )


def _tiers(value: Iterable[ApprovalTier]) -> tuple[ApprovalTier, ...]:
    return as_tuple(value, "tiers", ApprovalTier)


def _check_bounds(i: int, tier: ApprovalTier, currency: Currency | None) -> None:
    for name in ("up_to", "starts_at"):
        bound: Money | None = getattr(tier, name)
        if bound is None or currency is None:
            continue
        if bound.currency != currency:
            raise CurrencyMismatch(
                f"tiers[{i}].{name}", bound.currency.code, currency.code
            )
        if bound.amount < 0:
            raise ValidationError(f"tiers[{i}].{name}", bound, "must not be negative")


def _check_start(i: int, tier: ApprovalTier, previous: Money | None) -> None:
    if tier.starts_at is None:
        return
    currency = tier.starts_at.currency
    expected = (
        Money.zero(currency)
        if previous is None
        else previous + Money(currency.quantum, currency)
    )
    if tier.starts_at != expected:
        problem = "leaves a gap" if tier.starts_at > expected else "overlaps"
        raise ValidationError(
            f"tiers[{i}].starts_at",
            tier.starts_at,
            f"{problem}: the tier must start at {expected}",
        )


def _check_tiers(tiers: tuple[ApprovalTier, ...]) -> None:
    """Refuse a table that leaves an amount with no role, or with two."""
    if not tiers:
        raise ValidationError("tiers", tiers, "needs at least one tier")
    currency = next((t.up_to.currency for t in tiers if t.up_to is not None), None)
    roles: set[str] = set()
    previous: Money | None = None
    for i, tier in enumerate(tiers):
        if tier.role in roles:
            raise ValidationError(
                f"tiers[{i}].role", tier.role, "repeats an earlier tier's role"
            )
        roles.add(tier.role)
        _check_bounds(i, tier, currency)
        last = i == len(tiers) - 1
        if tier.up_to is None and not last:
            raise ValidationError(
                f"tiers[{i}].up_to",
                None,
                "only the last tier is open-ended; the tiers after it overlap it",
            )
        if tier.up_to is not None and last:
            raise ValidationError(
                f"tiers[{i}].up_to",
                tier.up_to,
                "the last tier must be open-ended (None): "
                "amounts above it would have no approver",
            )
        if previous is not None and tier.up_to is not None and tier.up_to <= previous:
            raise ValidationError(
                f"tiers[{i}].up_to",
                tier.up_to,
                f"overlaps the tier before, which goes up to {previous}",
            )
        _check_start(i, tier, previous)
        previous = tier.up_to


@final
@attrs.frozen(slots=True)
class ApprovalTiers:
    """Who approves which amount: a tier table covering zero to infinity.

    Tiers are ordered from the smallest amounts up, with strictly increasing
    inclusive upper bounds in one currency, and exactly one open-ended last
    tier; so every amount falls in exactly one tier. The order is also the
    order of authority: a tier's role may approve any amount of the tiers
    below it. The table is generic: price changes and refunds both route by it.

    Attributes:
        tiers: The tiers, smallest amounts first.

    Raises:
        ValidationError: The table is empty, has a gap or an overlap, repeats
            a role, or has a negative bound (`field` names the tier).
        CurrencyMismatch: Bounds in two currencies.

    .. versionadded:: 0.1.0
    """

    tiers: tuple[ApprovalTier, ...] = attrs.field(converter=_tiers)
    _bounds: tuple[Decimal, ...] = attrs.field(
        init=False, eq=False, hash=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        _check_tiers(self.tiers)
        bounds = tuple(t.up_to.amount for t in self.tiers if t.up_to is not None)
        object.__setattr__(self, "_bounds", bounds)

    @classmethod
    def of(cls, *rows: tuple[Money | None, str]) -> ApprovalTiers:
        """Build a table from `(up_to, role)` rows, the last with `up_to=None`.

        Raises:
            ValidationError: As for `ApprovalTiers`.
        """
        return cls(ApprovalTier(role, up_to) for up_to, role in rows)

    @property
    def currency(self) -> str | None:
        """The currency code of the bounds; `None` for a one-tier table."""
        first = self.tiers[0].up_to
        return None if first is None else first.currency.code

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles, from the least authority to the most."""
        return tuple(t.role for t in self.tiers)

    def role_for(self, amount: Money) -> str:
        """The role that approves `amount`: the first tier whose bound holds it.

        Raises:
            ValidationError: `amount` is not a Money, or is negative.
            CurrencyMismatch: `amount` is in another currency than the table.
        """
        if not isinstance(amount, Money):
            raise ValidationError("amount", amount, "must be a Money")
        if amount.amount < 0:
            raise ValidationError("amount", amount, "must not be negative")
        currency = self.currency
        if currency is not None and amount.currency.code != currency:
            raise CurrencyMismatch("amount", amount.currency.code, currency)
        return self.tiers[bisect.bisect_left(self._bounds, amount.amount)].role

    def rank(self, role: str) -> int:
        """The authority of `role`: its tier's index, 0 for the lowest.

        Raises:
            ValidationError: `role` is not a role of this table.
        """
        try:
            return self.roles.index(role)
        except ValueError:
            raise ValidationError(
                "role", role, f"is not one of the approval roles {self.roles}"
            ) from None

    def can_approve(self, role: str, required: str) -> bool:
        """Whether `role` may approve what `required` may: same tier or higher.

        Raises:
            ValidationError: Either role is not a role of this table.
        """
        return self.rank(role) >= self.rank(required)
