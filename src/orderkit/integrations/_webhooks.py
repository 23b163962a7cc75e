"""Who sent a webhook: the HMAC signature a channel puts in a header."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
from collections.abc import Iterable
from typing import Any, Final, Literal, Protocol, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import Validator, positive_elapsed, text
from orderkit.errors import InvalidSignature, ValidationError
from orderkit.integrations._reading import read_unix


__all__ = ["WebhookVerifier"]

_DIGESTS: Final = frozenset({"sha1", "sha256", "sha512"})
_ENCODINGS: Final = frozenset({"base64", "hex"})


class _Headers(Protocol):
    """A request's headers as web frameworks hand them over: pairs by `items()`."""

    def items(self) -> Iterable[tuple[Any, Any]]: ...


def _secret(value: object) -> bytes:
    # The secret itself never goes into an error message or a log: errors
    # name its type only.
    if isinstance(value, str):
        # A channel's console shows the secret as text; HMAC keys it by its
        # UTF-8 (an environment variable of bytes that are not UTF-8 reads
        # as lone surrogates, which have none).
        try:
            value = value.encode()
        except UnicodeEncodeError:
            raise ValidationError("secret", "str", "is not UTF-8 text") from None
    if not isinstance(value, bytes) or not value:
        shown = "empty" if value in (b"", "") else type(value).__name__
        raise ValidationError("secret", shown, "must be non-empty text or bytes")
    return value


_BODY: Final = "{body}"
_TIMESTAMP: Final = "{timestamp}"


