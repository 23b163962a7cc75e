"""Declarative field maps: any JSON channel's orders, mapped without a parser.

A `FieldMap` is built from a plain dict (or JSON, or TOML) that says where
each canonical field sits in the channel's payload, how to read it (`text`,
`id`, `money`, `phone`, `instant`, `integer`), which constants to fill in,
how the channel's statuses map onto the lifecycle, where the lines are and
which later events (a payment, a cancellation) the payload states. It is an
`orderkit.ports.ChannelPayloads`: `parse(payload, topic=)` returns
`orderkit.integrations.ChannelOrder` records, and reports every missing or
malformed field at once, each with its payload path.

`docs/concepts/channels.md` shows the spec format with a Taobao example.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar, final

import attrs
import pendulum

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    MappingError,
    StructureError,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    load_json,
    read_id,
    read_instant,
    read_list,
    read_money,
    read_object,
    read_phone,
    read_quantity,
    read_status,
    read_text,
)
from orderkit.money import Currency, Money
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
)
from orderkit.pricing import AmountOff, Quote


__all__ = ["FieldMap"]


def _raise_all(field: str, errors: Sequence[ValidationError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MappingError(field, errors)


# ----------------------------------------------------------------------
# What a spec may name


_CONVERTERS: Final = ("text", "id", "money", "phone", "instant", "integer")

# The converters a kind of target accepts; the first is its default.
_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "id": ("id", "text"),
    "text": ("text", "id"),
    "phone": ("phone", "text"),
    "money": ("money",),
    "instant": ("instant",),
    "integer": ("integer",),
}


@attrs.frozen(slots=True)
class _Target:
    kind: str
    required: bool


_ORDER_TARGETS: Final[Mapping[str, _Target]] = {
    "order_id": _Target("id", required=True),
    "placed_at": _Target("instant", required=True),
    "status": _Target("text", required=True),
    "buyer.buyer_id": _Target("id", required=True),
    "buyer.name": _Target("text", required=False),
    "buyer.phone": _Target("phone", required=False),
    "buyer.email": _Target("text", required=False),
    "address.country": _Target("text", required=True),
    "address.province": _Target("text", required=False),
    "address.city": _Target("text", required=False),
    "address.district": _Target("text", required=False),
    "address.street": _Target("text", required=False),
    "address.postcode": _Target("text", required=False),
    "address.recipient": _Target("text", required=False),
    "address.phone": _Target("phone", required=False),
    "shipping": _Target("money", required=False),
    "tax": _Target("money", required=False),
    "discount": _Target("money", required=False),
    "total": _Target("money", required=False),
    "pay_by": _Target("instant", required=False),
    "updated_at": _Target("instant", required=False),
}

_LINE_TARGETS: Final[Mapping[str, _Target]] = {
    "line_id": _Target("id", required=True),
    "sku": _Target("text", required=True),
    "quantity": _Target("integer", required=True),
    "unit_price": _Target("money", required=True),
    "title": _Target("text", required=False),
}

_EVENT_ID: Final = _Target("id", required=False)
_OCCURRED_AT: Final = _Target("instant", required=True)

_EVENT_TARGETS: Final[Mapping[str, Mapping[str, _Target]]] = {
    "payment_captured": {
        "occurred_at": _OCCURRED_AT,
        "payment_id": _Target("id", required=True),
        "amount": _Target("money", required=True),
        "event_id": _EVENT_ID,
    },
    "cancelled": {
        "occurred_at": _OCCURRED_AT,
        "reason": _Target("text", required=True),
        "event_id": _EVENT_ID,
    },
    "closed": {
        "occurred_at": _OCCURRED_AT,
        "reason": _Target("text", required=False),
        "event_id": _EVENT_ID,
    },
}

_TOP_KEYS: Final = frozenset(
    {"channel", "topics", "root", "currency", "region", "zone", "fields", "lines"}
    | {"events"}
)
_FIELD_KEYS: Final = frozenset({"path", "const", "as", "map", "zone"})
_LINES_KEYS: Final = frozenset({"path", "fields"})
_EVENT_KEYS: Final = frozenset({"type", "when", "statuses", "fields"})
_PATH: Final = re.compile(r"[^.\[\]]+(\.[^.\[\]]+)*")
_PLACED: Final = "order_placed"


# ----------------------------------------------------------------------
# The compiled spec


@attrs.frozen(slots=True)
class _Field:
    """One target: where it comes from and how it is read."""

    target: str
    required: bool
    convert: str
    path: tuple[str, ...] = ()
    const: object = None
    mapping: tuple[tuple[str, str], ...] | None = None
    zone: str | None = None

    @property
    def is_const(self) -> bool:
        return not self.path


@attrs.frozen(slots=True)
class _Event:
    type: str
    when: tuple[str, ...]
    statuses: frozenset[OrderStatus]
    fields: tuple[_Field, ...]


@attrs.frozen(slots=True)
class _Settings:
    """What every converter needs from the spec."""

    currency: str
    region: str
    zone: str | None


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _join(base: str, parts: Iterable[str]) -> str:
    return ".".join([base, *parts]) if base else ".".join(parts)


# ----------------------------------------------------------------------
# Reading one value


def _read(value: object, field: _Field, settings: _Settings, path: str) -> object:
    convert = field.convert
    if convert == "id":
        return read_id(value, path=path)
    if convert == "money":
        return read_money(value, settings.currency, path=path)
    if convert == "phone":
        return read_phone(value, path=path, region=settings.region)
    if convert == "instant":
        return read_instant(value, path=path, zone=field.zone or settings.zone)
    if convert == "integer":
        return read_quantity(value, path=path)
    return read_text(value, path=path, required=field.required)


def _mapped(value: object, field: _Field, path: str) -> object:
    if field.mapping is None:
        return value
    table = dict(field.mapping)
    if field.target == "status":
        return OrderStatus(read_status(value, table, path=path))
    if not isinstance(value, str) or value not in table:
        known = ", ".join(sorted(table))
        raise ValidationError(path, value, f"is not one of the mapped values ({known})")
    return table[value]


_MISSING: Final = object()
_T = TypeVar("_T")


def _lookup(obj: Mapping[str, Any], parts: Sequence[str], base: str) -> object:
    """The value at `parts` inside `obj`, or `_MISSING` when a key is absent."""
    current: object = obj
    for i, part in enumerate(parts):
        current = read_object(current, path=_join(base, parts[:i]) or "payload")
        if part not in current:
            return _MISSING
        current = current[part]
    return current


@attrs.define
class _Reader:
    """Reads the fields of one JSON object, collecting every problem."""

    obj: Mapping[str, Any]
    base: str
    settings: _Settings
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

    def read(self, field: _Field) -> Any:  # noqa: ANN401 - whichever the converter gives
        """The converted value; `None` when optional and absent; `_MISSING` on error."""
        if field.is_const:
            self.sources[field.target] = field.target
            return field.const
        path = _join(self.base, field.path)
        self.sources[field.target] = path
        try:
            value = _lookup(self.obj, field.path, self.base)
        except ValidationError as error:
            self.errors.append(error)
            return _MISSING
        if value is _MISSING or value is None:
            if field.required:
                self.errors.append(ValidationError(path, None, "is missing"))
                return _MISSING
            return None
        try:
            converted = _read(value, field, self.settings, path)
            self.unmapped[field.target] = converted
            return _mapped(converted, field, path)
        except ValidationError as error:
            self.errors.append(error)
            return _MISSING

    def read_all(self, fields: Iterable[_Field]) -> dict[str, Any] | None:
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
            self.errors.append(_moved(error, where or "payload"))
            return None


def _moved(error: ValidationError, path: str) -> ValidationError:
    if error.field == path:
        return error
    moved = ValidationError(path, error.value, error.problem)
    moved.__cause__ = error
    return moved


def _text_or_empty(value: object) -> str:
    return "" if value is None else str(value)


def _order_from(
    fieldmap: FieldMap, obj: Mapping[str, Any], base: str, errors: list[ValidationError]
) -> ChannelOrder | None:
    settings = fieldmap._settings  # noqa: SLF001 - the map's own compiled parts
    reader = _Reader(obj, base, settings, errors)
    start = len(errors)
    values = {field.target: reader.read(field) for field in fieldmap._fields}
    lines = _lines_from(fieldmap, reader)
    status = values.get("status")
    events = _events_from(
        fieldmap,
        reader,
        values.get("order_id"),
        status if isinstance(status, OrderStatus) else None,
    )
    if len(errors) > start or lines is None or events is None:
        return None
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
                fieldmap.channel, _PLACED, order_id, placed_at.isoformat()
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
        )
    )


def _lines_from(fieldmap: FieldMap, reader: _Reader) -> tuple[OrderLine, ...] | None:
    path = _join(reader.base, fieldmap._lines_path)  # noqa: SLF001
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
    return OrderLine(
        got["line_id"],
        got["sku"],
        got["quantity"],
        got["unit_price"],
        title=_text_or_empty(got.get("title")),
    )


def _events_from(
    fieldmap: FieldMap, reader: _Reader, order_id: object, status: OrderStatus | None
) -> tuple[OrderEvent, ...] | None:
    stated: list[OrderEvent] = []
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
        if got is None or not isinstance(order_id, str):
            failed = True
            continue
        event = event_reader.build(
            functools.partial(_event, fieldmap.channel, spec, order_id, got)
        )
        if event is None:
            failed = True
            continue
        stated.append(event)
    if failed:
        return None
    # Oldest first, as ChannelOrder promises; ties keep the spec's order.
    return tuple(sorted(stated, key=lambda event: event.occurred_at))


def _event(
    channel: str, spec: _Event, order_id: str, got: Mapping[str, Any]
) -> OrderEvent:
    occurred_at: pendulum.DateTime = got["occurred_at"]
    event_id = got.get("event_id") or occurred_at.isoformat()
    key = IdempotencyKey(channel, spec.type, order_id, event_id)
    if spec.type == "payment_captured":
        return PaymentCaptured(
            order_id=order_id,
            key=key,
            occurred_at=occurred_at,
            payment_id=got["payment_id"],
            amount=got["amount"],
        )
    if spec.type == "cancelled":
        return Cancelled(
            order_id=order_id, key=key, occurred_at=occurred_at, reason=got["reason"]
        )
    if got.get("reason"):
        return Closed(
            order_id=order_id, key=key, occurred_at=occurred_at, reason=got["reason"]
        )
    return Closed(order_id=order_id, key=key, occurred_at=occurred_at)


# ----------------------------------------------------------------------
# Compiling a spec


@attrs.define
class _Compiler:
    """Turns a plain spec into compiled parts, collecting every problem."""

    settings: _Settings
    errors: list[ValidationError] = attrs.field(factory=list)

    def fail(self, where: str, value: object, problem: str) -> None:
        self.errors.append(ValidationError(where, value, problem))

    def table(
        self, value: object, where: str, allowed: frozenset[str]
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(where or "spec", value, "must be a table (a JSON object)")
            return {}
        for key in sorted(set(value) - allowed):
            self.fail(
                f"{where}.{key}" if where else key,
                value[key],
                f"is not a key here; known: {', '.join(sorted(allowed))}",
            )
        return value

    def path(self, value: object, where: str) -> tuple[str, ...]:
        if isinstance(value, str) and _PATH.fullmatch(value):
            return _split(value)
        self.fail(where, value, "must be a dotted path of keys (orders.order)")
        return ()

    def fields(
        self, value: object, where: str, targets: Mapping[str, _Target]
    ) -> tuple[_Field, ...]:
        if not isinstance(value, Mapping):
            self.fail(where, value, "must be a table of target: source")
            return ()
        compiled: list[_Field] = []
        for target in sorted(value):
            spec = targets.get(target)
            if spec is None:
                known = ", ".join(sorted(targets))
                self.fail(
                    f"{where}.{target}", target, f"is not a target; known: {known}"
                )
                continue
            field = self.field(value[target], f"{where}.{target}", target, spec)
            if field is not None:
                compiled.append(field)
        for target in sorted(set(targets) - set(value)):
            if targets[target].required:
                self.fail(f"{where}.{target}", None, "is a required target: map it")
        return tuple(compiled)

    def field(
        self, value: object, where: str, target: str, spec: _Target
    ) -> _Field | None:
        if isinstance(value, str):
            value = {"path": value}
        before = len(self.errors)
        table = self.table(value, where, _FIELD_KEYS)
        if not table:
            if not self.errors[before:]:
                self.fail(where, value, "needs a path or a const")
            return None
        if ("path" in table) == ("const" in table):
            self.fail(where, dict(table), "needs exactly one of path and const")
            return None
        allowed = _KINDS[spec.kind]
        convert = table.get("as", allowed[0])
        if convert not in allowed:
            problem = (
                f"is not a converter for {target}; use {' or '.join(allowed)}"
                if convert in _CONVERTERS
                else f"is not a converter; known: {', '.join(_CONVERTERS)}"
            )
            self.fail(f"{where}.as", convert, problem)
        zone = table.get("zone")
        if zone is not None:
            if convert != "instant":
                self.fail(
                    f"{where}.zone", zone, "applies to the instant converter only"
                )
            self.zone(zone, f"{where}.zone")
        mapping = self.mapping(table, where, target, spec)
        if len(self.errors) > before:
            return None
        field = _Field(
            target=target,
            required=spec.required,
            convert=convert,
            path=self.path(table["path"], f"{where}.path") if "path" in table else (),
            mapping=mapping,
            zone=zone,
        )
        if "const" in table:
            field = self.constant(field, table["const"], f"{where}.const")
        return field if len(self.errors) == before else None

    def mapping(
        self, table: Mapping[str, Any], where: str, target: str, spec: _Target
    ) -> tuple[tuple[str, str], ...] | None:
        if "map" not in table:
            if target == "status":
                self.fail(f"{where}.map", None, "status needs a map of channel values")
            return None
        value = table["map"]
        if spec.kind not in {"text", "id"}:
            self.fail(
                f"{where}.map", value, f"{target} is not text: it cannot be mapped"
            )
            return None
        if not isinstance(value, Mapping) or not value:
            self.fail(f"{where}.map", value, "must be a table of channel value: value")
            return None
        pairs: list[tuple[str, str]] = []
        for key in sorted(value):
            mapped = value[key]
            if target == "status":
                try:
                    mapped = OrderStatus(mapped).value
                except UnknownStatus:
                    known = ", ".join(status.value for status in OrderStatus)
                    self.fail(
                        f"{where}.map.{key}", mapped, f"is not a status; known: {known}"
                    )
                    continue
            elif not isinstance(mapped, str) or not mapped.strip():
                self.fail(f"{where}.map.{key}", mapped, "must be non-empty text")
                continue
            pairs.append((key, mapped))
        return tuple(pairs)

    def constant(self, field: _Field, value: object, where: str) -> _Field:
        try:
            converted = _mapped(
                _read(value, field, self.settings, where), field, where
            )
            if field.target == "address.country":
                Address(str(converted))
        except ValidationError as error:
            self.errors.append(_moved(error, where))
            return field
        if field.target == "status" and isinstance(converted, str):
            converted = OrderStatus(converted)
        return attrs.evolve(field, const=converted)

    def zone(self, value: object, where: str) -> None:
        try:
            pendulum.timezone(str(value))
            if not isinstance(value, str):
                raise TypeError(value)  # noqa: TRY301 - one report for every bad zone
        except (TypeError, ValueError):
            self.fail(where, value, "is not an IANA time zone (Asia/Shanghai)")

    def events(self, value: object) -> tuple[_Event, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("events", value, "must be a list of event tables")
            return ()
        compiled: list[_Event] = []
        for i, item in enumerate(value):
            event = self.event(item, f"events[{i}]")
            if event is not None:
                compiled.append(event)
        return tuple(compiled)

    def event(self, value: object, where: str) -> _Event | None:
        before = len(self.errors)
        table = self.table(value, where, _EVENT_KEYS)
        kind = table.get("type")
        targets = _EVENT_TARGETS.get(kind) if isinstance(kind, str) else None
        if targets is None:
            known = ", ".join(sorted(_EVENT_TARGETS))
            self.fail(f"{where}.type", kind, f"is not an event type; known: {known}")
            return None
        when = self.path(table.get("when"), f"{where}.when")
        statuses: set[OrderStatus] = set()
        raw = table.get("statuses", [])
        if not isinstance(raw, list):
            self.fail(f"{where}.statuses", raw, "must be a list of statuses")
            raw = []
        for j, status in enumerate(raw):
            try:
                statuses.add(OrderStatus(status))
            except UnknownStatus:
                self.fail(f"{where}.statuses[{j}]", status, "is not a canonical status")
        fields = self.fields(table.get("fields"), f"{where}.fields", targets)
        if len(self.errors) > before:
            return None
        return _Event(kind, when, frozenset(statuses), fields)  # type: ignore[arg-type]


def _settings(spec: Mapping[str, Any], errors: list[ValidationError]) -> _Settings:
    def text(key: str, problem: str) -> str:
        value = spec.get(key)
        if isinstance(value, str) and value.strip() and value.isprintable():
            return value
        errors.append(ValidationError(key, value, problem))
        return ""

    currency = text("currency", "must be an ISO 4217 code (CNY)")
    if currency:
        try:
            Currency(currency)
        except ValidationError as error:
            errors.append(_moved(error, "currency"))
    region = text("region", "must be the channel's home region (CN)")
    if region and not (len(region) == 2 and region.isascii() and region.isupper()):
        errors.append(ValidationError("region", region, "must be an ISO 3166-1 code"))
    zone = spec.get("zone")
    return _Settings(currency=currency, region=region, zone=zone)


def _topics(value: object, errors: list[ValidationError]) -> frozenset[str]:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(t, str) and t.strip() and t.isprintable() for t in value)
    ):
        return frozenset(value)
    errors.append(ValidationError("topics", value, "must be a non-empty list of names"))
    return frozenset()


def _root(value: object, errors: list[ValidationError]) -> tuple[tuple[str, ...], bool]:
    if value is None or value == "":
        return (), False
    if isinstance(value, str):
        text, many = (value[:-2], True) if value.endswith("[]") else (value, False)
        if _PATH.fullmatch(text):
            return _split(text), many
    errors.append(
        ValidationError(
            "root", value, "must be a dotted path, [] at the end for a list"
        )
    )
    return (), False


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
    _root: tuple[str, ...]
    _many: bool
    _settings: _Settings
    _fields: tuple[_Field, ...]
    _lines_path: tuple[str, ...]
    _line_fields: tuple[_Field, ...]
    _events: tuple[_Event, ...]

    @property
    def currency(self) -> str:
        """The ISO 4217 code of every amount."""
        return self._settings.currency

    @property
    def region(self) -> str:
        """The channel's home region, for phones without a country code."""
        return self._settings.region

    @property
    def zone(self) -> str | None:
        """The IANA zone of the channel's naive times."""
        return self._settings.zone

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> FieldMap:
        """Compile a spec given as a plain dict.

        Keys: `channel`, `topics` (a list), `currency`, `region`, `zone`
        (optional), `root` (optional: the dotted path of the order object,
        ending in `[]` for a list of orders), `fields` (target: source),
        `lines` (`path` and `fields`), `events` (optional list of `type`,
        `when`, `statuses`, `fields`). A source is a payload path, or a
        table with `path` or `const`, and optionally `as` (the converter),
        `map` (channel value: value) and `zone`.

        Raises:
            ValidationError: The spec is wrong; `.field` is its path in the
                spec (`fields.status.map.PAID`). Several problems raise
                `MappingError` listing them all.
        """
        errors: list[ValidationError] = []
        compiler = _Compiler(_Settings("", "", None), errors)
        table = compiler.table(spec, "", _TOP_KEYS)
        channel = table.get("channel")
        if not (isinstance(channel, str) and channel.strip() and channel.isprintable()):
            errors.append(ValidationError("channel", channel, "must be a name"))
        topics = _topics(table.get("topics"), errors)
        root, many = _root(table.get("root"), errors)
        compiler.settings = _settings(table, errors)
        if table.get("zone") is not None:
            compiler.zone(table["zone"], "zone")
        settled = len(errors)
        if settled:
            # Constants are read with the currency, region and zone: report
            # those first rather than a knock-on error for every constant.
            _raise_all("spec", errors)
        fields = compiler.fields(table.get("fields"), "fields", _ORDER_TARGETS)
        lines = compiler.table(table.get("lines"), "lines", _LINES_KEYS)
        lines_path = compiler.path(lines.get("path"), "lines.path") if lines else ()
        line_fields = (
            compiler.fields(lines.get("fields"), "lines.fields", _LINE_TARGETS)
            if lines
            else ()
        )
        events = compiler.events(table.get("events"))
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
            StructureError: The text is not TOML (`.field` is `"spec"`).
            ValidationError: The spec is wrong, as in `from_dict`.
        """
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
        keys.

        Raises:
            ValidationError: `topic` is not one of `topics` (`.field` is
                `"topic"`), or a field is missing or malformed (`.field` is
                its payload path; `UnknownStatus` for a status the map does
                not list). Several problems raise `MappingError` listing
                them all; nothing is returned in part.
        """
        if topic not in self.topics:
            known = ", ".join(sorted(self.topics))
            raise ValidationError(
                "topic", topic, f"is not a topic of {self.channel} ({known})"
            )
        root_path = _join("", self._root)
        found = _lookup(read_object(payload, path="payload"), self._root, "")
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
