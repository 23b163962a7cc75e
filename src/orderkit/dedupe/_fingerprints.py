"""Order fingerprints: versioned, keyed hashes of an order's canonical parts."""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import json.encoder
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final, final

import attrs

from orderkit._fast import builder
from orderkit._validate import Validator
from orderkit.dedupe._addresses import normalize_address
from orderkit.dedupe._phones import (
    _REGIONS,
    _without_mobile_extension,
    read_in,
)
from orderkit.dedupe._text import _CACHED_LENGTH as _SKU_CACHED
from orderkit.dedupe._text import _fold_sku, normalize_sku
from orderkit.errors import ConfigurationError, InvalidAddress, ValidationError


if TYPE_CHECKING:
    # Only for annotations: orderkit.orders imports orderkit.dedupe.
    from orderkit.orders import Order, OrderLine


FINGERPRINT_VERSION: Final = 3
"""The version of the fingerprint algorithm, part of every fingerprint.

A change to normalisation or to the canonical encoding that would change a
digest raises it, so that old and new fingerprints never silently mismatch.

.. versionadded:: 0.1.0
"""

_DIGEST_SIZE = 16
_MIN_SECRET = 16
_MAX_SECRET = 64  # blake2b's limit on a key
_TEST_SECRET: Final = b"orderkit tests: NOT a secret"
_FINGERPRINT = re.compile(
    r"v(?P<version>[0-9]+):(?P<kind>[a-z+]+):(?P<digest>[0-9a-f]+)"
)
_DIGEST = re.compile(r"[0-9a-f]{16,128}")


@final
class FingerprintKind(enum.StrEnum):
    """Which canonical parts of an order a fingerprint hashes.

    Each kind pairs one part that identifies a buyer with the order's SKU
    multiset, so a match says what matched: the phone, the address, or the
    buyer account. `FingerprintKind("bogus")` raises `ValidationError`.

    .. versionadded:: 0.1.0
    """

    PHONE_SKUS = "phone+skus"
    ADDRESS_SKUS = "address+skus"
    BUYER_SKUS = "buyer+skus"

    # Enum hashes in Python; str hashes in C, and equal values hash equal.
    __hash__ = str.__hash__

    @classmethod
    def _missing_(cls, value: object) -> FingerprintKind:
        raise ValidationError("kind", value, "not a fingerprint kind")


_KIND_TEXT: Final = {kind: kind.value for kind in FingerprintKind}


def _kind(value: str) -> FingerprintKind:
    return FingerprintKind(value)


