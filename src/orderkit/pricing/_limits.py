"""Purchase limits: which counters an order consumes, and what a store answers.

The core picks the keys: for each `LimitRule` that applies to a
`PurchaseContext`, one `LimitKey` naming a counter (`buyer:B1`,
`phone:+8613800138000`, `ip:203.0.113.7|distinct:buyer`), its limit and its
window. Counting lives behind `orderkit.ports.LimitStore`, whose `consume`
answers `Granted` or `Exceeded` for all the keys at once.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import ipaddress
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, final

import attrs

from orderkit._fast import builder
from orderkit._time import to_utc
from orderkit._validate import MAX_INT, Validator
from orderkit.calendar import day_of
from orderkit.calendar._windows import zone_info
from orderkit.dedupe import normalize_address, normalize_phone, normalize_sku
from orderkit.dedupe._claims import (
    MAX_KEY_LENGTH,
    check_duration,
    check_text,
    fit_keys,
)
from orderkit.dedupe._phones import _REGIONS as _PHONE_REGIONS
from orderkit.dedupe._phones import _Refused, read_in
from orderkit.errors import InvalidAddress, ValidationError

# At run time, not only for type checkers: a converter resolves
# `PurchaseContext`'s annotations to read and write it.
from orderkit.orders._model import Address


if TYPE_CHECKING:
    import pendulum

    from orderkit.orders import Order


@final
class LimitScope(enum.StrEnum):
    """What a limit counts by: who buys, from where, on what, to where.

    .. versionadded:: 0.1.0
    """

    BUYER = "buyer"
    """The buyer's account id, per channel when the context names one."""
    PHONE = "phone"
    """The buyer's phone in E.164 (masked numbers are absent)."""
    IP = "ip"
    """The IP address the order came from, in its compressed form.

    `2001:DB8::1` and `2001:0db8::0001` are one key, and an IPv4 address
    mapped into IPv6 (`::ffff:203.0.113.7`) is the IPv4 address; text that
    is not an IP address is counted as written.
    """
    DEVICE = "device"
    """The device id (fingerprint) the order came from."""
    ADDRESS = "address"
    """The shipping address, normalised (北京市 and 北京 are one place)."""

    @classmethod
    def _missing_(cls, value: object) -> LimitScope:
        names = ", ".join(scope.value for scope in cls)
        raise ValidationError("scope", value, f"must be one of {names}")


# --------------------------------------------------------------------------
# Validation shared by the core and the stores


def check_limit(field: str, value: object) -> int:
    """Return `value` if it is an int from 1 to 2**63 - 1 (bool refused).

    Raises:
        ValidationError: Naming `field`.
    """
    if type(value) is not int or not 0 < value <= MAX_INT:
        raise ValidationError(field, value, "must be an integer from 1 to 2**63 - 1")
    return value


