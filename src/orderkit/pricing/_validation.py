"""Validation: every pricing violation of an order at once, and a hold reason."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Final, Literal, final

import attrs

from orderkit._fast import builder
from orderkit._validate import Validator, as_tuple, instance_of
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.pricing._floors import PriceFloor
from orderkit.pricing._offers import (
    AmountOff,
    FreeShipping,
    PercentOff,
    StackingPolicy,
)
from orderkit.pricing._skus import _KEYS, sku_key
from orderkit.pricing._totals import (
    DEFAULT_STACKING,
    Quote,
    Totals,
    _price,
    allocate,
    net_below,
)


@final
class ViolationCode(enum.StrEnum):
    """What kind of rule a priced order breaks.

    .. versionadded:: 0.1.0
    """

    TOTAL_MISMATCH = "total_mismatch"
    NEGATIVE_TOTAL = "negative_total"
    BELOW_FLOOR = "below_floor"
    CURRENCY_MISMATCH = "currency_mismatch"
    QUANTITY_LIMIT = "quantity_limit"
    OFFER_REFUSED = "offer_refused"
    BELOW_MIN_SPEND = "below_min_spend"
    """An offer claimed on goods under its `min_spend` (满减 not reached)."""

    def label(self, language: Literal["zh", "en"]) -> str:
        """Return the code's label for people, in `"zh"` or `"en"`."""
        zh, en = _LABELS[self]
        return zh if language == "zh" else en


_LABELS: Final[Mapping[ViolationCode, tuple[str, str]]] = {
    ViolationCode.TOTAL_MISMATCH: ("金额不符", "Total does not add up"),
    ViolationCode.NEGATIVE_TOTAL: ("金额为负", "Negative total"),
    ViolationCode.BELOW_FLOOR: ("低于底价", "Below the price floor"),
    ViolationCode.CURRENCY_MISMATCH: ("币种不符", "Currency mismatch"),
    ViolationCode.QUANTITY_LIMIT: ("超出数量限制", "Quantity over the limit"),
    ViolationCode.OFFER_REFUSED: ("优惠不可叠加", "Offer not allowed to stack"),
    ViolationCode.BELOW_MIN_SPEND: ("未达优惠门槛", "Below the offer's minimum spend"),
}

Value = Money | int | str | None


@final
@attrs.frozen(slots=True)
class Violation:
    """One pricing rule an order breaks, where, and by how much.

    Attributes:
        code: The rule broken.
        path: Where, as a path into the quote (`lines[2].unit_price`).
        expected: What the rule expects there (an amount, a limit), if any.
        actual: What the order has there.
        message: The violation in words.

    .. versionadded:: 0.1.0
    """

    code: ViolationCode
    path: str
    expected: Value
    actual: Value
    message: str

    def describe(self, language: Literal["zh", "en"]) -> str:
        """Return one line about the violation for a person, in `"zh"` or `"en"`."""
        label = self.code.label(language)
        if language == "en":
            return f"{label} at {self.path}: {self.message}"
        if self.expected is None:
            return f"{label}（{self.path}）：{self.actual}"  # noqa: RUF001 - Chinese punctuation
        return f"{label}（{self.path}）：应为 {self.expected}，实为 {self.actual}"  # noqa: RUF001


@final
class TotalsPolicy(enum.StrEnum):
    """What to do when a channel's stated total differs from the computed one.

    .. versionadded:: 0.1.0
    """

    REJECT = "reject"
    """Hold the order: the mismatch is a violation.

    A total below the computed one that brings a line under its floor is
    a `below_floor` violation too, as with `ACCEPT_CHANNEL`.
    """
    ACCEPT_CHANNEL = "accept_channel"
    """Take the channel's total and record a reconciliation warning.

    A total below the computed one still holds the order when what it takes
    off, split over the lines, brings a line under its floor.
    """


def _floors(value: Iterable[PriceFloor]) -> tuple[PriceFloor, ...]:
    return as_tuple(value, "floors", PriceFloor)


def _totals_policy(value: TotalsPolicy | str) -> TotalsPolicy:
    try:
        return TotalsPolicy(value)
    except ValueError:
        raise ValidationError(
            "totals", value, "must be 'reject' or 'accept_channel'"
        ) from None