def _version(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError("version", value, "must be a positive integer")


def _digest(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise ValidationError(
            "digest", value, "must be 16 to 128 lower-case hex digits"
        )


_check_version: Validator = _version
_check_digest: Validator = _digest


@final
@attrs.frozen(slots=True, cache_hash=True)
class Fingerprint:
    """One keyed hash of canonical parts of an order.

    Two orders share a fingerprint when the parts its kind names are the same
    after normalisation. `str()` gives the stable stored form,
    `"v1:phone+skus:<hex>"`; `Fingerprint.parse` reads it back.

    Attributes:
        kind: Which parts were hashed.
        version: The algorithm version (`FINGERPRINT_VERSION` when made).
        digest: The keyed BLAKE2b digest, in lower-case hex.

    Raises:
        ValidationError: The kind is unknown, the version is not a positive
            integer, or the digest is not lower-case hex.

    .. versionadded:: 0.1.0
    """

    kind: FingerprintKind = attrs.field(converter=_kind)
    version: int = attrs.field(validator=_check_version)
    digest: str = attrs.field(validator=_check_digest)

    def __str__(self) -> str:
        """The stored form: `v<version>:<kind>:<digest>`."""
        # The kind's plain text: formatting the StrEnum itself, or reading its
        # `.value`, costs several times the dict lookup.
        return f"v{self.version}:{_KIND_TEXT[self.kind]}:{self.digest}"

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """Read a fingerprint back from its stored form.

        Raises:
            ValidationError: `text` is not a string of the form
                `v<version>:<kind>:<hex>`.
        """
        given: object = text  # what a caller may pass, whatever the annotation
        match = _FINGERPRINT.fullmatch(given) if isinstance(given, str) else None
        if match is None:
            raise ValidationError(
                "fingerprint", text, "must be of the form v<version>:<kind>:<hex>"
            )
        return cls(match["kind"], int(match["version"]), match["digest"])


def sku_multiset(lines: Iterable[OrderLine]) -> tuple[tuple[str, int], ...]:
    """What was ordered, as a multiset: normalised SKUs and their total quantity.

    The order of the lines and the way a quantity is split over lines do not
    matter: two lines of 1 `RETRO-CLOCK` and one line of 2 `retro-clock` give
    the same multiset.

    Args:
        lines: Order lines (anything with `sku` and `quantity`).

    Returns:
        `(sku, quantity)` pairs, sorted by SKU, each SKU once.

    Raises:
        ValidationError: `lines` is not a collection of lines (a string, a
            single line), a line has no `sku` or `quantity`, a SKU is blank
            or not text, or a quantity is not a positive integer; the field
            names the line (`lines[2].sku`).

    .. versionadded:: 0.1.0
    """
    given: object = lines  # what a caller may pass, whatever the annotation
    # A string iterates as its characters, and a line is not a collection.
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise ValidationError(
            "lines",
            lines,
            f"must be a collection of order lines, not {type(lines).__name__}",
        )
    totals: dict[str, int] = {}
    for i, line in enumerate(lines):
        try:
            raw = line.sku
            quantity: object = line.quantity
        except AttributeError:
            raise ValidationError(
                f"lines[{i}]",
                line,
                "must be an order line (with a sku and a quantity), "
                f"not {type(line).__name__}",
            ) from None
        sku = normalize_sku(raw, field=f"lines[{i}].sku")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValidationError(
                f"lines[{i}].quantity", quantity, "must be a positive integer"
            )
        totals[sku] = totals.get(sku, 0) + quantity
    return tuple(sorted(totals.items()))


class _TestSecret(bytes):
    """The public test key, as only `Fingerprinter.for_tests` passes it."""


@final
class Fingerprinter:
    """Computes an order's fingerprints, keyed with the host's secret.

    Fingerprints are BLAKE2b digests keyed with `secret`, so a stored
    fingerprint cannot be turned back into a phone number by hashing every
    possible number: without the secret, no digest can be recomputed. Keep
    the secret like a password, and the same for as long as fingerprints
    must match (rotating it starts afresh).

    Args:
        secret: 16 to 64 random bytes (`secrets.token_bytes(32)`).
        region: The region for phone numbers without a country code.
        channel_regions: The region per channel, where it differs from
            `region` (`{"shopify": "US"}`). Channel names are compared
            stripped and case-folded, as `relay_channels` and the
            `buyer+skus` fingerprint compare them (`"Shopify"` is
            `"shopify"`).
        relay_channels: The channels whose phone numbers may be privacy
            relay numbers, shared by many buyers and told apart only by their
            extension (`{"douyin", "taobao"}`). `None`, the default, counts
            every channel as one: extensions are kept. On a channel not
            named, a mobile number's extension is dropped from its
            fingerprint (`normalize_phone(..., mobile_extensions=False)`),
            so that `13800138000-1` is the buyer's own number; a landline's
            (and a US or Canadian number's, which may be one) stays.
            Channel names are compared stripped and case-folded
            (`"Douyin"` is `"douyin"`).

    Raises:
        ConfigurationError: The secret is missing, not bytes, shorter than 16
            or longer than 64 bytes, or is the public test key; a region is
            not one phonenumbers knows; `channel_regions` is not a mapping of
            channel names to regions, or names one channel twice (`"Shopify"`
            and `"shopify"`) with two regions; or `relay_channels` is not a
            collection of channel names.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_address",
        "_buyer",
        "_channel_regions",
        "_hasher",
        "_phone",
        "_region",
        "_relay_channels",
        "_test",
    )

    def __init__(
        self,
        secret: bytes,
        *,
        region: str = "CN",
        channel_regions: Mapping[str, str] | None = None,
        relay_channels: Iterable[str] | None = None,
    ) -> None:
        self._test = type(secret) is _TestSecret
        if not isinstance(secret, bytes):
            raise ConfigurationError(
                "secret", f"must be bytes, not {type(secret).__name__}"
            )
        if len(secret) < _MIN_SECRET:
            raise ConfigurationError(
                "secret",
                f"must be at least {_MIN_SECRET} bytes, got {len(secret)}; "
                "generate one with secrets.token_bytes(32)",
            )
        if len(secret) > _MAX_SECRET:
            raise ConfigurationError(
                "secret", f"must be at most {_MAX_SECRET} bytes, got {len(secret)}"
            )
        if secret == _TEST_SECRET and not self._test:
            raise ConfigurationError(
                "secret",
                "is the public test key; use Fingerprinter.for_tests() in tests "
                "and a secret of your own everywhere else",
            )
        _check_region(region, "region")
        self._region = region
        self._channel_regions = _ChannelRegions(_regions_by_name(channel_regions))
        self._relay_channels = _relay_channels(relay_channels)
        self._hasher = hashlib.blake2b(key=bytes(secret), digest_size=_DIGEST_SIZE)
        # Each kind's document starts the same way (`canonical`): hashed once
        # here, then copied with that start in it.
        self._phone = self._started(f'{{"kind":{_quote(_PHONE.value)},"phone":')
        self._address = self._started('{"address":')
        self._buyer = self._started('{"buyer_id":')

    @classmethod
    def for_tests(
        cls,
        *,
        region: str = "CN",
        channel_regions: Mapping[str, str] | None = None,
        relay_channels: Iterable[str] | None = None,
    ) -> Fingerprinter:
        """A fingerprinter for tests, keyed with a fixed, public key.

        The key is `b"orderkit tests: NOT a secret"`: published here, so
        fingerprints made with it are stable across test runs and protect
        nothing. The constructor refuses it.
        """
        return cls(
            _TestSecret(_TEST_SECRET),
            region=region,
            channel_regions=channel_regions,
            relay_channels=relay_channels,
        )

    def region_of(self, channel: str) -> str:
        """The region this fingerprinter reads `channel`'s phone numbers in.

        A host reading an order's phone elsewhere (purchase limits, its own
        buyer index) reads it in this region too, so that every key of one
        buyer agrees.

        Raises:
            ValidationError: `channel` is not a string.
        """
        return self._channel_regions.region(_checked_channel(channel), self._region)

    def keeps_mobile_extensions(self, channel: str) -> bool:
        """Whether this fingerprinter keeps the extension of `channel`'s mobiles.

        True for a channel of `relay_channels`, and for every channel when
        it is `None`; a host reading an order's phone elsewhere passes it on
        (`PurchaseContext.of(..., mobile_extensions=...)`,
        `normalize_phone(..., mobile_extensions=...)`), so that every key of
        one buyer agrees.

        Raises:
            ValidationError: `channel` is not a string.

        .. versionadded:: 0.1.0
        """
        relays = self._relay_channels
        name = _channel_name(_checked_channel(channel))
        return relays is None or name in relays

    def _started(self, head: str) -> hashlib.blake2b:
        hasher = self._hasher.copy()
        hasher.update(head.encode("ascii"))
        return hasher

    def __repr__(self) -> str:
        secret = "the public test key" if self._test else "hidden"
        return f"Fingerprinter(region={self._region!r}, secret=<{secret}>)"

    def fingerprints(
        self, order: Order, *, region: str | None = None
    ) -> tuple[Fingerprint, ...]:
        """The order's fingerprints, one for each part it has.

        In this order: `phone+skus` for the buyer's phone and, when it is
        another number, the recipient's; `address+skus` for the shipping
        address; `buyer+skus` for the channel and the buyer's id on it (ids
        are unique only within a channel). A part that is absent, masked or
        invalid gives no fingerprint: junk is never matched. A phone's
        extension is part of it, except a mobile's on a channel outside
        `relay_channels` (`keeps_mobile_extensions`).

        Args:
            order: The order.
            region: The region for its phone numbers, instead of the channel's.

        Returns:
            The fingerprints, at least the `buyer+skus` one.

        Raises:
            ValidationError: `order` is not an `orderkit.orders.Order`, or a
                SKU is blank once normalised.
            ConfigurationError: `region` is not a region phonenumbers knows.
        """
        if not isinstance(order, _order_type()):
            raise ValidationError(
                "order",
                order,
                f"must be an orderkit.orders.Order, not {type(order).__name__}",
            )
        if region is None:
            region = self._channel_regions.region(order.channel, self._region)
        else:
            _check_region(region, "region")
        return self._read(order, region)[0]

    def _screen(self, order: Order) -> tuple[tuple[Fingerprint, ...], str | None]:
        """`fingerprints(order)`, and the buyer's phone as `buyer_phone` reads it.

        The duplicate detector needs both: the phone is read once, for both.
        """
        region = self._channel_regions.region(order.channel, self._region)
        return self._read(order, region)

    def _read(
        self, order: Order, region: str
    ) -> tuple[tuple[Fingerprint, ...], str | None]:
        """The fingerprints, and the buyer's phone (`None` unless E.164)."""
        relays = self._relay_channels
        drop = relays is not None and _channel_name(order.channel) not in relays
        tail = _tail(order.lines)
        found: list[Fingerprint] = []
        buyer = order.buyer
        address = order.address
        first = None
        buyer_phone = None
        for i, raw in enumerate((buyer.phone, address.phone)):
            if raw is None or not raw.strip():
                continue
            phone = read_in(raw, region)
            if type(phone) is not str:
                # None, masked, or refused (`_Refused`, `NOT_A_PHONE`).
                continue
            if drop and ";ext=" in phone:
                phone = _without_mobile_extension(phone)
            if not i:
                buyer_phone = phone
            if phone != first:
                first = phone
                hasher = self._phone.copy()
                hasher.update(_quote(phone).encode("ascii"))
                hasher.update(tail)
                found.append(_new_fingerprint(_PHONE, _VERSION, hasher.hexdigest()))
        try:
            key = normalize_address(address)
        except InvalidAddress:
            key = None
        if key is not None:
            hasher = self._address.copy()
            hasher.update(f"{_quote(key)},{_ADDRESS_KIND}".encode("ascii"))
            hasher.update(tail)
            found.append(_new_fingerprint(_ADDRESS, _VERSION, hasher.hexdigest()))
        hasher = self._buyer.copy()
        hasher.update(_quote(buyer.buyer_id.strip()).encode("ascii"))
        hasher.update(_channel_part(order.channel))
        hasher.update(tail)
        found.append(_new_fingerprint(_BUYER, _VERSION, hasher.hexdigest()))
        return tuple(found), buyer_phone


