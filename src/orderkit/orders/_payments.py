"""A per-order payment ledger: authorised, captured, refunded and pending money.

The ledger is a frozen value; every operation is a pure function of it that
returns a new ledger, or raises and changes nothing. It keeps, per payment
and so across all payments of the order:

- `captured <= authorised`: a capture never exceeds what is authorised and
  not captured yet;
- `refunded + pending <= captured + allowance`: a refund, pending ones
  included, never exceeds what was captured, unless an explicit, recorded
  `Override` (a chargeback, a goodwill gesture) grants an allowance beyond it.

Every refund names the payment transaction it returns money from, and may
keep the id the provider gave it (`provider_id`), which a provider's
statement may list it under. Operations are idempotent by their ids: the
same id with the same content is a no-op (timestamps are not content: a
retry recomputes them), the same id with other content raises
`IdempotencyConflict`. One change is made by a method of its own: a settled
refund whose maker paid more back under its id since grows
(`PaymentLedger.grow_refund`), within the same cap.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    optional_name,
    positive_int,
    positive_money,
    text,
)
from orderkit.errors import (
    CaptureExceedsAuthorisation,
    CurrencyMismatch,
    IdempotencyConflict,
    RefundExceedsCapture,
    RefundNotPending,
    UnknownPayment,
    UnknownRefund,
    ValidationError,
)
from orderkit.money import Currency, Money


__all__ = [
    "Capture",
    "Override",
    "OverrideKind",
    "PaymentLedger",
    "PaymentRecord",
    "PaymentTotals",
    "Refund",
    "RefundLine",
    "RefundState",
]


@final
class RefundState(enum.StrEnum):
    """Where a refund stands: it leaves `PENDING` exactly once.

    .. versionadded:: 0.1.0
    """

    PENDING = "pending"
    """Sent to the provider; counts against the cap until it settles or fails."""
    REFUNDED = "refunded"
    """The provider returned the money."""
    FAILED = "failed"
    """The provider refused it: the amount is free again."""


@final
class OverrideKind(enum.StrEnum):
    """Why a refund may go beyond what was captured.

    .. versionadded:: 0.1.0
    """

    CHARGEBACK = "chargeback"
    """The card network or wallet took money back on the buyer's claim."""
    GOODWILL = "goodwill"
    """A gesture beyond the purchase price, decided by a person."""


def _at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "at")


def _authorised_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "authorised_at")


def _requested_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "requested_at")


def _optional_at(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "decided_at")


@final
@attrs.frozen(slots=True)
class Capture:
    """Money taken from an authorisation.

    Attributes:
        capture_id: The provider's capture id (the payment id for a single
            full capture).
        amount: The amount captured, above zero.
        at: When the provider captured it (UTC).

    .. versionadded:: 0.1.0
    """

    capture_id: str = attrs.field(validator=text("capture_id"))
    amount: Money = attrs.field(validator=positive_money("amount"))
    at: pendulum.DateTime = attrs.field(converter=_at)


def _captures(value: Iterable[Capture]) -> tuple[Capture, ...]:
    return as_tuple(value, "captures", Capture)


@final
@attrs.frozen(slots=True)
class PaymentRecord:
    """One payment transaction: its authorisation and the captures against it.

    Attributes:
        payment_id: The payment provider's transaction id.
        authorised: The amount authorised, above zero.
        authorised_at: When it was authorised (UTC).
        captures: The captures, in the order they were recorded.

    .. versionadded:: 0.1.0
    """

    payment_id: str = attrs.field(validator=text("payment_id"))
    authorised: Money = attrs.field(validator=positive_money("authorised"))
    authorised_at: pendulum.DateTime = attrs.field(converter=_authorised_at)
    captures: tuple[Capture, ...] = attrs.field(default=(), converter=_captures)

    @property
    def captured(self) -> Money:
        """The sum of the captures."""
        total = Money.zero(self.authorised.currency)
        for capture in self.captures:
            total += capture.amount
        return total


