"""A shop's own order store, run through orderkit's order store contract and laws.

docs/howto/store-contracts.md shows this module as it stands.
"""

from collections.abc import Sequence
from typing import Any

from orderkit.adapters.memory import MemoryOrderStore
from orderkit.orders import Order, OrderStatus
from orderkit.ports import OrderStore
from orderkit.testing import check_order_store_laws
from orderkit.testing.contracts import OrderStoreContract


class LoggedOrders:
    """The shop's order store: any store, plus a log of every save."""

    def __init__(self, inner: OrderStore) -> None:
        self.inner = inner
        self.saves: list[tuple[str, str, int]] = []

    def get(self, channel: str, order_id: str) -> Order | None:
        return self.inner.get(channel, order_id)

    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(order, expected_version)
        self.saves.append((order.channel, order.order_id, order.version))

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        return self.inner.orders(status=status, after=after, limit=limit)

    def __getattr__(self, name: str) -> Any:
        # The optional reads (waiting, placed_between) pass through: the
        # contract finds them with getattr and runs their tests too.
        return getattr(self.inner, name)


class TestLoggedOrders(OrderStoreContract):
    """Every rule of the OrderStore port, on a fresh store per test."""

    def make_store(self) -> OrderStore:
        return LoggedOrders(MemoryOrderStore())


def test_logged_orders_keep_the_order_store_laws() -> None:
    """Long runs of mixed saves and reads, checked after every step."""
    check_order_store_laws(lambda: LoggedOrders(MemoryOrderStore()))