_PHONE: Final = FingerprintKind.PHONE_SKUS
_ADDRESS: Final = FingerprintKind.ADDRESS_SKUS
_BUYER: Final = FingerprintKind.BUYER_SKUS
_VERSION: Final = FINGERPRINT_VERSION
# Fingerprints made here have a known kind, version and a hex digest.
_new_fingerprint: Final = builder(Fingerprint)
# The C function behind json.dumps(..., ensure_ascii=True) for one string:
# a quoted JSON string with every non-ASCII character escaped.
_quote: Final = json.encoder.encode_basestring_ascii
# What follows the address, and the buyer's channel, in their documents.
_ADDRESS_KIND: Final = f'"kind":{_quote(_ADDRESS.value)}'
_BUYER_KIND: Final = f'"kind":{_quote(_BUYER.value)}'
# Channels are few; a bound keeps junk channel names from growing the cache.
_CHANNEL_CACHE_SIZE = 256


def canonical(
    kind: FingerprintKind, skus: tuple[tuple[str, int], ...], **parts: str
) -> bytes:
    """The bytes a fingerprint hashes: JSON with sorted keys, ASCII only.

    The same bytes as `json.dumps(document, ensure_ascii=True,
    sort_keys=True, separators=(",", ":"))` of `{"kind": ..., "skus": [[sku,
    quantity], ...], "v": FINGERPRINT_VERSION, **parts}`, built faster. JSON
    quotes and escapes every string, so parts can never run into each other
    (`("ab", "c")` and `("a", "bc")` encode differently), and escaping every
    non-ASCII character keeps the bytes the same on every Python version.
    """
    return _encode(kind, _encode_skus(skus), parts)