def _prefix(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or not (value.isascii() and value.isprintable()):
        raise ValidationError("prefix", value, "must be printable ASCII text")


def _signed(instance: WebhookVerifier, _attribute: object, value: object) -> None:
    if not isinstance(value, str) or value.count(_BODY) != 1:
        raise ValidationError("signed", value, "must hold {body} once")
    stamped = instance.timestamp_header is not None
    if value.count(_TIMESTAMP) != stamped:
        problem = (
            "must hold {timestamp} once, for timestamp_header"
            if stamped
            else "holds {timestamp}: name the timestamp_header it comes from"
        )
        raise ValidationError("signed", value, problem)


def _one_of(field: str, allowed: frozenset[str]) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or value not in allowed:
            raise ValidationError(field, value, f"must be one of {sorted(allowed)}")

    return check


@final
@attrs.frozen(slots=True)
class WebhookVerifier:
    """Checks that a webhook came from its channel: an HMAC of the raw body.

    A channel that signs its webhooks sends, in one header, an HMAC of the
    request's raw body keyed by a secret only it and the host know. Anyone
    can post to a webhook URL; without this check a forged "paid" notice
    would ship an order nobody paid for. Verify before reading the body.

    `ShopifyPayloads.webhook_verifier` and
    `WooCommercePayloads.webhook_verifier` build the channels' own; for a
    channel of your own, name its header, digest and encoding, and, when it
    signs more than the body, what it signs.

    A channel that signs the time it sent the webhook too (Slack's
    `v0:{timestamp}:{body}`) lets a host refuse one captured and posted
    again later: with `timestamp_header`, `verify` needs `now` and refuses a
    webhook sent more than `tolerance` from it. Within the window, the
    same notice again changes nothing anyway: every event has its
    idempotency key.

    Attributes:
        header: The header holding the signature (`X-Shopify-Hmac-Sha256`);
            looked up regardless of case.
        secret: The shared secret, as text (its UTF-8 bytes are the key) or
            bytes. Kept out of `repr` and of every error message.
        digest: `"sha256"` (the default), `"sha1"` or `"sha512"`.
        encoding: How the header writes the digest: `"base64"` (the
            default) or `"hex"` (either case).
        prefix: Text the header writes before the digest (GitHub's
            `"sha256="`, Slack's `"v0="`); none by default.
        timestamp_header: The header holding when the channel signed the
            webhook, in whole Unix seconds (`X-Slack-Request-Timestamp`);
            `None` (the default) for a channel that signs the body alone.
        signed: What the channel signs: `{body}` stands for the raw body,
            `{timestamp}` for the timestamp header's text as sent
            (`"v0:{timestamp}:{body}"`). `"{body}"` by default; it holds
            `{timestamp}` exactly when `timestamp_header` is set.
        tolerance: How far from `now` a signed timestamp may be: five
            minutes by default.

    Example:
        >>> verifier = WebhookVerifier("X-Signature", "s3cret", encoding="hex")
        >>> body = b'{"id": 1}'
        >>> verifier.verify(body, {"x-signature": verifier.sign(body)})
        >>> verifier.verify(b'{"id": 2}', {"x-signature": verifier.sign(body)})
        Traceback (most recent call last):
        ...
        orderkit.errors.InvalidSignature: X-Signature: ...

    .. versionadded:: 0.1.0
    """

    header: str = attrs.field(validator=text("header"))
    secret: bytes = attrs.field(converter=_secret, repr=False)
    digest: Literal["sha1", "sha256", "sha512"] = attrs.field(
        default="sha256", validator=_one_of("digest", _DIGESTS)
    )
    encoding: Literal["base64", "hex"] = attrs.field(
        default="base64", validator=_one_of("encoding", _ENCODINGS)
    )
    prefix: str = attrs.field(default="", kw_only=True, validator=_prefix)
    timestamp_header: str | None = attrs.field(
        default=None,
        kw_only=True,
        validator=attrs.validators.optional(text("timestamp_header")),
    )
    signed: str = attrs.field(default=_BODY, kw_only=True, validator=_signed)
    tolerance: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=5),
        kw_only=True,
        validator=positive_elapsed("tolerance"),
    )

    def sign(self, body: bytes, *, at: dt.datetime | None = None) -> str:
        """The header's value for `body`: what the channel would send.

        For tests and fakes that post signed webhooks to a host's endpoint;
        `headers` gives the timestamp's header as well.

        Args:
            body: The raw body.
            at: When the channel signs it (timezone-aware), for a verifier
                with a `timestamp_header`; its whole seconds are signed.

        Raises:
            ValidationError: `body` is not bytes-like (bytes, bytearray,
                memoryview), or `at` is missing for a verifier with a
                `timestamp_header` (or given to one without).
            NaiveDatetime: `at` has no UTC offset.
        """
        return self._signature(_raw(body), self._stamp(at))

    def headers(self, body: bytes, *, at: dt.datetime | None = None) -> dict[str, str]:
        """The headers the channel would send with `body`: its signature, its time.

        Raises:
            ValidationError: As `sign`.
            NaiveDatetime: As `sign`.
        """
        stamp = self._stamp(at)
        signed = {self.header: self._signature(_raw(body), stamp)}
        if self.timestamp_header is not None:
            signed[self.timestamp_header] = stamp
        return signed

    def verify(
        self, body: bytes, headers: _Headers, *, now: dt.datetime | None = None
    ) -> None:
        """Return if `headers` sign `body` with the secret; raise otherwise.

        Args:
            body: The request's raw body, as received: the bytes the channel
                signed (not JSON parsed and written again).
            headers: The request's headers: Django's, Starlette's or Flask's
                `request.headers`, or a plain mapping (anything with
                `items()`).
            now: The time now (timezone-aware, your clock's), for a verifier
                with a `timestamp_header`; a signed time more than
                `tolerance` from it is refused.

        Raises:
            InvalidSignature: A header is missing, given twice with
                different values, or does not match the body; the signature
                lacks the `prefix`; the timestamp is not whole Unix seconds,
                or is more than `tolerance` from `now` (`field` is the
                header, `value` what it held).
            ValidationError: `body` is not bytes-like, `headers` has no
                `items()` (the error names its type only), or `now` is
                missing for a verifier with a `timestamp_header`.
            NaiveDatetime: `now` has no UTC offset.
        """
        raw = _raw(body)
        when = self._now(now)
        received = _header(headers, self.header)
        stamp, sent = self._sent(headers)
        given = received.strip()
        expected = self._signature(raw, stamp)
        if self.encoding == "hex":
            # The prefix is the channel's text: only the digest has a case.
            cut = min(len(self.prefix), len(given))
            given = given[:cut] + given[cut:].lower()
            expected = self.prefix + expected[len(self.prefix) :].lower()
        # Compared in constant time: a timing difference would let a forger
        # find the signature byte by byte.
        match = hmac.compare_digest(given.encode(), expected.encode())
        # The signature the body needs stays in no frame an error reporter
        # might record.
        del expected
        if not match:
            raise InvalidSignature(self.header, received, "does not sign this body")
        if sent is not None and when is not None:
            self._check_window(stamp, sent, when)

    def _signature(self, body: bytes, stamp: str) -> str:
        before, _, after = self.signed.partition(_BODY)
        message = b"".join(
            (
                before.replace(_TIMESTAMP, stamp).encode(),
                body,
                after.replace(_TIMESTAMP, stamp).encode(),
            )
        )
        mac = hmac.new(self.secret, message, self.digest).digest()
        if self.encoding == "hex":
            return self.prefix + mac.hex()
        return self.prefix + base64.b64encode(mac).decode("ascii")

    def _stamp(self, at: dt.datetime | None) -> str:
        if self.timestamp_header is None:
            if at is not None:
                raise ValidationError(
                    "at", at, "is signed only with a timestamp_header"
                )
            return ""
        if at is None:
            raise ValidationError(
                "at", None, f"is needed: {self.timestamp_header} signs the time"
            )
        return str(int(to_utc(at, "at").timestamp()))

    def _now(self, now: dt.datetime | None) -> pendulum.DateTime | None:
        if self.timestamp_header is None:
            return None
        if now is None:
            raise ValidationError(
                "now",
                None,
                f"is needed: {self.timestamp_header} must be checked against it",
            )
        return to_utc(now, "now")

    def _sent(self, headers: _Headers) -> tuple[str, pendulum.DateTime | None]:
        """The timestamp header as sent, and the instant it names."""
        name = self.timestamp_header
        if name is None:
            return "", None
        stamp = _header(headers, name).strip()
        try:
            return stamp, read_unix(stamp, path=name)
        except ValidationError:
            raise InvalidSignature(
                name, stamp, "is not a time in whole Unix seconds"
            ) from None

    def _check_window(
        self, stamp: str, sent: pendulum.DateTime, now: pendulum.DateTime
    ) -> None:
        name = self.timestamp_header
        assert name is not None  # noqa: S101 - only with a timestamp header
        check_window(name, stamp, sent, now, self.tolerance, "a webhook posted")


