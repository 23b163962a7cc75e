"""Declarative field maps: any JSON channel's orders, mapped without a parser.

A `FieldMap` is built from a plain dict (or JSON, or TOML) that says where
each canonical field sits in the channel's payload, how to read it (`text`,
`id`, `money`, `phone`, `instant`, `integer`, `flag`), which constants to
fill in, how the channel's statuses map onto the lifecycle, where the lines
are (and which of them have no stock behind them), which discounts it
states (each an offer with its issuer) and which later events (a payment, a
cancellation, the parcel of the whole order, money the channel sent back)
the payload states. It is an
`orderkit.ports.ChannelPayloads`: `parse(payload, topic=)` returns
`orderkit.integrations.ChannelOrder` records, and reports every missing or
malformed field at once, each with its payload path.

`docs/concepts/channels.md` shows the spec format with a Taobao example.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar, final

import attrs
import pendulum

from orderkit.adapters.channels._common import moved
from orderkit.adapters.channels._mapping_spec import (
    LINE_TARGETS,
    LINES_KEYS,
    ORDER_TARGETS,
    PLACED,
    TOP_KEYS,
    Compiler,
    EventSpec,
    Field,
    LinesSpec,
    OfferSpec,
    Settings,
    join_path,
    mapped_value,
    read_root,
    read_settings,
    read_topics,
    read_value,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    MappingError,
    StructureError,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    ChannelRefund,
    RefundLine,
    load_json,
    read_list,
    read_object,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    Closed,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
)
from orderkit.pricing import AmountOff, Quote


__all__ = ["FieldMap"]


def _raise_all(field: str, errors: Sequence[ValidationError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MappingError(field, errors)


_MISSING: Final = object()
_T = TypeVar("_T")


def _lookup(obj: Mapping[str, Any], parts: Sequence[str], base: str) -> object:
    """The value at `parts` inside `obj`, or `_MISSING` when a key is absent.

    A `null` on the way is absent too: platforms send `"payment": null` for
    an order not paid yet, meaning there is nothing under it.
    """
    current: object = obj
    for i, part in enumerate(parts):
        if current is None and i:
            return _MISSING
        current = read_object(current, path=join_path(base, parts[:i]) or "payload")
        if part not in current:
            return _MISSING
        current = current[part]
    return current


@attrs.define
class _Reader:
    """Reads the fields of one JSON object, collecting every problem."""

    obj: Mapping[str, Any]
    base: str
    settings: Settings
    errors: list[ValidationError]
    sources: dict[str, str] = attrs.field(factory=dict)
    unmapped: dict[str, object] = attrs.field(factory=dict)

    def present(self, parts: Sequence[str]) -> bool:
        try:
            value = _lookup(self.obj, parts, self.base)
        except ValidationError as error:
            self.errors.append(error)
            return False
        return value is not _MISSING and value is not None and value != ""

    def read(self, field: Field) -> Any:  # noqa: ANN401 - whichever the converter gives
        """The converted value; `None` when optional and absent; `_MISSING` on error."""
        if field.is_const:
            self.sources[field.target] = field.target
            return field.const
        path = join_path(self.base, field.path)
        self.sources[field.target] = path
        try:
            value = _lookup(self.obj, field.path, self.base)
        except ValidationError as error:
            self.errors.append(error)
            return _MISSING
        if value is _MISSING or value is None or _empty(value, field):
            if field.required:
                self.errors.append(ValidationError(path, None, "is missing"))
                return _MISSING
            return None
        try:
            converted = read_value(value, field, self.settings, path)
            self.unmapped[field.target] = converted
            return mapped_value(converted, field, path)
        except ValidationError as error:
            self.errors.append(error)
            return _MISSING

    def read_all(self, fields: Iterable[Field]) -> dict[str, Any] | None:
        """Every field by target, or `None` when one of them failed."""
        values = {field.target: self.read(field) for field in fields}
        if any(value is _MISSING for value in values.values()):
            return None
        return values

    def build(
        self, make: Callable[[], _T], prefix: str = "", fallback: str | None = None
    ) -> _T | None:
        """`make()`, with a canonical class's complaint moved to the payload path."""
        try:
            return make()
        except ValidationError as error:
            where = self.sources.get(f"{prefix}{error.field}", fallback or self.base)
            self.errors.append(moved(error, where or "payload"))
            return None


