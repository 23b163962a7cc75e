"""The inventory ledger users call: it validates, plans, and applies through a store."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Final, cast, final

import attrs
import pendulum

from orderkit._fast import builder
from orderkit._time import ending, to_utc
from orderkit._validate import (
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_OWNER_LENGTH,
    Validator,
    count,
    optional_name,
    positive_int,
    signed_int,
    stored_text,
    text,
)
from orderkit.dedupe._tokens import draw_token
from orderkit.errors import (
    ConcurrencyConflict,
    HoldNotLive,
    IdempotencyConflict,
    UnknownHold,
    UnknownLocation,
    UnknownSku,
    ValidationError,
)
from orderkit.inventory import (
    Balance,
    Hold,
    HoldState,
    Movement,
    MovementKind,
    Plan,
    Receipt,
    StockLine,
    StockPolicy,
    StockSignal,
    Swept,
)
from orderkit.inventory import _planning as planning
from orderkit.inventory._movements import check_operation_key, movement_sums
from orderkit.inventory._plans import crossing, signals_of
from orderkit.inventory._policies import Backorder, NoOversell, Preorder
from orderkit.orders import OutboxMessage
from orderkit.ports import Clock, LedgerStore, Outbox
from orderkit.services._sellable import (
    sellable_messages,
    sellable_sku,
    sellable_stream,
)


DEFAULT_HOLD_TTL = dt.timedelta(minutes=15)
"""How long a hold lasts unless `reserve` or `Ledger` says otherwise: a checkout."""

_RETRIES = 5

# The validators of every stamp and reservation, made once: `reserve` is
# the ledger's hottest path (the order desk's every order).
_check_owner = text("owner", MAX_OWNER_LENGTH)
_check_key = text("key", MAX_KEY_LENGTH)
_check_reason = stored_text("reason")
_check_actor = text("actor")
_check_owner_filter = optional_name("owner", MAX_OWNER_LENGTH)
_check_sku_filter = optional_name("sku", MAX_NAME_LENGTH)
_check_location_filter = optional_name("location", MAX_NAME_LENGTH)
# Stamp has no validators: its builder makes the same instance, cheaper.
_new_stamp = builder(planning.Stamp)
# An audit's replayed side, unchecked: lost movements sum below zero.
_report = builder(Balance)


def _new_key() -> str:
    # 128 random bits, 22 characters: as unique as a UUID, and shorter to
    # keep in every movement, hold id and receipt.
    return draw_token()


@final
@attrs.frozen(slots=True)
class Resolution:
    """What became of a hold that was committed or released.

    Attributes:
        hold: The hold as it stands now.
        changed: False when the hold had been resolved already and this call
            was a no-op; `hold.state` tells how it was resolved.
        receipt: The store's receipt, `None` for a no-op.

    .. versionadded:: 0.1.0
    """

    hold: Hold
    changed: bool
    receipt: Receipt | None


def _retry_or_raise(conflict: ConcurrencyConflict) -> None:
    """Return to plan again from a fresh read, or raise `conflict` as it is.

    A hold that moved between the read and the write (the store's
    compare-and-set) is worth reading again. A conflict the database driver
    reported (a deadlock, a serialization failure) is not: the store has
    retried what it could, and inside a unit of work the unit's earlier
    locks are still held, so the same call would only meet it again.
    """
    if conflict.__cause__ is not None:
        raise conflict


def _check(
    validator: Callable[[str], Callable[..., None]], field: str, value: object
) -> None:
    validator(field)(None, None, value)


def _name(field: str) -> Validator:
    """A SKU's or a location's validator: printable text of 1 to 255 characters."""
    return text(field, MAX_NAME_LENGTH)


def _lines(lines: object) -> list[StockLine]:
    # A list or a tuple first: the ABC's isinstance costs more than a line.
    if (
        type(lines) is not list
        and type(lines) is not tuple
        and (isinstance(lines, str | bytes) or not isinstance(lines, Iterable))
    ):
        raise ValidationError("lines", lines, "must be a sequence of StockLine")
    found = [
        line if isinstance(line, StockLine) else _line(i, line)
        for i, line in enumerate(lines)
    ]
    if not found:
        raise ValidationError("lines", found, "needs at least one line")
    return found


def _line(i: int, line: object) -> StockLine:
    if not isinstance(line, tuple) or len(line) != 3:
        raise ValidationError(f"lines[{i}]", line, "must be a StockLine")
    return StockLine(*line)


def _own_hold(receipt: Receipt, hold_id: str) -> Hold:
    """The hold a receipt wrote; its absence means the key served another call."""
    for hold in receipt.holds:
        if hold.hold_id == hold_id:
            return hold
    raise IdempotencyConflict(receipt.key)


def _asked(movement: Movement) -> tuple[object, ...]:
    """What a call asked of one movement, as its receipt records it too.

    A stocktake asked for its counted figure (the difference is what the
    store found); a new hold's id is its line's place in the call, which a
    retry listing the same lines in another order changes.
    """
    m = movement
    if m.counted is not None:
        return (m.kind, m.sku, m.location, m.hold_id, "counted", m.counted)
    hold_id = None if m.kind is MovementKind.HOLD else m.hold_id
    return (m.kind, m.sku, m.location, hold_id, m.on_hand, m.reserved, m.allocated)


def _own(receipt: Receipt) -> list[Movement]:
    """The receipt's movements under its key: the call's, not the sweep's."""
    return [m for m in receipt.movements if m.key == receipt.key]


