"""`route_summed`, the order desk's `route`: same routes, same errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit._validate import MAX_INT
from orderkit.errors import (
    EmptyOrder,
    InsufficientStock,
    InvalidQuantity,
    ValidationError,
)
from orderkit.inventory import Balance, RoutingStrategy, route
from orderkit.inventory._routing import route_summed


LOCATIONS = ("SZ", "GZ", "DG")
SKUS = ("A", "B", "C")
STRATEGIES = (RoutingStrategy.LOCATION_ORDER, RoutingStrategy.MOST_STOCK)


def _outcome(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except (InsufficientStock, ValidationError) as error:
        return type(error), str(error)


@given(
    demand=st.dictionaries(st.sampled_from(SKUS), st.integers(1, 6), min_size=1),
    stock=st.lists(st.integers(-2, 6), min_size=9, max_size=9),
    strategy=st.sampled_from(STRATEGIES),
)
def test_it_routes_as_route_does(
    demand: dict[str, int], stock: list[int], strategy: RoutingStrategy
) -> None:
    balances = [
        Balance(sku, place, on_hand=max(units, 0), reserved=max(-units, 0))
        for (sku, place), units in zip(
            [(s, p) for s in SKUS for p in LOCATIONS], stock, strict=True
        )
    ]
    expected = _outcome(
        lambda: route(demand, balances, locations=LOCATIONS, strategy=strategy)
    )
    found = _outcome(
        lambda: route_summed(demand, balances, locations=LOCATIONS, strategy=strategy)
    )
    assert found == expected


def test_a_sum_past_the_largest_count_is_refused_as_route_refuses_it() -> None:
    balances = [Balance("A", "SZ", on_hand=1)]
    with pytest.raises(InvalidQuantity) as summed:
        route_summed(
            {"A": MAX_INT + 1},
            balances,
            locations=("SZ",),
            strategy=RoutingStrategy.LOCATION_ORDER,
        )
    with pytest.raises(InvalidQuantity) as routed:
        route(
            [("A", MAX_INT), ("A", 1)],
            balances,
            locations=("SZ",),
            strategy=RoutingStrategy.LOCATION_ORDER,
        )
    assert (summed.value.field, str(summed.value)) == (
        routed.value.field,
        str(routed.value),
    )


def test_no_demand_is_an_empty_order() -> None:
    with pytest.raises(EmptyOrder):
        route_summed({}, [], locations=("SZ",), strategy=RoutingStrategy.LOCATION_ORDER)


@pytest.mark.parametrize(
    ("balances", "locations", "field"),
    [
        ("not balances", ("SZ",), "balances"),
        ([Balance("A", "SZ", 1), "x"], ("SZ",), "balances[1]"),
        ([Balance("A", "SZ", 1), Balance("A", "SZ", 2)], ("SZ",), "balances[1]"),
        ([Balance("A", "SZ", 1)], ("SZ", "SZ"), "locations[1]"),
        ([Balance("A", "SZ", 1)], {"SZ"}, "locations"),
    ],
)
def test_balances_and_locations_are_checked_as_route_checks_them(
    balances: object, locations: object, field: str
) -> None:
    for call in (route, route_summed):
        with pytest.raises(ValidationError) as raised:
            call(
                {"A": 1},
                balances,  # type: ignore[arg-type]
                locations=locations,  # type: ignore[arg-type]
                strategy=RoutingStrategy.LOCATION_ORDER,
            )
        assert raised.value.field == field
