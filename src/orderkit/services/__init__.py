"""Use cases over the ports: the façades a host application calls.

`Ledger` is the inventory ledger over any `orderkit.ports.LedgerStore`.

.. versionadded:: 0.1.0
"""

from orderkit.services._ledger import DEFAULT_HOLD_TTL as DEFAULT_HOLD_TTL
from orderkit.services._ledger import Ledger as Ledger
from orderkit.services._ledger import Resolution as Resolution


__all__ = ["DEFAULT_HOLD_TTL", "Ledger", "Resolution"]
