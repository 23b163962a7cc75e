"""A memory store a unit of work owns is used inside that unit, in its thread.

A store kept past its unit (`kept = uow.orders` inside `with uow:`, a call
after it) used to write outside any unit: not journaled, not under the
unit's lock, never rolled back; and a kept store called from another thread
wrote into the unit that thread had not opened. Both are refused now with
`StoreError`, writing nothing, as the SQLite unit of work refuses them; the
same stores created on their own still work from any thread.

Each store's `_snapshot()`, the whole of its data, is the oracle of
"changed nothing".
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from orderkit.adapters.memory import (
    MemoryAuditLog,
    MemoryCursorStore,
    MemoryDetectorStore,
    MemoryInbox,
    MemoryKeyStore,
    MemoryLedgerStore,
    MemoryLimitStore,
    MemoryOrderStore,
    MemoryOutbox,
    MemoryUnitOfWork,
)
from orderkit.dedupe import (
    Claimed,
    Fingerprint,
    FingerprintKind,
    IdempotencyKey,
    Outcome,
    ReviewState,
    Sighting,
)
from orderkit.errors import StoreError
from orderkit.inventory import Backorder
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AuditRecord,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    OutboxMessage,
    order_stream,
)
from orderkit.pricing import LimitKey
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


START = pendulum.datetime(2026, 11, 11, 0, 0)
LEASE = dt.timedelta(minutes=5)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
PHONE = "+8613800138000"
PRINTS = [
    Fingerprint(FingerprintKind.PHONE_SKUS, 1, f"{1:032x}"),
    Fingerprint(FingerprintKind.ADDRESS_SKUS, 1, f"{2:032x}"),
]
REFUSED = "memory store failed during {}: no unit of work is open: use `with unit:`"

Ctx = dict[str, Any]
Setup = Callable[[Any, FrozenClock], Ctx]
Call = Callable[[Any, Ctx, FrozenClock], object]


def at(minutes: int) -> pendulum.DateTime:
    return START.add(minutes=minutes)


def order(order_id: str) -> Order:
    return Order(
        order_id=order_id,
        channel="douyin",
        buyer=Buyer("BUYER-7", "王小明", phone="138****8000"),
        address=Address("CN", "广东省", "深圳市", "南山区", "科技园路 1 号"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY"), "复古闹钟")],
        placed_at=START,
    )


def record(order_id: str, version: int) -> AuditRecord:
    return AuditRecord(
        order_id=order_id,
        version=version,
        from_status=OrderStatus.PENDING_PAYMENT,
        to_status=OrderStatus.PAID,
        event_type="PaymentCaptured",
        key=IdempotencyKey("douyin", "orders/paid", order_id, f"evt-{version}"),
        actor="buyer",
        source="douyin",
        occurred_at=at(5),
        recorded_at=at(6),
    )


def message(message_id: str, order_id: str) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=order_stream("douyin", order_id),
        topic="milestone",
        payload=f'{{"m":"{message_id}"}}'.encode(),
        created_at=START,
    )


def sighting(order_id: str, minutes: int) -> Sighting:
    return Sighting("douyin", order_id, at(minutes))


# ---- each store: data to act on, every write, every read --------------------


def _orders_setup(store: MemoryOrderStore, _clock: FrozenClock) -> Ctx:
    store.save(order("DY-1"), None)
    return {}


def _audit_setup(store: MemoryAuditLog, _clock: FrozenClock) -> Ctx:
    store.append("douyin", [record("DY-1", 2)])
    return {}


def _outbox_setup(store: MemoryOutbox, _clock: FrozenClock) -> Ctx:
    store.add([message("m0", "DY-0"), message("m1", "DY-1"), message("m2", "DY-2")])
    store.claim(relay="r1", now=START, lease=LEASE, limit=2)  # m0 and m1
    store.mark_sent(["m0"], relay="r1", now=START)
    return {}


def _inbox_setup(store: MemoryInbox, _clock: FrozenClock) -> Ctx:
    store.seen("notifier", "u1", now=START)
    return {}


def _ledger_setup(store: MemoryLedgerStore, clock: FrozenClock) -> Ctx:
    ledger = Ledger(store, clock)
    ledger.receive("TEA", "WH", 10, key="PO-1")
    receipt = ledger.reserve("cart-1", [("TEA", "WH", 2)], ttl=LEASE, key="R-1")
    return {"hold": receipt.holds[0].hold_id}


def _keys_setup(store: MemoryKeyStore, _clock: FrozenClock) -> Ctx:
    live = store.claim("k-live", "h", now=START, lease=LEASE)
    done = store.claim("k-done", "h", now=START, lease=LEASE)
    assert isinstance(live, Claimed)
    assert isinstance(done, Claimed)
    store.complete("k-done", done.token, Outcome(succeeded=True, body=b"ok"), now=START)
    return {"token": live.token}


def _limits_setup(store: MemoryLimitStore, _clock: FrozenClock) -> Ctx:
    store.consume([LimitKey("buyer:1", 10, DAY)], now=START, use_id="use-1")
    return {}


def _detector_setup(store: MemoryDetectorStore, _clock: FrozenClock) -> Ctx:
    for n in (1, 2):  # DY-2 matches DY-1: a pending suspicion
        store.record(
            sighting(f"DY-{n}", n), PRINTS, phone=PHONE, window=HOUR, now=at(n)
        )
    return {}


def _cursors_setup(store: MemoryCursorStore, _clock: FrozenClock) -> Ctx:
    store.advance("feed", None, "p1")
    return {}


def _reserve_again(store: MemoryLedgerStore, clock: FrozenClock) -> object:
    # With no key given, the plan goes straight to `apply`: no read before.
    return Ledger(store, clock).receive("TEA", "WH", 5)


# Every method that changes a store, each called so that it would change it.
WRITES: dict[str, dict[str, Call]] = {
    "orders": {"save": lambda s, _c, _k: s.save(order("DY-2"), None)},
    "audit": {"append": lambda s, _c, _k: s.append("douyin", [record("DY-1", 3)])},
    "outbox": {
        "add": lambda s, _c, _k: s.add([message("m9", "DY-9")]),
        "claim": lambda s, _c, _k: s.claim(relay="r2", now=at(1), lease=LEASE),
        "mark_sent": lambda s, _c, _k: s.mark_sent(["m1"], relay="r1", now=at(1)),
        "prune": lambda s, _c, _k: s.prune(at(1)),
    },
    "inbox": {
        "seen": lambda s, _c, _k: s.seen("notifier", "u2", now=at(1)),
        "prune": lambda s, _c, _k: s.prune(at(1)),
    },
    "ledger": {
        "apply": lambda s, _c, k: _reserve_again(s, k),
        "expire_due": lambda s, _c, _k: s.expire_due(START.add(hours=1)),
        "set_policy": lambda s, _c, _k: s.set_policy("TEA", Backorder(5)),
        "set_safety_stock": lambda s, _c, _k: s.set_safety_stock("TEA", "WH", 3),
    },
    "keys": {
        "claim": lambda s, _c, _k: s.claim("k-new", "h", now=at(1), lease=LEASE),
        "complete": lambda s, c, _k: s.complete(
            "k-live", c["token"], Outcome(succeeded=True, body=b"x"), now=at(1)
        ),
        "abandon": lambda s, c, _k: s.abandon("k-live", c["token"]),
        "prune": lambda s, _c, _k: s.prune(START.add(days=1), retention=HOUR),
    },
    "limits": {
        "consume": lambda s, _c, _k: s.consume(
            [LimitKey("buyer:1", 10, DAY)], now=at(1), use_id="use-2"
        ),
        "record": lambda s, _c, _k: s.record(
            [LimitKey("buyer:1", 1, DAY)], now=at(1), use_id="use-3"
        ),
        "prune": lambda s, _c, _k: s.prune(at(1)),
    },
    "detector": {
        "record": lambda s, _c, _k: s.record(
            sighting("DY-3", 3), PRINTS, phone=PHONE, window=HOUR, now=at(3)
        ),
        "resolve": lambda s, _c, _k: s.resolve(
            "douyin", "DY-2", ReviewState.RELEASED, actor="ops", now=at(9)
        ),
        "prune": lambda s, _c, _k: s.prune(START.add(days=1)),
    },
    "cursors": {"advance": lambda s, _c, _k: s.advance("feed", "p1", "p2")},
}

# Every other public method: the reads (and the outbox's stream locks, which
# change nothing here but belong to the unit's transaction elsewhere).
READS: dict[str, dict[str, Call]] = {
    "orders": {
        "get": lambda s, _c, _k: s.get("douyin", "DY-1"),
        "orders": lambda s, _c, _k: s.orders(),
        "waiting": lambda s, _c, _k: s.waiting(),
        "placed_between": lambda s, _c, _k: s.placed_between(START, at(60)),
    },
    "audit": {
        "records": lambda s, _c, _k: s.records("douyin", "DY-1"),
        "recorded_between": lambda s, _c, _k: s.recorded_between(START, at(60)),
    },
    "outbox": {
        "unsent": lambda s, _c, _k: s.unsent(),
        "lock_streams": lambda s, _c, _k: s.lock_streams(["stream"]),
    },
    "inbox": {},
    "ledger": {
        "balances": lambda s, _c, _k: s.balances(START),
        "receipt": lambda s, _c, _k: s.receipt("PO-1"),
        "hold": lambda s, c, _k: s.hold(c["hold"]),
        "holds": lambda s, _c, _k: s.holds(),
        "movements": lambda s, _c, _k: s.movements(),
        "policy": lambda s, _c, _k: s.policy("TEA"),
        "high_water": lambda s, _c, _k: s.high_water(),
        "due_holds": lambda s, _c, _k: s.due_holds(START.add(hours=1)),
    },
    "keys": {},
    "limits": {},
    "detector": {
        "pending": lambda s, _c, _k: s.pending(),
        "suspicion": lambda s, _c, _k: s.suspicion("douyin", "DY-2"),
        "orders_of_buyer": lambda s, _c, _k: s.orders_of_buyer(PHONE),
    },
    "cursors": {"get": lambda s, _c, _k: s.get("feed")},
}

STORES: dict[str, tuple[type[Any], Setup]] = {
    "orders": (MemoryOrderStore, _orders_setup),
    "audit": (MemoryAuditLog, _audit_setup),
    "outbox": (MemoryOutbox, _outbox_setup),
    "inbox": (MemoryInbox, _inbox_setup),
    "ledger": (MemoryLedgerStore, _ledger_setup),
    "keys": (MemoryKeyStore, _keys_setup),
    "limits": (MemoryLimitStore, _limits_setup),
    "detector": (MemoryDetectorStore, _detector_setup),
    "cursors": (MemoryCursorStore, _cursors_setup),
}

WRITE_CASES = [(name, op) for name, ops in WRITES.items() for op in ops]
READ_CASES = [(name, op) for name, ops in READS.items() for op in ops]


def _id(case: tuple[str, str]) -> str:
    return ".".join(case)


# ---- helpers ----------------------------------------------------------------


def plain(value: object) -> object:
    """A snapshot as comparable data: slotted objects as their fields."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(map(repr, value))
    slots = getattr(type(value), "__slots__", None)
    if slots is not None and type(value).__module__.startswith("orderkit.adapters"):
        return (type(value).__name__, *(plain(getattr(value, s)) for s in slots))
    if type(value).__name__ == "_State":
        return {k: plain(v) for k, v in vars(value).items() if k != "journal"}
    return value


