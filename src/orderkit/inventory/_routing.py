"""Warehouse routing: which locations ship an order, and how much from each."""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import final

import attrs

from orderkit._fast import builder
from orderkit._validate import MAX_INT, as_tuple, text
from orderkit.errors import (
    EmptyOrder,
    InsufficientStock,
    InvalidQuantity,
    UnknownLocation,
    ValidationError,
)
from orderkit.inventory._stock import Balance, Shortage, StockLine


# Up to this many locations holding any demanded SKU, `route` searches every
# subset (at most 2**16 feasibility checks); above it, a greedy set cover.
_EXACT_SEARCH_LIMIT = 16


@final
class RoutingStrategy(enum.StrEnum):
    """How `route` ranks the candidate locations.

    The rank breaks every tie in `route`: which single location ships a whole
    order, which set of locations ships a split one, and which locations a
    split line comes from. `RoutingStrategy("bogus")` raises `ValidationError`.

    .. versionadded:: 0.1.0
    """

    NEAREST = "nearest"
    """By distance from the destination, nearest first; ties by location order."""
    LOCATION_ORDER = "location_order"
    """In the order the locations are given (Saleor's PRIORITIZE_SORTING_ORDER)."""
    MOST_STOCK = "most_stock"
    """Most available units of the order's SKUs first; ties by location order.

    Like Saleor's PRIORITIZE_HIGH_STOCK. The units are summed over the order's
    SKUs, uncapped by what the order needs.
    """

    # Enum hashes in Python; str hashes in C, and equal values hash equal.
    __hash__ = str.__hash__

    @classmethod
    def _missing_(cls, value: object) -> RoutingStrategy:
        choices = ", ".join(repr(s.value) for s in cls)
        raise ValidationError("strategy", value, f"must be one of {choices}")


def _route_lines(value: Iterable[StockLine]) -> tuple[StockLine, ...]:
    return as_tuple(value, "lines", StockLine)


@final
@attrs.frozen(slots=True)
class Route:
    """Where an order ships from: one line per SKU and location.

    Each line is directly usable as a line of a reservation. `route` orders
    the lines by location rank, then by the SKU order of the demand.

    Attributes:
        lines: The SKU, location and quantity of each piece.

    .. versionadded:: 0.1.0
    """

    lines: tuple[StockLine, ...] = attrs.field(converter=_route_lines)

    @property
    def locations(self) -> tuple[str, ...]:
        """The distinct locations, in the order they ship (by rank, from `route`)."""
        return tuple(dict.fromkeys(line.location for line in self.lines))

    @property
    def shipments(self) -> int:
        """How many locations ship: the number of distinct locations."""
        return len(self.locations)


# `route` builds its result from values it validated itself: the demand's
# SKUs, the candidates' names, and quantities `_split` keeps within the
# demand and above zero. Re-validating them cost a third of its time.
_new_route = builder(Route)
_new_line = builder(StockLine)


def route(
    demand: Mapping[str, int] | Iterable[tuple[str, int]],
    balances: Iterable[Balance],
    *,
    locations: Sequence[str] | None = None,
    distances: Mapping[str, int | float | Decimal] | None = None,
    strategy: RoutingStrategy | str = RoutingStrategy.NEAREST,
) -> Route:
    """Choose the locations that ship an order, and how much each ships.

    The rule, with every tie broken by the locations' rank under `strategy`:

    1. If one location can fill the whole order, the best-ranked such
       location ships it all.
    2. Otherwise the order is split across the fewest locations that together
       fill it; among sets of that size, the best-ranked one wins, comparing
       the sets' sorted ranks lexicographically (nearest first).
    3. Within that set no line is split more than it must be: a line one
       location can fill comes from the best-ranked location that can; a line
       that needs several comes from the fewest locations, best-ranked first,
       taking as much as possible from each in rank order.

    Up to 16 locations holding any of the order's SKUs, the set in step 2 is
    found by exact search. Above that, a greedy set cover chooses it (the
    location covering most of the remaining units, ties by rank, then dropping
    any location the others make redundant, worst-ranked first): fast, and
    usually at the fewest shipments, but not guaranteed to be.

    Args:
        demand: SKU to quantity, or `(sku, quantity)` pairs; repeated SKUs
            are summed.
        balances: The stock; a location offers `max(0, available)` of a SKU.
            Balances of SKUs not demanded are ignored.
        locations: The candidate locations, in location order: a list or
            tuple, never a set, whose order would change between runs. By default
            the locations of `distances` if given (it lists the places that
            ship to the destination), else of `balances`, in order of first
            appearance. Stock at other locations is ignored.
        distances: Location to distance from the destination (int, float or
            Decimal, zero or more). Required by `RoutingStrategy.NEAREST`;
            other strategies use it only for the default location order.
        strategy: How locations are ranked.

    Returns:
        The route: lines by location rank, then by the demand's SKU order.

    Raises:
        EmptyOrder: `demand` has no lines.
        InvalidQuantity: A demanded quantity is not a positive integer.
        UnknownLocation: Under `NEAREST`, a location of `locations` has no
            distance.
        ValidationError: Any other malformed argument, or `NEAREST` without
            `distances`.
        InsufficientStock: All candidate locations together fall short; one
            `Shortage` (location `None`) per short SKU, in demand order.

    .. versionadded:: 0.1.0
    """
    if type(strategy) is not RoutingStrategy:
        strategy = RoutingStrategy(strategy)
    return _route(_demand(demand), balances, locations, distances, strategy)


