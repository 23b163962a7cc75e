"""Documents not shaped as orderkit writes an order: what a host's converter may store.

The SQLite and PostgreSQL upgrades of the order table count each as waiting,
since it may hide a saga, and leave its placed instant to the store to read.
"""

from __future__ import annotations

from typing import TypeVar

import pytest

from orderkit.serialization import make_converter


T = TypeVar("T")


FOREIGN_DOCUMENTS = [
    pytest.param(b'{"data": {"saga": {"name": "refund"}}}', id="enveloped"),
    pytest.param(b'{"saga": null, "review": [], "afterSales": []}', id="renamed"),
    pytest.param(b"[]", id="array"),
    pytest.param(b"\x81\xa7msgpack", id="not-json"),
]


_ENVELOPE = b'{"kind":"order","data":'


class Enveloped:
    """A host's converter: orderkit's JSON inside an envelope, `data`.

    Its documents name no instant where orderkit's do, so an upgrade
    cannot date them from their JSON; it reads orderkit's own as well.
    """

    def __init__(self) -> None:
        self._inner = make_converter()

    def dumps(self, obj: object) -> bytes:
        return _ENVELOPE + self._inner.dumps(obj) + b"}"

    def loads(self, data: bytes, cl: type[T]) -> T:
        data = bytes(data)
        if data.startswith(_ENVELOPE):
            data = data[len(_ENVELOPE) : -1]
        return self._inner.loads(data, cl)