def _limit(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and (type(value) is not int or value < 1):
            raise ValidationError(field, value, "must be a positive int or None")

    return check


@final
@attrs.frozen(slots=True)
class PricingPolicy:
    """The pricing rules of one channel: stacking, floors, limits, totals.

    Keep one per channel: a channel whose own totals are known to be
    inconsistent can accept them with a warning, while the others reject.

    Attributes:
        stacking: How offers stack.
        floors: Price floors, at most one per SKU. A line is under the
            floor whose SKU folds equal to its own, as purchase limits
            match SKUs (`orderkit.dedupe.normalize_sku`: case, Unicode
            width and surrounding or repeated whitespace do not count), so
            a floor on `"TEAPOT"` guards `"teapot"`, `"TEAPOT "` and
            `"TEAPOT"` in full-width letters; two floors whose SKUs fold
            equal are two floors for one SKU.
        totals: Reject a stated total that differs, or accept it with a
            reconciliation warning.
        max_line_quantity: At most this many units on one line.
        max_order_quantity: At most this many units in the whole order.

    Raises:
        ValidationError: Two floors for one SKU (or for two SKUs that fold
            equal, `"TEA"` and `"tea"`), an unknown totals policy, or a
            limit that is not a positive int.

    .. versionadded:: 0.1.0
    """

    stacking: StackingPolicy = attrs.field(
        default=DEFAULT_STACKING, validator=instance_of("stacking", StackingPolicy)
    )
    floors: tuple[PriceFloor, ...] = attrs.field(default=(), converter=_floors)
    totals: TotalsPolicy = attrs.field(
        default=TotalsPolicy.REJECT, converter=_totals_policy
    )
    max_line_quantity: int | None = attrs.field(
        default=None, validator=_limit("max_line_quantity")
    )
    max_order_quantity: int | None = attrs.field(
        default=None, validator=_limit("max_order_quantity")
    )
    # Each SKU's floor, with its price in minor units (checked on every line
    # of every order, and `Money.minor` is not free), by the SKU as the floor
    # spells it (most lines spell it so: no folding) and by its folded key.
    _by_sku: Mapping[str, tuple[PriceFloor, int]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )
    _by_key: Mapping[str, tuple[PriceFloor, int]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        by_sku: dict[str, tuple[PriceFloor, int]] = {}
        by_key: dict[str, tuple[PriceFloor, int]] = {}
        where: dict[str, int] = {}
        for i, floor in enumerate(self.floors):
            key = sku_key(floor.sku)
            if key in where:
                first = self.floors[where[key]].sku
                raise ValidationError(
                    f"floors[{i}].sku",
                    floor.sku,
                    "has a floor already"
                    if first == floor.sku
                    else f"folds to the SKU of floors[{where[key]}] ({first!r}), "
                    "which has a floor already",
                )
            where[key] = i
            by_sku[floor.sku] = by_key[key] = (floor, floor.price.minor)
        object.__setattr__(self, "_by_sku", by_sku)
        object.__setattr__(self, "_by_key", by_key)

    def floor(self, sku: str) -> PriceFloor | None:
        """Return the floor of a SKU, or `None` if it has none.

        The floor whose SKU folds equal to `sku`, as `floors` says.
        """
        found = _floor_of(self, sku)
        return None if found is None else found[0]


def _floor_of(policy: PricingPolicy, sku: str) -> tuple[PriceFloor, int] | None:
    """The floor of `sku` under `policy`, with its price in minor units."""
    found = policy._by_sku.get(sku)  # noqa: SLF001 - the policy's own floors
    if found is None and policy.floors:
        found = policy._by_key.get(sku_key(sku))  # noqa: SLF001
    return found


@final
@attrs.frozen(slots=True)
class Validation:
    """The outcome of `validate`: every violation, the warnings, the total.

    Attributes:
        order_id: The order validated.
        totals: The totals as computed under the policy.
        violations: Every rule broken; the order is held if there is any.
        warnings: Differences accepted by the policy (a channel total taken
            in place of the computed one), for reconciliation.
        accepted_total: What the order is recorded at: the computed total,
            or the channel's when the policy accepts it; `None` when held.

    .. versionadded:: 0.1.0
    """

    order_id: str
    totals: Totals
    violations: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    accepted_total: Money | None

    @property
    def ok(self) -> bool:
        """Whether the order passes: no violation at all."""
        return not self.violations

    @property
    def hold_reason(self) -> str | None:
        """Why the order is held, in Chinese then English; `None` if it is not."""
        if not self.violations:
            return None
        zh = "\n".join(f"- {v.describe('zh')}" for v in self.violations)
        en = "\n".join(f"- {v.describe('en')}" for v in self.violations)
        return (
            f"订单 {self.order_id} 价格校验未通过，已暂扣：\n{zh}\n"  # noqa: RUF001
            f"Order {self.order_id} is held, its pricing does not check out:\n{en}"
        )


def validate(quote: Quote, policy: PricingPolicy | None = None) -> Validation:
    """Check a quote against a channel's pricing policy; report every violation.

    Never raises for a well-formed quote: a mismatch becomes a violation (and
    a hold reason a person can read), never an exception and never a pass.
    Checks, all of them every time: offers refused by the stacking policy,
    in another currency, or claimed on goods under their `min_spend` (a
    `below_min_spend` violation whose expected value is the threshold and
    actual value the goods it was measured on); each line's net unit price
    against its SKU's floor, with every claimed offer applied (what the
    buyer tried to pay);
    quantity limits; and the channel's stated total (currency, sign, and
    equality with the computed total, which the policy may accept with a
    warning).

    Args:
        quote: The order as priced by the channel.
        policy: The channel's rules; the defaults check the total only.

    Returns:
        The validation; `.ok` is false when the order must be held.
    """
    rules = _DEFAULT_POLICY if policy is None else policy
    totals = _price(quote, rules.stacking, stacking=True)
    violations: list[Violation] = []
    warnings: list[Violation] = []

    stacking_refused = _check_refused(totals, violations)
    claimed = (
        _price(quote, rules.stacking, stacking=False) if stacking_refused else totals
    )
    if rules.floors:
        _check_floors(claimed, rules, violations)
    if rules.max_line_quantity is not None or rules.max_order_quantity is not None:
        _check_quantities(quote, rules, violations)

    stated = quote.stated_total
    computed = totals.total
    if stated is not None:
        # Identity first, as in `_check_floors`.
        if (
            stated.currency is not computed.currency
            and stated.currency != computed.currency
        ):
            violations.append(
                Violation(
                    ViolationCode.CURRENCY_MISMATCH,
                    "stated_total",
                    computed.currency.code,
                    stated.currency.code,
                    f"the channel states {stated}, the order is in "
                    f"{computed.currency.code}",
                )
            )
        elif stated.amount < 0:
            violations.append(
                Violation(
                    ViolationCode.NEGATIVE_TOTAL,
                    "stated_total",
                    computed,
                    stated,
                    f"the channel states a negative total {stated}",
                )
            )
        elif stated.amount != computed.amount:  # one currency: attrs' != is slow
            mismatch = Violation(
                ViolationCode.TOTAL_MISMATCH,
                "stated_total",
                computed,
                stated,
                f"expected {computed}, the channel states {stated}",
            )
            if rules.totals is TotalsPolicy.ACCEPT_CHANNEL:
                warnings.append(mismatch)
            else:
                violations.append(mismatch)
            # Whatever the policy: a reviewer told only of a total mismatch
            # would not know the channel's total breaks a floor.
            if stated < computed and rules.floors:
                _check_channel_floors(totals, stated, rules, violations)
    # Without violations a stated total either equals the computed one or
    # is the channel's, accepted by the policy.
    accepted = None if violations else computed if stated is None else stated
    return _new_validation(
        quote.order_id, totals, tuple(violations), tuple(warnings), accepted
    )


_DEFAULT_POLICY = PricingPolicy()
# A validation is made of checked parts: Validation has no checks to run.
_new_validation: Final = builder(Validation)


def _check_refused(totals: Totals, violations: list[Violation]) -> bool:
    """Report the offers `totals` refused; whether any was not for its currency.

    Those others (stacking rules, a minimum spend not reached) were applied
    by the channel all the same: `validate` checks the floors with them.
    """
    stacking_refused = False
    for refused in totals.refused:
        offer = refused.offer
        currency = refused.reason == "currency_mismatch"
        stacking_refused = stacking_refused or not currency
        if refused.reason == "min_spend" and isinstance(
            offer, AmountOff | PercentOff | FreeShipping
        ):
            violations.append(
                Violation(
                    ViolationCode.BELOW_MIN_SPEND,
                    f"offers[{refused.index}]",
                    offer.min_spend,
                    refused.subtotal,
                    refused.message,
                )
            )
            continue
        violations.append(
            Violation(
                ViolationCode.CURRENCY_MISMATCH
                if currency
                else ViolationCode.OFFER_REFUSED,
                f"offers[{refused.index}]",
                None,
                offer.code,
                refused.message,
            )
        )
    return stacking_refused


def _check_floors(
    totals: Totals, rules: PricingPolicy, violations: list[Violation]
) -> None:
    currency = totals.currency
    # `_floor_of`, inlined: this runs on every line of every order.
    by_sku = rules._by_sku  # noqa: SLF001 - the policy's own floors, in its module
    by_key = rules._by_key  # noqa: SLF001
    known = _KEYS.get  # `sku_key`, without a call for a SKU folded before
    for i, line in enumerate(totals.lines):
        sku = line.sku
        found = by_sku.get(sku) or by_key.get(known(sku) or sku_key(sku))
        if found is None:
            continue
        floor, least = found
        # Identity first: attrs' != on Currency is slow, and floors and
        # orders nearly always share the one instance of a currency.
        if floor.price.currency is not currency and floor.price.currency != currency:
            path = f"lines[{i}].unit_price"
            violations.append(
                Violation(
                    ViolationCode.CURRENCY_MISMATCH,
                    path,
                    floor.price,
                    line.unit_price,
                    f"the floor of {line.sku!r} is in {floor.price.currency.code}, "
                    f"the order in {totals.currency.code}",
                )
            )
        elif net_below(line, floor.price, least):
            path = f"lines[{i}].unit_price"
            net = line.net_unit_price
            violations.append(
                Violation(
                    ViolationCode.BELOW_FLOOR,
                    path,
                    floor.price,
                    net,
                    f"{line.sku!r} nets {net} a unit after discounts, "
                    f"under its floor {floor.price}",
                )
            )


def _check_channel_floors(
    totals: Totals, stated: Money, rules: PricingPolicy, violations: list[Violation]
) -> None:
    """The floors against a channel total below the computed one.

    What the channel took off is a discount like any other: it is split over
    the lines as an order-level amount is (`allocate`), and a line it takes
    under its floor holds the order, as a coupon would.
    """
    reported = {v.path for v in violations}
    shares = allocate(totals, totals.total - stated)
    for i, (line, share) in enumerate(zip(totals.lines, shares, strict=True)):
        floor = rules.floor(line.sku)
        if (
            floor is None
            or floor.price.currency != totals.currency
            or f"lines[{i}].unit_price" in reported  # under it already, or unfit
        ):
            continue
        least = floor.price * line.quantity
        net = line.net - share
        if net < least:
            violations.append(
                Violation(
                    ViolationCode.BELOW_FLOOR,
                    f"lines[{i}]",
                    least,
                    net,
                    f"{line.quantity} x {line.sku!r} net {net} in the channel's"
                    f" total {stated}, under their floor {least}",
                )
            )


def _check_quantities(
    quote: Quote, rules: PricingPolicy, violations: list[Violation]
) -> None:
    most = rules.max_line_quantity
    if most is not None:
        for i, line in enumerate(quote.lines):
            if line.quantity > most:
                violations.append(
                    Violation(
                        ViolationCode.QUANTITY_LIMIT,
                        f"lines[{i}].quantity",
                        most,
                        line.quantity,
                        f"{line.quantity} units of {line.sku!r}, at most {most} a line",
                    )
                )
    most = rules.max_order_quantity
    if most is not None:
        units = sum(line.quantity for line in quote.lines)
        if units > most:
            violations.append(
                Violation(
                    ViolationCode.QUANTITY_LIMIT,
                    "lines",
                    most,
                    units,
                    f"{units} units in the order, at most {most}",
                )
            )