def route_summed(
    demand: dict[str, int],
    balances: Iterable[Balance],
    *,
    locations: Sequence[str],
    strategy: RoutingStrategy,
) -> Route:
    """`route` of what an order's lines ask, summed by SKU: the order desk's.

    Each SKU is an `OrderLine`'s, which checked it as `route` does, and
    each quantity a sum of lines' positive quantities: only the sum's bound
    is left to check. The balances and locations are checked as `route`
    checks them, with the same errors.
    """
    if not demand:
        raise EmptyOrder("demand", demand, "an order needs at least one line")
    for sku, total in demand.items():
        _check_total(sku, total)
    return _route(demand, balances, locations, None, strategy)


def _route(
    wanted: dict[str, int],
    balances: Iterable[Balance],
    locations: Sequence[str] | None,
    distances: Mapping[str, int | float | Decimal] | None,
    strategy: RoutingStrategy,
) -> Route:
    """`route`, once the demand is summed and checked."""
    stock, stocked = _balances(balances, wanted)
    table = None if distances is None else _distances(distances)
    if locations is not None:
        candidates = _locations(locations)
    elif table is not None:
        candidates = tuple(table)
    else:
        candidates = stocked

    if len(candidates) == 1 and strategy is not RoutingStrategy.NEAREST:
        # One place to ship from (the order desk's usual policy): no ranking
        # and no search. What the general path below returns and raises
        # for one candidate, as it would.
        return _route_one(wanted, stock, candidates[0])

    skus = tuple(wanted)
    needs = tuple(wanted.values())
    offers = {
        place: tuple([max(0, stock.get((sku, place), 0)) for sku in skus])
        for place in candidates
    }
    ranked = _rank(candidates, offers, table, strategy)

    # Each SKU's offers summed over the candidates (a row per candidate).
    columns = zip(*offers.values(), strict=True)
    totals = [sum(column) for column in columns] or [0] * len(skus)
    short = [
        Shortage(sku, None, need, total)
        for sku, need, total in zip(skus, needs, totals, strict=True)
        if total < need
    ]
    if short:
        raise InsufficientStock(short)

    # A location without any of the order's SKUs is in no minimal set.
    useful = [place for place in ranked if any(offers[place])]
    table_of = [offers[place] for place in useful]
    if len(useful) <= _EXACT_SEARCH_LIMIT:
        chosen = _fewest(needs, table_of)
    else:
        chosen = _greedy(needs, table_of)

    if len(chosen) == 1:
        # One location ships it all: each line whole, in the demand's order,
        # as the general split below would have it.
        place = useful[chosen[0]]
        return _new_route(
            tuple([_new_line(sku, place, need) for sku, need in wanted.items()])
        )
    pieces: list[tuple[int, int, int]] = []
    for j, need in enumerate(needs):
        available = [table_of[i][j] for i in chosen]
        for slot, quantity in _split(need, available):
            pieces.append((chosen[slot], j, quantity))
    pieces.sort()
    return _new_route(
        tuple([_new_line(skus[j], useful[i], quantity) for i, j, quantity in pieces])
    )


def _route_one(
    wanted: dict[str, int], stock: dict[tuple[str, str], int], place: str
) -> Route:
    """`_route` with `place` the only candidate, ranked by any strategy but nearest.

    It ships every line whole, in the demand's order, or the demand's short
    SKUs are refused (each need is positive, so stock that covers them all
    makes `place` useful, and the one set that fills the order).
    """
    offers = [
        (sku, need, max(0, stock.get((sku, place), 0))) for sku, need in wanted.items()
    ]
    short = [
        Shortage(sku, None, need, units) for sku, need, units in offers if units < need
    ]
    if short:
        raise InsufficientStock(short)
    return _new_route(tuple([_new_line(sku, place, need) for sku, need, _ in offers]))