@final
@attrs.frozen(slots=True)
class RefundLine:
    """Units of one order line a refund pays back.

    Also what `Order.cancelled_units` keeps: the units of a line a refund
    paid back before any parcel carried them.

    Attributes:
        line_id: The order line.
        quantity: Units refunded.
        restock: Whether the channel put them back on sale (its word only:
            orderkit's inventory ledger is not moved by it; units refunded
            before they shipped go back to available whatever it says).

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    restock: bool = attrs.field(default=False, validator=instance_of("restock", bool))


def refund_lines(value: Iterable[RefundLine]) -> tuple[RefundLine, ...]:
    """`value` as a tuple of `RefundLine`s, or `ValidationError` naming `lines`."""
    return as_tuple(value, "lines", RefundLine)


@final
@attrs.frozen(slots=True)
class Refund:
    """Money sent back against one payment transaction.

    Attributes:
        refund_id: The refund's id: the one it was asked for under (a
            `refund` saga's key, the channel's refund id, the after-sales
            case's refund), or the provider's.
        payment_id: The payment transaction the money came from.
        amount: The amount, above zero.
        reason: Why, for people and for finance.
        requested_at: When it was requested (UTC).
        state: `PENDING` until it settles (`REFUNDED`) or fails.
        decided_at: When it left `PENDING` (UTC); `None` while pending.
        provider_id: The id the payment provider gave the refund when it
            answered (a Stripe `re_...`); `None` when not known. A
            provider's statement may list the refund under either id, and
            `orderkit.services.reconcile_payments` matches both. Unique in
            its ledger, and never another refund's `refund_id`.
        lines: The order's units it pays back, when its maker said (a
            channel's refund of given units); empty for money alone, and
            for an after-sales case's refund, whose case names its units.

    .. versionadded:: 0.1.0
    """

    refund_id: str = attrs.field(validator=text("refund_id"))
    payment_id: str = attrs.field(validator=text("payment_id"))
    amount: Money = attrs.field(validator=positive_money("amount"))
    reason: str = attrs.field(validator=text("reason"))
    requested_at: pendulum.DateTime = attrs.field(converter=_requested_at)
    state: RefundState = attrs.field(
        default=RefundState.PENDING, validator=instance_of("state", RefundState)
    )
    decided_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_optional_at
    )
    provider_id: str | None = attrs.field(
        default=None, validator=optional_name("provider_id")
    )
    lines: tuple[RefundLine, ...] = attrs.field(default=(), converter=refund_lines)

    def __attrs_post_init__(self) -> None:
        decided = self.decided_at
        if (self.state is RefundState.PENDING) != (decided is None):
            problem = (
                "is set on a pending refund"
                if decided is not None
                else f"is missing on a {self.state} refund"
            )
            raise ValidationError("decided_at", decided, problem)
        if decided is not None and decided < self.requested_at:
            raise ValidationError(
                "decided_at", decided, "is before the refund was requested"
            )


@final
@attrs.frozen(slots=True)
class Override:
    """An explicit, recorded allowance to refund beyond what a payment captured.

    Attributes:
        override_id: The override's id.
        kind: A chargeback or a goodwill gesture.
        payment_id: The payment the allowance applies to.
        amount: How far refunds may go beyond the capture, above zero.
        actor: Who recorded it.
        reason: Why, in the actor's words (a dispute number, a ticket).
        at: When it was recorded (UTC).

    .. versionadded:: 0.1.0
    """

    override_id: str = attrs.field(validator=text("override_id"))
    kind: OverrideKind = attrs.field(validator=instance_of("kind", OverrideKind))
    payment_id: str = attrs.field(validator=text("payment_id"))
    amount: Money = attrs.field(validator=positive_money("amount"))
    actor: str = attrs.field(validator=text("actor"))
    reason: str = attrs.field(validator=text("reason"))
    at: pendulum.DateTime = attrs.field(converter=_at)


@final
@attrs.frozen(slots=True)
class PaymentTotals:
    """The figures of one payment, or of every payment of the order together.

    Attributes:
        authorised: Authorised.
        captured: Captured, at most `authorised`.
        refunded: Refunds settled.
        pending: Refunds sent and not settled or failed yet.
        allowance: What overrides allow beyond the capture.
        refundable: `captured + allowance - refunded - pending`, never negative.

    .. versionadded:: 0.1.0
    """

    authorised: Money
    captured: Money
    refunded: Money
    pending: Money
    allowance: Money

    @property
    def refundable(self) -> Money:
        """What a new refund may still take."""
        return self.captured + self.allowance - self.refunded - self.pending


def _currency_code(value: Currency | str) -> str:
    if isinstance(value, Currency):
        return value.code
    return Currency(value).code


def _payments(value: Iterable[PaymentRecord]) -> tuple[PaymentRecord, ...]:
    return as_tuple(value, "payments", PaymentRecord)


def _refunds(value: Iterable[Refund]) -> tuple[Refund, ...]:
    return as_tuple(value, "refunds", Refund)


def _overrides(value: Iterable[Override]) -> tuple[Override, ...]:
    return as_tuple(value, "overrides", Override)


@final
@attrs.frozen(slots=True)
class PaymentLedger:
    """The money of one order: payments, refunds and overrides, never mutated.

    Build an empty one with `PaymentLedger(order_id, "CNY")`; every operation
    returns a new ledger. A ledger built from stored parts is checked: ids are
    unique (a refund's provider id names no other refund), every amount is
    in the ledger's currency, and every payment keeps
    `captured <= authorised` and `refunded + pending <= captured + allowance`.

    Attributes:
        order_id: The order the money belongs to.
        currency: The ISO 4217 code of every amount.
        payments: The payment transactions, in the order they were authorised.
        refunds: Every refund ever requested, failed ones included.
        overrides: Every override, in the order recorded.

    Raises:
        ValidationError: A part is invalid or breaks an invariant (`field`
            names it, such as `refunds[2].payment_id`).
        CurrencyMismatch: An amount is in another currency.

    .. versionadded:: 0.1.0
    """

    order_id: str = attrs.field(validator=text("order_id"))
    currency: str = attrs.field(converter=_currency_code)
    payments: tuple[PaymentRecord, ...] = attrs.field(default=(), converter=_payments)
    refunds: tuple[Refund, ...] = attrs.field(default=(), converter=_refunds)
    overrides: tuple[Override, ...] = attrs.field(default=(), converter=_overrides)

    def __attrs_post_init__(self) -> None:
        _check_ledger(self)

    # ------------------------------------------------------------------
    # Figures

    def totals(self, payment_id: str | None = None) -> PaymentTotals:
        """The figures of one payment, or of all of them with `None`.

        Raises:
            UnknownPayment: No payment has this id.
        """
        if payment_id is not None:
            self._payment(payment_id, "payment_id")
        zero = Money.zero(self.currency)
        authorised = captured = refunded = pending = allowance = zero
        for payment in self.payments:
            if payment_id is None or payment.payment_id == payment_id:
                authorised += payment.authorised
                captured += payment.captured
        for refund in self.refunds:
            if payment_id is None or refund.payment_id == payment_id:
                if refund.state is RefundState.REFUNDED:
                    refunded += refund.amount
                elif refund.state is RefundState.PENDING:
                    pending += refund.amount
        for override in self.overrides:
            if payment_id is None or override.payment_id == payment_id:
                allowance += override.amount
        return PaymentTotals(authorised, captured, refunded, pending, allowance)

    @property
    def authorised(self) -> Money:
        """Authorised, over every payment."""
        return self.totals().authorised

    @property
    def captured(self) -> Money:
        """Captured, over every payment."""
        return self.totals().captured

    @property
    def refunded(self) -> Money:
        """Refunds settled, over every payment."""
        return self.totals().refunded

    @property
    def pending(self) -> Money:
        """Refunds pending, over every payment."""
        return self.totals().pending

    @property
    def allowance(self) -> Money:
        """What overrides allow beyond the captures, over every payment."""
        return self.totals().allowance

    @property
    def refundable(self) -> Money:
        """What new refunds may still take, over every payment."""
        return self.totals().refundable

    def refund(self, refund_id: str) -> Refund:
        """The refund with this id.

        Raises:
            UnknownRefund: No refund has this id.
        """
        for refund in self.refunds:
            if refund.refund_id == refund_id:
                return refund
        raise UnknownRefund("refund_id", refund_id, "no such refund")

    # ------------------------------------------------------------------
    # Operations

    def authorise(
        self, payment_id: str, amount: Money, at: dt.datetime
    ) -> PaymentLedger:
        """Record an authorisation: money the buyer's provider has set aside.

        Returns:
            The new ledger; this one unchanged if the same authorisation is
            recorded already.

        Raises:
            ValidationError: An argument is invalid (`field` names it).
            CurrencyMismatch: `amount` is in another currency than the ledger.
            IdempotencyConflict: `payment_id` was authorised for another amount.
        """
        # The argument's name, not the record's field: the caller passed `at`.
        record = PaymentRecord(payment_id, amount, to_utc(at, "at"))
        self._same_currency(amount, "amount")
        for existing in self.payments:
            if existing.payment_id == payment_id:
                if existing.authorised == amount:
                    return self
                raise IdempotencyConflict(f"authorise:{payment_id}")
        return attrs.evolve(self, payments=(*self.payments, record))

    def capture(
        self,
        payment_id: str,
        amount: Money,
        at: dt.datetime,
        *,
        capture_id: str | None = None,
    ) -> PaymentLedger:
        """Record a capture against an authorised payment.

        Args:
            payment_id: The authorised payment.
            amount: The amount taken, at most what is authorised and not yet
                captured on this payment.
            at: When the provider captured it.
            capture_id: The provider's capture id; by default the payment id,
                for the usual single capture. Give one per partial capture.

        Returns:
            The new ledger; this one unchanged if the same capture is
            recorded already.

        Raises:
            ValidationError: An argument is invalid (`field` names it).
            CurrencyMismatch: `amount` is in another currency than the ledger.
            UnknownPayment: `payment_id` was never authorised.
            CaptureExceedsAuthorisation: `amount` is more than is left.
            IdempotencyConflict: `capture_id` was used for another capture.
        """
        text("payment_id")(None, None, payment_id)
        capture = Capture(payment_id if capture_id is None else capture_id, amount, at)
        self._same_currency(amount, "amount")
        index, payment = self._payment(payment_id, "payment_id")
        for other in self.payments:
            for existing in other.captures:
                if existing.capture_id == capture.capture_id:
                    if other.payment_id == payment_id and existing.amount == amount:
                        return self
                    raise IdempotencyConflict(f"capture:{capture.capture_id}")
        left = payment.authorised - payment.captured
        if amount > left:
            raise CaptureExceedsAuthorisation(
                "amount",
                amount,
                f"payment {payment_id!r} has {left} authorised and not captured",
            )
        moved = attrs.evolve(payment, captures=(*payment.captures, capture))
        payments = (*self.payments[:index], moved, *self.payments[index + 1 :])
        return attrs.evolve(self, payments=payments)

    def request_refund(  # noqa: PLR0913 - a refund, and the provider's id for it
        self,
        refund_id: str,
        payment_id: str,
        amount: Money,
        reason: str,
        at: dt.datetime,
        *,
        provider_id: str | None = None,
        lines: Iterable[RefundLine] = (),
    ) -> PaymentLedger:
        """Record a refund sent to the provider: pending until settled or failed.

        Args:
            refund_id: The id it was asked for under (the provider's
                idempotency key).
            payment_id: The payment the money goes back to.
            amount: The amount.
            reason: Why, for people and for finance.
            at: When it was requested.
            provider_id: The id the provider answered with, when it gave
                one of its own: its statement may list the refund under it.
            lines: The order's units it pays back, when known.

        Returns:
            The new ledger; this one unchanged if the same refund is recorded
            already (whatever its state). A repeat without a `provider_id`
            is the same refund whatever provider id is recorded.

        Raises:
            ValidationError: An argument is invalid, such as an empty
                `payment_id` (`field` names it), or `refund_id` or
                `provider_id` names another refund (its id or provider id).
            CurrencyMismatch: `amount` is in another currency than the ledger.
            UnknownPayment: `payment_id` is not a payment of this ledger.
            RefundExceedsCapture: `amount` is more than the payment's captured
                amount and allowance, less what is refunded or pending.
            IdempotencyConflict: `refund_id` was used for another refund, or
                with another `provider_id` or other `lines`.
        """
        # The argument's name, not the refund's field: the caller passed `at`.
        refund = Refund(
            refund_id,
            payment_id,
            amount,
            reason,
            to_utc(at, "at"),
            provider_id=provider_id,
            lines=lines,
        )
        self._same_currency(amount, "amount")
        self._payment(payment_id, "payment_id")
        for existing in self.refunds:
            if existing.refund_id == refund_id:
                same = (existing.payment_id, existing.amount, existing.reason)
                if (
                    same == (payment_id, amount, reason)
                    and existing.lines == refund.lines
                    and provider_id in {None, existing.provider_id}
                ):
                    return self
                raise IdempotencyConflict(f"refund:{refund_id}")
        known = _refund_ids(self.refunds)
        if refund_id in known:
            raise ValidationError(
                "refund_id", refund_id, "is another refund's provider id"
            )
        if provider_id is not None and provider_id in known:
            raise ValidationError(
                "provider_id", provider_id, "names another refund of the ledger"
            )
        left = self.totals(payment_id).refundable
        if amount > left:
            raise RefundExceedsCapture(
                "amount",
                amount,
                f"payment {payment_id!r} has {left} captured and not refunded "
                "or pending; record an override to go beyond it",
            )
        return attrs.evolve(self, refunds=(*self.refunds, refund))

    def settle_refund(self, refund_id: str, at: dt.datetime) -> PaymentLedger:
        """Mark a pending refund as paid out by the provider.

        Returns:
            The new ledger; this one unchanged if the refund settled already.

        Raises:
            UnknownRefund: No refund has this id.
            RefundNotPending: The refund failed already.
            ValidationError: `at` is before the refund was requested.
        """
        return self._decide(refund_id, RefundState.REFUNDED, at)

    def fail_refund(self, refund_id: str, at: dt.datetime) -> PaymentLedger:
        """Mark a pending refund as refused by the provider: its amount is free.

        Returns:
            The new ledger; this one unchanged if the refund failed already.

        Raises:
            UnknownRefund: No refund has this id.
            RefundNotPending: The refund settled already.
            ValidationError: `at` is before the refund was requested.
        """
        return self._decide(refund_id, RefundState.FAILED, at)

    def grow_refund(self, refund_id: str, amount: Money) -> PaymentLedger:
        """Raise a settled refund to `amount`: its maker paid more back under it.

        A channel's refund is one refund under one id whose transactions
        settle one by one (Shopify's): read while one is still pending, it
        is less than it ends. The refund keeps its id, payment, reason,
        units and times, and stays settled: a statement lists it once,
        under its id, for the whole amount. Unlike `request_refund`, which
        refuses another amount under an id (`IdempotencyConflict`), this
        is the way to say the same refund grew.

        Returns:
            The new ledger; this one unchanged if the refund is `amount`
            already.

        Raises:
            ValidationError: `refund_id` is empty or names a refund not
                settled (a pending one is settled at its amount, a failed
                one sent nothing), or `amount` is less than the refund's
                (a refund never shrinks).
            CurrencyMismatch: `amount` is in another currency than the ledger.
            UnknownRefund: No refund has this id.
            RefundExceedsCapture: The growth is more than the payment's
                captured amount and allowance, less what is refunded or
                pending (`field` is `amount`).
        """
        text("refund_id")(None, None, refund_id)
        instance_of("amount", Money)(None, None, amount)
        self._same_currency(amount, "amount")
        index, refund = next(
            ((i, r) for i, r in enumerate(self.refunds) if r.refund_id == refund_id),
            (-1, None),
        )
        if refund is None:
            raise UnknownRefund("refund_id", refund_id, "no such refund")
        if refund.state is not RefundState.REFUNDED:
            raise ValidationError(
                "refund_id",
                refund_id,
                f"is {refund.state}: only a settled refund grows",
            )
        if amount == refund.amount:
            return self
        if amount < refund.amount:
            raise ValidationError(
                "amount", amount, f"is less than the refund's {refund.amount}"
            )
        growth = amount - refund.amount
        left = self.totals(refund.payment_id).refundable
        if growth > left:
            raise RefundExceedsCapture(
                "amount",
                amount,
                f"payment {refund.payment_id!r} has {left} captured and not "
                f"refunded or pending, less than the {growth} refund "
                f"{refund_id!r} grows by; record an override to go beyond it",
            )
        grown = attrs.evolve(refund, amount=amount)
        refunds = (*self.refunds[:index], grown, *self.refunds[index + 1 :])
        return attrs.evolve(self, refunds=refunds)

    def override(  # noqa: PLR0913 - an override records who, why and how much
        self,
        override_id: str,
        kind: OverrideKind,
        payment_id: str,
        amount: Money,
        *,
        actor: str,
        reason: str,
        at: dt.datetime,
    ) -> PaymentLedger:
        """Record an allowance to refund `amount` beyond what a payment captured.

        The override is the audit of the exception: who, why, how much, when.
        Refunds under it are still requested against the payment.

        Returns:
            The new ledger; this one unchanged if the same override is
            recorded already.

        Raises:
            ValidationError: An argument is invalid (`field` names it).
            CurrencyMismatch: `amount` is in another currency than the ledger.
            UnknownPayment: `payment_id` is not a payment of this ledger.
            IdempotencyConflict: `override_id` was used for another override.
        """
        record = Override(override_id, kind, payment_id, amount, actor, reason, at)
        self._same_currency(amount, "amount")
        self._payment(payment_id, "payment_id")
        for existing in self.overrides:
            if existing.override_id == override_id:
                if attrs.evolve(existing, at=record.at) == record:
                    return self
                raise IdempotencyConflict(f"override:{override_id}")
        return attrs.evolve(self, overrides=(*self.overrides, record))

    # ------------------------------------------------------------------
    # Helpers

    def _same_currency(self, amount: Money, field: str) -> None:
        if amount.currency.code != self.currency:
            raise CurrencyMismatch(field, amount.currency.code, self.currency)

    def _payment(self, payment_id: str, field: str) -> tuple[int, PaymentRecord]:
        text(field)(None, None, payment_id)
        for i, payment in enumerate(self.payments):
            if payment.payment_id == payment_id:
                return i, payment
        raise UnknownPayment(
            field, payment_id, f"order {self.order_id!r} has no such payment"
        )

    def _decide(
        self, refund_id: str, target: RefundState, at: dt.datetime
    ) -> PaymentLedger:
        when = to_utc(at, "at")
        text("refund_id")(None, None, refund_id)
        for i, refund in enumerate(self.refunds):
            if refund.refund_id != refund_id:
                continue
            if refund.state is target:
                return self
            if refund.state is not RefundState.PENDING:
                raise RefundNotPending(
                    "refund_id",
                    refund_id,
                    f"the refund is {refund.state} already; it cannot be {target}",
                )
            if when < refund.requested_at:
                raise ValidationError(
                    "at",
                    when,
                    "is before the refund was requested "
                    f"({refund.requested_at.isoformat()})",
                )
            decided = attrs.evolve(refund, state=target, decided_at=when)
            refunds = (*self.refunds[:i], decided, *self.refunds[i + 1 :])
            return attrs.evolve(self, refunds=refunds)
        raise UnknownRefund("refund_id", refund_id, "no such refund")


def _check_unique(ids: Iterable[str], field: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            raise ValidationError(f"{field}[{i}]", item, "repeats an earlier id")
        seen.add(item)


def _check_payments(ledger: PaymentLedger) -> None:
    code = ledger.currency
    for i, payment in enumerate(ledger.payments):
        amounts = [(f"payments[{i}].authorised", payment.authorised)]
        amounts += [
            (f"payments[{i}].captures[{j}].amount", capture.amount)
            for j, capture in enumerate(payment.captures)
        ]
        for field, amount in amounts:
            if amount.currency.code != code:
                raise CurrencyMismatch(field, amount.currency.code, code)
        if payment.captured > payment.authorised:
            raise CaptureExceedsAuthorisation(
                f"payments[{i}].captures",
                payment.captured,
                f"more than the {payment.authorised} authorised",
            )


def _check_references(
    ledger: PaymentLedger, name: str, items: tuple[Refund | Override, ...]
) -> None:
    known = {p.payment_id for p in ledger.payments}
    for i, item in enumerate(items):
        if item.payment_id not in known:
            raise UnknownPayment(
                f"{name}[{i}].payment_id", item.payment_id, "no such payment"
            )
        if item.amount.currency.code != ledger.currency:
            raise CurrencyMismatch(
                f"{name}[{i}].amount", item.amount.currency.code, ledger.currency
            )


def _refund_ids(refunds: Iterable[Refund]) -> set[str]:
    """Every id the refunds are known by: their own and their providers'."""
    ids = {r.refund_id for r in refunds}
    ids.update(r.provider_id for r in refunds if r.provider_id is not None)
    return ids


def _check_provider_ids(refunds: tuple[Refund, ...]) -> None:
    """Refuse a provider id that names another refund of the ledger.

    A statement line under it would stand for two refunds at once.
    """
    own = {r.refund_id for r in refunds}
    given: set[str] = set()
    for i, refund in enumerate(refunds):
        provider_id = refund.provider_id
        if provider_id is None:
            continue
        if provider_id in given or (
            provider_id in own and provider_id != refund.refund_id
        ):
            raise ValidationError(
                f"refunds[{i}].provider_id",
                provider_id,
                "names another refund of the ledger",
            )
        given.add(provider_id)


def _check_ledger(ledger: PaymentLedger) -> None:
    """Refuse stored parts that break the ledger's invariants."""
    _check_unique((p.payment_id for p in ledger.payments), "payments")
    _check_unique(
        (c.capture_id for p in ledger.payments for c in p.captures), "captures"
    )
    _check_unique((r.refund_id for r in ledger.refunds), "refunds")
    _check_provider_ids(ledger.refunds)
    _check_unique((o.override_id for o in ledger.overrides), "overrides")
    _check_payments(ledger)
    _check_references(ledger, "refunds", ledger.refunds)
    _check_references(ledger, "overrides", ledger.overrides)
    for payment in ledger.payments:
        totals = ledger.totals(payment.payment_id)
        if totals.refundable.amount < 0:
            raise RefundExceedsCapture(
                "refunds",
                totals.refunded + totals.pending,
                f"refunded and pending on payment {payment.payment_id!r} exceed "
                f"its {totals.captured} captured and {totals.allowance} allowed",
            )