@functools.lru_cache(maxsize=_CHANNEL_CACHE_SIZE)
def _channel_part(channel: str) -> bytes:
    """What follows the buyer's id in its document: the channel, then the kind.

    Cached: an order's channel is one of a few, and folding it costs more
    than looking it up.
    """
    return f',"channel":{_quote(channel.strip().casefold())},{_BUYER_KIND}'.encode(
        "ascii"
    )


def _tail(lines: Sequence[OrderLine]) -> bytes:
    """The end every document of an order shares: its SKUs and the version.

    What `canonical` puts after the kind's parts, from `sku_multiset(lines)`;
    the SKUs are read from their cache directly, and any that is not there
    (long or broken) sends the lines through `sku_multiset`, which folds them
    and raises what it raises.
    """
    totals: dict[str, int] = {}
    for line in lines:
        sku = line.sku
        folded = (
            _fold_sku(sku) if type(sku) is str and len(sku) <= _SKU_CACHED else None
        )
        if not folded:
            return _skus_tail(_encode_skus(sku_multiset(lines)))
        totals[folded] = totals.get(folded, 0) + line.quantity
    # `_skus_tail(_encode_skus(...))` in one step: the one string formatted.
    skus = ",".join([f"[{_quote(sku)},{n}]" for sku, n in sorted(totals.items())])
    return f"{_SKUS}[{skus}]{_END}".encode("ascii")