def _demand(demand: object) -> dict[str, int]:
    """SKU to total quantity, in order of first appearance."""
    # A dict first: the ABC's isinstance costs more than the rest of a line.
    if type(demand) is dict or isinstance(demand, Mapping):
        pairs = [(sku, quantity, _check_sku) for sku, quantity in demand.items()]
    elif isinstance(demand, str | bytes) or not isinstance(demand, Iterable):
        raise ValidationError(
            "demand", demand, "must map SKU to quantity, or be (sku, quantity) pairs"
        )
    else:
        pairs = []
        for i, item in enumerate(demand):
            if (
                isinstance(item, str | bytes)
                or not isinstance(item, Sequence)
                or len(item) != 2
            ):
                raise ValidationError(
                    f"demand[{i}]", item, "must be a (sku, quantity) pair"
                )
            pairs.append((item[0], item[1], text(f"demand[{i}]")))
    if not pairs:
        raise EmptyOrder("demand", demand, "an order needs at least one line")
    wanted: dict[str, int] = {}
    for sku, quantity, check in pairs:
        check(None, None, sku)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise InvalidQuantity(
                f"demand[{sku!r}]", quantity, "must be a positive integer"
            )
        wanted[sku] = _check_total(sku, wanted.get(sku, 0) + quantity)
    return wanted


def _check_total(sku: str, total: int) -> int:
    if total > MAX_INT:
        raise InvalidQuantity(f"demand[{sku!r}]", total, "must be at most 2**63 - 1")
    return total


_check_sku = text("demand")


def _balances(
    balances: Iterable[Balance], wanted: Mapping[str, int]
) -> tuple[dict[tuple[str, str], int], tuple[str, ...]]:
    """Available units by (SKU, location), and locations by first appearance."""
    stock: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    stocked: dict[str, None] = {}
    # A list of balances, as a store returns them (the order desk's every
    # order), passes `as_tuple` as it is: its ABC checks cost more than
    # the loop below. Anything else goes through it, to be refused there.
    items: Sequence[Balance]
    if type(balances) is list and all(type(b) is Balance for b in balances):
        items = balances
    else:
        items = as_tuple(balances, "balances", Balance)
    for i, balance in enumerate(items):
        key = (balance.sku, balance.location)
        # Two balances of one SKU at one place: summing or picking one would
        # guess at which snapshot is right.
        if key in seen:
            raise ValidationError(
                f"balances[{i}]", balance, "repeats the balance of a SKU and location"
            )
        seen.add(key)
        stocked.setdefault(balance.location)
        if balance.sku in wanted:
            stock[key] = balance.available
    return stock, tuple(stocked)


def ordered_locations(
    value: Iterable[str], field: str = "locations"
) -> tuple[str, ...]:
    """Locations in the caller's order, as a tuple; an unordered collection is refused.

    The order ranks the locations and breaks every tie, so it must be the
    caller's: a set of strings iterates in an order the hash seed picks,
    from one run to the next. Every `collections.abc.Set` is refused, set
    views of a dict (`keys()`, `items()`) too: pass a list of them.

    Raises:
        ValidationError: `value` is a set, a frozenset or another
            `collections.abc.Set`, or not a sequence of strings (named
            `field`).
    """
    if isinstance(value, AbstractSet):
        raise ValidationError(
            field, value, "must be in order (a list or tuple), not a set"
        )
    return as_tuple(value, field, str)


def _locations(locations: Iterable[str]) -> tuple[str, ...]:
    global _last_checked  # noqa: PLW0603 - one tuple, replaced whole
    # A tuple is immutable, and one that passed holds only text: the same
    # tuple again (the order desk's policy's, on every order) passes again.
    if locations is _last_checked:
        # `locations`, not the global read again: another thread may have
        # replaced it meanwhile.
        return locations
    names = ordered_locations(locations)
    seen: set[str] = set()
    for i, name in enumerate(names):
        text(f"locations[{i}]")(None, None, name)
        if name in seen:
            raise ValidationError(f"locations[{i}]", name, "repeats a location")
        seen.add(name)
    if names is locations:
        _last_checked = names
    return names


_last_checked: tuple[str, ...] | None = None


def _distances(distances: object) -> dict[str, int | float | Decimal]:
    if not isinstance(distances, Mapping):
        raise ValidationError("distances", distances, "must map location to distance")
    table: dict[str, int | float | Decimal] = {}
    for name, distance in distances.items():
        text("distances")(None, None, name)
        field = f"distances[{name!r}]"
        if isinstance(distance, bool) or not isinstance(
            distance, int | float | Decimal
        ):
            raise ValidationError(field, distance, "must be an int, float or Decimal")
        # NaN first: comparing a signalling Decimal NaN raises.
        if (isinstance(distance, float) and math.isnan(distance)) or (
            isinstance(distance, Decimal) and distance.is_nan()
        ):
            raise ValidationError(field, distance, "must be a number, not NaN")
        if distance < 0:
            raise ValidationError(field, distance, "must be zero or more")
        table[name] = distance
    return table