def _empty(value: object, field: Field) -> bool:
    """Whether `value` is an optional non-text field's empty string: absent.

    Exports write `""` for an amount or a time they do not have, as `when`
    reads it (`_Reader.present`); text keeps its `""`, which is a value.
    """
    return value == "" and not field.required and field.convert != "text"


def _text_or_empty(value: object) -> str:
    return "" if value is None else str(value)


def _order_from(
    fieldmap: FieldMap, obj: Mapping[str, Any], base: str, errors: list[ValidationError]
) -> ChannelOrder | None:
    settings = fieldmap.read_settings
    reader = _Reader(obj, base, settings, errors)
    start = len(errors)
    values = {field.target: reader.read(field) for field in fieldmap._fields}
    amounts = [reader.read(offer.field) for offer in fieldmap._offers]  # noqa: SLF001
    lines = _lines_from(fieldmap, reader)
    status = values.get("status")
    stated = _events_from(
        fieldmap,
        reader,
        values.get("order_id"),
        status if isinstance(status, OrderStatus) else None,
        values.get("total"),
        lines=lines,
    )
    if len(errors) > start or lines is None or stated is None:
        return None
    events, refunds = stated
    got = {target: value for target, value in values.items() if value is not None}
    order_id = str(got["order_id"])
    buyer = reader.build(
        lambda: Buyer(
            got["buyer.buyer_id"],
            name=_text_or_empty(got.get("buyer.name")),
            phone=got.get("buyer.phone"),
            email=got.get("buyer.email") or None,
        ),
        prefix="buyer.",
    )
    address = reader.build(
        lambda: Address(
            got["address.country"],
            province=_text_or_empty(got.get("address.province")),
            city=_text_or_empty(got.get("address.city")),
            district=_text_or_empty(got.get("address.district")),
            street=_text_or_empty(got.get("address.street")),
            postcode=_text_or_empty(got.get("address.postcode")),
            recipient=_text_or_empty(got.get("address.recipient")),
            phone=got.get("address.phone"),
        ),
        prefix="address.",
    )
    if buyer is None or address is None:
        return None
    placed_at: pendulum.DateTime = got["placed_at"]
    placed = reader.build(
        lambda: OrderPlaced(
            order_id=order_id,
            key=IdempotencyKey(
                fieldmap.channel, PLACED, order_id, placed_at.isoformat()
            ),
            occurred_at=placed_at,
            channel=fieldmap.channel,
            buyer=buyer,
            address=address,
            lines=lines,
            pay_by=got.get("pay_by"),
        )
    )
    if placed is None:
        return None
    discount: Money | None = got.get("discount")
    offers = (
        [AmountOff(reader.sources["discount"].rpartition(".")[2], discount)]
        if discount is not None and discount.amount > 0
        else []
    )
    # A channel states an offer of zero for one it did not apply.
    offers.extend(
        AmountOff(offer.code, amount, issuer=offer.issuer)
        for offer, amount in zip(fieldmap._offers, amounts, strict=True)  # noqa: SLF001
        if amount is not None and amount.amount > 0
    )
    quote = reader.build(
        lambda: Quote(
            order_id=order_id,
            channel=fieldmap.channel,
            lines=lines,
            offers=offers,
            shipping=got.get("shipping"),
            tax=got.get("tax"),
            stated_total=got.get("total"),
        )
    )
    if quote is None:
        return None
    return reader.build(
        lambda: ChannelOrder(
            placed=placed,
            quote=quote,
            status=got["status"],
            channel_status=str(reader.unmapped.get("status", got["status"])),
            events=events,
            updated_at=got.get("updated_at"),
            refunds=refunds,
        )
    )


