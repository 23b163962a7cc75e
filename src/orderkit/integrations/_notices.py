"""What leaves orderkit for people and for finance: messages and settlement lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Final, Literal, final

import attrs
import pendulum

from orderkit._fast import builder
from orderkit._time import to_utc
from orderkit._validate import instance_of, optional_text, text
from orderkit.dedupe import IdempotencyKey
from orderkit.dedupe._phones import read_in
from orderkit.errors import CurrencyMismatch, ValidationError
from orderkit.integrations._records import TransactionKind
from orderkit.money import Money
from orderkit.orders import MILESTONES, Order, milestone


__all__ = ["Message", "SettlementLine", "milestone_message"]


def _params(value: object) -> tuple[tuple[str, str], ...]:
    # A mapping from the caller, or the pairs of a stored message (evolve).
    items = value.items() if isinstance(value, Mapping) else value
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise ValidationError("params", value, "must be a mapping of text to text")
    pairs: list[tuple[str, str]] = []
    for pair in items:
        name, item = pair if isinstance(pair, tuple) and len(pair) == _PAIR else ("", 0)
        if not isinstance(name, str) or not name or not isinstance(item, str):
            raise ValidationError(f"params[{name!r}]", item, "must be text")
        pairs.append((name, item))
    return tuple(sorted(pairs))


_PAIR = 2


def _settled_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "settled_at")


@final
@attrs.frozen(slots=True, kw_only=True)
class Message:
    """A message to a buyer through a template (SMS, WeChat-style notices).

    Attributes:
        order_id: The order it is about.
        recipient: Where it goes: a phone in E.164, an OpenID.
        template: The provider's template id; providers only send approved
            templates, so the text lives there, not here.
        params: The template's parameters as `(name, value)` pairs, sorted
            by name; pass a mapping.
        key: What makes a re-sent message the same message: send once.

    .. versionadded:: 0.1.0
    """

    order_id: str = attrs.field(validator=text("order_id"))
    recipient: str = attrs.field(validator=text("recipient"))
    template: str = attrs.field(validator=text("template"))
    params: tuple[tuple[str, str], ...] = attrs.field(factory=dict, converter=_params)
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))


@final
@attrs.frozen(slots=True, kw_only=True)
class SettlementLine:
    """One line of a payment provider's settlement statement.

    Attributes:
        transaction_id: The provider's transaction.
        kind: What the transaction did.
        amount: The gross amount.
        fee: What the provider kept.
        settled_at: When the money moved to the merchant (UTC).
        order_id: The order, when the provider knows it.

    .. versionadded:: 0.1.0
    """

    transaction_id: str = attrs.field(validator=text("transaction_id"))
    kind: TransactionKind = attrs.field(converter=TransactionKind)
    amount: Money = attrs.field(validator=instance_of("amount", Money))
    fee: Money = attrs.field(validator=instance_of("fee", Money))
    settled_at: pendulum.DateTime = attrs.field(converter=_settled_at)
    order_id: str | None = attrs.field(
        default=None, validator=optional_text("order_id")
    )

    def __attrs_post_init__(self) -> None:
        if self.fee.currency != self.amount.currency:
            raise CurrencyMismatch("fee", self.fee, str(self.amount.currency))

    @property
    def net(self) -> Money:
        """What the line moved to the merchant, after the provider's fee.

        Money taken (a sale or capture): `amount - fee`. A refund sends
        `amount` back: `-amount - fee`, negative, and a fee the provider
        returns (written negative) comes back with it. An authorisation or a
        void moves no money: `-fee`.
        """
        kind = self.kind
        if kind is TransactionKind.SALE or kind is TransactionKind.CAPTURE:
            return self.amount - self.fee
        if kind is TransactionKind.REFUND:
            return -self.amount - self.fee
        return -self.fee


def milestone_message(
    order: Order, *, language: Literal["zh", "en"] = "zh"
) -> Message | None:
    """The message that tells the buyer the milestone the order has reached.

    The template is `order.<milestone code>.<language>` (`order.shipped.zh`);
    its parameters are the order id, the milestone's label, and for a
    shipped order the carrier and tracking number of its latest parcel. The
    key is one per order and milestone, so a buyer hears of each milestone
    once, however often the order is saved.

    The message goes to the buyer's phone, else the address's recipient's:
    the first that is a valid number in E.164 (`+` and the country code).
    A phone kept as the channel sent it (masked, a digit short, a number no
    carrier issues, no country code) reaches no one and is passed over.

    Returns:
        The message, or `None` when the order has no number to send it to
        (the buyer's and the recipient's phones are absent, masked or not
        valid numbers).

    Raises:
        ValidationError: `language` is neither `"zh"` nor `"en"`, or the
            phone to send to holds a control character.

    .. versionadded:: 0.1.0
    """
    terms = milestone_terms(order, language)
    if terms is None:
        return None
    recipient, template, params, code = terms
    # The order checked every other part as the message would (a phone only
    # as storable text): it is built without checking them again, its pairs
    # sorted as the constructor sorts them. Its key's parts are the order's
    # channel and id, which it checked as the key checks them, and names.
    return _new_message(
        order.order_id,
        recipient,
        template,
        params,
        _new_key(order.channel, "milestone", order.order_id, code),
    )


def milestone_terms(
    order: Order, language: Literal["zh", "en"]
) -> tuple[str, str, tuple[tuple[str, str], ...], str] | None:
    """What `milestone_message` says, before it is a `Message`, or `None`.

    Its recipient, template, parameters (sorted, as the message keeps them)
    and the milestone's code (the last part of its key): for a caller that
    encodes the message at once (the desk's outbox), without building it.

    Raises:
        ValidationError: As `milestone_message`.
    """
    if language not in LANGUAGES:
        raise ValidationError("language", language, "must be 'zh' or 'en'")
    recipient = _reachable(order.buyer.phone) or _reachable(order.address.phone)
    if recipient is None:
        return None
    # The table spares `milestone`'s enum call; what it lacks, `milestone`
    # refuses as it would.
    known = _STAGES.get((order.status, language))
    if known is None:
        stage = milestone(order.status)
        known = (stage.code, stage.label(language), f"order.{stage.code}.{language}")
    code, label, template = known
    _check_recipient(None, None, recipient)
    # Sorted by name, as the constructor sorts them: carrier, milestone,
    # order_id, tracking_number.
    if order.shipments:
        parcel = order.shipments[-1]
        params: tuple[tuple[str, str], ...] = (
            ("carrier", parcel.carrier),
            ("milestone", label),
            ("order_id", order.order_id),
            ("tracking_number", parcel.tracking_number),
        )
    else:
        params = (("milestone", label), ("order_id", order.order_id))
    return recipient, template, params, code


_new_message = builder(Message)
_new_key = builder(IdempotencyKey)
LANGUAGES: Final = ("zh", "en")
"""The languages `milestone_message` writes its templates and labels in."""
_check_recipient = text("recipient")
# (status, language) -> (code, label, template), made once: `milestone` and
# the template's f-string cost more than the rest of a message.
_STAGES: Final = {
    (status, language): (
        stage.code,
        stage.label(language),
        f"order.{stage.code}.{language}",
    )
    for status, stage in MILESTONES.items()
    for language in LANGUAGES
}


# Any region: the numbers read here start with "+" and name their own country.
_ANY_REGION = "CN"


def _reachable(phone: str | None) -> str | None:
    # Only a valid E.164 number reaches anyone. The order keeps what
    # read_phone could not read as the channel sent it ("138****8000",
    # "+1 502 555 012"), and text without "+" has no country to dial.
    if not phone or not phone.startswith("+"):
        return None
    if not phone.isprintable():
        return phone  # refused by the message's own check, as documented
    # What normalize_phone(phone, _ANY_REGION, lenient=True) reads: a
    # refused number is no string.
    found = read_in(phone, _ANY_REGION)
    return found if isinstance(found, str) else None