def state(store: Any) -> object:
    """Everything the store holds: the oracle of "nothing changed"."""
    return plain(store._snapshot())


def kept_store(name: str) -> tuple[MemoryUnitOfWork, Any, Ctx, FrozenClock]:
    """A unit of work, its store `name` kept past a committed unit, and its data."""
    uow = MemoryUnitOfWork()
    clock = FrozenClock(START)
    with uow:
        kept = getattr(uow, name)
        ctx = STORES[name][1](kept, clock)
        uow.commit()
    return uow, kept, ctx, clock


def in_thread(call: Callable[[], object]) -> BaseException | None:
    """Run `call` in a new thread; return what it raised, if anything."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            raised.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    return raised[0] if raised else None


# ---- kept past its unit -----------------------------------------------------


@pytest.mark.parametrize("case", WRITE_CASES, ids=_id)
def test_a_write_on_a_store_kept_past_its_unit_is_refused(
    case: tuple[str, str],
) -> None:
    """Refused, naming the write; nothing changed, then or in a later unit."""
    name, op = case
    uow, kept, ctx, clock = kept_store(name)
    before = state(kept)
    write = WRITES[name][op]

    with pytest.raises(StoreError) as refused:
        write(kept, ctx, clock)

    assert (refused.value.store, refused.value.operation) == ("memory", op)
    assert str(refused.value) == REFUSED.format(op)
    assert state(kept) == before
    with uow:
        # Read back in a new unit: what was committed, nothing more.
        assert state(getattr(uow, name)) == before
        for read in READS[name].values():
            read(kept, ctx, clock)  # the kept store serves its own unit again
        # The refused call would have written: inside a unit it does.
        write(kept, ctx, clock)
        assert state(kept) != before
    assert state(kept) == before  # not committed: rolled back


# ---- another thread's unit ----------------------------------------------------


@pytest.mark.parametrize("case", WRITE_CASES, ids=_id)
def test_a_write_from_another_thread_while_a_unit_is_open_is_refused(
    case: tuple[str, str],
) -> None:
    """It lands in no journal: the unit's commit keeps nothing of it."""
    name, op = case
    uow, kept, ctx, clock = kept_store(name)
    before = state(kept)
    write = WRITES[name][op]

    with uow:
        store = getattr(uow, name)
        error = in_thread(lambda: write(store, ctx, clock))
        assert isinstance(error, StoreError), error
        assert error.operation == op
        assert state(store) == before
        uow.commit()
    assert state(kept) == before