def _new_holds(receipt: Receipt) -> tuple[list[Movement], set[str]]:
    """The receipt's own `HOLD` movements, and the owners of their holds.

    A reservation's releases of its owner's earlier holds are the store's
    doing (`Plan.supersede`), not the call's.
    """
    placed = [m for m in _own(receipt) if m.kind is MovementKind.HOLD]
    ids = {m.hold_id for m in placed}
    return placed, {h.owner for h in receipt.holds if h.hold_id in ids}


def _plans_again(plan: Plan, receipt: Receipt) -> bool:
    """Whether `plan` asks what its key's `receipt` did: a retry, not a reuse.

    The same movements as asked (`_asked`), in any order: kind, SKU,
    location and quantities; for a reservation (`supersede`), its owner too.
    """
    own = _own(receipt)
    if plan.supersede is not None:
        own, owners = _new_holds(receipt)
        if owners != {plan.supersede}:
            return False
    return Counter(map(_asked, own)) == Counter(map(_asked, plan.movements))


def _holds_demand(plan: Plan, receipt: Receipt) -> bool:
    """`_plans_again` of the order desk's reservation: its owner and units per SKU.

    The desk routes each call from the balances it reads, which the first
    call's holds changed: a retry of the same order version may be routed
    to other locations, and is still the same request.
    """
    placed, owners = _new_holds(receipt)
    if owners != {plan.supersede}:
        return False
    first: Counter[str] = Counter()
    again: Counter[str] = Counter()
    for m in placed:
        first[m.sku] += m.reserved
    for m in plan.movements:
        again[m.sku] += m.reserved
    return first == again


def _committed(receipt: Receipt, hold_id: str, quantity: int | None) -> bool:
    """Whether `receipt` committed `quantity` of the hold (all of it: `None`)."""
    own = _own(receipt)
    taken = [m.allocated for m in own if m.kind is MovementKind.COMMIT]
    if len(taken) != 1 or any(m.hold_id != hold_id for m in own):
        return False
    if quantity is None:
        # All of it: no part of the hold went back to available.
        return all(m.kind is MovementKind.COMMIT for m in own)
    return taken[0] == quantity


def _released(receipt: Receipt, hold_id: str) -> bool:
    """Whether `receipt` released the hold (and did nothing else)."""
    own = _own(receipt)
    return bool(own) and all(
        m.kind is MovementKind.RELEASE and m.hold_id == hold_id for m in own
    )


def _extended(receipt: Receipt, hold_id: str) -> bool:
    """Whether `receipt` extended the hold: wrote it, and moved no stock.

    The hold the call wrote comes first; the others are what the store
    expired on the way (another hold of the balance, due meanwhile).
    """
    written = receipt.holds[:1]
    return not _own(receipt) and [h.hold_id for h in written] == [hold_id]


def _took_allocated(
    receipt: Receipt, kind: MovementKind, owner: str, lines: Sequence[StockLine]
) -> bool:
    """Whether `receipt` shipped or gave back (`kind`) these lines of `owner`'s.

    The lines as summed per SKU and location; the owner's holds are the
    receipt's committed ones (the holds the store expired are not).
    """
    asked = Counter(
        {
            (kind, sku, location): n
            for (sku, location), n in planning.merge_lines(lines).items()
        }
    )
    done: Counter[tuple[MovementKind, str, str]] = Counter()
    for m in _own(receipt):
        done[m.kind, m.sku, m.location] -= m.allocated
    owners = {h.owner for h in receipt.holds if h.state is HoldState.COMMITTED}
    return done == asked and owners == {owner}


def _ttl(value: object, field: str = "ttl") -> dt.timedelta:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ValidationError(field, value, "must be a positive timedelta")
    return value


# Movements that leave every sellable figure as it was: a commit moves units
# from reserved to allocated, a shipment takes allocated units off on hand.
# Channels hear nothing of them (a payment would repeat the figure they have).
_SELLABLE_KEPT: Final = frozenset({MovementKind.COMMIT, MovementKind.SHIP})


