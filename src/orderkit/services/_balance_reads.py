"""The balances of several SKUs, in one read from a store that offers it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import pendulum

from orderkit.inventory import Balance
from orderkit.ports import LedgerStore


def balances_by_sku(
    store: LedgerStore, now: pendulum.DateTime, skus: Iterable[str]
) -> dict[str, list[Balance]]:
    """Each SKU's balances as of `now`, by location, keyed in the order given.

    One read from a store that offers `balances_of()`, as the SQL
    reference stores do (one round trip to PostgreSQL where a read per SKU
    took one each), else one `balances(now, sku=...)` per SKU. A SKU without
    balances maps to an empty list.
    """
    found: dict[str, list[Balance]] = {sku: [] for sku in skus}
    read = getattr(store, "balances_of", None)
    if read is None:
        for sku, balances in found.items():
            balances.extend(store.balances(now, sku=sku))
        return found
    for balance in cast("Iterable[Balance]", read(now, list(found))):
        found[balance.sku].append(balance)
    return found
