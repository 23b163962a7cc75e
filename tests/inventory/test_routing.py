from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit._validate import MAX_INT
from orderkit.errors import (
    EmptyOrder,
    InsufficientStock,
    InvalidQuantity,
    UnknownLocation,
    ValidationError,
)
from orderkit.inventory import (
    Balance,
    Route,
    RoutingStrategy,
    Shortage,
    StockLine,
    _routing,
    route,
)


NEAREST = RoutingStrategy.NEAREST
LOCATION_ORDER = RoutingStrategy.LOCATION_ORDER
MOST_STOCK = RoutingStrategy.MOST_STOCK

TEA = "TEA-LONGJING-250G"
MUG = "MUG-CELADON-300ML"
FAN = "FAN-SANDALWOOD"


def stock(sku: str, **units: int) -> list[Balance]:
    """One balance of `sku` per keyword: location=on hand."""
    return [Balance(sku, place, on_hand=n) for place, n in units.items()]


def shipped(result: Route) -> list[tuple[str, str, int]]:
    return [(line.location, line.sku, line.quantity) for line in result.lines]


# --------------------------------------------------------------------------
# The acceptance scenarios


class TestAcceptance:
    """The scenarios the routing issue names, exactly."""

    def test_most_stock_takes_all_of_the_bigger_location_first(self) -> None:
        balances = stock("SKU-1", W1=4, W2=3)
        result = route(
            {"SKU-1": 5}, balances, locations=["W1", "W2"], strategy=MOST_STOCK
        )
        assert [("W1", "SKU-1", 4), ("W2", "SKU-1", 1)] == shipped(result)

    def test_most_stock_tie_goes_to_location_order(self) -> None:
        balances = [
            Balance("SKU-1", "W1", on_hand=4, allocated=2),
            Balance("SKU-1", "W2", on_hand=3, allocated=1),
        ]
        result = route(
            {"SKU-1": 3}, balances, locations=["W1", "W2"], strategy=MOST_STOCK
        )
        assert [("W1", "SKU-1", 2), ("W2", "SKU-1", 1)] == shipped(result)

    def test_most_stock_short_order_lists_the_shortage(self) -> None:
        balances = [
            Balance("SKU-1", "W1", on_hand=4, allocated=2),
            Balance("SKU-1", "W2", on_hand=3, allocated=1),
        ]
        with pytest.raises(InsufficientStock) as caught:
            route({"SKU-1": 6}, balances, locations=["W1", "W2"], strategy=MOST_STOCK)
        assert (Shortage("SKU-1", None, 6, 4),) == caught.value.shortages

    def test_fewest_shipments_not_greedy_nearest_first(self) -> None:
        balances = stock("SKU-1", A=3, B=4, C=7, D=3)
        distances = {"A": 1, "B": 2, "C": 3, "D": 4}
        result = route({"SKU-1": 10}, balances, distances=distances, strategy=NEAREST)
        assert 2 == result.shipments
        assert {"A", "B", "D"} != set(result.locations)
        # The issue text said "C + D", but that contradicts its own rule of
        # fewest shipments, then nearest first: A + C and C + D both ship 10 in
        # two parcels, and A (rank 0) is nearer than D (rank 3), so A + C wins.
        assert [("A", "SKU-1", 3), ("C", "SKU-1", 7)] == shipped(result)


# --------------------------------------------------------------------------
# The rule, case by case


class TestOneLocation:
    """A location that fills the whole order ships it alone."""

    def test_farther_whole_beats_nearer_partial(self) -> None:
        balances = stock(TEA, HANGZHOU=2, CHENGDU=9)
        result = route({TEA: 5}, balances, distances={"HANGZHOU": 10, "CHENGDU": 1800})
        assert [("CHENGDU", TEA, 5)] == shipped(result)

    def test_nearest_of_several_whole_locations(self) -> None:
        balances = stock(TEA, GUANGZHOU=9, SHANGHAI=9, BEIJING=9)
        distances = {"BEIJING": 1200, "GUANGZHOU": 1400, "SHANGHAI": 30}
        result = route({TEA: 9}, balances, distances=distances)
        assert ("SHANGHAI",) == result.locations

    def test_multi_sku_order_from_the_one_location_holding_both(self) -> None:
        balances = [
            *stock(TEA, NEAR=5, FAR=5),
            *stock(MUG, NEAR=0, FAR=2),
        ]
        result = route({TEA: 3, MUG: 2}, balances, distances={"NEAR": 1, "FAR": 50})
        assert [("FAR", TEA, 3), ("FAR", MUG, 2)] == shipped(result)