def _rank(
    candidates: tuple[str, ...],
    offers: Mapping[str, tuple[int, ...]],
    table: Mapping[str, int | float | Decimal] | None,
    strategy: RoutingStrategy,
) -> list[str]:
    """The candidates, best first; the location order breaks every tie."""
    order = range(len(candidates))
    if strategy is RoutingStrategy.LOCATION_ORDER:
        return list(candidates)
    if strategy is RoutingStrategy.MOST_STOCK:
        ranked = sorted(order, key=lambda i: (-sum(offers[candidates[i]]), i))
        return [candidates[i] for i in ranked]
    if table is None:
        raise ValidationError(
            "distances", None, "the nearest strategy needs a distance table"
        )
    for name in candidates:
        if name not in table:
            raise UnknownLocation(
                name,
                field="distances",
                problem="the distance table has no such location",
            )
    ranked = sorted(order, key=lambda i: (table[candidates[i]], i))
    return [candidates[i] for i in ranked]


def _covers(needs: Sequence[int], offers: Sequence[Sequence[int]]) -> bool:
    return all(
        sum(offer[j] for offer in offers) >= need for j, need in enumerate(needs)
    )


def _min_pieces(need: int, available: Iterable[int]) -> int:
    """The fewest of `available` that sum to `need`, or past the end if none do."""
    got = 0
    pieces = 0
    for units in sorted(available, reverse=True):
        if got >= need:
            break
        got += units
        pieces += 1
    return pieces if got >= need else MAX_INT


def _fewest(needs: Sequence[int], offers: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The best-ranked of the smallest sets of offers (ranked best first) that fill."""
    # The common case, and the search's first answer when it holds: the
    # best-ranked offer fills the whole order.
    if all(units >= need for units, need in zip(offers[0], needs, strict=True)):
        return (0,)
    # No set is smaller than the pieces its hardest line needs.
    smallest = max(
        _min_pieces(need, (offer[j] for offer in offers))
        for j, need in enumerate(needs)
    )
    for size in range(smallest, len(offers)):
        # combinations() yields sorted index tuples in lexicographic order, so
        # the first that fills is the best-ranked of its size.
        for chosen in itertools.combinations(range(len(offers)), size):
            if _covers(needs, [offers[i] for i in chosen]):
                return chosen
    # The caller checked that all of them together fill the order.
    return tuple(range(len(offers)))


def _greedy(needs: Sequence[int], offers: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """A greedy set cover: most remaining units first, ties by rank."""
    remaining = list(needs)
    chosen: list[int] = []
    while any(remaining):
        best = max(
            (i for i in range(len(offers)) if i not in chosen),
            key=lambda i: (
                sum(min(u, r) for u, r in zip(offers[i], remaining, strict=True)),
                -i,
            ),
        )
        chosen.append(best)
        remaining = [
            max(0, r - u) for r, u in zip(remaining, offers[best], strict=True)
        ]
    # An early pick can be made redundant by later ones; drop such, worst first.
    for i in sorted(chosen, reverse=True):
        rest = [k for k in chosen if k != i]
        if _covers(needs, [offers[k] for k in rest]):
            chosen = rest
    return tuple(sorted(chosen))


def _split(need: int, available: Sequence[int]) -> list[tuple[int, int]]:
    """`(position, quantity)` pieces of one line over offers ranked best first.

    The fewest pieces; their positions the lexicographically smallest that
    can fill the line; each piece as large as it can be, in rank order.
    """
    # The common case, and the search's answer when it holds: the first
    # offer that fills the line alone.
    for position, units in enumerate(available):
        if units >= need:
            return [(position, need)]
    pieces = _min_pieces(need, available)
    picked: list[int] = []
    got = 0
    start = 0
    for slot in range(pieces):
        left = pieces - slot - 1
        for position in range(start, len(available)):
            # Take this position if the best `left` offers after it can finish.
            after = sorted(available[position + 1 :], reverse=True)[:left]
            if available[position] and got + available[position] + sum(after) >= need:
                picked.append(position)
                got += available[position]
                start = position + 1
                break
    split: list[tuple[int, int]] = []
    still = need
    for position in picked:
        quantity = min(still, available[position])
        split.append((position, quantity))
        still -= quantity
    return split
