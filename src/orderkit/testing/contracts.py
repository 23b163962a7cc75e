"""Contract suites: the tests every implementation of a port must pass.

Subclass the contract of a port (`LedgerStoreContract` for a `LedgerStore`,
`KeyStoreContract` for a `KeyStore`) in your test suite, say how to make a
store, and pytest runs every rule of the port against it, exactly as orderkit
runs them against its own stores:

```python
from orderkit.testing.contracts import LedgerStoreContract

class TestMyLedgerStore(LedgerStoreContract):
    def make_store(self):
        return MyLedgerStore(dsn=...)
```

`StoreContract` is what they share: the hooks a subclass may override.

Needs the `testing` extra (`pip install 'orderkit[testing]'`).

.. versionadded:: 0.1.0
"""

from orderkit.testing._extra import testing_extra_missing


try:
    import hypothesis  # noqa: F401 - asked first, so that its absence is named
    import pytest  # noqa: F401
except ModuleNotFoundError as missing:  # without the `testing` extra
    raise testing_extra_missing("orderkit.testing.contracts", missing) from None

from orderkit.testing._channel_contract import ChannelContract, Sample
from orderkit.testing._contract_base import StoreContract
from orderkit.testing._cursor_contract import CursorStoreContract
from orderkit.testing._detector_contract import DetectorStoreContract
from orderkit.testing._key_contract import KeyStoreContract
from orderkit.testing._ledger_contract import LedgerStoreContract
from orderkit.testing._limit_contract import LimitStoreContract
from orderkit.testing._order_store_contract import OrderStoreContract, with_converter
from orderkit.testing._outbox_contract import OutboxContract
from orderkit.testing._uow_contract import UnitOfWorkContract


__all__ = [
    "ChannelContract",
    "CursorStoreContract",
    "DetectorStoreContract",
    "KeyStoreContract",
    "LedgerStoreContract",
    "LimitStoreContract",
    "OrderStoreContract",
    "OutboxContract",
    "Sample",
    "StoreContract",
    "UnitOfWorkContract",
    "with_converter",
]