class TestSplit:
    """Orders no location can fill alone go out in the fewest parcels."""

    def test_multi_sku_split_uses_each_location_for_what_it_has(self) -> None:
        balances = [*stock(TEA, SH=4, HZ=0), *stock(MUG, SH=0, HZ=6)]
        result = route({MUG: 6, TEA: 4}, balances, distances={"SH": 1, "HZ": 2})
        # By rank, then by the demand's SKU order.
        assert [("SH", TEA, 4), ("HZ", MUG, 6)] == shipped(result)

    def test_line_one_location_can_fill_is_not_split(self) -> None:
        # TEA forces both A and B; MUG fits in either, so it comes whole from A.
        balances = [*stock(TEA, A=3, B=3), *stock(MUG, A=5, B=5)]
        result = route({TEA: 5, MUG: 4}, balances, distances={"A": 1, "B": 2})
        assert [("A", TEA, 3), ("A", MUG, 4), ("B", TEA, 2)] == shipped(result)

    def test_line_that_one_location_fills_comes_from_the_best_ranked_that_can(
        self,
    ) -> None:
        # FAN needs A and C; TEA fits only in C, though A is nearer.
        balances = [*stock(FAN, A=5, C=5), *stock(TEA, A=1, C=4)]
        result = route({FAN: 8, TEA: 3}, balances, distances={"A": 1, "C": 3})
        assert [("A", FAN, 5), ("C", FAN, 3), ("C", TEA, 3)] == shipped(result)

    def test_split_line_takes_the_fewest_pieces_within_the_set(self) -> None:
        # MUG needs all three locations. FAN could come from all three nearest
        # first (2 + 5 + 2), but B and C fill it in two pieces (5 + 4), and no
        # better-ranked pair does (A + B ships 7, A + C ships 6).
        balances = [
            *stock(MUG, A=1, B=1, C=1),
            *stock(FAN, A=2, B=5, C=4),
        ]
        result = route({MUG: 3, FAN: 9}, balances, distances={"A": 1, "B": 2, "C": 3})
        pieces = Counter(line.sku for line in result.lines)
        assert 3 == pieces[MUG]
        assert 2 == pieces[FAN]
        fan = [
            (line.location, line.quantity) for line in result.lines if line.sku == FAN
        ]
        assert [("B", 5), ("C", 4)] == fan

    def test_one_far_big_location_beats_three_near_small_ones(self) -> None:
        balances = stock(TEA, A=2, B=2, C=2, D=9)
        result = route({TEA: 11}, balances, distances={"A": 1, "B": 2, "C": 3, "D": 4})
        assert [("A", TEA, 2), ("D", TEA, 9)] == shipped(result)

    def test_negative_available_offers_nothing(self) -> None:
        balances = [
            Balance(TEA, "OVERSOLD", on_hand=1, reserved=4),
            Balance(TEA, "SPARE", on_hand=3),
        ]
        result = route({TEA: 3}, balances, distances={"OVERSOLD": 0, "SPARE": 9})
        assert [("SPARE", TEA, 3)] == shipped(result)


