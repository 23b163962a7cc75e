"""The spec of a `FieldMap`: what it may name, checked and compiled once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

import attrs

from orderkit.adapters.channels._common import moved
from orderkit.errors import (
    ConfigurationError,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    read_id,
    read_instant,
    read_minor_money,
    read_money,
    read_phone,
    read_quantity,
    read_status,
    read_text,
    read_unix,
)
from orderkit.integrations._reading import zone_named
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    OrderStatus,
)
from orderkit.pricing import AmountOff


# ----------------------------------------------------------------------
# What a spec may name


_CONVERTERS: Final = (
    "text",
    "id",
    "money",
    "minor",
    "phone",
    "instant",
    "unix",
    "integer",
    "flag",
)

# The converters a kind of target accepts; the first is its default.
_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "id": ("id", "text"),
    "text": ("text", "id"),
    "phone": ("phone", "text"),
    # Amounts as decimal yuan, or as whole fen (`minor`).
    "money": ("money", "minor"),
    # Times as text, or as whole Unix seconds (`unix`), which need no zone.
    "instant": ("instant", "unix"),
    "integer": ("integer",),
    # A flag is read as one, or as text that a map turns into one.
    "flag": ("flag", "text"),
}


@attrs.frozen(slots=True)
class _Target:
    kind: str
    required: bool


ORDER_TARGETS: Final[Mapping[str, _Target]] = {
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

LINE_TARGETS: Final[Mapping[str, _Target]] = {
    "line_id": _Target("id", required=True),
    "sku": _Target("text", required=True),
    "quantity": _Target("integer", required=True),
    "unit_price": _Target("money", required=True),
    "title": _Target("text", required=False),
    # Absent, or a value its map does not name: the line is stocked.
    "stocked": _Target("flag", required=False),
}

_FLAG_TARGETS: Final = frozenset(
    target for target, spec in LINE_TARGETS.items() if spec.kind == "flag"
)

_EVENT_ID: Final = _Target("id", required=False)
_OCCURRED_AT: Final = _Target("instant", required=True)

EVENT_TARGETS: Final[Mapping[str, Mapping[str, _Target]]] = {
    "payment_captured": {
        "occurred_at": _OCCURRED_AT,
        "payment_id": _Target("id", required=True),
        "amount": _Target("money", required=True),
        "event_id": _EVENT_ID,
    },
    # Money the channel sent back: a `ChannelRefund` among the order's
    # `refunds`, keyed by its id, not an event of the lifecycle.
    "refund": {
        "occurred_at": _OCCURRED_AT,
        "refund_id": _Target("id", required=True),
        "amount": _Target("money", required=True),
        "payment_id": _Target("id", required=False),
        "reason": _Target("text", required=False),
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
    # One parcel of the whole order (Pinduoduo's `tracking_number`, Taobao's
    # `out_sid`); its shipment id is the tracking number unless mapped.
    "shipped": {
        "occurred_at": _OCCURRED_AT,
        "carrier": _Target("text", required=True),
        "tracking_number": _Target("id", required=True),
        "shipment_id": _Target("id", required=False),
        "event_id": _EVENT_ID,
    },
}

# What a refund's `lines` table reads from each entry of its list: the order
# line (its id read as `[lines.fields]` reads `line_id`) and the units of it
# the refund pays back.
REFUND_LINE_TARGETS: Final[Mapping[str, _Target]] = {
    "line_id": _Target("id", required=True),
    "quantity": _Target("integer", required=True),
}

# The event types whose table may have a `lines` table: the units it names.
_LINED_EVENTS: Final = frozenset({"refund"})

# The text targets whose channel value may be a JSON number read `as = "id"`:
# a text read of such a number says so (Pinduoduo's `order_status: 1`).
_ID_READABLE: Final = frozenset(
    target
    for targets in (
        ORDER_TARGETS,
        LINE_TARGETS,
        REFUND_LINE_TARGETS,
        *EVENT_TARGETS.values(),
    )
    for target, spec in targets.items()
    if "id" in _KINDS[spec.kind]
)

TOP_KEYS: Final = frozenset(
    {"channel", "topics", "root", "currency", "region", "zone", "fields", "lines"}
    | {"events", "offers"}
)
_FIELD_KEYS: Final = frozenset({"path", "const", "as", "map", "zone"})
_OFFER_KEYS: Final = frozenset({"path", "as", "code", "issuer"})
# An offer is an amount, read as a target of the money kind is.
_OFFER_CONVERTERS: Final = _KINDS["money"]
LINES_KEYS: Final = frozenset({"path", "fields"})
_EVENT_KEYS: Final = frozenset({"type", "when", "statuses", "fields", "lines"})
_PATH: Final = re.compile(r"[^.\[\]]+(\.[^.\[\]]+)*")
PLACED: Final = "order_placed"


# ----------------------------------------------------------------------
# The compiled spec


@attrs.frozen(slots=True)
class Field:
    """One target: where it comes from and how it is read."""

    target: str
    required: bool
    convert: str
    path: tuple[str, ...] = ()
    const: object = None
    # Channel value -> status or text, or (a flag target) -> bool.
    mapping: tuple[tuple[str, str | bool], ...] | None = None
    zone: str | None = None

    @property
    def is_const(self) -> bool:
        return not self.path


@attrs.frozen(slots=True)
class LinesSpec:
    """A `lines` table: the list at `path`, each entry read by `fields`."""

    path: tuple[str, ...]
    fields: tuple[Field, ...]


@attrs.frozen(slots=True)
class EventSpec:
    type: str
    when: tuple[str, ...]
    statuses: frozenset[OrderStatus]
    fields: tuple[Field, ...]
    # A refund's units (`ChannelRefund.lines`); `None` for money alone.
    lines: LinesSpec | None = None


@attrs.frozen(slots=True)
class OfferSpec:
    """One `[[offers]]` table: an amount off the order, with its code and issuer.

    `field` reads the amount (its target is the table's place, `offers[0]`).
    """

    field: Field
    code: str
    issuer: str | None


@attrs.frozen(slots=True)
class Settings:
    """What every converter needs from the spec."""

    currency: str
    region: str
    zone: str | None


def split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def join_path(base: str, parts: Iterable[str]) -> str:
    return ".".join([base, *parts]) if base else ".".join(parts)


# ----------------------------------------------------------------------
# Compiling a spec


@attrs.define
class Compiler:
    """Turns a plain spec into compiled parts, collecting every problem."""

    settings: Settings
    errors: list[ValidationError] = attrs.field(factory=list)

    def fail(self, where: str, value: object, problem: str) -> None:
        self.errors.append(ValidationError(where, value, problem))

    def keyed(self, value: Mapping[Any, Any], where: str) -> bool:
        """Whether every key of a table is text (a Python dict may hold any)."""
        odd = [key for key in value if not isinstance(key, str)]
        for key in odd:
            self.fail(where or "spec", key, "a key of a spec table must be text")
        return not odd

    def table(
        self, value: object, where: str, allowed: frozenset[str]
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(where or "spec", value, "must be a table (a JSON object)")
            return {}
        if not self.keyed(value, where):
            value = {key: item for key, item in value.items() if isinstance(key, str)}
        for key in sorted(set(value) - allowed):
            self.fail(
                f"{where}.{key}" if where else key,
                value[key],
                f"is not a key here; known: {', '.join(sorted(allowed))}",
            )
        return value

    def path(self, value: object, where: str) -> tuple[str, ...]:
        if isinstance(value, str) and _PATH.fullmatch(value):
            return split_path(value)
        self.fail(where, value, "must be a dotted path of keys (orders.order)")
        return ()

    def fields(
        self,
        value: object,
        where: str,
        targets: Mapping[str, _Target],
        elsewhere: Mapping[str, str] | None = None,
    ) -> tuple[Field, ...]:
        """The fields of a table of target: source.

        `elsewhere` names what the spec says in another place than a
        target (a refund's `lines`), and where: a draft that maps one as a
        target is told where it goes.
        """
        if not isinstance(value, Mapping):
            self.fail(where, value, "must be a table of target: source")
            return ()
        if not self.keyed(value, where):
            return ()
        compiled: list[Field] = []
        for target in sorted(value):
            spec = targets.get(target)
            if spec is None:
                known = ", ".join(sorted(targets))
                moved_to = (elsewhere or {}).get(target)
                self.fail(
                    f"{where}.{target}",
                    target,
                    f"is not a target; known: {known}"
                    + (f"; {moved_to}" if moved_to else ""),
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
    ) -> Field | None:
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
        field = Field(
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
    ) -> tuple[tuple[str, str | bool], ...] | None:
        if "map" not in table:
            # A status, or a flag read as text, is nothing until mapped.
            if target == "status" or (
                spec.kind == "flag" and table.get("as") == "text"
            ):
                self.fail(
                    f"{where}.map", None, f"{target} needs a map of channel values"
                )
            return None
        value = table["map"]
        if spec.kind not in {"text", "id", "flag"}:
            self.fail(
                f"{where}.map", value, f"{target} is not text: it cannot be mapped"
            )
            return None
        if not isinstance(value, Mapping) or not value:
            self.fail(f"{where}.map", value, "must be a table of channel value: value")
            return None
        if not self.keyed(value, f"{where}.map"):
            return None
        as_flag = spec.kind == "flag" and table.get("as") != "text"
        if as_flag and not self.flag_keys(value, f"{where}.map"):
            return None
        pairs: list[tuple[str, str | bool]] = []
        for key in sorted(value):
            mapped = self.mapped_to(value[key], f"{where}.map.{key}", target, spec)
            if mapped is not None:
                pairs.append((key, mapped))
        return tuple(pairs)

    def flag_keys(self, table: Mapping[str, Any], where: str) -> bool:
        """Whether a map of a value read as a flag has only keys it can match.

        The value is looked up as `"true"` or `"false"`: any other key would
        never match, and the line keep its default unseen.
        """
        odd = sorted(key for key in table if key not in {"true", "false"})
        for key in odd:
            self.fail(
                f"{where}.{key}",
                key,
                'a flag is looked up as "true" or "false": read the value as '
                'text (as = "text") to map other values',
            )
        return not odd

    def mapped_to(
        self, mapped: object, where: str, target: str, spec: _Target
    ) -> str | bool | None:
        """What a map maps a channel value to, checked; `None` if refused."""
        if spec.kind == "flag":
            if isinstance(mapped, bool):
                return mapped
            self.fail(where, mapped, "must be true or false")
            return None
        if target == "status":
            try:
                # Whatever the spec holds: anything but a status is refused.
                return OrderStatus(cast("str", mapped)).value
            except UnknownStatus:
                known = ", ".join(status.value for status in OrderStatus)
                self.fail(where, mapped, f"is not a status; known: {known}")
                return None
        if not isinstance(mapped, str) or not mapped.strip():
            self.fail(where, mapped, "must be non-empty text")
            return None
        return mapped

    def constant(self, field: Field, value: object, where: str) -> Field:
        try:
            converted = mapped_value(
                read_value(value, field, self.settings, where), field, where
            )
            if field.target == "address.country":
                Address(str(converted))
        except ValidationError as error:
            self.errors.append(moved(error, where))
            return field
        if field.target == "status" and isinstance(converted, str):
            converted = OrderStatus(converted)
        return attrs.evolve(field, const=converted)

    def zone(self, value: object, where: str) -> None:
        # The check reading uses (`zone_named`), which knows zones by their
        # exact name: pendulum would also take "utc", which reading refuses.
        try:
            if not isinstance(value, str):
                raise TypeError(value)  # noqa: TRY301 - one report for every bad zone
            zone_named(value)
        except (TypeError, ConfigurationError):
            self.fail(
                where, value, "is not an IANA time zone of a place (as 'Asia/Shanghai')"
            )

    def events(self, value: object) -> tuple[EventSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("events", value, "must be a list of event tables")
            return ()
        compiled: list[EventSpec] = []
        for i, item in enumerate(value):
            event = self.event(item, f"events[{i}]")
            if event is not None:
                compiled.append(event)
        return tuple(compiled)

    def event(self, value: object, where: str) -> EventSpec | None:
        before = len(self.errors)
        table = self.table(value, where, _EVENT_KEYS)
        kind = table.get("type")
        targets = EVENT_TARGETS.get(kind) if isinstance(kind, str) else None
        if targets is None:
            known = ", ".join(sorted(EVENT_TARGETS))
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
        elsewhere = (
            {
                "lines": "a refund's units are its own table beside fields:"
                ' lines = { path = "...", fields = { line_id = "...",'
                ' quantity = "..." } }'
            }
            if kind in _LINED_EVENTS
            else None
        )
        fields = self.fields(table.get("fields"), f"{where}.fields", targets, elsewhere)
        # A known event type, so text (a type of targets' table).
        lines = self.event_lines(table, where, str(kind))
        if len(self.errors) > before:
            return None
        return EventSpec(str(kind), when, frozenset(statuses), fields, lines)

    def event_lines(
        self, table: Mapping[str, Any], where: str, kind: str
    ) -> LinesSpec | None:
        """An event's `lines` table, as the order's `[lines]` is written.

        `path` is the payload path of a list, from the order object; each
        entry's `fields` map `line_id` and `quantity`. Only a refund names
        units; `None` when the table is absent.
        """
        if "lines" not in table:
            return None
        value = table["lines"]
        at = f"{where}.lines"
        if kind not in _LINED_EVENTS:
            self.fail(
                at,
                value,
                f"a {kind} event names no units: only a refund's table has lines",
            )
            return None
        before = len(self.errors)
        lines = self.table(value, at, LINES_KEYS)
        if not isinstance(value, Mapping):
            return None
        path = self.path(lines.get("path"), f"{at}.path")
        fields = self.fields(lines.get("fields"), f"{at}.fields", REFUND_LINE_TARGETS)
        if len(self.errors) > before:
            return None
        return LinesSpec(path, fields)

    def offers(self, value: object, fields: Iterable[Field]) -> tuple[OfferSpec, ...]:
        """The `[[offers]]` tables, each code once, the `discount` target's too.

        A quote claims each code once (pricing refuses a second claim as
        `duplicate_code`), so two offers of one code would hold every order
        that states both: refused here instead.
        """
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail("offers", value, "must be a list of offer tables ([[offers]])")
            return ()
        # The discount target's offer is coded as `_order_from` codes it.
        seen = {
            (field.path[-1] if field.path else field.target): "fields.discount"
            for field in fields
            if field.target == "discount"
        }
        compiled: list[OfferSpec] = []
        for i, item in enumerate(value):
            where = f"offers[{i}]"
            offer = self.offer(item, where)
            if offer is None:
                continue
            other = seen.setdefault(offer.code, where)
            if other != where:
                self.fail(
                    f"{where}.code",
                    offer.code,
                    f"repeats the offer code of {other}: a quote claims a code"
                    " once; give each offer its own code",
                )
                continue
            compiled.append(offer)
        return tuple(compiled)

    def offer(self, value: object, where: str) -> OfferSpec | None:
        before = len(self.errors)
        table = self.table(value, where, _OFFER_KEYS)
        if not isinstance(value, Mapping):
            return None
        convert = table.get("as", _OFFER_CONVERTERS[0])
        if convert not in _OFFER_CONVERTERS:
            problem = (
                f"is not a converter for an offer; use {' or '.join(_OFFER_CONVERTERS)}"
                if convert in _CONVERTERS
                else f"is not a converter; known: {', '.join(_CONVERTERS)}"
            )
            self.fail(f"{where}.as", convert, problem)
        if "path" not in table:
            self.fail(
                f"{where}.path", None, "is required: the payload path of the amount"
            )
            return None
        path = self.path(table["path"], f"{where}.path")
        if not path:
            return None
        code = table.get("code", path[-1])
        issuer = table.get("issuer")
        try:
            # The checks an AmountOff makes of its code and issuer, made once
            # here rather than on every order the spec reads.
            AmountOff(code, Money.zero(self.settings.currency), issuer=issuer)
        except ValidationError as error:
            # A code taken from the path is the path's to fix.
            named = (
                "path" if error.field == "code" and "code" not in table else error.field
            )
            self.errors.append(moved(error, f"{where}.{named}"))
        if len(self.errors) > before:
            return None
        field = Field(target=where, required=False, convert=convert, path=path)
        return OfferSpec(field, code, issuer)


def read_settings(spec: Mapping[str, Any], errors: list[ValidationError]) -> Settings:
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
            errors.append(moved(error, "currency"))
    region = text("region", "must be the channel's home region (CN)")
    if region and not (len(region) == 2 and region.isascii() and region.isupper()):
        errors.append(ValidationError("region", region, "must be an ISO 3166-1 code"))
    zone = spec.get("zone")
    return Settings(currency=currency, region=region, zone=zone)


def read_topics(value: object, errors: list[ValidationError]) -> frozenset[str]:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(t, str) and t.strip() and t.isprintable() for t in value)
    ):
        return frozenset(value)
    errors.append(ValidationError("topics", value, "must be a non-empty list of names"))
    return frozenset()


def read_root(
    value: object, errors: list[ValidationError]
) -> tuple[tuple[str, ...], bool]:
    if value is None or value == "":
        return (), False
    if isinstance(value, str):
        text, many = (value[:-2], True) if value.endswith("[]") else (value, False)
        if _PATH.fullmatch(text):
            return split_path(text), many
    errors.append(
        ValidationError(
            "root", value, "must be a dotted path, [] at the end for a list"
        )
    )
    return (), False


# ----------------------------------------------------------------------
# Reading one value


# What the flag converter reads: JSON's booleans, and the 1/0 and
# true/false that exports write for them.
_FLAGS: Final[Mapping[str, bool]] = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
}


def read_flag(value: object, *, path: str) -> bool:
    """A flag: `true`/`false`, `1`/`0`, or the same as text."""
    if isinstance(value, bool):
        return value
    if type(value) is int and value in {0, 1}:
        return value == 1
    if isinstance(value, str) and value in _FLAGS:
        return _FLAGS[value]
    raise ValidationError(path, value, "must be true or false (or 1 or 0)")


# The converters that need nothing but the value and its path.
_BY_PATH: Final[Mapping[str, Callable[..., object]]] = {
    "id": read_id,
    "unix": read_unix,
    "integer": read_quantity,
    "flag": read_flag,
}


def read_value(value: object, field: Field, settings: Settings, path: str) -> object:
    convert = field.convert
    plain = _BY_PATH.get(convert)
    if plain is not None:
        return plain(value, path=path)
    if convert == "money":
        return read_money(value, settings.currency, path=path)
    if convert == "minor":
        return read_minor_money(value, settings.currency, path=path)
    if convert == "phone":
        return read_phone(value, path=path, region=settings.region)
    if convert == "instant":
        return read_instant(value, path=path, zone=field.zone or settings.zone)
    if type(value) is int and value >= 0 and field.target in _ID_READABLE:
        # An integer code (a status, a reason) is the norm in many
        # channels' APIs: say how to read one rather than only refuse it.
        raise ValidationError(
            path, value, 'is a number, not text: read it with as = "id"'
        )
    return read_text(value, path=path, required=field.required)


def mapped_value(value: object, field: Field, path: str) -> object:
    """The value as the field's map maps it (unmapped without one).

    A flag target's map is a rule: a channel value it names gives its
    flag, any other gives `None`, the target's default (a line is stocked).
    A flag read as one is looked up as `"true"` or `"false"`.
    """
    if field.mapping is None:
        return value
    table = dict(field.mapping)
    if field.target in _FLAG_TARGETS:
        key = ("true" if value else "false") if isinstance(value, bool) else value
        return table.get(key) if isinstance(key, str) else None
    if field.target == "status":
        return OrderStatus(read_status(value, table, path=path))
    if not isinstance(value, str) or value not in table:
        known = ", ".join(sorted(table))
        raise ValidationError(path, value, f"is not one of the mapped values ({known})")
    return table[value]
