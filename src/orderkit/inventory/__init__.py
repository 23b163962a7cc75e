"""The inventory ledger as pure math: balances, holds, movements, plans, routing.

Nothing here does I/O. A ledger operation becomes a `Plan` (conditional
movements and checks) that a `orderkit.ports.LedgerStore` applies all or
nothing, returning a `Receipt`; `orderkit.services.Ledger` is the façade
that users call. `replay` rebuilds balances from movements, so any store can
be audited; `route` chooses the locations that ship an order.

.. versionadded:: 0.1.0
"""

from orderkit.inventory._holds import Hold as Hold
from orderkit.inventory._holds import HoldState as HoldState
from orderkit.inventory._movements import Movement as Movement
from orderkit.inventory._movements import MovementKind as MovementKind
from orderkit.inventory._movements import replay as replay
from orderkit.inventory._plans import Check as Check
from orderkit.inventory._plans import HoldWrite as HoldWrite
from orderkit.inventory._plans import Measure as Measure
from orderkit.inventory._plans import Plan as Plan
from orderkit.inventory._plans import Receipt as Receipt
from orderkit.inventory._plans import Swept as Swept
from orderkit.inventory._policies import Backorder as Backorder
from orderkit.inventory._policies import NoOversell as NoOversell
from orderkit.inventory._policies import Preorder as Preorder
from orderkit.inventory._policies import StockPolicy as StockPolicy
from orderkit.inventory._routing import Route as Route
from orderkit.inventory._routing import RoutingStrategy as RoutingStrategy
from orderkit.inventory._routing import route as route
from orderkit.inventory._signals import Delist as Delist
from orderkit.inventory._signals import Relist as Relist
from orderkit.inventory._signals import StockSignal as StockSignal
from orderkit.inventory._stock import Balance as Balance
from orderkit.inventory._stock import Shortage as Shortage
from orderkit.inventory._stock import StockLine as StockLine


__all__ = [
    "Backorder",
    "Balance",
    "Check",
    "Delist",
    "Hold",
    "HoldState",
    "HoldWrite",
    "Measure",
    "Movement",
    "MovementKind",
    "NoOversell",
    "Plan",
    "Preorder",
    "Receipt",
    "Relist",
    "Route",
    "RoutingStrategy",
    "Shortage",
    "StockLine",
    "StockPolicy",
    "StockSignal",
    "Swept",
    "replay",
    "route",
]
