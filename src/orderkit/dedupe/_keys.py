"""The idempotency key every incoming event carries."""

from __future__ import annotations

import hashlib
from typing import final

import attrs

from orderkit._validate import text


_MAX_LENGTH = 255
_SEPARATOR = ":"


def _escape(part: str) -> str:
    # Percent-escape the separator so that ("a:b", "c") and ("a", "b:c") differ.
    return part.replace("%", "%25").replace(_SEPARATOR, "%3A")


@final
@attrs.frozen(slots=True, cache_hash=True)
class IdempotencyKey:
    """What makes two deliveries of one event the same event.

    Build it from the parts a channel repeats on every re-send: never from a
    per-attempt delivery id (such as a webhook delivery header), which would
    make every retry look new.

    Attributes:
        channel: The sales channel or system the event comes from (`"shopify"`).
        event_type: The channel's kind of event (`"orders/paid"`).
        object_id: The channel's id of the object the event is about (its order id).
        event_id: The channel's own id or sequence number of the event.

    Raises:
        ValidationError: A part is empty or contains control characters.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=text("channel"))
    event_type: str = attrs.field(validator=text("event_type"))
    object_id: str = attrs.field(validator=text("object_id"))
    event_id: str = attrs.field(validator=text("event_id"))

    def __str__(self) -> str:
        """The stable string form, at most 255 characters.

        `channel:event_type:object_id:event_id` with `:` and `%` in a part
        percent-escaped. When that is longer than 255 characters, the object
        and event ids are replaced by the SHA-256 of the full form, so the
        string stays unique, stable across processes and within column limits.
        """
        parts = (self.channel, self.event_type, self.object_id, self.event_id)
        full = _SEPARATOR.join(_escape(p) for p in parts)
        if len(full) <= _MAX_LENGTH:
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()
        head = _SEPARATOR.join(_escape(p)[:80] for p in parts[:2])
        return f"{head}{_SEPARATOR}sha256={digest}"