def _lines_from(fieldmap: FieldMap, reader: _Reader) -> tuple[OrderLine, ...] | None:
    path = join_path(reader.base, fieldmap._lines_path)  # noqa: SLF001
    try:
        found = _lookup(reader.obj, fieldmap._lines_path, reader.base)  # noqa: SLF001
        if found is _MISSING or found is None:
            raise ValidationError(path, None, "is missing")  # noqa: TRY301 - one report path
        items = read_list(found, path=path)
    except ValidationError as error:
        reader.errors.append(error)
        return None
    if not items:
        reader.errors.append(
            EmptyOrder(path, items, "an order needs at least one line")
        )
        return None
    lines: list[OrderLine] = []
    seen: dict[str, int] = {}
    failed = False
    for i, item in enumerate(items):
        base = f"{path}[{i}]"
        try:
            obj = read_object(item, path=base)
        except ValidationError as error:
            reader.errors.append(error)
            failed = True
            continue
        line_reader = _Reader(obj, base, reader.settings, reader.errors)
        got = line_reader.read_all(fieldmap._line_fields)  # noqa: SLF001
        if got is None:
            failed = True
            continue
        line = line_reader.build(functools.partial(_line, got))
        if line is None:
            failed = True
            continue
        if line.line_id in seen:
            reader.errors.append(
                ValidationError(
                    line_reader.sources["line_id"],
                    line.line_id,
                    f"repeats the line id of {path}[{seen[line.line_id]}]",
                )
            )
            failed = True
        seen.setdefault(line.line_id, i)
        lines.append(line)
    return None if failed else tuple(lines)


def _line(got: Mapping[str, Any]) -> OrderLine:
    stocked = got.get("stocked")
    return OrderLine(
        got["line_id"],
        got["sku"],
        got["quantity"],
        got["unit_price"],
        title=_text_or_empty(got.get("title")),
        stocked=True if stocked is None else stocked,
    )


def _events_from(  # noqa: PLR0913 - the order's parts the events need
    fieldmap: FieldMap,
    reader: _Reader,
    order_id: object,
    status: OrderStatus | None,
    total: object,
    *,
    lines: tuple[OrderLine, ...] | None,
) -> tuple[tuple[OrderEvent, ...], tuple[ChannelRefund, ...]] | None:
    """The events and the channel's refunds the payload states, oldest first.

    `None` when one of them failed to read (each failure is in the reader's
    errors).
    """
    stated: list[OrderEvent] = []
    # Each refund with where its fields came from, for `ChannelOrder`'s
    # complaints about it (`refunds[0].amount`).
    refunds: list[tuple[ChannelRefund, dict[str, str]]] = []
    failed = False
    for spec in fieldmap._events:  # noqa: SLF001
        if spec.statuses and status not in spec.statuses:
            # Also when the status itself is unreadable (reported already):
            # whether the event is stated cannot be known.
            continue
        if not reader.present(spec.when):
            continue
        event_reader = _Reader(reader.obj, reader.base, reader.settings, reader.errors)
        got = event_reader.read_all(spec.fields)
        # A parcel carries the order's lines, and a refund's units name
        # them: none when they failed to read (reported already). Other
        # events are still checked, to report all.
        if (
            got is None
            or not isinstance(order_id, str)
            or (lines is None and (spec.type == "shipped" or spec.lines))
        ):
            failed = True
            continue
        if spec.type == "payment_captured" and not _paid_as_free(
            got["amount"], total, event_reader, reader
        ):
            failed = True
            continue
        if spec.type == "refund":
            if not _add_refund(
                refunds,
                fieldmap.channel,
                order_id,
                got,
                event_reader,
                units=spec.lines,
                lines=lines or (),
            ):
                failed = True
            continue
        events = event_reader.build(
            functools.partial(
                _event, fieldmap.channel, spec, order_id, got, lines or ()
            )
        )
        if events is None:
            failed = True
            continue
        stated.extend(events)
    if failed:
        return None
    # Oldest first, as ChannelOrder promises; ties keep the spec's order (and
    # a parcel's PickingStarted before its Shipped).
    events = tuple(sorted(stated, key=lambda event: event.occurred_at))
    return events, _in_time_order(refunds, reader)


def _in_time_order(
    refunds: list[tuple[ChannelRefund, dict[str, str]]], reader: _Reader
) -> tuple[ChannelRefund, ...]:
    """The refunds oldest first, their fields' paths known by their places.

    `ChannelOrder` names a refund it refuses by its place (`refunds[0].amount`),
    which the reader then moves to the payload path it came from.
    """
    refunds.sort(key=lambda found: found[0].created_at)
    for i, (_, sources) in enumerate(refunds):
        for target, path in sources.items():
            reader.sources[f"refunds[{i}].{target}"] = path
    return tuple(refund for refund, _ in refunds)