def _text_field(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        check_text(field, value)

    return check


def _optional_text_field(field: str, longest: int = sys.maxsize) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        # Any length by default: a key longer than a store keeps is hashed
        # (`_fit`), and an order may carry a buyer id of any length.
        if value is not None:
            check_text(field, value, longest=longest)

    return check


def _limit_field(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        check_limit(field, value)

    return check


def _window_field(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        check_duration(field, value)

    return check


# --------------------------------------------------------------------------
# What a store counts, and what it answers


@final
@attrs.frozen(slots=True)
class LimitKey:
    """One counter to consume, with the limit and the window to check it against.

    A key without a `member` counts uses, each as much as its `weight`:
    granted while the weights of the uses of `key` in the window, and this
    one's, come to at most `limit` (weight 1, as for an order: while fewer
    than `limit` uses lie in the window; weight 3, as for an order of 3
    units under a units rule: while they leave room for 3). A key with a
    `member` counts distinct members ("at most 3 accounts per IP": key
    `ip:203.0.113.7|distinct:buyer`, member `buyer:B1`): granted while fewer
    than `limit` distinct members lie in the window, or when `member` is
    already among them.

    Attributes:
        key: The counter's name, printable text of 1 to 255 characters,
            compared verbatim.
        limit: How many uses (or distinct members) the window holds, at least 1.
        window: How far back uses count: a use at `t` counts at `now` while
            `now - window < t`, so it stops counting exactly `window` later.
            A calendar-day rule's key (`LimitRule.day_in`) reaches back to
            the start of `now`'s day.
        member: What is counted distinctly, or `None` to count uses:
            printable text of 1 to 255 characters, as `key`.
        weight: How much this use counts, from 1 to 2**63 - 1: the units of
            an order under a units rule (`LimitRule.units`), 1 otherwise.
            It must be 1 with a `member`: a distinct member counts once,
            whatever it buys.

    Raises:
        ValidationError: A field is out of range, or `weight` is not 1 with
            a `member`, naming it.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=_text_field("key"))
    limit: int = attrs.field(validator=_limit_field("limit"))
    window: dt.timedelta = attrs.field(validator=_window_field("window"))
    # As long as a key: the stores key uses by both (`limit_keys` hashes a
    # longer one, as it does keys).
    member: str | None = attrs.field(
        default=None, validator=_optional_text_field("member", MAX_KEY_LENGTH)
    )
    weight: int = attrs.field(default=1)

    @weight.validator
    def _check_weight(self, _attribute: object, value: object) -> None:
        if type(value) is int and value == 1:
            return  # an order's weight, made for every key: nothing to compare
        check_limit("weight", value)
        if value != 1 and self.member is not None:
            raise ValidationError(
                "weight", value, "must be 1 with a member (distinct members have none)"
            )


@final
@attrs.frozen(slots=True)
class Overage:
    """One key over its limit, as `consume` found it.

    Attributes:
        key: The key, as given.
        count: The uses (or distinct members) already in its window, before
            the call: more than `key.limit - key.weight` (at least
            `key.limit` for a key of weight 1).

    .. versionadded:: 0.1.0
    """

    key: LimitKey
    count: int


@final
@attrs.frozen(slots=True)
class Granted:
    """Every key had room for its weight, and one use of each was recorded.

    Attributes:
        replayed: True when the call's use id had been granted before and
            nothing was recorded now.

    .. versionadded:: 0.1.0
    """

    replayed: bool = False


@final
@attrs.frozen(slots=True)
class Exceeded:
    """At least one key had no room for its weight: nothing was recorded.

    Attributes:
        over: Every key without room for its weight (at or over its limit,
            for a key of weight 1), in the order given.

    .. versionadded:: 0.1.0
    """

    over: tuple[Overage, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The names of the keys over their limits."""
        return tuple(overage.key.key for overage in self.over)


LimitDecision = Granted | Exceeded
"""What `LimitStore.consume` and `PurchaseLimits.check` return."""


def check_keys(keys: object) -> tuple[LimitKey, ...]:
    """Return `keys` as a non-empty tuple of `LimitKey`.

    A key named twice (two rules with different windows) is used once, so
    its weight must be the same each time it is named.

    Raises:
        ValidationError: Naming `keys` or `keys[i]`; `keys[i]` also when it
            names the `key` and `member` of an earlier key with another
            `weight`.
    """
    if type(keys) is tuple:
        found = keys  # as `limit_keys` gives them: no copy
    elif isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
        raise ValidationError("keys", keys, "must be a sequence of LimitKey")
    else:
        found = tuple(keys)
    if not found:
        raise ValidationError("keys", found, "must name at least one key")
    for i, key in enumerate(found):
        if not isinstance(key, LimitKey):
            raise ValidationError(f"keys[{i}]", key, "must be a LimitKey")
    if len(found) > 1:
        # Keys of weight 1 only (orders rules) cannot disagree: no dict.
        for key in found:
            if key.weight != 1:
                _check_weights(found)
                break
    return found


def _check_weights(keys: tuple[LimitKey, ...]) -> None:
    """Refuse a key named again with another weight: which one would count?"""
    weights: dict[tuple[str, str | None], int] = {}
    for i, key in enumerate(keys):
        weight = weights.setdefault((key.key, key.member), key.weight)
        if weight != key.weight:
            raise ValidationError(
                f"keys[{i}]",
                key,
                f"names {key.key!r} again with weight {key.weight}, not {weight}",
            )


def check_use_id(use_id: object) -> str | None:
    """Return `use_id` if it is `None` or printable text of 1 to 255 characters.

    Raises:
        ValidationError: Naming `use_id`.
    """
    return None if use_id is None else check_text("use_id", use_id)


def check_instant(field: str, value: dt.datetime) -> pendulum.DateTime:
    """Return `value` in UTC.

    Raises:
        NaiveDatetime: `value` is naive or not a datetime.
    """
    return to_utc(value, field)


def uses_of(keys: Sequence[LimitKey]) -> tuple[tuple[str, str | None, int], ...]:
    """The distinct `(key, member, weight)` uses of `keys`: one each, in order.

    `check_keys` made sure a key named twice has one weight.
    """
    if len(keys) == 1:
        key = keys[0]
        return ((key.key, key.member, key.weight),)
    return tuple(dict.fromkeys((k.key, k.member, k.weight) for k in keys))


_UNITS: Final = "|units"
"""The last part of a units rule's key (`LimitRule.units`)."""


def counts_units(key: LimitKey) -> bool:
    """Whether `key` is a units rule's, as `limit_keys` names it.

    Its text ends with `|units` (a hashed key's too); a `|` escaped inside
    a value is preceded by an odd number of backslashes.
    """
    text = key.key
    if not text.endswith(_UNITS):
        return False
    head = text[: -len(_UNITS)]
    return (len(head) - len(head.rstrip("\\"))) % 2 == 0


# --------------------------------------------------------------------------
# Rules and the keys an order consumes


@final
@attrs.frozen(slots=True)
class LimitRule:
    """A purchase limit: at most `limit` orders per `scope` within `window`.

    With `distinct`, the rule counts distinct values of that scope per value
    of `scope` instead of orders: `LimitRule(LimitScope.IP, 3, day,
    distinct=LimitScope.BUYER)` is "at most 3 accounts per IP per day"; an
    account already seen on the IP within the window may go on ordering.
    With `sku`, it applies only to orders holding that SKU (compared folded,
    as `normalize_sku` does) and counts them apart; with `promotion`, only to
    orders under that promotion.

    With `units`, the rule counts units instead of orders, as flash sales'
    限购2件 does: `LimitRule(LimitScope.BUYER, 2, day, sku="SKU-X",
    units=True, day_in="Asia/Shanghai")` is "at most 2 units of SKU-X per
    buyer per day". An order counts as many as it holds of the SKU (its
    lines of it, compared folded, added up), or without `sku` as many as it
    holds of every SKU; it is granted only when all of them fit, so one
    order of 3 units is refused by a limit of 2, and one of 2 is granted
    after none but refused after one. An order holding none of the SKU is
    not counted, as without `units`. A units rule counts on a counter of
    its own (its keys end with `|units`): "3 orders and 10 units a day"
    are two rules that do not mix their counts.

    The window slides: `window=timedelta(days=1)` is the last 24 hours. With
    `day_in`, an IANA zone, the rule counts the calendar day in that zone
    instead, as "1 per customer per day" deals and 每人每天限购 do: the
    orders since the last midnight there, so a buyer refused at 23:50 may
    buy again at 00:00, and a day of 23 or 25 hours at a DST change counts
    as one day. `window` must then be one day.

    Two rules on the same scope with different windows ("5 a day, 20 a
    week") share one counter: each checks its own window over the same uses.

    Attributes:
        scope: What the limit counts by.
        limit: How many orders (or distinct values, or units with `units`)
            the window holds.
        window: How far back orders count; one day with `day_in`.
        distinct: The scope counted distinctly, or `None` to count orders.
        sku: The SKU the rule is limited to, or `None` for every order.
        promotion: The promotion the rule is limited to, or `None`.
        day_in: The IANA zone (`"America/Los_Angeles"`) whose calendar day
            the rule counts, or `None` for a sliding `window`.
        units: Whether the rule counts the units ordered (of `sku`, or of
            every SKU) instead of orders; `False` by default.

    Keyword-only: `day_in`, `units`.

    Raises:
        ValidationError: A field is out of range, `distinct` is `scope`,
            `day_in` is not an IANA zone, `window` is not one day with
            `day_in`, or `units` is not a bool or is `True` with `distinct`
            (distinct values have no units), naming `units`.

    .. versionadded:: 0.1.0
    """

    scope: LimitScope = attrs.field(converter=LimitScope)
    limit: int = attrs.field(validator=_limit_field("limit"))
    window: dt.timedelta = attrs.field(validator=_window_field("window"))
    distinct: LimitScope | None = attrs.field(default=None)
    sku: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("sku"),
    )
    promotion: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("promotion"),
    )
    day_in: str | None = attrs.field(default=None, kw_only=True)
    units: bool = attrs.field(default=False, kw_only=True)

    @distinct.validator
    def _check_distinct(self, _attribute: object, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, LimitScope):
            raise ValidationError("distinct", value, "must be a LimitScope or None")
        if value is self.scope:
            raise ValidationError("distinct", value, "must differ from scope")

    @day_in.validator
    def _check_day_in(self, _attribute: object, value: object) -> None:
        if value is None:
            return
        zone_info(value, "day_in")
        # Another length would need a meaning ("a week" from which weekday?)
        # that the rule cannot state; one day has only one.
        if self.window != _ONE_DAY:
            raise ValidationError(
                "window", self.window, "must be one day with day_in (a calendar day)"
            )

    @units.validator
    def _check_units(self, _attribute: object, value: object) -> None:
        if type(value) is not bool:
            raise ValidationError("units", value, "must be True or False")
        if value and self.distinct is not None:
            raise ValidationError(
                "units", value, "cannot be True with distinct (members have no units)"
            )


_ONE_DAY: Final = dt.timedelta(days=1)
_TICK: Final = dt.timedelta(microseconds=1)


def window_at(rule: LimitRule, now: pendulum.DateTime) -> dt.timedelta:
    """The window `rule` counts at the UTC instant `now`, as a `LimitKey` holds it.

    The rule's own `window`, or with `day_in` the time since the start of
    `now`'s day in that zone and one microsecond more: a store counts a use
    at `at` while `now - window < at`, and stores keep microseconds, so a
    use at midnight itself counts and one a microsecond before does not.

    Raises:
        ValidationError: `now` has no day in the zone (the first or last
            date there is), naming `instant`.
    """
    zone = rule.day_in
    if zone is None:
        return rule.window
    start = day_of(now, zone).start
    since: dt.timedelta = dt.datetime.__sub__(now, start)
    return since + _TICK


def _optional_of(field: str, kind: type) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and not isinstance(value, kind):
            raise ValidationError(field, value, f"must be a {kind.__name__} or None")

    return check


def _region(_instance: object, _attribute: object, value: object) -> None:
    if value not in _PHONE_REGIONS:
        raise ValidationError("region", value, "is not a region phonenumbers knows")


def _flag(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if type(value) is not bool:
            raise ValidationError(field, value, "must be True or False")

    return check


def _as_skus(skus: Iterable[str]) -> tuple[str, ...]:
    if isinstance(skus, str) or not isinstance(skus, Iterable):
        raise ValidationError("skus", skus, "must be a sequence of SKUs")
    return tuple(skus)


def _as_quantities(quantities: Iterable[int]) -> tuple[int, ...]:
    if isinstance(quantities, str | bytes) or not isinstance(quantities, Iterable):
        raise ValidationError("quantities", quantities, "must be a sequence of ints")
    return tuple(quantities)


@final
@attrs.frozen(slots=True)
class PurchaseContext:
    """Who buys what, from where: the parts of an order the limits count by.

    Absent parts (`None`) are skipped: a rule on an absent part does not
    apply. Build one from an order with `PurchaseContext.of`.

    Attributes:
        buyer_id: The buyer's account id.
        channel: The channel the buyer id belongs to; buyer keys name it,
            since ids are unique only within a channel.
        phone: The buyer's phone as sent (masked numbers count as absent).
        ip: The IP address of the request (any text: one that reads as an
            IP address is keyed in its compressed form, `LimitScope.IP`).
        device: The device id of the request.
        address: The shipping address (a masked one counts as absent).
        skus: The SKUs ordered, one per line.
        promotion: The promotion the order uses, if any.
        region: The region for phone numbers without a country code.
        mobile_extensions: Whether the phone key keeps a mobile number's
            extension (the default): as the duplicate detector reads the
            channel's numbers (`Fingerprinter.keeps_mobile_extensions`).
            `False` where the channel sends no privacy relay numbers, so
            that `13800138000-1` counts against the buyer's own number. A
            landline's extension is kept either way.
        quantities: The units of each entry of `skus`, in their order, for
            rules that count units (`LimitRule.units`); empty (the default)
            counts one unit per entry. `PurchaseContext.of` gives the
            order's line quantities.

    Keyword-only: `mobile_extensions`, `quantities`.

    Text parts may be of any length: a limit key longer than a store keeps
    is hashed.

    .. versionadded:: 0.1.0
    """

    buyer_id: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("buyer_id"),
    )
    channel: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("channel"),
    )
    phone: str | None = attrs.field(default=None, validator=_optional_of("phone", str))
    ip: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("ip"),
    )
    device: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("device"),
    )
    address: Address | None = attrs.field(
        default=None, validator=_optional_of("address", Address)
    )
    skus: tuple[str, ...] = attrs.field(default=(), converter=_as_skus)
    promotion: str | None = attrs.field(
        default=None,
        validator=_optional_text_field("promotion"),
    )
    region: str = attrs.field(default="CN", validator=_region)
    mobile_extensions: bool = attrs.field(
        default=True, kw_only=True, validator=_flag("mobile_extensions")
    )
    quantities: tuple[int, ...] = attrs.field(
        default=(), kw_only=True, converter=_as_quantities
    )

    @quantities.validator
    def _check_quantities(self, _attribute: object, value: tuple[int, ...]) -> None:
        if value and len(value) != len(self.skus):
            raise ValidationError(
                "quantities", value, f"must give one per SKU ({len(self.skus)})"
            )
        for n, quantity in enumerate(value):
            check_limit(f"quantities[{n}]", quantity)

    @classmethod
    def of(  # noqa: PLR0913 - the order, the request's parts, how to read phones
        cls,
        order: Order,
        *,
        ip: str | None = None,
        device: str | None = None,
        promotion: str | None = None,
        region: str = "CN",
        mobile_extensions: bool = True,
    ) -> PurchaseContext:
        """The context of `order`, with the request's IP, device and promotion.

        Args:
            order: The order placed.
            ip: The IP address it came from, if known.
            device: The device id it came from, if known.
            promotion: The promotion it uses, if any.
            region: The region for its phone numbers without a country
                code: the channel's, as the duplicate detector reads them
                (`Fingerprinter.region_of`), so that a national number
                counts against the same key as the buyer's E.164 one.
            mobile_extensions: Whether a mobile number's extension is part
                of its key: the channel's, as the duplicate detector reads
                it (`Fingerprinter.keeps_mobile_extensions`).

        Returns:
            The buyer, channel, phone, address and SKUs of `order` (with
            their lines' quantities), with the given request parts. A phone
            or address the channel kept although no key can be read from it
            (a test store's "10086", a street of dashes) is left out, as the
            duplicate detector leaves it out: such an order is no reason to
            refuse, and the rules on that part do not apply to it.
        """
        _region(None, _REGION_FIELD, region)
        _check_mobile_extensions(None, None, mobile_extensions)
        buyer = order.buyer
        phone = buyer.phone
        # What normalize_phone(phone, region, lenient=True) reads, of a
        # region checked above: a refused phone is junk.
        if isinstance(read_in(phone, region), _Refused):
            phone = None
        address: Address | None = order.address
        try:
            normalize_address(order.address)
        except InvalidAddress:
            address = None
        lines = order.lines
        skus = tuple([line.sku for line in lines])
        quantities = tuple([line.quantity for line in lines])
        buyer_id, channel = buyer.buyer_id, order.channel
        if fit_keys(buyer_id, channel):
            # The order's parts passed its own checks (non-blank printable
            # text, an Address, text SKUs); only the request's are checked,
            # in the order the constructor checks them.
            if ip is not None or device is not None or promotion is not None:
                request = (("ip", ip), ("device", device), ("promotion", promotion))
                for field, value in request:
                    if value is not None:
                        check_text(field, value, longest=sys.maxsize)
            # fmt: off
            return _new_context(
                buyer_id, channel, phone, ip, device, address, skus, promotion,
                region, mobile_extensions, quantities,
            )
            # fmt: on
        return cls(
            buyer_id=buyer_id,
            channel=channel,
            phone=phone,
            ip=ip,
            device=device,
            address=address,
            skus=skus,
            promotion=promotion,
            region=region,
            mobile_extensions=mobile_extensions,
            quantities=quantities,
        )