@final
class Ledger:
    """Stock that never oversells: the inventory ledger over a `LedgerStore`.

    Every method validates its arguments, reads what it needs, builds a
    `orderkit.inventory.Plan` and has the store apply it atomically. Each
    write takes an optional idempotency `key`: calling again with the same
    key returns the first receipt (`replayed=True`) and changes nothing.
    Without a key, a fresh one is drawn, so retrying is then the caller's
    risk. Keys must be unique per operation, not per order.

    Names are printable text: SKUs and locations of 1 to 255 characters,
    owners of up to 1024 (an order's stream) and keys of up to 4096; a
    reason is any text without NUL or a lone surrogate. Anything else is a
    `ValidationError` naming the field, whatever the store, before anything
    is written.

    Time comes from `clock`; holds last `hold_ttl` unless `reserve` is given
    a `ttl`. Receipts carry `signals`: a `Delist` when sellable stock hits
    zero, a `Relist` when it comes back.

    Given an `outbox` in the same unit of work as `store`, every change that
    moves stock also writes, in the same transaction, one `sellable` message
    per SKU it touched (stream `sku:<sku>`, body `{"locations", "sellable",
    "sku"}`: see below), so
    channels stop selling stock that is gone (brief incident 3); a commit
    and a shipment of committed units write none, since they change no
    sellable figure (a payment would only repeat what channels have). Units
    of a hold that lapsed are for sale again from its deadline, and the
    channels hear of them when the sweep (`expire_due`) expires it: run it
    every few minutes, or they wait for the SKU's next change. The change
    and its message are two writes of the unit: a call that raises on the
    message's (the outbox failed) has applied the change already, so a
    unit whose ledger call raised is rolled back (leaving `with` on the
    error does it), never committed, or the change would go without its
    message. An outbox outside the store's transaction (a standalone
    store and outbox) cannot roll back with it: retry such a call with the
    same `key`, and the replay tells the channels what the first call could
    not (a message the outbox still keeps is not repeated; one it pruned
    since is written again, under its id, with the figure now).

    A key names one request: calling again with the same key and another
    request (another operation, SKU, location, quantity, owner or hold) is
    refused with `IdempotencyConflict`, and nothing is written or replayed.

    A `sellable` message states the SKU's figure at each of its locations
    and their sum: a channel that sells from some locations (an order
    desk's `DeskPolicy.locations_for(channel)`) is told the sum of theirs,
    and stock no channel sells from (returns in quarantine) is offered to
    none. Every ledger of one store tells the whole SKU, so the last message
    on a SKU's stream is right for every channel, whichever ledger sent it.
    With an outbox that commits alone (`commits_alone()`: a standalone SQL
    outbox, whose change and message are separate transactions), the
    ledger reads the figure again after its message and tells it again if
    another process's change moved it meanwhile, so that holds there too.
    The figure is `Balance.sellable()` after safety stock, never below
    zero (a backorder or pre-order SKU whose stock is held is told 0) and
    without any channel's buffer.

    Args:
        store: Where the ledger lives.
        clock: Where the time comes from.
        hold_ttl: The default lifetime of a hold.
        outbox: Where channels' stock updates go, if anywhere.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: LedgerStore,
        clock: Clock,
        *,
        hold_ttl: dt.timedelta = DEFAULT_HOLD_TTL,
        outbox: Outbox | None = None,
    ) -> None:
        """Create a ledger over `store`, reading the time from `clock`."""
        self._store = store
        self._clock = clock
        self._hold_ttl = _ttl(hold_ttl, "hold_ttl")
        self._outbox = outbox
        # What `isinstance(outbox, StreamLocks)` asks of a protocol with one
        # method, without its cost (microseconds, and a ledger is made per
        # use case): the method is there, and not blocked by None.
        self._locks: Callable[[Sequence[str]], None] | None = getattr(
            outbox, "lock_streams", None
        )
        # An outbox that says whether `add` commits on its own, outside the
        # store's transaction (a standalone one: the SQL reference outboxes
        # given a file or a DSN); one that does not say shares the unit's.
        self._alone: Callable[[], bool] | None = getattr(outbox, "commits_alone", None)

    # writes

    def receive(  # noqa: PLR0913 - keyword-only extras of one movement
        self,
        sku: str,
        location: str,
        quantity: int,
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Goods in: raise on hand by `quantity`. Creates the balance if new."""
        line = StockLine(sku, location, quantity)
        return self._goods_in(MovementKind.RECEIVE, line, key, reason, actor)

    def restock(  # noqa: PLR0913 - keyword-only extras of one movement
        self,
        sku: str,
        location: str,
        quantity: int,
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Returned goods, inspected and fit to sell, back on hand."""
        line = StockLine(sku, location, quantity)
        return self._goods_in(MovementKind.RESTOCK, line, key, reason, actor)

    def adjust(  # noqa: PLR0913 - keyword-only extras of one movement
        self,
        sku: str,
        location: str,
        *,
        delta: int | None = None,
        counted: int | None = None,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Correct on hand by `delta`, or set it to a stocktake's `counted` figure.

        Give exactly one of `delta` and `counted`. The movement records the
        difference (and, for a stocktake, the counted figure).

        `counted` is the shelf now: set it only when nothing moved at that
        SKU and location since the count was taken (a parcel shipped after
        the count would come back as phantom stock). A count keyed in later
        goes through `reconcile_stock` (or `reconcile_stock_from_stores`),
        which takes the movements after its `counted_at` back out, and its
        difference is then adjusted by `delta`.

        A correction never breaks a promise: a negative `delta` must leave
        on hand at or above zero and available at or above the policy's
        floor, as a reservation must, since held and committed units are
        promised to buyers (release or reroute those holds first). A
        stocktake records the shelf as it is and is always accepted, even
        when fewer units are counted than are held and committed: available
        is then below zero, new holds are refused while it is below the
        policy's floor, and the receipt carries a `Delist` if the balance
        was on sale.

        Raises:
            InsufficientStock: `delta` would take on hand below zero
                (`measure="on_hand"`) or available below the policy's floor
                (`measure="available"`); nothing moved.
        """
        _check(_name, "sku", sku)
        _check(_name, "location", location)
        if (delta is None) == (counted is None):
            raise ValidationError(
                "delta", delta, "give exactly one of delta and counted"
            )
        if delta is not None:
            _check(signed_int, "delta", delta)
            if delta == 0:
                raise ValidationError("delta", delta, "must not be zero")
        if counted is not None:
            _check(count, "counted", counted)
        stamp = self._stamp(key, reason, actor)
        return self._apply(
            planning.adjust(stamp, sku, location, delta=delta, counted=counted)
        )

    def transfer(  # noqa: PLR0913 - keyword-only extras of one movement
        self,
        sku: str,
        source: str,
        target: str,
        quantity: int,
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Move available units from `source` to `target`, never oversold.

        Raises:
            InsufficientStock: `source` has fewer than `quantity` available.
        """
        _check(_name, "source", source)
        line = StockLine(sku, source, quantity)
        _check(_name, "target", target)
        if target == source:
            raise ValidationError("target", target, "must differ from source")
        stamp = self._stamp(key, reason, actor)
        return self._apply(planning.transfer(stamp, line, target))

    def reserve(  # noqa: PLR0913 - keyword-only extras of one operation
        self,
        owner: str,
        lines: Iterable[StockLine | tuple[str, str, int]],
        *,
        ttl: dt.timedelta | None = None,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Hold every line for `owner`, all or nothing, for `ttl`.

        The owner's own live holds on these balances are replaced, so a cart
        that reserves again never competes with itself. Lines for the same
        SKU and location are summed into one hold. `receipt.holds` are the
        new holds (and any the owner had there, now released).

        Raises:
            InsufficientStock: Listing every short line; nothing was held.
            UnknownSku: A SKU that was never stocked.
            UnknownLocation: A location where nothing was ever stocked.
        """
        _check_owner(None, None, owner)
        found = _lines(lines)
        lifetime = self._hold_ttl if ttl is None else _ttl(ttl)
        stamp = self._stamp(key, reason, actor)
        return self._apply(
            planning.reserve(stamp, owner, found, ending(stamp.now, lifetime, "ttl"))
        )

    def _reserve_made(
        self,
        owner: str,
        lines: Sequence[StockLine],
        ttl: dt.timedelta,
        reason: str,
        key: str,
    ) -> Receipt:
        """`reserve` of arguments its caller made valid: the order desk's.

        The desk's owner is an order stream (printable, at most 1024
        characters), its key that stream, `:hold:` and the order's version,
        its reason `order <order id>` (printable text), its `ttl` positive,
        and its lines a route's (at least one `StockLine`): every check
        `reserve` makes of them passes, and this skips them, nothing else.
        """
        stamp = _new_stamp(key, self._now(), reason, "system", True)  # noqa: FBT003
        return self._apply(
            planning.reserve(stamp, owner, lines, ending(stamp.now, ttl, "ttl")),
            _holds_demand,
        )

    def extend(
        self, hold_id: str, ttl: dt.timedelta | None = None, *, key: str | None = None
    ) -> Hold:
        """Keep a live hold until `ttl` from now (never shortening it).

        Raises:
            UnknownHold: No such hold.
            HoldNotLive: The hold was resolved or has expired.
        """
        lifetime = self._hold_ttl if ttl is None else _ttl(ttl)

        def plan(stamp: planning.Stamp, hold: Hold) -> Plan:
            return planning.extend(stamp, hold, ending(stamp.now, lifetime, "ttl"))

        def again(receipt: Receipt) -> bool:
            return _extended(receipt, hold_id)

        receipt = self._with_hold(hold_id, plan, key, "", "system", same=again)
        assert receipt is not None  # noqa: S101 - extend always plans or raises
        return _own_hold(receipt, hold_id)

    def release(
        self,
        hold_id: str,
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Resolution:
        """Release a hold: its units return to available.

        Releasing a hold that was resolved already (released, expired or
        committed) changes nothing and says so with `changed=False`; a hold
        past its expiry is reported expired even before a sweep marks it.

        Raises:
            UnknownHold: No such hold.
        """

        def again(receipt: Receipt) -> bool:
            return _released(receipt, hold_id)

        try:
            receipt = self._with_hold(
                hold_id, planning.release, key, reason, actor, same=again
            )
        except HoldNotLive:
            receipt = None
        return self._resolution(hold_id, receipt)

    def commit(
        self,
        hold_id: str,
        quantity: int | None = None,
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Resolution:
        """Commit a hold to its paid order: all of it, or `quantity` of it.

        Committed units move from reserved to allocated; the rest of the
        hold returns to available. Committing a hold that was committed
        already changes nothing and says so with `changed=False`.

        Raises:
            UnknownHold: No such hold.
            HoldNotLive: The hold was released or has expired; its units may
                be gone, so reserve again.
            InvalidQuantity: `quantity` is not positive or exceeds the hold.
        """
        if quantity is not None:
            _check(positive_int, "quantity", quantity)

        def plan(stamp: planning.Stamp, hold: Hold) -> Plan | None:
            return planning.commit(stamp, hold, quantity)

        def again(receipt: Receipt) -> bool:
            return _committed(receipt, hold_id, quantity)

        receipt = self._with_hold(hold_id, plan, key, reason, actor, same=again)
        return self._resolution(hold_id, receipt)

    def ship(
        self,
        owner: str,
        lines: Iterable[StockLine | tuple[str, str, int]],
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Ship lines of `owner`'s committed stock: on hand and allocated go down.

        Raises:
            InsufficientStock: A line exceeds what `owner` committed and has
                not shipped there (`measure="allocated"`), or the location
                has too little on hand (`measure="on_hand"`); nothing moved.
        """
        return self._from_allocation(
            planning.ship,
            MovementKind.SHIP,
            owner,
            lines,
            reason=reason,
            actor=actor,
            key=key,
        )

    def unallocate(
        self,
        owner: str,
        lines: Iterable[StockLine | tuple[str, str, int]],
        *,
        reason: str = "",
        actor: str = "system",
        key: str | None = None,
    ) -> Receipt:
        """Give `owner`'s committed, unshipped units back: allocated goes down.

        For an order cancelled after payment and before it shipped: the
        units stay on hand and become available (and sellable) again.

        Raises:
            InsufficientStock: A line exceeds what `owner` committed and has
                not shipped there (`measure="allocated"`); nothing moved.
        """
        return self._from_allocation(
            planning.unallocate,
            MovementKind.UNALLOCATE,
            owner,
            lines,
            reason=reason,
            actor=actor,
            key=key,
        )

    def _from_allocation(  # noqa: PLR0913 - the planner, and one operation's fields
        self,
        planner: Callable[[planning.Stamp, list[StockLine], Sequence[Hold]], Plan],
        kind: MovementKind,
        owner: str,
        lines: Iterable[StockLine | tuple[str, str, int]],
        *,
        reason: str,
        actor: str,
        key: str | None,
    ) -> Receipt:
        _check_owner(None, None, owner)
        found = _lines(lines)

        def again(receipt: Receipt) -> bool:
            return _took_allocated(receipt, kind, owner, found)

        if (first := self._first(key, again)) is not None:
            return first
        for _ in range(_RETRIES):
            committed = self._store.holds(owner=owner, state=HoldState.COMMITTED)
            stamp = self._stamp(key, reason, actor)
            try:
                # Judged by its arguments, as `_first` judges it.
                made = planner(stamp, found, committed)
                return self._apply(made, lambda _plan, receipt: again(receipt))
            except ConcurrencyConflict as exc:
                _retry_or_raise(exc)
        raise ConcurrencyConflict(f"holds of owner:{owner}")

    def expire_due(self, now: dt.datetime | None = None) -> Swept:
        """Expire every live hold past its TTL; return the `EXPIRE` movements.

        Expired holds never block a buyer even before a sweep runs; the sweep
        makes the ledger's records say so. It costs O(expired); with an
        outbox that lets the ledger take streams' turns (`StreamLocks`:
        PostgreSQL's, the memory one) it first reads the live holds, O(live),
        to take the due ones' streams before their balances, as every other
        change does. The result is a list of the movements whose `signals`
        hold a `Relist` for each balance the expired holds brought back to
        sale. The sweep goes by the store's time when it is later than
        `now` (another process's clock ahead of this one's), read from a
        store that tells it (`high_water()`, as the reference stores do):
        so it expires every hold the store's reads count as expired, having
        taken their streams first. A store that does not tell it is swept
        by `now`, and a hold due only by its later time waits for a later
        sweep (it counts as expired meanwhile).
        """
        at = self._store_time(self._now() if now is None else to_utc(now, "now"))
        if self._outbox is not None and self._locks is not None:
            # The sweep locks the due holds' balances: their streams first.
            self._take_turns(h.sku for h in self._due_holds(at))
        expired = self._store.expire_due(at)
        if not isinstance(expired, Swept):
            # A host's store returns the movements alone: read the balances.
            rows = {(m.sku, m.location): None for m in expired}
            after = [
                balance
                for sku, location in rows
                for balance in self._store.balances(at, sku=sku, location=location)
            ]
            expired = Swept(expired, signals_of(expired, after))
        if self._outbox is not None and expired:
            self._tell(self._moved(expired), f"expire:{expired[0].key}", at)
        return expired

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy: `NoOversell`, `Backorder` or `Preorder`."""
        _check(_name, "sku", sku)
        if not isinstance(policy, NoOversell | Backorder | Preorder):
            raise ValidationError("policy", policy, "must be a stock policy")
        self._store.set_policy(sku, policy)

    def set_safety_stock(
        self, sku: str, location: str, quantity: int
    ) -> StockSignal | None:
        """Keep `quantity` units of `sku` at `location` back from sale.

        The balance's holds past their expiry are expired first, as
        `expire_due()` would (a write, whose `EXPIRE` movements the ledger
        keeps). Signals always compare with the figures the ledger last
        recorded, where an expired hold still counts until a sweep or a
        write marks it: so receipts, sweeps and this method, taken
        together, signal each time sellable stock hits or leaves zero once.

        Safety stock keeps units out of `sellable` (what channels are
        told), not out of `available`: reservations, routing and transfers
        may still take them. A SKU without a balance at `location` gets an
        empty one carrying the setting, ready for its first receipt, even
        at a location the ledger never knew (no signal, no message: nothing
        was for sale there).

        Returns:
            A `Delist` when the balance's sellable stock falls to zero, a
            `Relist` when it comes back from zero, else `None`: one signal
            for the expiry and the new safety stock together. With an
            outbox, the channels hear of the new sellable figure too,
            unless it is known to be the one they were told last.
        """
        _check(_name, "sku", sku)
        _check(_name, "location", location)
        _check(count, "quantity", quantity)
        now = self._now()
        found = self._store.balances(now, sku=sku, location=location)
        if not found:
            self._store.set_safety_stock(sku, location, quantity)
            return None  # a new, empty balance: nothing for sale before or after
        # As of now, due holds count as expired: as after the sweep below.
        (old,) = found
        # Expired here, the due holds' signal joins this change's: left to a
        # later sweep, it would be measured from a figure this change moved.
        # No message of its own either: it would offer, for a moment, the
        # units the new safety stock keeps back.
        self._take_turns([sku])
        swept = self._store.apply(
            planning.sweep(self._stamp(None, "", "system"), sku, location)
        )
        freed = sum(m.on_hand - m.reserved - m.allocated for m in swept.movements)
        self._store.set_safety_stock(sku, location, quantity)
        (new,) = self._store.balances(now, sku=sku, location=location)
        recorded = old.available - freed - old.safety_stock  # as last recorded
        # The channels' figure lies between the two readings: the last
        # message told the balance as of its own time, at or above what the
        # ledger recorded (a lapsed hold still counted until swept) and at or
        # below what is free now (every lapsed hold free). Only when both
        # equal the new figure is it known to be told already; else tell.
        told_already = max(0, recorded) == new.sellable() == old.sellable()
        if self._outbox is not None and not told_already:
            # A cause of its own: the same figure set again later is a new
            # change, whose message must not be taken for the first one's.
            self._tell([sku], f"safety:{sku}:{location}:{_new_key()}", now)
        return crossing(new, recorded)

    # reads

    def balance(self, sku: str, location: str) -> Balance:
        """Return the balance of `sku` at `location`, as of now.

        Raises:
            UnknownSku: The SKU was never stocked.
            UnknownLocation: The location never had any stock.
        """
        _check(_name, "sku", sku)
        _check(_name, "location", location)
        found = self._store.balances(self._now(), sku=sku, location=location)
        if found:
            return found[0]
        if not self._store.balances(self._now(), sku=sku):
            raise UnknownSku(sku)
        if not self._store.balances(self._now(), location=location):
            raise UnknownLocation(location)
        return Balance(sku, location)

    def balances(
        self, *, sku: str | None = None, location: str | None = None
    ) -> Sequence[Balance]:
        """Return every balance, or those of one SKU or location, as of now."""
        _check_sku_filter(None, None, sku)
        _check_location_filter(None, None, location)
        return self._store.balances(self._now(), sku=sku, location=location)

    def hold(self, hold_id: str) -> Hold:
        """Return a hold as stored (`Hold.is_live(now)` tells if it still counts).

        Raises:
            UnknownHold: No such hold.
        """
        _check(text, "hold_id", hold_id)
        hold = self._store.hold(hold_id)
        if hold is None:
            raise UnknownHold(hold_id)
        return hold

    def holds(
        self,
        *,
        owner: str | None = None,
        sku: str | None = None,
        state: HoldState | None = None,
    ) -> Sequence[Hold]:
        """Return holds as stored, filtered by owner, SKU and state, oldest first.

        Raises:
            ValidationError: A filter that is neither `None` nor a valid name
                (or, for `state`, a `HoldState`).
        """
        _check_owner_filter(None, None, owner)
        _check_sku_filter(None, None, sku)
        if state is not None and not isinstance(state, HoldState):
            raise ValidationError("state", state, "must be a HoldState")
        return self._store.holds(owner=owner, sku=sku, state=state)

    def movements(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Movement]:
        """Return up to `limit` movements after sequence number `after`, in order.

        With `sku`, only that SKU's movements; with `location`, only those
        at that location; with both, one balance's: its stock card. A
        filtered history pages as the whole one does: pass the last `seq`
        read as `after`. A SKU or location with no movements reads as an
        empty list, as `balances` and `holds` read a filter that matches
        nothing; names are compared exactly as stored, as `balance` does.

        Raises:
            InvalidQuantity: `after` below zero, or `limit` below one.
            ValidationError: A `sku` or `location` that is neither `None`
                nor a valid name.
        """
        _check(count, "after", after)
        _check(positive_int, "limit", limit)
        _check_sku_filter(None, None, sku)
        _check_location_filter(None, None, location)
        if sku is None and location is None:
            # A host's store written before the filters still reads whole.
            return self._store.movements(after=after, limit=limit)
        return self._store.movements(
            after=after, limit=limit, sku=sku, location=location
        )

    def audit(self) -> tuple[tuple[Balance, Balance], ...]:
        """Replay every movement and compare with the stored balances.

        Due holds are swept first, so both sides count them as expired.

        Returns:
            `(stored, replayed)` pairs that differ in on hand, reserved or
            allocated; empty when the store is consistent. A balance the
            movements make but the store lacks is compared as an empty
            stored balance. `replayed` holds what the movements sum to,
            even below zero when a movement was lost: such a `Balance` is
            a report only (its constructor would refuse those figures).
        """
        # One reading of the clock for both sides: a hold falling due between
        # a sweep and a later read would count as live in the replay but
        # expired in the stored balances.
        now = self._now()
        self.expire_due(now)
        movements: list[Movement] = []
        # Page by sequence number, not by count: a store may leave gaps (a
        # PostgreSQL sequence skips the numbers of rolled-back plans).
        after = 0
        while page := self._store.movements(after=after, limit=10_000):
            movements.extend(page)
            after = page[-1].seq
        # The sums, not `replay`: a lost movement can take one below zero,
        # which is what an audit is for, so it is reported, not raised.
        sums = movement_sums(movements)
        kept = {(b.sku, b.location): b for b in self._store.balances(now)}
        found = []
        for row in sorted(kept.keys() | sums.keys()):
            stored = kept.get(row) or Balance(*row)
            figures = sums.get(row, (0, 0, 0))
            if (stored.on_hand, stored.reserved, stored.allocated) != figures:
                found.append((stored, _report(*row, *figures, 0)))
        return tuple(found)

    # helpers

    def _now(self) -> pendulum.DateTime:
        return to_utc(self._clock.now(), "clock.now()")

    def _store_time(self, now: pendulum.DateTime) -> pendulum.DateTime:
        """`now`, or the store's later time: what its reads count as expired."""
        # The reference stores tell their high-water mark; a host's store
        # may not, and its sweeps then go by the caller's clock alone. Asked
        # here, not when the ledger is made: the desk makes one per order.
        high_water = getattr(self._store, "high_water", None)
        mark = None if high_water is None else high_water()
        return now if mark is None or now >= mark else mark

    def _due_holds(self, at: pendulum.DateTime) -> Sequence[Hold]:
        """The live holds due by `at`.

        Read through the store's index when it has one (`due_holds()`, as
        the reference stores do), else picked from every live hold.
        """
        due_holds = getattr(self._store, "due_holds", None)
        if due_holds is not None:
            return cast("Sequence[Hold]", due_holds(at))
        live = self._store.holds(state=HoldState.LIVE)
        return [h for h in live if h.expires_at <= at]

    def _stamp(
        self, key: str | None, reason: str, actor: str, *, drawn: bool = False
    ) -> planning.Stamp:
        """Stamp an operation; `drawn` says the key was drawn here, not given."""
        if key is None:
            key, drawn = _new_key(), True
        else:
            _check_key(None, None, key)
            check_operation_key("key", key)
        _check_reason(None, None, reason)
        _check_actor(None, None, actor)
        # A drawn key is never repeated, so its receipt need not be kept.
        return _new_stamp(key, self._now(), reason, actor, not drawn)

    def _goods_in(
        self,
        kind: MovementKind,
        line: StockLine,
        key: str | None,
        reason: str,
        actor: str,
    ) -> Receipt:
        stamp = self._stamp(key, reason, actor)
        return self._apply(planning.receive(stamp, kind, line))

    def _apply(
        self,
        plan: Plan,
        same: Callable[[Plan, Receipt], bool] = _plans_again,
    ) -> Receipt:
        """Apply `plan` and tell the channels; `same` judges a replay of its key."""
        if self._outbox is not None and self._locks is not None:
            self._take_turns([sku for sku, _ in plan.touched()])
        receipt = self._store.apply(plan)
        if receipt.replayed:
            # Judged only now: a first call pays nothing for it.
            return self._replay(
                receipt, asked_again=same(plan, receipt), turns_taken=True
            )
        if self._outbox is not None:
            # Every movement is on a balance the plan touched: turns taken.
            skus = self._moved(receipt.movements)
            self._tell(skus, receipt.key, receipt.at, turns_taken=True)
        return receipt

    def _moved(self, movements: Iterable[Movement]) -> list[str]:
        """The SKUs whose sellable figure `movements` may have changed."""
        return [
            movement.sku
            for movement in movements
            if movement.kind not in _SELLABLE_KEPT
        ]

    def _replay(
        self, receipt: Receipt, *, asked_again: bool, turns_taken: bool = False
    ) -> Receipt:
        """Return a key's first receipt to its retry, or refuse another request.

        With an outbox, the first call's `sellable` messages are told again,
        as they were (their ids and time), with the figures as they are now:
        an outbox that stores a message (a first call whose unit committed)
        skips an equal one and refuses one that differs (`add` raises
        `ConcurrencyConflict` naming it, and nothing is stored), and every
        change of the figure since then has told its own, later one; so only
        a message the outbox never stored (it failed after the store applied
        the change: an outbox outside the store's transaction) is added.

        Raises:
            IdempotencyConflict: `asked_again` is false: the key served
                another request.
        """
        if not asked_again:
            raise IdempotencyConflict(receipt.key)
        outbox = self._outbox
        skus = self._moved(receipt.movements) if outbox is not None else []
        if outbox is None or not skus:
            return receipt
        if self._locks is not None and not turns_taken:
            self._locks(sorted({sellable_stream(sku) for sku in skus}))
        now = self._now()
        messages = sellable_messages(
            self._store, skus, receipt.key, now, created_at=receipt.at
        )
        # One message a call: `add` is all or nothing, and one stored
        # message must not keep another, lost one out.
        for message in messages:
            try:
                outbox.add([message])
            except ConcurrencyConflict as conflict:
                if (
                    conflict.__cause__ is not None
                    or conflict.what != f"message:{message.message_id}"
                ):
                    raise
        self._confirm(messages, receipt.key, now)
        return receipt

    def _take_turns(self, skus: Iterable[str]) -> None:
        """Take the SKUs' `sellable` streams' turns before their balances' locks.

        A store that locks balances (PostgreSQL's) keeps the locks to the
        transaction's end, as the outbox does its streams'. Taken in one
        order everywhere (a SKU's stream, then its balances; SKUs in code
        point order, as the order desk commits and releases holds), no two
        units wait for each other in a circle: whoever holds a balance
        holds its SKU's stream.
        """
        if self._outbox is not None and self._locks is not None:
            self._locks(sorted({sellable_stream(sku) for sku in skus}))

    def _tell(
        self,
        skus: list[str],
        cause: str,
        now: pendulum.DateTime,
        *,
        turns_taken: bool = False,
    ) -> None:
        assert self._outbox is not None  # noqa: S101 - callers check
        if not skus:
            return  # a commit, a shipment, or a change only uncounted places saw
        if self._locks is not None and not turns_taken:
            # The figure is read after the streams' turn is ours: a change
            # committing meanwhile is seen, or sends its own message after.
            self._locks([sellable_stream(sku) for sku in skus])
        messages = sellable_messages(self._store, skus, cause, now)
        if messages:
            self._outbox.add(messages)
            self._confirm(messages, cause, now)

    def _confirm(
        self, told: list[OutboxMessage], cause: str, now: pendulum.DateTime
    ) -> None:
        """Tell again, until it holds, a figure that moved while it was told.

        Only for an outbox whose `add` commits alone (`commits_alone()`):
        the change, the figure's read and the message are then three
        transactions, and a change of another process committing between
        this one's read and its message may have told its figure first,
        leaving this one's older figure last on the stream. So the figure
        is read again after the message: the same, and any later change
        sends its own, later message (the stream ends right); else it is
        told again, under a cause of its own (a message id is told once),
        and read again. Each round means another change landed meanwhile.
        """
        if self._alone is None or not told or not self._alone():
            return
        assert self._outbox is not None  # noqa: S101 - told means an outbox
        first = cause
        while told:
            sent = {m.stream: m.payload for m in told}
            skus = [sellable_sku(m.stream) for m in told]
            again = sellable_messages(self._store, skus, cause, now)
            moved = [
                sellable_sku(m.stream) for m in again if sent.get(m.stream) != m.payload
            ]
            if not moved:
                return
            cause = f"{first}:again:{_new_key()}"
            told = sellable_messages(self._store, moved, cause, now)
            self._outbox.add(told)

    def _first(
        self, key: str | None, same: Callable[[Receipt], bool]
    ) -> Receipt | None:
        """The first receipt of a key the caller gave, before planning again.

        A retry must replay even when planning now would fail (everything
        it shipped is gone) or plan something else (the hold it committed
        is no longer live): so `same` judges the request by its arguments
        and the receipt alone.

        Raises:
            IdempotencyConflict: The key's receipt is not `same`'s.
        """
        if key is None:
            return None
        _check_key(None, None, key)
        first = self._store.receipt(key)
        if first is None:
            return None
        return self._replay(first, asked_again=same(first))

    def _with_hold(  # noqa: PLR0913 - one operation's fields, and its judge
        self,
        hold_id: str,
        plan: Callable[[planning.Stamp, Hold], Plan | None],
        key: str | None,
        reason: str,
        actor: str,
        *,
        same: Callable[[Receipt], bool],
    ) -> Receipt | None:
        """Plan from a fresh read of the hold; re-read when it moved meanwhile."""
        if (first := self._first(key, same)) is not None:
            return first
        drawn = key is None
        key = _new_key() if key is None else key
        for _ in range(_RETRIES):
            hold = self.hold(hold_id)
            made = plan(self._stamp(key, reason, actor, drawn=drawn), hold)
            if made is None:
                return None
            try:
                return self._apply(made, lambda _plan, receipt: same(receipt))
            except ConcurrencyConflict as exc:
                _retry_or_raise(exc)
        raise ConcurrencyConflict(f"hold:{hold_id}")

    def _resolution(self, hold_id: str, receipt: Receipt | None) -> Resolution:
        if receipt is None:
            hold = self.hold(hold_id)
            if hold.state is HoldState.LIVE:
                # Still stored live, but the store found it expired: no sweep
                # has marked it yet. Report it as what it is.
                hold = attrs.evolve(
                    hold, state=HoldState.EXPIRED, resolved_at=hold.expires_at
                )
            return Resolution(hold, changed=False, receipt=None)
        hold = _own_hold(receipt, hold_id)
        return Resolution(hold, changed=not receipt.replayed, receipt=receipt)