_SKUS: Final = ',"skus":'
_END: Final = f',"v":{FINGERPRINT_VERSION}}}'


def _skus_tail(skus: str) -> bytes:
    return f"{_SKUS}{skus}{_END}".encode("ascii")


def _encode_skus(skus: tuple[tuple[str, int], ...]) -> str:
    return "[" + ",".join(f"[{_quote(sku)},{quantity}]" for sku, quantity in skus) + "]"


def _encode(kind: FingerprintKind, skus: str, parts: Mapping[str, str]) -> bytes:
    fields = {"kind": _quote(kind.value), "skus": skus, "v": str(FINGERPRINT_VERSION)}
    fields |= {name: _quote(value) for name, value in parts.items()}
    body = ",".join(f"{_quote(name)}:{fields[name]}" for name in sorted(fields))
    return f"{{{body}}}".encode("ascii")


def _relay_channels(channels: Iterable[str] | None) -> frozenset[str] | None:
    if channels is None:
        return None
    # A lone name would be read as a collection of its letters.
    if isinstance(channels, str | bytes) or not isinstance(channels, Iterable):
        raise ConfigurationError(
            "relay_channels",
            f"must be a collection of channel names, not {type(channels).__name__}",
            value=channels,
        )
    named = tuple(channels)
    for channel in named:
        if not isinstance(channel, str):
            raise ConfigurationError(
                "relay_channels",
                f"must hold channel names, not {channel!r}",
                value=channels,
            )
    return frozenset(map(_channel_name, named))


def _channel_name(channel: str) -> str:
    """A channel's name as the fingerprinter compares it: `Douyin ` is `douyin`.

    As `relay_channels`, `channel_regions` and the `buyer+skus` fingerprint
    (`_channel_part`) read it.
    """
    return channel.strip().casefold()


def _checked_channel(channel: object) -> str:
    if not isinstance(channel, str):
        raise ValidationError("channel", channel, "must be a string")
    return channel


def _regions_by_name(channel_regions: Mapping[str, str] | None) -> dict[str, str]:
    """`channel_regions`, checked, keyed by `_channel_name`."""
    if channel_regions is None:
        return {}
    if not isinstance(channel_regions, Mapping):
        raise ConfigurationError(
            "channel_regions",
            "must be a mapping of channel names to regions, not "
            f"{type(channel_regions).__name__}",
            value=channel_regions,
        )
    regions: dict[str, str] = {}
    for channel, code in channel_regions.items():
        if not isinstance(channel, str):
            raise ConfigurationError(
                "channel_regions",
                f"must name channels by text, not {channel!r}",
                value=channel_regions,
            )
        _check_region(code, f"channel_regions[{channel!r}]")
        name = _channel_name(channel)
        if regions.get(name, code) != code:
            raise ConfigurationError(
                "channel_regions",
                f"names channel {name!r} twice, in {regions[name]} and {code}",
                value=channel_regions,
            )
        regions[name] = code
    return regions


@final
class _ChannelRegions(Mapping[str, str]):
    """The region per channel, looked up by the channel's folded name.

    A mapping, not a plain dict, so that `get(order.channel, ...)` folds the
    name wherever the package reads the setting (the buyer index reads it
    directly, `orderkit.dedupe._matches.buyer_phone`).
    """

    __slots__ = ("_by_name",)

    def __init__(self, by_name: dict[str, str]) -> None:
        self._by_name = by_name

    def __getitem__(self, channel: str) -> str:
        return self._by_name[_channel_name(channel)]

    def region(self, channel: str, default: str) -> str:
        """`get(channel, default)`, without `Mapping.get`'s detour."""
        return self._by_name.get(_channel_name(channel), default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


@functools.cache
def _order_type() -> type[Order]:
    """`orderkit.orders.Order`, imported when first needed.

    orderkit.orders imports orderkit.dedupe, so this module cannot import it
    when loaded.
    """
    from orderkit.orders import Order  # noqa: PLC0415 - see above

    return Order


def _check_region(region: object, setting: str) -> None:
    # Not `in` alone: an unhashable region (a list) would raise TypeError.
    if not isinstance(region, str) or region not in _REGIONS:
        raise ConfigurationError(
            setting, f"{region!r} is not a region phonenumbers knows", value=region
        )