_new_context: Final = builder(PurchaseContext)
_check_mobile_extensions: Final = _flag("mobile_extensions")
_REGION_FIELD: Final = attrs.fields(PurchaseContext).region


def _escape(value: str) -> str:
    # `|` separates a key's parts: a value holding one must not forge a part.
    return value.replace("\\", "\\\\").replace("|", "\\|")


def _fit(key: str, scope: LimitScope, room: int = MAX_KEY_LENGTH) -> str:
    """`key`, or a hash of it when it is longer than `room` (what a store accepts)."""
    if len(key) <= room:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{scope}#sha256:{digest}"


_new_key: Final = builder(LimitKey)


class _Parts:
    """The context's parts, normalised once, read by scope."""

    __slots__ = ("_context", "_days", "_folded", "_found", "_now", "_units")

    def __init__(self, context: PurchaseContext, now: pendulum.DateTime | None) -> None:
        self._context = context
        self._now = now
        self._folded: frozenset[str] | None = None
        self._found: dict[LimitScope, str | None] = {}
        self._days: dict[str | None, dt.timedelta] = {}
        self._units: dict[str | None, int] | None = None

    def key(self, rule: LimitRule) -> LimitKey | None:
        """The key `rule` consumes, or `None` when it does not apply."""
        context = self._context
        if rule.promotion is not None and rule.promotion != context.promotion:
            return None
        sku = None if rule.sku is None else normalize_sku(rule.sku)
        if sku is not None and sku not in self._skus():
            return None
        scope = rule.scope
        value = self.value(scope)
        if value is None:
            return None
        # A StrEnum formats as its value, slowly: `_value_` is that text.
        text = f"{scope._value_}:{value}"
        if sku is not None:
            text += f"|sku:{_escape(sku)}"
        if rule.promotion is not None:
            text += f"|promotion:{_escape(rule.promotion)}"
        member = None
        weight = 1
        if rule.units:
            weight = self._units_of(sku)
            if not weight:
                return None  # nothing bought: no unit to count
            # Apart from an orders rule's counter on the same scope, and
            # kept when hashed: the desk words a units key's refusal so.
            fitted = _fit(text, scope, MAX_KEY_LENGTH - len(_UNITS)) + _UNITS
        elif rule.distinct is not None:
            seen = self.value(rule.distinct)
            if seen is None:
                return None
            text += f"|distinct:{rule.distinct}"
            member = _fit(f"{rule.distinct}:{seen}", rule.distinct)
            fitted = _fit(text, scope)
        else:
            fitted = _fit(text, scope)
        # The rule checked its limit and window as a key checks them, and a
        # day's window is positive: only the key's own text is checked again.
        return _new_key(
            check_text("key", fitted),
            rule.limit,
            rule.window if rule.day_in is None else self._day_window(rule),
            None if member is None else check_text("member", member),
            weight,
        )

    def _units_of(self, sku: str | None) -> int:
        """The units of the folded `sku` the context holds, or of every SKU."""
        units = self._units
        if units is None:
            context = self._context
            quantities = context.quantities or (1,) * len(context.skus)
            units = {None: 0}
            folded = (
                normalize_sku(sku, field=f"skus[{n}]")
                for n, sku in enumerate(context.skus)
            )
            for name, quantity in zip(folded, quantities, strict=True):
                units[name] = units.get(name, 0) + quantity
                units[None] += quantity
            self._units = units
        # Past 2**63 - 1 a key cannot count it, and no limit is that high.
        return min(units.get(sku, 0), MAX_INT)

    def _day_window(self, rule: LimitRule) -> dt.timedelta:
        now = self._now
        assert now is not None  # noqa: S101 - limit_keys refuses a day rule without
        # Rules of one zone share the day: find its start once.
        window = self._days.get(rule.day_in)
        if window is None:
            window = self._days[rule.day_in] = window_at(rule, now)
        return window

    def _skus(self) -> frozenset[str]:
        if self._folded is None:
            self._folded = frozenset(
                normalize_sku(sku, field=f"skus[{n}]")
                for n, sku in enumerate(self._context.skus)
            )
        return self._folded

    def value(self, scope: LimitScope) -> str | None:
        if scope not in self._found:
            self._found[scope] = self._read(scope)
        return self._found[scope]

    def _read(self, scope: LimitScope) -> str | None:
        context = self._context
        if scope is LimitScope.BUYER:
            if context.buyer_id is None:
                return None
            channel = context.channel
            buyer = _escape(context.buyer_id)
            return buyer if channel is None else f"{buyer}|channel:{_escape(channel)}"
        if scope is LimitScope.PHONE:
            phone = normalize_phone(
                context.phone,
                context.region,
                field="phone",
                mobile_extensions=context.mobile_extensions,
            )
            return None if phone is None else _escape(phone)
        if scope is LimitScope.ADDRESS:
            if context.address is None:
                return None
            key = normalize_address(context.address)
            return None if key is None else _escape(key)
        if scope is LimitScope.IP:
            raw = None if context.ip is None else _ip_key(context.ip)
        else:
            raw = context.device
        return None if raw is None else _escape(raw)