class TestStrategies:
    """Each strategy ranks locations its own way; location order breaks ties."""

    def test_location_order_follows_the_given_order(self) -> None:
        balances = stock(TEA, SH=6, BJ=6, GZ=6)
        result = route(
            {TEA: 4}, balances, locations=["GZ", "SH", "BJ"], strategy=LOCATION_ORDER
        )
        assert [("GZ", TEA, 4)] == shipped(result)

    def test_location_order_ignores_distances(self) -> None:
        balances = stock(TEA, SH=6, BJ=6)
        result = route(
            {TEA: 4},
            balances,
            locations=["BJ", "SH"],
            distances={"SH": 1},
            strategy="location_order",
        )
        assert ("BJ",) == result.locations

    def test_nearest_distance_ties_go_to_location_order(self) -> None:
        balances = stock(TEA, EAST=5, WEST=5)
        result = route({TEA: 5}, balances, distances={"WEST": 7, "EAST": 7})
        assert ("WEST",) == result.locations

    def test_nearest_mixes_int_float_and_decimal(self) -> None:
        balances = stock(TEA, A=5, B=5, C=5)
        distances: dict[str, int | float | Decimal] = {
            "A": 3,
            "B": Decimal("2.5"),
            "C": 2.75,
        }
        assert ("B",) == route({TEA: 5}, balances, distances=distances).locations

    def test_infinite_distance_ranks_last(self) -> None:
        balances = stock(TEA, MOON=5, EARTH=5)
        distances = {"MOON": float("inf"), "EARTH": 12_000}
        assert ("EARTH",) == route({TEA: 5}, balances, distances=distances).locations

    def test_most_stock_counts_every_demanded_sku(self) -> None:
        balances = [*stock(TEA, A=3, B=1), *stock(MUG, A=1, B=4), *stock(FAN, A=90)]
        result = route({TEA: 1, MUG: 1}, balances, strategy=MOST_STOCK)
        # Either fills the order; B holds 5 units of its SKUs, A only 4 (FAN is
        # not in the order, so A's 90 fans do not count).
        assert ("B",) == result.locations

    def test_strategy_accepts_its_string_value(self) -> None:
        assert RoutingStrategy("most_stock") is MOST_STOCK
        result = route({TEA: 1}, stock(TEA, SH=1), strategy="most_stock")
        assert ("SH",) == result.locations


class TestInputs:
    """Demand, candidates and defaults, the way callers pass them."""

    def test_duplicate_pairs_are_summed(self) -> None:
        balances = stock(TEA, SH=3, HZ=3)
        demand = [(TEA, 2), (TEA, 2), (TEA, 1)]
        result = route(demand, balances, distances={"SH": 1, "HZ": 2})
        assert [("SH", TEA, 3), ("HZ", TEA, 2)] == shipped(result)

    def test_pairs_keep_first_appearance_order(self) -> None:
        balances = [*stock(TEA, SH=5), *stock(MUG, SH=5)]
        result = route([(MUG, 1), (TEA, 1), (MUG, 1)], balances, distances={"SH": 0})
        assert [("SH", MUG, 2), ("SH", TEA, 1)] == shipped(result)

    def test_locations_not_listed_are_ignored(self) -> None:
        balances = stock(TEA, SH=9, HZ=4, NB=4)
        result = route(
            {TEA: 8}, balances, locations=["HZ", "NB"], strategy=LOCATION_ORDER
        )
        assert ("HZ", "NB") == result.locations

    def test_default_candidates_are_the_distance_table(self) -> None:
        balances = stock(TEA, SH=9, HZ=4, NB=4)
        result = route({TEA: 8}, balances, distances={"NB": 5, "HZ": 9})
        assert [("NB", TEA, 4), ("HZ", TEA, 4)] == shipped(result)

    def test_default_location_order_comes_from_distances_then_balances(
        self,
    ) -> None:
        balances = stock(TEA, SH=9, HZ=9)
        by_table = route(
            {TEA: 1}, balances, distances={"HZ": 1, "SH": 0}, strategy=LOCATION_ORDER
        )
        by_balances = route({TEA: 1}, balances, strategy=LOCATION_ORDER)
        assert ("HZ",) == by_table.locations
        assert ("SH",) == by_balances.locations

    def test_listed_location_without_stock_is_a_candidate(self) -> None:
        result = route(
            {TEA: 1},
            stock(TEA, SH=1),
            locations=["EMPTY", "SH"],
            distances={"EMPTY": 0, "SH": 1},
        )
        assert ("SH",) == result.locations

    def test_balances_of_other_skus_are_ignored(self) -> None:
        balances = [*stock(FAN, SH=50), *stock(TEA, HZ=1)]
        result = route({TEA: 1}, balances, strategy=LOCATION_ORDER)
        assert [("HZ", TEA, 1)] == shipped(result)

    def test_balances_may_be_any_iterable(self) -> None:
        result = route({TEA: 1}, iter(stock(TEA, SH=1)), strategy=MOST_STOCK)
        assert ("SH",) == result.locations

    def test_every_short_sku_is_listed_in_demand_order(self) -> None:
        balances = [*stock(TEA, SH=1, HZ=1), *stock(MUG, SH=9), *stock(FAN, HZ=2)]
        with pytest.raises(InsufficientStock) as caught:
            route({FAN: 3, MUG: 9, TEA: 5}, balances, strategy=LOCATION_ORDER)
        assert (
            Shortage(FAN, None, 3, 2),
            Shortage(TEA, None, 5, 2),
        ) == caught.value.shortages

    def test_no_candidates_is_short_of_everything(self) -> None:
        with pytest.raises(InsufficientStock) as caught:
            route({TEA: 1}, [], strategy=LOCATION_ORDER)
        assert (Shortage(TEA, None, 1, 0),) == caught.value.shortages


