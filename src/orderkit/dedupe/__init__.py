"""Dedupe: idempotency keys for incoming events.

Every event orderkit applies carries an `IdempotencyKey`. Two deliveries of
the same event (a channel's retry of a webhook, a re-polled page) carry the
same key, and the second one changes nothing.

.. versionadded:: 0.1.0
"""

from orderkit.dedupe._keys import IdempotencyKey as IdempotencyKey


__all__ = ["IdempotencyKey"]
