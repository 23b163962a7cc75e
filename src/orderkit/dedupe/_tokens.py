"""Claim tokens: what `secrets.token_urlsafe(16)` gives, drawn many at a time.

A key store draws a token for every claim it grants. `token_urlsafe(16)`
costs a system call and several Python calls per token, more than the rest
of a claim in memory; here one call to the system's random source serves a
batch of tokens, each distributed exactly as `token_urlsafe(16)`'s.
"""

from __future__ import annotations

import base64
import os
import secrets
from typing import Final


_BATCH: Final = 64
# token_urlsafe(16) gives 22 characters: 21 of 6 random bits each, then one
# of the last 2 random bits and 4 zero bits (so "A", "Q", "g" or "w"). 18
# random bytes make exactly 24 characters: with the high 4 bits of their
# 17th byte cleared, their first 22 characters are such a token.
_GROUP_BYTES: Final = 18
_GROUP: Final = 24
_TOKEN: Final = 22
_CLEARED: Final = int.from_bytes(
    (b"\xff" * 16 + b"\x0f\xff") * _BATCH, "big"
)  # fmt: skip

# Shared by every store: list.pop and list.extend are atomic, and two
# threads refilling it at once only draw a batch more. A process forked with
# tokens left must not hand out the ones its parent will: `_pid` says whose
# they are (a fork made by C code runs no `os.register_at_fork` hook).
_pool: list[str] = []
_pid = os.getpid()


def draw_token() -> str:
    """A fresh token, as `secrets.token_urlsafe(16)` would give it."""
    global _pid  # noqa: PLW0603 - the pool's owner, checked on every draw
    if _pid != os.getpid():
        _pool.clear()
        _pid = os.getpid()
    while True:
        try:
            return _pool.pop()
        except IndexError:
            _pool.extend(_batch())


def _batch() -> list[str]:
    size = _GROUP_BYTES * _BATCH
    drawn = int.from_bytes(secrets.token_bytes(size), "big") & _CLEARED
    chars = base64.urlsafe_b64encode(drawn.to_bytes(size, "big")).decode("ascii")
    return [chars[i : i + _TOKEN] for i in range(0, len(chars), _GROUP)]
