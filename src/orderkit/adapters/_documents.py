"""`Documents`: what a store that keeps orders as documents needs of a converter."""

from __future__ import annotations

from typing import Protocol, TypeVar


T = TypeVar("T")


class Documents(Protocol):
    """What the SQL stores need of `orderkit.serialization.make_converter()`.

    .. versionadded:: 0.1.0
    """

    def dumps(self, obj: object) -> bytes:
        """Write `obj` as JSON bytes; equal values give equal bytes."""
        ...

    def loads(self, data: bytes, cl: type[T]) -> T:
        """Read JSON bytes back into a `cl`."""
        ...