def _add_refund(  # noqa: PLR0913 - the refund's fields, and the order's lines
    refunds: list[tuple[ChannelRefund, dict[str, str]]],
    channel: str,
    order_id: str,
    got: Mapping[str, Any],
    reader: _Reader,
    *,
    units: LinesSpec | None,
    lines: tuple[OrderLine, ...],
) -> bool:
    """Add the refund a `refund` table read to `refunds`; `False` if refused.

    An amount of zero is no refund: exports write 0 where there was none
    (and its units, if the table maps them, are not read). The units a
    table's `lines` name are read from the order's `lines`.
    """
    amount: Money = got["amount"]
    if amount.amount == 0:
        return True
    if units is not None:
        named = _refund_units(units, reader, lines)
        if named is None:
            return False
        got = {**got, "lines": named}
    refund = reader.build(
        functools.partial(_refund, channel, order_id, got),
        fallback=reader.sources.get("amount"),
    )
    if refund is None:
        return False
    refunds.append((refund, reader.sources))
    return True


def _refund_units(
    spec: LinesSpec, reader: _Reader, lines: tuple[OrderLine, ...]
) -> tuple[RefundLine, ...] | None:
    """The units of the order's `lines` a refund's list names; `None` if refused.

    The list must be there (`[]` is money alone). Each entry names an order
    line by the id the order's `[lines]` table reads, and a positive number
    of its units. A line named twice is paid back for both entries' units,
    summed into one `RefundLine`: the desk counts a refund's entries of one
    line together, as it does the Shopify adapter's (which keeps each of
    `refund_line_items`). A line the order does not have is refused: the
    refund would pay back units of no line.
    """
    path = join_path(reader.base, spec.path)
    reader.sources["lines"] = path
    try:
        found = _lookup(reader.obj, spec.path, reader.base)
        if found is _MISSING or found is None:
            raise ValidationError(  # noqa: TRY301 - one report path
                path,
                None,
                "is missing: the refund's lines map a list here ([] for money alone)",
            )
        items = read_list(found, path=path)
    except ValidationError as error:
        reader.errors.append(error)
        return None
    known = [line.line_id for line in lines]
    units: dict[str, int] = {}
    failed = False
    for i, item in enumerate(items):
        base = f"{path}[{i}]"
        try:
            obj = read_object(item, path=base)
        except ValidationError as error:
            reader.errors.append(error)
            failed = True
            continue
        unit_reader = _Reader(obj, base, reader.settings, reader.errors)
        # Each field on its own: a line id the order lacks is reported
        # beside a bad quantity of the same entry.
        got = {field.target: unit_reader.read(field) for field in spec.fields}
        line_id, quantity = got["line_id"], got["quantity"]
        if line_id is not _MISSING and line_id not in known:
            reader.errors.append(
                ValidationError(
                    unit_reader.sources["line_id"],
                    line_id,
                    f"is not a line of the order (its lines: {', '.join(known)})",
                )
            )
        if line_id not in known or quantity is _MISSING:
            failed = True
            continue
        units[line_id] = units.get(line_id, 0) + quantity
    if failed:
        return None
    return tuple(RefundLine(line_id, quantity) for line_id, quantity in units.items())


def _refund(channel: str, order_id: str, got: Mapping[str, Any]) -> ChannelRefund:
    """The money a `refund` table states the channel sent back, keyed by its id.

    Its key names the refund and its amount, not its time: the same payload
    again is the same refund (and a refund webhook a host maps otherwise,
    under the same refund id, comes off once: the ledger knows the id). An
    amount stated again under the same id for more (an order's running
    total of refunds read as one refund) is money the channel sent back
    since: the desk grows the ledger's refund of that id to it
    (`PaymentLedger.grow_refund`), so that ending the order does not pay
    the difference back twice; an earlier, smaller figure delivered late
    changes nothing.
    """
    refund_id: str = got["refund_id"]
    amount: Money = got["amount"]
    return ChannelRefund(
        refund_id=refund_id,
        order_id=order_id,
        key=IdempotencyKey(channel, "refund", order_id, f"{refund_id}:{amount.amount}"),
        amount=got["amount"],
        created_at=got["occurred_at"],
        lines=got.get("lines", ()),
        payment_id=got.get("payment_id"),
        reason=_text_or_empty(got.get("reason")),
    )


