"""Documents not shaped as orderkit writes an order: what a host's converter may store.

The SQLite and PostgreSQL upgrades of the order table count each as waiting,
since it may hide a saga.
"""

from __future__ import annotations

import pytest


FOREIGN_DOCUMENTS = [
    pytest.param(b'{"data": {"saga": {"name": "refund"}}}', id="enveloped"),
    pytest.param(b'{"saga": null, "review": [], "afterSales": []}', id="renamed"),
    pytest.param(b"[]", id="array"),
    pytest.param(b"\x81\xa7msgpack", id="not-json"),
]
