"""`Documents`: what a store that keeps orders as documents needs of a converter."""

from __future__ import annotations

import threading
from typing import Final, Protocol, TypeVar, cast, final


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


_REMEMBERED: Final = 2048
"""How many documents a store keeps: 10 MB or so of orders, all a sale has in flight."""
_MISSING: Final = object()


@final
class Remembered:
    """`Documents` that read the same bytes once: what a document store reads through.

    A value written, or read, is kept under its class and its bytes, the
    last `size` of them: reading the same bytes again gives it back without
    parsing. Orders and audit records are immutable, and reading is a pure
    function of the bytes, so the value kept equals the value a parse would
    give (a value written comes back as it was written, as from the memory
    stores); a use case that saves an order and reads it back (every step
    of a saga) parses nothing. The key is the bytes, not the row: a row
    another process changed, or a write a rolled-back unit made, reads as
    other bytes, and so is parsed afresh. Threads sharing a store share its
    values, behind a lock; parsing happens outside it.
    """

    __slots__ = ("_converter", "_lock", "_size", "_values")

    def __init__(self, converter: Documents, size: int = _REMEMBERED) -> None:
        """Read and write through `converter`, keeping the last `size` values."""
        self._converter = converter
        self._lock = threading.Lock()
        self._size = size
        self._values: dict[tuple[type, bytes | str], object] = {}

    def dumps(self, obj: object) -> bytes:
        """Write `obj` as its converter does, and keep it for its bytes."""
        data = self._converter.dumps(obj)
        self._keep((type(obj), data), obj)
        return data

    def loads(self, data: bytes, cl: type[T]) -> T:
        """The value kept for `data`, else `data` read as its converter reads it."""
        key = (cl, _hashable(data))
        with self._lock:
            found = self._values.pop(key, _MISSING)
        value = self._converter.loads(data, cl) if found is _MISSING else found
        self._keep(key, value)
        return cast("T", value)

    def _keep(self, key: tuple[type, bytes | str], value: object) -> None:
        values = self._values
        with self._lock:
            values[key] = value
            if len(values) > self._size:
                # The oldest first: a dict keeps its keys in the order they came.
                del values[next(iter(values))]


def _hashable(data: object) -> bytes | str:
    """`data` as a dict key: a driver's memoryview is not one; a host's text is."""
    return data if isinstance(data, bytes | str) else bytes(cast("bytes", data))