def _paid_as_free(
    amount: Money, total: object, event_reader: _Reader, reader: _Reader
) -> bool:
    """Whether a capture of `amount` may be stated; else report why not.

    A capture of zero is a free order paid: only an order whose mapped total
    is zero may state one, as the lifecycle cannot tell (an order does not
    know its total after discounts). A total that failed to read is
    reported already.
    """
    if amount.amount or total is _MISSING:
        return True
    if isinstance(total, Money) and not total.amount:
        return True
    stated = (
        f"'s total ({reader.sources['total']}) is {total}"
        if isinstance(total, Money)
        else " states no total"
    )
    reader.errors.append(
        ValidationError(
            event_reader.sources["amount"],
            amount,
            f"is zero, but the order{stated}: only a free order (a total of"
            " zero) is paid nothing",
        )
    )
    return False


# The event type of the key of the `PickingStarted` a `shipped` event states:
# no spec event type has a dot, so it cannot be another event's.
_PICKING: Final = "shipped.picking"


def _event(
    channel: str,
    spec: EventSpec,
    order_id: str,
    got: Mapping[str, Any],
    lines: tuple[OrderLine, ...],
) -> tuple[OrderEvent, ...]:
    """The events one `[[events]]` table states: one, or two for a parcel."""
    occurred_at: pendulum.DateTime = got["occurred_at"]
    event_id = got.get("event_id") or occurred_at.isoformat()
    key = IdempotencyKey(channel, spec.type, order_id, event_id)
    if spec.type == "payment_captured":
        return (
            PaymentCaptured(
                order_id=order_id,
                key=key,
                occurred_at=occurred_at,
                payment_id=got["payment_id"],
                amount=got["amount"],
            ),
        )
    if spec.type == "cancelled":
        return (
            Cancelled(
                order_id=order_id,
                key=key,
                occurred_at=occurred_at,
                reason=got["reason"],
            ),
        )
    if spec.type == "shipped":
        return _parcel(channel, order_id, got, lines, key)
    if got.get("reason"):
        return (
            Closed(
                order_id=order_id,
                key=key,
                occurred_at=occurred_at,
                reason=got["reason"],
            ),
        )
    return (Closed(order_id=order_id, key=key, occurred_at=occurred_at),)


def _parcel(
    channel: str,
    order_id: str,
    got: Mapping[str, Any],
    lines: tuple[OrderLine, ...],
    key: IdempotencyKey,
) -> tuple[PickingStarted, Shipped]:
    """A parcel of every line in full, and the picking it needed first.

    These channels state one parcel for the whole order. Its unstocked lines
    go in it too: a parcel may carry them, and the order is shipped once its
    stocked units are. The channel has no picking step, and the lifecycle
    parks a parcel that no picking came before, so the parcel states one at
    its own time, keyed after the parcel's own key (the Shopify adapter does
    the same).
    """
    occurred_at: pendulum.DateTime = got["occurred_at"]
    tracking_number: str = got["tracking_number"]
    picking = PickingStarted(
        order_id=order_id,
        key=IdempotencyKey(channel, _PICKING, order_id, key.event_id),
        occurred_at=occurred_at,
    )
    shipped = Shipped(
        order_id=order_id,
        key=key,
        occurred_at=occurred_at,
        shipment_id=got.get("shipment_id") or tracking_number,
        lines=tuple(ShipmentLine(line.line_id, line.quantity) for line in lines),
        carrier=got["carrier"],
        tracking_number=tracking_number,
    )
    return picking, shipped


# ----------------------------------------------------------------------
# The map