def _ip_key(text: str) -> str:
    """An IP address in its one compressed form; other text as it is.

    `2001:DB8::1` and `2001:0db8:0:0:0:0:0:1` are `2001:db8::1`, and an
    IPv4 address mapped into IPv6 (`::ffff:203.0.113.7`, as a dual-stack
    server reports it) is the IPv4 address. A host may count by another
    identifier of where an order came from: text that is not an address is
    its own key.
    """
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.compressed
    return address.compressed


def limit_keys(
    rules: Iterable[LimitRule],
    context: PurchaseContext,
    *,
    now: dt.datetime | None = None,
) -> tuple[LimitKey, ...]:
    r"""The keys an order consumes: one per rule that applies to `context`.

    A rule applies when the context has its scope (and its `distinct`
    scope), holds its SKU and uses its promotion. Keys read
    `<scope>:<value>`, then `|channel:`, `|sku:`, `|promotion:` and
    `|distinct:` parts as they apply, and a units rule's (`LimitRule.units`)
    `|units` last; `|` and `\` inside values are escaped with a backslash,
    and a key longer than 255 characters is replaced by a hash of it (a
    units rule's keeping its `|units`).

    A units rule's key weighs the units the context holds of the rule's SKU
    (its entries of it, compared folded, added up), or of every SKU without
    `sku` (`PurchaseContext.quantities`); it does not apply to a context
    holding none. Every other key weighs 1.

    A key's window is its rule's, except for a rule with `day_in`: its key
    reaches back to the start of `now`'s day in that zone (`window_at`), so
    the store counts the uses since that midnight, and only those.

    Args:
        rules: The limits in force.
        context: The order and the request.
        now: The instant the keys are consumed at; needed by rules with
            `day_in`, and the store must be given the same instant.

    Returns:
        The keys, in the order of the rules that apply.

    Raises:
        InvalidPhone: A phone rule applies and the phone is not a number.
        InvalidAddress: An address rule applies and the address is blank.
        NaiveDatetime: `now` has no UTC offset.
        ValidationError: A rule is not a `LimitRule`, the context is not a
            `PurchaseContext`, or a rule has `day_in` and `now` is `None`.
    """
    if not isinstance(context, PurchaseContext):
        raise ValidationError("context", context, "must be a PurchaseContext")
    at = None if now is None else to_utc(now, "now")
    parts = _Parts(context, at)
    keys: list[LimitKey] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, LimitRule):
            raise ValidationError(f"rules[{i}]", rule, "must be a LimitRule")
        if at is None and rule.day_in is not None:
            raise ValidationError(
                "now", now, f"is needed: rules[{i}] counts the day in {rule.day_in}"
            )
        key = parts.key(rule)
        if key is not None:
            keys.append(key)
    return tuple(keys)