@pytest.mark.parametrize("case", WRITE_CASES, ids=_id)
def test_a_write_outside_the_unit_while_another_thread_has_it_open_is_refused(
    case: tuple[str, str],
) -> None:
    """The kept store's thread has no unit; the unit's thread wrote nothing."""
    name, op = case
    uow, kept, ctx, clock = kept_store(name)
    before = state(kept)
    inside = threading.Event()
    leave = threading.Event()

    def other_unit() -> None:
        with uow:
            inside.set()
            leave.wait(10)
            uow.commit()

    other = threading.Thread(target=other_unit)
    other.start()
    try:
        assert inside.wait(10)
        with pytest.raises(StoreError):
            WRITES[name][op](kept, ctx, clock)
    finally:
        leave.set()
        other.join(10)
    assert state(kept) == before


# ---- reads follow the SQLite unit: refused too --------------------------------


@pytest.mark.parametrize("case", READ_CASES, ids=_id)
def test_a_read_on_a_kept_store_is_refused_too(case: tuple[str, str]) -> None:
    """As `SqliteUnitOfWork` refuses it: no read of another unit's writes."""
    name, op = case
    uow, kept, ctx, clock = kept_store(name)
    read = READS[name][op]

    with pytest.raises(StoreError) as refused:
        read(kept, ctx, clock)
    assert refused.value.operation == op
    with uow:
        error = in_thread(lambda: read(kept, ctx, clock))
        assert isinstance(error, StoreError), error
        read(kept, ctx, clock)  # in the unit's own thread it is served


# ---- the same stores on their own -------------------------------------------


@pytest.mark.parametrize("case", WRITE_CASES, ids=_id)
def test_a_store_on_its_own_still_writes_from_any_thread(
    case: tuple[str, str],
) -> None:
    name, op = case
    kind, setup = STORES[name]
    store = kind()
    clock = FrozenClock(START)
    ctx = setup(store, clock)
    before = state(store)

    assert in_thread(lambda: WRITES[name][op](store, ctx, clock)) is None

    assert state(store) != before
    for read in READS[name].values():
        assert in_thread(functools.partial(read, store, ctx, clock)) is None


def test_every_public_method_of_every_store_is_covered() -> None:
    """A new method joins WRITES or READS, and so these tests."""
    for name, (kind, _setup) in STORES.items():
        public = {m for m in vars(kind) if not m.startswith("_")}
        assert public == set(WRITES[name]) | set(READS[name]), name