@final
@attrs.frozen(slots=True)
class FieldMap:
    """A channel's JSON order payloads, mapped onto canonical orders by a spec.

    An `orderkit.ports.ChannelPayloads` with no code of its own: build it
    with `from_dict`, `from_json` or `from_toml` (the constructor takes the
    compiled parts and is not meant to be called directly). Two maps loaded
    from the same spec in any of the three forms are equal.

    Attributes:
        channel: The channel's name, the `channel` of every key and order.
        topics: The payload kinds it reads (all read the same way).
        currency: The ISO 4217 code of every amount.
        region: The channel's home region, for phone numbers without a
            country code.
        zone: The IANA zone of the channel's naive times, if it sends any.

    .. versionadded:: 0.1.0
    """

    channel: str
    topics: frozenset[str]
    read_root: tuple[str, ...]
    _many: bool
    read_settings: Settings
    _fields: tuple[Field, ...]
    _lines_path: tuple[str, ...]
    _line_fields: tuple[Field, ...]
    _events: tuple[EventSpec, ...]
    _offers: tuple[OfferSpec, ...]

    @property
    def currency(self) -> str:
        """The ISO 4217 code of every amount."""
        return self.read_settings.currency

    @property
    def region(self) -> str:
        """The channel's home region, for phones without a country code."""
        return self.read_settings.region

    @property
    def zone(self) -> str | None:
        """The IANA zone of the channel's naive times."""
        return self.read_settings.zone

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> FieldMap:
        """Compile a spec given as a plain dict.

        Keys: `channel`, `topics` (a list), `currency`, `region`, `zone`
        (optional), `root` (optional: the dotted path of the order object,
        ending in `[]` for a list of orders), `fields` (target: source),
        `lines` (`path` and `fields`), `events` (optional list of `type`,
        `when`, `statuses`, `fields`), `offers` (optional list of `path`,
        `as`, `code`, `issuer`). A source is a payload path, or a table
        with `path` or `const`, and optionally `as` (the converter), `map`
        (channel value: value) and `zone`.

        The `discount` target is one order-level `AmountOff` coded by its
        path's last key. A channel that states several (Pinduoduo's
        `seller_discount` and `platform_discount`) lists each in `offers`:
        `path` (required) to an amount read `as` `money` (the default) or
        `minor`, `code` (default: the path's last key) and `issuer` (who
        funds it, for `StackingPolicy.max_per_issuer`; default none). Each
        amount above zero is one `AmountOff` in the quote, after the
        `discount` target's, in the list's order; an absent or zero amount
        is none. Two offers of one code (the discount's included) are
        refused, as a quote claims each code once.

        An event's `type` is `payment_captured` (`occurred_at`,
        `payment_id`, `amount`), `cancelled` (`occurred_at`, `reason`),
        `closed` (`occurred_at`, optional `reason`) or `shipped`
        (`occurred_at`, `carrier`, `tracking_number`, optional
        `shipment_id`, the tracking number by default); each takes an
        optional `event_id`. A `refund` (`occurred_at`, `refund_id`,
        `amount`, optional `payment_id` and `reason`) is money the channel
        sent back: a `ChannelRefund` among the order's `refunds`, keyed by
        its refund id and amount, none when its amount is zero. Its table
        may also have a `lines` table, written as the order's is: `path`
        to a list (from the order) and `fields` of each entry, `line_id`
        (an order line's id, read as the order's `line_id` is) and
        `quantity` (positive): the units it pays back
        (`ChannelRefund.lines`; a line named twice is summed into one),
        which are not part of its key. A `shipped` event is
        one parcel carrying every line of the order in full (unstocked
        lines too), stated with a `PickingStarted` at the same time just
        before it: the channel has no picking step, and the lifecycle
        parks a parcel no picking came before.

        A line's `stocked` target says whether its units come out of the
        ledger (`OrderLine.stocked`): a flag (`true`/`false`, `1`/`0`, as
        JSON or text: `{"path": "requires_shipping"}`), or a rule, a `map`
        of channel values to `true`/`false` read `as` `text` (`{"path":
        "product_type", "as": "text", "map": {"virtual": false}}`) or of
        `"true"`/`"false"` read as a flag (`{"path": "is_virtual", "map":
        {"true": false}}`); a value the rule does not name, or no value,
        leaves the line stocked. `{"const": false}` makes every line
        unstocked (a channel that sells services alone).

        Raises:
            ValidationError: The spec is wrong; `.field` is its path in the
                spec (`fields.status.map.PAID`). Several problems raise
                `MappingError` listing them all.
        """
        errors: list[ValidationError] = []
        compiler = Compiler(Settings("", "", None), errors)
        table = compiler.table(spec, "", TOP_KEYS)
        channel = table.get("channel")
        if not (isinstance(channel, str) and channel.strip() and channel.isprintable()):
            errors.append(ValidationError("channel", channel, "must be a name"))
        topics = read_topics(table.get("topics"), errors)
        root, many = read_root(table.get("root"), errors)
        compiler.settings = read_settings(table, errors)
        if table.get("zone") is not None:
            compiler.zone(table["zone"], "zone")
        settled = len(errors)
        if settled:
            # Constants are read with the currency, region and zone: report
            # those first rather than a knock-on error for every constant.
            _raise_all("spec", errors)
        fields = compiler.fields(table.get("fields"), "fields", ORDER_TARGETS)
        lines = compiler.table(table.get("lines"), "lines", LINES_KEYS)
        lines_path = compiler.path(lines.get("path"), "lines.path") if lines else ()
        line_fields = (
            compiler.fields(lines.get("fields"), "lines.fields", LINE_TARGETS)
            if lines
            else ()
        )
        events = compiler.events(table.get("events"))
        offers = compiler.offers(table.get("offers"), fields)
        _raise_all("spec", errors)
        return cls(
            str(channel),
            topics,
            root,
            many,
            compiler.settings,
            fields,
            lines_path,
            line_fields,
            events,
            offers,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> FieldMap:
        """Compile a spec written as JSON.

        Raises:
            StructureError: The text is not JSON (`.field` is `"spec"`).
            ValidationError: The spec is wrong, as in `from_dict`.
        """
        try:
            spec = load_json(text)
        except StructureError as error:
            raise StructureError("spec", error.value, error.problem, "JSON") from error
        return cls.from_dict(spec)

    @classmethod
    def from_toml(cls, text: str) -> FieldMap:
        """Compile a spec written as TOML.

        Raises:
            StructureError: The text is not TOML, or not text (`.field` is
                `"spec"`; decode bytes as UTF-8 first).
            ValidationError: The spec is wrong, as in `from_dict`.
        """
        if not isinstance(text, str):
            raise StructureError(
                "spec", text, "must be TOML text (str); decode bytes first", "TOML"
            )
        try:
            spec = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise StructureError("spec", text[:80], str(error), "TOML") from error
        return cls.from_dict(spec)

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ANN401 - decoded JSON
        """Read one payload into `ChannelOrder` records, in payload order.

        Keys are built from the payload alone: `order_placed` with the order
        id and its placing time, each event with its type, the order id and
        its `event_id` field (else its time), so a re-delivery has the same
        keys; the `PickingStarted` of a `shipped` event has the parcel's
        key with the type `shipped.picking`.

        Raises:
            ValidationError: `topic` is not one of `topics` (`.field` is
                `"topic"`), or a field is missing or malformed (`.field` is
                its payload path; `UnknownStatus` for a status the map does
                not list; a refund's `lines` list missing, or naming a line
                the order does not have), or a `payment_captured` amount is zero for an
                order whose mapped `total` is absent or not zero (`.field`
                is the amount's path: only a free order is paid nothing).
                Several problems raise `MappingError` listing them all;
                nothing is returned in part.
        """
        if topic not in self.topics:
            known = ", ".join(sorted(self.topics))
            raise ValidationError(
                "topic", topic, f"is not a topic of {self.channel} ({known})"
            )
        root_path = join_path("", self.read_root)
        found = _lookup(read_object(payload, path="payload"), self.read_root, "")
        if found is _MISSING or found is None:
            raise StructureError(root_path or "payload", None, "is missing", "object")
        if self._many:
            items = read_list(found, path=root_path)
            orders = [(item, f"{root_path}[{i}]") for i, item in enumerate(items)]
        else:
            orders = [(found, root_path)]
        errors: list[ValidationError] = []
        records: list[ChannelRecord] = []
        for item, base in orders:
            try:
                obj = read_object(item, path=base or "payload")
            except ValidationError as error:
                errors.append(error)
                continue
            record = _order_from(self, obj, base, errors)
            if record is not None:
                records.append(record)
        _raise_all(root_path or "payload", errors)
        return tuple(records)