def check_window(  # noqa: PLR0913, PLR0917 - one refusal's parts
    name: str,
    stamp: str,
    sent: pendulum.DateTime,
    now: pendulum.DateTime,
    tolerance: dt.timedelta,
    what: str,
) -> None:
    """Refuse `stamp`, the value of `name`, sent further than `tolerance` from `now`."""
    off = (sent - now).total_seconds()
    if abs(off) > tolerance.total_seconds():
        side = "after" if off > 0 else "before"
        raise InvalidSignature(
            name,
            stamp,
            f"is {_seconds(abs(off))} s {side} now, more than the tolerance of"
            f" {tolerance.total_seconds():g} s: {what} again"
            " later, or a clock that is off?",
        )


def _raw(body: object) -> bytes:
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if not isinstance(body, bytes):
        problem = "must be the raw bytes of the request body, as received"
        raise ValidationError("body", type(body).__name__, problem)
    return body


def _header(headers: object, name: str) -> str:
    """The one value of header `name` in `headers`, its name in any case.

    Any object with `items()` of name and value pairs will do: a mapping
    (Django, Starlette, whose `items()` repeats a header sent twice) or
    werkzeug's `Headers` (Flask), which is not one. Names and values in
    bytes are read as HTTP reads them, in Latin-1.
    """
    items = getattr(headers, "items", None)
    if not callable(items):
        # Only the type: the headers may hold a session cookie or a token.
        problem = "must be the request's headers (an object with items())"
        raise ValidationError("headers", type(headers).__name__, problem)
    wanted = name.lower()
    # `None` is a header the host looked up and did not find (`headers.get`).
    given = [
        value
        for key, value in items()
        if _latin1(key).lower() == wanted and value is not None
    ]
    for value in given:
        # Named as given: read as text, a number would be "".
        if not isinstance(value, str | bytes | bytearray):
            raise InvalidSignature(name, value, "is not a signature")
    values = {_latin1(value) for value in given}
    if not values:
        raise InvalidSignature(name, None, "is missing: the webhook is not signed")
    if len(values) > 1:
        raise InvalidSignature(name, sorted(values), "is given twice")
    value = values.pop()
    # HMAC digests are ASCII; anything else cannot match, and compare_digest
    # refuses non-ASCII text.
    if not value.isascii():
        raise InvalidSignature(name, value, "is not a signature")
    return value


def _latin1(text: object) -> str:
    if isinstance(text, bytes | bytearray):
        return bytes(text).decode("latin-1")
    return text if isinstance(text, str) else ""


def _seconds(value: float) -> str:
    """Seconds as a person reads them: 360, or 300.000001 just past 300."""
    return f"{value:.6f}".rstrip("0").rstrip(".")
