"""Claims on idempotency keys, and the outcomes stored under them."""

from __future__ import annotations

import datetime as dt
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import instance_of
from orderkit.errors import ValidationError


MAX_KEY_LENGTH = 255
"""The longest key a key store accepts, in characters (a `VARCHAR(255)`)."""

MAX_DURATION = dt.timedelta(days=36_525)
"""The longest lease or retention a key store accepts: a century.

Longer ones are mistakes, and would overflow datetime arithmetic near its ends.
"""


@final
@attrs.frozen(slots=True)
class Outcome:
    """The first outcome of a request, stored under its key and replayed as is.

    A failure that the request reached (a declined card, an illegal
    transition) is an outcome too, replayed like a success; a request that
    was refused before it ran (bad input) stores nothing.

    Attributes:
        succeeded: Whether the request did what it asked.
        body: The response, exactly as the first caller got it.

    Raises:
        ValidationError: `succeeded` is not a bool or `body` not bytes.

    .. versionadded:: 0.1.0
    """

    succeeded: bool = attrs.field(validator=instance_of("succeeded", bool))
    body: bytes = attrs.field(validator=instance_of("body", bytes))


@final
@attrs.frozen(slots=True)
class Claimed:
    """The key is the caller's: run the request, then complete or abandon it.

    Attributes:
        key: The key, as text.
        token: Proves the claim in `complete` and `abandon`; a new token is
            drawn whenever a claim is taken over.
        until: When the lease ends; after it another caller may take the
            claim over.
        attempt: 1 for the first claim; more when it took over a claim whose
            holder let its lease pass (crashed, or was too slow), so the
            request may have partly run before.

    .. versionadded:: 0.1.0
    """

    key: str
    token: str
    until: pendulum.DateTime
    attempt: int = 1


@final
@attrs.frozen(slots=True)
class Replay:
    """The key completed before: here is its first outcome; run nothing.

    Attributes:
        key: The key, as text.
        outcome: The stored first outcome, byte for byte.

    .. versionadded:: 0.1.0
    """

    key: str
    outcome: Outcome


@final
@attrs.frozen(slots=True)
class InProgress:
    """Another caller holds the key and has not finished: run nothing, retry later.

    Attributes:
        key: The key, as text.
        until: When that caller's lease ends.

    .. versionadded:: 0.1.0
    """

    key: str
    until: pendulum.DateTime


Claim = Claimed | Replay | InProgress
"""What `KeyStore.claim` returns."""


def check_key(key: object) -> str:
    """Return `key` if it is printable text of 1 to 255 characters.

    Raises:
        ValidationError: Naming the field `key`.
    """
    return check_text("key", key)


def check_request_hash(request_hash: object) -> str:
    """Return `request_hash` if it is printable text of 1 to 255 characters.

    Raises:
        ValidationError: Naming the field `request_hash`.
    """
    return check_text("request_hash", request_hash)


def check_token(token: object) -> str:
    """Return `token` if it is printable text of 1 to 255 characters.

    Raises:
        ValidationError: Naming the field `token`.
    """
    return check_text("token", token)


def check_duration(field: str, value: object) -> dt.timedelta:
    """Return `value` if it is a positive `timedelta` of at most 100 years.

    Raises:
        ValidationError: Naming `field`.
    """
    if not isinstance(value, dt.timedelta):
        raise ValidationError(field, value, "must be a datetime.timedelta")
    if value <= dt.timedelta(0):
        raise ValidationError(field, value, "must be longer than zero")
    if value > MAX_DURATION:
        raise ValidationError(field, value, "must be at most 100 years")
    return value


def check_now(now: dt.datetime) -> pendulum.DateTime:
    """Return `now` in UTC.

    Raises:
        NaiveDatetime: `now` is naive or not a datetime.
    """
    return to_utc(now, "now")


def check_outcome(outcome: object) -> Outcome:
    """Return `outcome` if it is an `Outcome`.

    Raises:
        ValidationError: Naming the field `outcome`.
    """
    if not isinstance(outcome, Outcome):
        raise ValidationError("outcome", outcome, "must be an Outcome")
    return outcome


def fit_keys(first: object, second: object) -> bool:
    """Whether both are `str` of at most `MAX_KEY_LENGTH` characters.

    For text an `Order` checked already (printable, not blank): all that
    `check_text` adds to it, for a builder that skips the checks.
    """
    return (
        type(first) is str
        and type(second) is str
        and len(first) <= MAX_KEY_LENGTH
        and len(second) <= MAX_KEY_LENGTH
    )


def check_text(field: str, value: object, longest: int = MAX_KEY_LENGTH) -> str:
    """Return `value` if it is printable text of 1 to `longest` characters.

    Keys, channels, order ids and limit keys: what a store keys and shows
    (a `VARCHAR(255)` by default).

    Raises:
        ValidationError: Naming `field`.
    """
    # The common case first, in one test: a short, plain key.
    if (
        type(value) is str
        and 0 < len(value) <= longest
        and value.isprintable()
        and not value.isspace()
    ):
        return value
    if not isinstance(value, str) or not value or value.isspace():
        raise ValidationError(field, value, "must be a non-empty string")
    if len(value) > longest:
        raise ValidationError(field, value, f"must be at most {longest} characters")
    if not value.isprintable():
        raise ValidationError(field, value, "must not contain control characters")
    return str(value)
