"""Who sent a webhook: the HMAC signature a channel puts in a header."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable
from typing import Any, Final, Literal, Protocol, final

import attrs

from orderkit._validate import Validator, text
from orderkit.errors import InvalidSignature, ValidationError


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
    channel of your own, name its header, digest and encoding.

    Attributes:
        header: The header holding the signature (`X-Shopify-Hmac-Sha256`);
            looked up regardless of case.
        secret: The shared secret, as text (its UTF-8 bytes are the key) or
            bytes. Kept out of `repr` and of every error message.
        digest: `"sha256"` (the default), `"sha1"` or `"sha512"`.
        encoding: How the header writes the digest: `"base64"` (the
            default) or `"hex"` (either case).

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

    def sign(self, body: bytes) -> str:
        """The header's value for `body`: what the channel would send.

        For tests and fakes that post signed webhooks to a host's endpoint.

        Raises:
            ValidationError: `body` is not bytes-like (bytes, bytearray,
                memoryview).
        """
        mac = hmac.new(self.secret, _raw(body), self.digest).digest()
        if self.encoding == "hex":
            return mac.hex()
        return base64.b64encode(mac).decode("ascii")

    def verify(self, body: bytes, headers: _Headers) -> None:
        """Return if `headers` sign `body` with the secret; raise otherwise.

        Args:
            body: The request's raw body, as received: the bytes the channel
                signed (not JSON parsed and written again).
            headers: The request's headers: Django's, Starlette's or Flask's
                `request.headers`, or a plain mapping (anything with
                `items()`).

        Raises:
            InvalidSignature: The header is missing, given twice with
                different values, or does not match the body (`field` is
                the header, `value` what it held).
            ValidationError: `body` is not bytes-like, or `headers` has no
                `items()` (the error names its type only).
        """
        received = _header(headers, self.header)
        given = received.strip()
        expected = self.sign(body)
        if self.encoding == "hex":
            given, expected = given.lower(), expected.lower()
        # Compared in constant time: a timing difference would let a forger
        # find the signature byte by byte.
        match = hmac.compare_digest(given.encode(), expected.encode())
        # The signature the body needs stays in no frame an error reporter
        # might record.
        del expected
        if not match:
            raise InvalidSignature(self.header, received, "does not sign this body")


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