def _nearest(**distances: Any) -> dict[str, Any]:
    return {"distances": distances}


# id, demand, balances, keywords, error, field, value
Refusal = tuple[str, Any, Any, dict[str, Any], type[ValidationError], str, Any]
REFUSED: list[Refusal] = [
    ("empty mapping", {}, [], {}, EmptyOrder, "demand", {}),
    ("empty pairs", [], [], {}, EmptyOrder, "demand", []),
    ("zero quantity", {TEA: 0}, [], {}, InvalidQuantity, f"demand[{TEA!r}]", 0),
    ("negative quantity", {TEA: -2}, [], {}, InvalidQuantity, f"demand[{TEA!r}]", -2),
    ("float quantity", {TEA: 1.5}, [], {}, InvalidQuantity, f"demand[{TEA!r}]", 1.5),
    ("bool quantity", {TEA: True}, [], {}, InvalidQuantity, f"demand[{TEA!r}]", True),
    ("text quantity", {TEA: "3"}, [], {}, InvalidQuantity, f"demand[{TEA!r}]", "3"),
    (
        "summed past 2**63 - 1",
        [(TEA, MAX_INT), (TEA, 1)],
        [],
        {},
        InvalidQuantity,
        f"demand[{TEA!r}]",
        MAX_INT + 1,
    ),
    ("demand is a string", TEA, [], {}, ValidationError, "demand", TEA),
    ("demand is a number", 7, [], {}, ValidationError, "demand", 7),
    ("not a pair", [(TEA,)], [], {}, ValidationError, "demand[0]", (TEA,)),
    ("string pair", ["ab"], [], {}, ValidationError, "demand[0]", "ab"),
    ("blank sku", {" ": 1}, [], {}, ValidationError, "demand", " "),
    ("sku not text", [(7, 1)], [], {}, ValidationError, "demand[0]", 7),
    (
        "not a balance",
        {TEA: 1},
        [Balance(TEA, "SH"), "SH"],
        {},
        ValidationError,
        "balances[1]",
        "SH",
    ),
    (
        "repeated balance",
        {TEA: 1},
        [Balance(TEA, "SH"), Balance(TEA, "SH", on_hand=1)],
        {},
        ValidationError,
        "balances[1]",
        Balance(TEA, "SH", on_hand=1),
    ),
    (
        "locations is a string",
        {TEA: 1},
        [],
        {"locations": "SH"},
        ValidationError,
        "locations",
        "SH",
    ),
    (
        "repeated location",
        {TEA: 1},
        [],
        {"locations": ["SH", "SH"], "strategy": LOCATION_ORDER},
        ValidationError,
        "locations[1]",
        "SH",
    ),
    (
        "blank location",
        {TEA: 1},
        [],
        {"locations": ["SH", ""], "strategy": LOCATION_ORDER},
        ValidationError,
        "locations[1]",
        "",
    ),
    ("nearest without distances", {TEA: 1}, [], {}, ValidationError, "distances", None),
    (
        "candidate without distance",
        {TEA: 1},
        [],
        {"locations": ["SH", "HZ"], "distances": {"SH": 1}},
        UnknownLocation,
        "distances",
        "HZ",
    ),
    (
        "negative distance",
        {TEA: 1},
        [],
        _nearest(SH=-1),
        ValidationError,
        "distances['SH']",
        -1,
    ),
    (
        "NaN",
        {TEA: 1},
        [],
        _nearest(SH=float("nan")),
        ValidationError,
        "distances['SH']",
        None,
    ),
    (
        "Decimal NaN",
        {TEA: 1},
        [],
        _nearest(SH=Decimal("NaN")),
        ValidationError,
        "distances['SH']",
        None,
    ),
    (
        "signalling NaN",
        {TEA: 1},
        [],
        _nearest(SH=Decimal("sNaN")),
        ValidationError,
        "distances['SH']",
        None,
    ),
    (
        "bool distance",
        {TEA: 1},
        [],
        _nearest(SH=True),
        ValidationError,
        "distances['SH']",
        True,
    ),
    (
        "text distance",
        {TEA: 1},
        [],
        _nearest(SH="9"),
        ValidationError,
        "distances['SH']",
        "9",
    ),
    (
        "distances not a mapping",
        {TEA: 1},
        [],
        {"distances": [("SH", 1)]},
        ValidationError,
        "distances",
        [("SH", 1)],
    ),
    (
        "bogus strategy",
        {TEA: 1},
        [],
        {"strategy": "cheapest"},
        ValidationError,
        "strategy",
        "cheapest",
    ),
]


class TestRefusals:
    """Every malformed argument raises its typed error, naming the field."""

    @pytest.mark.parametrize(
        "case", [pytest.param(case, id=case[0]) for case in REFUSED]
    )
    def test_refused(self, case: Refusal) -> None:
        _, demand, balances, keywords, error, field, value = case
        with pytest.raises(error) as caught:
            route(demand, balances, **keywords)
        assert error is type(caught.value)
        assert field == caught.value.field
        if value is not None:  # NaN equals nothing; None is checked apart below
            assert value == caught.value.value

    def test_nearest_without_distances_names_none(self) -> None:
        with pytest.raises(ValidationError) as caught:
            route({TEA: 1}, stock(TEA, SH=1))
        assert caught.value.value is None

    def test_a_bad_argument_wins_over_a_short_one(self) -> None:
        with pytest.raises(UnknownLocation):
            route({TEA: 99}, [], locations=["SH"], distances={})

    def test_a_location_missing_from_the_distances_is_named_so(self) -> None:
        with pytest.raises(UnknownLocation) as caught:
            route({TEA: 1}, [], locations=["SH"], distances={})
        assert caught.value.problem == "the distance table has no such location"


class TestRoute:
    """The Route value: its lines, locations and shipment count."""

    def test_locations_and_shipments(self) -> None:
        result = Route(
            [
                StockLine(TEA, "SH", 2),
                StockLine(MUG, "SH", 1),
                StockLine(TEA, "HZ", 5),
            ]
        )
        assert ("SH", "HZ") == result.locations
        assert 2 == result.shipments

    def test_lines_become_a_tuple(self) -> None:
        assert isinstance(Route([StockLine(TEA, "SH", 1)]).lines, tuple)

    def test_refuses_what_is_not_a_stock_line(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Route([StockLine(TEA, "SH", 1), (TEA, "SH", 1)])  # type: ignore[list-item]
        assert "lines[1]" == caught.value.field

    def test_is_frozen(self) -> None:
        result = Route([StockLine(TEA, "SH", 1)])
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            result.lines = ()  # type: ignore[misc]


class TestGreedy:
    """Above the exact-search limit, a greedy set cover still fills exactly."""

    def test_many_locations_use_the_greedy_cover(self) -> None:
        # Twenty stores of 1, and three depots that hold 10 between them.
        places = {f"STORE-{n:02}": 1 for n in range(20)} | {
            "DEPOT-N": 4,
            "DEPOT-S": 3,
            "DEPOT-W": 3,
        }
        balances = stock(TEA, **places)
        with mock.patch.object(_routing, "_greedy", wraps=_routing._greedy) as greedy:
            result = route({TEA: 10}, balances, strategy=LOCATION_ORDER)
        assert greedy.called
        assert ("DEPOT-N", "DEPOT-S", "DEPOT-W") == tuple(sorted(result.locations))
        assert [4, 3, 3] == [line.quantity for line in result.lines]

    def test_greedy_drops_a_pick_that_later_picks_made_redundant(self) -> None:
        # Most units first picks X (5 of TEA, 5 of MUG), then Y and Z for the
        # rest of each SKU; Y and Z alone fill the order, so X is dropped.
        needs = (6, 6)
        offers = [(5, 5), (6, 0), (0, 6)]
        assert (1, 2) == _routing._greedy(needs, offers)


# --------------------------------------------------------------------------
# Properties, against brute force over every subset of a few locations

PLACES = ("SH", "HZ", "NB", "SZ", "CD")
SKUS = (TEA, MUG, FAN)


@attrs.frozen
class Case:
    demand: dict[str, int]
    balances: list[Balance]
    locations: list[str]
    distances: dict[str, int]
    strategy: RoutingStrategy


@st.composite
def cases(draw: st.DrawFn) -> Case:
    places = draw(st.integers(1, len(PLACES)))
    locations = list(PLACES[:places])
    skus = SKUS[: draw(st.integers(1, len(SKUS)))]
    demand = {sku: draw(st.integers(1, 8)) for sku in skus}
    balances = [
        Balance(
            sku,
            place,
            on_hand=draw(st.integers(0, 8)),
            allocated=draw(st.integers(0, 2)),
        )
        for sku in skus
        for place in locations
        if draw(st.integers(0, 3))  # a quarter of the balances missing
    ]
    distances = {place: draw(st.integers(0, 3)) for place in locations}
    strategy = draw(st.sampled_from(RoutingStrategy))
    return Case(demand, balances, locations, distances, strategy)


def run(case: Case) -> Route:
    return route(
        case.demand,
        case.balances,
        locations=case.locations,
        distances=case.distances,
        strategy=case.strategy,
    )


def offered(case: Case) -> dict[tuple[str, str], int]:
    return {(b.sku, b.location): max(0, b.available) for b in case.balances}


def fills(case: Case, places: Iterable[str], skus: Iterable[str] | None = None) -> bool:
    have = offered(case)
    chosen = list(places)
    return all(
        sum(have.get((sku, p), 0) for p in chosen) >= case.demand[sku]
        for sku in (case.demand if skus is None else skus)
    )


def subsets(places: Sequence[str]) -> Iterable[tuple[str, ...]]:
    for size in range(len(places) + 1):
        yield from itertools.combinations(places, size)


def ranks(case: Case) -> dict[str, int]:
    """The rank of each location, by a plain model of the three strategies."""
    have = offered(case)
    order = case.locations
    if case.strategy is LOCATION_ORDER:
        ranked = list(order)
    elif case.strategy is MOST_STOCK:
        ranked = sorted(
            order,
            key=lambda p: (
                -sum(have.get((s, p), 0) for s in case.demand),
                order.index(p),
            ),
        )
    else:
        ranked = sorted(order, key=lambda p: (case.distances[p], order.index(p)))
    return {place: rank for rank, place in enumerate(ranked)}


def pieces_of(result: Route, sku: str) -> int:
    return sum(1 for line in result.lines if line.sku == sku)


def min_pieces(case: Case, sku: str, within: Iterable[str]) -> int:
    return min(
        len(subset) for subset in subsets(list(within)) if fills(case, subset, [sku])
    )


def totals(result: Route) -> Mapping[str, int]:
    summed: Counter[str] = Counter()
    for line in result.lines:
        summed[line.sku] += line.quantity
    return summed


def fillable(case: Case) -> bool:
    return fills(case, case.locations)


FILLABLE = cases().filter(fillable)
SHORT = cases().filter(lambda case: not fillable(case))


class TestProperties:
    """What holds for every route, checked against brute force."""

    @given(FILLABLE)
    def test_lines_sum_exactly_to_the_demand(self, case: Case) -> None:
        assert case.demand == dict(totals(run(case)))

    @given(FILLABLE)
    def test_no_location_gives_more_than_it_has(self, case: Case) -> None:
        have = offered(case)
        for line in run(case).lines:
            assert line.quantity <= have[line.sku, line.location]

    @given(FILLABLE)
    def test_shipments_are_fewest_and_the_set_best_ranked(self, case: Case) -> None:
        result = run(case)
        rank = ranks(case)
        fewest = min(len(s) for s in subsets(case.locations) if fills(case, s))
        best = min(
            sorted(rank[p] for p in s)
            for s in itertools.combinations(case.locations, fewest)
            if fills(case, s)
        )
        assert fewest == result.shipments
        assert best == sorted(rank[p] for p in result.locations)
        # Lines go out by location rank.
        assert sorted(result.locations, key=rank.__getitem__) == list(result.locations)

    @given(FILLABLE)
    def test_each_line_takes_the_fewest_pieces_in_the_set(self, case: Case) -> None:
        result = run(case)
        for sku in case.demand:
            assert min_pieces(case, sku, result.locations) == pieces_of(result, sku)

    @given(SHORT)
    def test_short_stock_lists_exactly_the_short_skus(self, case: Case) -> None:
        have = offered(case)
        available = {
            sku: sum(have.get((sku, p), 0) for p in case.locations)
            for sku in case.demand
        }
        expected = tuple(
            Shortage(sku, None, need, available[sku])
            for sku, need in case.demand.items()
            if available[sku] < need
        )
        with pytest.raises(InsufficientStock) as caught:
            run(case)
        assert expected == caught.value.shortages

    @given(FILLABLE)
    def test_greedy_cover_fills_without_a_redundant_location(self, case: Case) -> None:
        with mock.patch.object(_routing, "_EXACT_SEARCH_LIMIT", 0):
            result = run(case)
        have = offered(case)
        assert case.demand == dict(totals(result))
        for line in result.lines:
            assert line.quantity <= have[line.sku, line.location]
        for place in result.locations:
            assert not fills(case, [p for p in result.locations if p != place])
        for sku in case.demand:
            assert min_pieces(case, sku, result.locations) == pieces_of(result, sku)


class TestUnorderedLocations:
    """Locations rank and break ties, so an unordered collection is refused."""

    @pytest.mark.parametrize(
        "locations",
        [
            pytest.param({"L1", "L2"}, id="set"),
            pytest.param(frozenset({"L1", "L2"}), id="frozenset"),
            pytest.param({"L1": 0, "L2": 1}.keys(), id="dict-keys"),
            pytest.param({"L1": 0, "L2": 1}.items(), id="dict-items"),
        ],
    )
    def test_refused_by_field(self, locations: Any) -> None:
        stock = [Balance(TEA, "L1", on_hand=3), Balance(TEA, "L2", on_hand=3)]
        with pytest.raises(ValidationError) as error:
            route({TEA: 2}, stock, locations=locations, strategy=LOCATION_ORDER)
        assert error.value.field == "locations"

    def test_a_tie_follows_the_order_given(self) -> None:
        stock = [Balance(TEA, "L1", on_hand=3), Balance(TEA, "L2", on_hand=3)]
        for order in (["L1", "L2"], ("L2", "L1")):
            chosen = route({TEA: 2}, stock, locations=order, strategy=MOST_STOCK)
            assert chosen.locations == (order[0],)
