"""The memory unit of work's undo journal against the old copy-based semantics.

`MemoryUnitOfWork` used to copy every store when a unit opened, on commit
and on exit; each store now journals its writes instead. Each store's
`_snapshot()` (the old copy) is the oracle here: a unit that writes
everywhere and fails leaves every store's snapshot as it was, and random
operations inside units that commit or roll back at random give the same
results and the same snapshots as a twin store run the old way (snapshot on
open and on commit, `_restore` on rollback).
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import hypothesis.strategies as st
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings

from orderkit.adapters import _memory_keys
from orderkit.adapters._memory_journal import Journal
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Outcome, ReviewState, Sighting
from orderkit.dedupe._fingerprints import Fingerprint, FingerprintKind
from orderkit.inventory import Hold, HoldState
from orderkit.orders._messages import OutboxMessage, order_stream
from orderkit.pricing import LimitKey
from orderkit.services import Ledger
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START
from orderkit.testing._order_store_contract import paid, sample_order, sample_record


STORES = (
    "orders",
    "audit",
    "outbox",
    "inbox",
    "ledger",
    "keys",
    "limits",
    "detector",
    "cursors",
)


def plain(value: object) -> object:
    """A snapshot as comparable data: objects as their fields, sets sorted.

    Dicts compare as dicts (their order matters nowhere but in the queues,
    which `state` adds as lists).
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)  # type: ignore[type-var]
    if isinstance(value, Journal):
        return None
    slots = getattr(type(value), "__slots__", None)
    if slots is not None and type(value).__module__.startswith("orderkit.adapters"):
        return (type(value).__name__, *(plain(getattr(value, s)) for s in slots))
    if type(value).__name__ == "_State":
        return {k: plain(v) for k, v in vars(value).items() if k != "journal"}
    return value


def state(uow: MemoryUnitOfWork, name: str) -> object:
    """A store's full data, its queues' order included."""
    store = getattr(uow, f"_{name}")
    found: list[object] = [plain(store._snapshot())]
    if name == "outbox":
        found.append([(seq, e.message.message_id) for seq, e in store._unsent.items()])
    if name == "detector":
        found.append(list(store._pending))
    if name == "ledger":
        found.append([list(store._s.popped), list(store._s.popped_due)])
    return found


def states(uow: MemoryUnitOfWork) -> dict[str, object]:
    return {name: state(uow, name) for name in STORES}


@contextmanager
def counted_tokens() -> Iterator[None]:
    """Key tokens 't1', 't2', ...: the same in two runs of the same calls."""
    count = itertools.count(1)
    tokens = (f"t{n}" for n in count)
    with mock.patch.object(_memory_keys, "draw_token", side_effect=tokens):
        yield


def at(minutes: int) -> pendulum.DateTime:
    return START.add(minutes=minutes)


def set_clock(clock: FrozenClock, when: pendulum.DateTime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def message(message_id: str, stream: str = "DY-1") -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=order_stream("douyin", stream),
        topic="milestone",
        payload=f'{{"m":"{message_id}"}}'.encode(),
        created_at=START,
    )


def fingerprint(kind: FingerprintKind, n: int) -> Fingerprint:
    return Fingerprint(kind, 1, f"{n:032x}")


PRINTS = [
    fingerprint(FingerprintKind.PHONE_SKUS, 1),
    fingerprint(FingerprintKind.ADDRESS_SKUS, 2),
    fingerprint(FingerprintKind.BUYER_SKUS, 3),
]
PHONES = ["+8613800138000", "+8613912345678"]
HOUR = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)


# ---- one unit that writes by every path, then fails ------------------------


class _Crash(Exception):
    pass


def _crash() -> None:
    raise _Crash


def _populate(uow: MemoryUnitOfWork, clock: FrozenClock) -> dict[str, Any]:
    """Committed data for every write path to change: returns what it made."""
    made: dict[str, Any] = {}
    with uow:
        uow.orders.save(sample_order("DY-1"), None)
        uow.orders.save(sample_order("DY-2"), None)
        uow.audit.append("douyin", [sample_record("DY-1", 2)])
        uow.outbox.add([message(f"m{n}", f"DY-{n % 2}") for n in range(6)])
        uow.outbox.claim(relay="r1", now=at(0), lease=LEASE, limit=4)
        uow.outbox.mark_sent(["m0", "m1"], relay="r1", now=at(0))
        uow.inbox.seen("notifier", "u1", now=at(0))
        uow.inbox.seen("notifier", "u2", now=at(30))
        ledger = Ledger(uow.ledger, clock)
        places = ["SZ", "BJ", "SH"]
        for place in places:
            ledger.receive("SKU-A", place, 100, key=f"PO-A-{place}")
            ledger.receive("SKU-B", place, 100, key=f"PO-B-{place}")
        # Each cart holds stock in three places: a list in the owner index.
        for n in range(6):
            place = places[n // 2]
            ledger.reserve(
                f"cart-{n % 2}",
                [("SKU-A", place, 1), ("SKU-B", place, 1)],
                ttl=dt.timedelta(minutes=10 + n),
                key=f"R{n}",
            )
        for n, name in enumerate(["k-old", "k-live", "k-done", "k-drop"]):
            claim = uow.keys.claim(name, "h", now=at(n), lease=LEASE)
            made[name] = claim.token  # type: ignore[union-attr]
        uow.keys.complete(
            "k-done", made["k-done"], Outcome(succeeded=True, body=b"ok"), now=at(3)
        )
        for n in range(4):
            uow.limits.consume(
                [LimitKey("buyer:1", 10, dt.timedelta(days=1))],
                now=at(n * 20),
                use_id=f"use-{n}",
            )
        for n in range(4):
            uow.detector.record(
                Sighting("douyin", f"DY-{n}", at(n * 20)),
                PRINTS,
                phone=PHONES[n % 2],
                window=HOUR,
                now=at(n * 20),
            )
        uow.cursors.advance("feed", None, "p1")
        uow.commit()
    return made


def _write_by_every_path(
    uow: MemoryUnitOfWork, clock: FrozenClock, made: dict[str, Any]
) -> None:
    uow.orders.save(paid(sample_order("DY-1")), 1)
    uow.orders.save(sample_order("DY-3"), None)
    uow.audit.append("douyin", [sample_record("DY-1", 3), sample_record("DY-9", 2)])
    uow.outbox.add([message("m9", "DY-9")])
    assert uow.outbox.claim(relay="r2", now=at(60), lease=LEASE, limit=10)
    assert uow.outbox.mark_sent(["m3", "m2", "m9"], relay="r2", now=at(60)) == 3
    assert uow.outbox.prune(at(61)) == 5
    uow.inbox.seen("notifier", "u3", now=at(60))
    assert uow.inbox.prune(at(10)) == 1
    set_clock(clock, at(11))
    ledger = Ledger(uow.ledger, clock)
    # Expiry (per balance and overall heaps), a reserve replacing an owner's
    # holds, release, extend, commit, stock in, safety stock and a policy.
    ledger.reserve("cart-1", [("SKU-A", "SZ", 2)], key="R-again")
    live = [h.hold_id for h in uow.ledger.holds(state=HoldState.LIVE)]
    assert len(live) >= 4
    ledger.release(live[-1], key="REL")
    ledger.extend(live[-2], dt.timedelta(hours=2), key="EXT")
    ledger.commit(live[-3], key="COM")
    ledger.receive("SKU-C", "WH", 5, key="PO-C")
    ledger.set_safety_stock("SKU-A", "SZ", 3)
    ledger.set_safety_stock("SKU-D", "NEW", 1)
    set_clock(clock, at(30))
    assert ledger.expire_due()
    uow.ledger.set_policy("SKU-A", uow.ledger.policy("SKU-B"))
    uow.keys.claim("k-new", "h", now=at(60), lease=LEASE)
    uow.keys.claim("k-live", "h", now=at(60), lease=LEASE)  # takes over
    uow.keys.complete(
        "k-old", made["k-old"], Outcome(succeeded=True, body=b"x"), now=at(2)
    )
    assert uow.keys.abandon("k-drop", made["k-drop"])
    assert uow.keys.prune(at(60), retention=dt.timedelta(minutes=55)) == 2
    uow.limits.consume(
        [LimitKey("buyer:1", 10, dt.timedelta(days=1)), LimitKey("ip:9", 3, HOUR, "b")],
        now=at(90),
        use_id="use-9",
    )
    assert uow.limits.prune(at(30)) == 2
    suspect = uow.detector.pending()[0]
    uow.detector.resolve(
        suspect.channel, suspect.order_id, ReviewState.RELEASED, actor="ops", now=at(90)
    )
    uow.detector.record(
        Sighting("douyin", "DY-9", at(95)),
        PRINTS,
        phone=PHONES[0],
        window=HOUR,
        now=at(95),
    )
    assert uow.detector.prune(at(50)) >= 1
    assert uow.cursors.advance("feed", "p1", "p2")
    assert uow.cursors.advance("other", None, "q1")


def test_a_failed_unit_leaves_every_store_as_it_was() -> None:
    """Every write path of every store, then a crash: every snapshot unchanged."""
    uow = MemoryUnitOfWork()
    clock = FrozenClock(START)
    made = _populate(uow, clock)
    before = states(uow)
    changed: dict[str, object] = {}

    def fail() -> None:
        with uow:
            _write_by_every_path(uow, clock, made)
            changed.update(states(uow))
            _crash()

    with pytest.raises(_Crash):
        fail()
    assert all(changed[name] != before[name] for name in STORES), [
        name for name in STORES if changed[name] == before[name]
    ]
    assert states(uow) == before
    # The same writes committed are kept.
    set_clock(clock, START)
    with uow:
        _write_by_every_path(uow, clock, made)
        written = states(uow)
        uow.commit()
    assert states(uow) == written != before


def _live(uow: MemoryUnitOfWork, n: int) -> str:
    return uow.ledger.holds(state=HoldState.LIVE)[n].hold_id


ONE_WRITE: dict[str, Callable[[MemoryUnitOfWork, Ledger, dict[str, Any]], object]] = {
    "release": lambda uow, ledger, _: ledger.release(_live(uow, 0), key="X"),
    "extend": lambda uow, ledger, _: ledger.extend(_live(uow, 1), key="X"),
    "commit": lambda uow, ledger, _: ledger.commit(_live(uow, 2), key="X"),
    "supersede": lambda _uow, ledger, _: ledger.reserve(
        "cart-0", [("SKU-A", "SZ", 1)], key="X"
    ),
    "expire one": lambda uow, _ledger, _: uow.ledger.expire_due(at(60), limit=1),
    "claim again": lambda uow, _ledger, made: uow.keys.complete(
        "k-live", made["k-live"], Outcome(succeeded=True, body=b"y"), now=at(5)
    ),
    "claim over": lambda uow, _ledger, _: uow.keys.claim(
        "k-old", "h", now=at(30), lease=LEASE
    ),
    "mark sent": lambda uow, _ledger, _: uow.outbox.mark_sent(
        ["m2"], relay="r1", now=at(1)
    ),
    "claim lease": lambda uow, _ledger, _: uow.outbox.claim(
        relay="r3", now=at(30), lease=LEASE
    ),
    "resolve": lambda uow, _ledger, _: uow.detector.resolve(
        "douyin", "DY-1", ReviewState.REJECTED, actor="ops", now=at(99)
    ),
    "prune detector": lambda uow, _ledger, _: uow.detector.prune(at(30)),
    "consume": lambda uow, _ledger, _: uow.limits.consume(
        [LimitKey("buyer:1", 10, dt.timedelta(days=1))], now=at(99)
    ),
}


@pytest.mark.parametrize("write", ONE_WRITE)
def test_one_write_then_a_crash_leaves_every_store_as_it_was(write: str) -> None:
    """Writes that leave counters and queues mid-way are undone too."""
    uow = MemoryUnitOfWork()
    clock = FrozenClock(START)
    made = _populate(uow, clock)
    before = states(uow)

    def fail() -> None:
        with uow:
            ONE_WRITE[write](uow, Ledger(uow.ledger, clock), made)
            assert states(uow) != before
            _crash()

    with pytest.raises(_Crash):
        fail()
    assert states(uow) == before


def test_rollback_after_a_commit_keeps_the_commit() -> None:
    uow = MemoryUnitOfWork()
    clock = FrozenClock(START)
    made = _populate(uow, clock)
    with uow:
        _write_by_every_path(uow, clock, made)
        uow.commit()
        committed = states(uow)
        uow.keys.claim("k-after", "h", now=at(99), lease=LEASE)
        uow.outbox.add([message("m-after")])
        uow.rollback()
        assert states(uow) == committed
    assert states(uow) == committed


def test_stores_outside_a_unit_keep_no_journal() -> None:
    uow = MemoryUnitOfWork()
    _populate(uow, FrozenClock(START))
    for name in STORES:
        assert getattr(uow, f"_{name}")._journal is None
    assert uow._ledger._s.journal is None


# ---- random operations: journal against copies -----------------------------


Op = tuple[Any, ...]
Apply = Callable[[Any, Op, dict[str, Any]], object]

ints = st.integers(0, 4)


def _orders_ops() -> st.SearchStrategy[Op]:
    ids = st.sampled_from(["DY-1", "DY-2"])
    return st.one_of(
        st.tuples(
            st.just("save"), ids, st.integers(1, 3), st.sampled_from([None, 1, 2])
        ),
        st.tuples(st.just("get"), ids),
        st.tuples(st.just("list")),
    )


def _orders_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    if op[0] == "save":
        order = paid(sample_order(op[1]), op[2]) if op[2] > 1 else sample_order(op[1])
        return store.save(order, op[3])
    if op[0] == "get":
        return store.get("douyin", op[1])
    return store.orders()


def _audit_ops() -> st.SearchStrategy[Op]:
    return st.tuples(
        st.just("append"),
        st.lists(
            st.tuples(
                st.sampled_from(["DY-1", "DY-2"]),
                st.integers(1, 3),
                st.sampled_from(["a", "b"]),
            ),
            max_size=3,
        ),
    )


def _audit_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    result = store.append("douyin", [sample_record(i, v, a) for i, v, a in op[1]])
    return result, store.records("douyin", "DY-1"), store.records("douyin", "DY-2")


def _outbox_ops() -> st.SearchStrategy[Op]:
    relays = st.sampled_from(["r1", "r2"])
    return st.one_of(
        st.tuples(
            st.just("add"),
            st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=3),
        ),
        st.tuples(st.just("claim"), relays, st.integers(0, 20), st.integers(1, 4)),
        st.tuples(
            st.just("mark"), st.lists(st.integers(0, 4), max_size=3), relays, ints
        ),
        st.tuples(st.just("prune"), st.integers(0, 20)),
    )


def _outbox_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    if op[0] == "add":
        result = store.add([message(f"m{n}", f"DY-{s}") for n, s in op[1]])
    elif op[0] == "claim":
        result = store.claim(relay=op[1], now=at(op[2]), lease=LEASE, limit=op[3])
    elif op[0] == "mark":
        result = store.mark_sent([f"m{n}" for n in op[1]], relay=op[2], now=at(op[3]))
    else:
        result = store.prune(at(op[1]))
    return result, store.unsent()


def _inbox_ops() -> st.SearchStrategy[Op]:
    return st.one_of(
        st.tuples(
            st.just("seen"), st.sampled_from(["c1", "c2"]), ints, st.integers(0, 9)
        ),
        st.tuples(st.just("prune"), st.integers(0, 9)),
    )


def _inbox_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    if op[0] == "seen":
        return store.seen(op[1], f"u{op[2]}", now=at(op[3]))
    return store.prune(at(op[1]))


def _keys_ops() -> st.SearchStrategy[Op]:
    keys = st.sampled_from(["k1", "k2"])
    claim = st.tuples(
        st.just("claim"), keys, st.sampled_from(["h", "h", "h2"]), st.integers(0, 20)
    )
    return st.one_of(
        claim,
        claim,
        st.tuples(st.just("complete"), keys, st.booleans(), st.integers(0, 20)),
        st.tuples(st.just("abandon"), keys, st.booleans()),
        st.tuples(st.just("prune"), st.integers(0, 30), st.integers(0, 10)),
    )


def _keys_apply(store: Any, op: Op, ctx: dict[str, Any]) -> object:
    tokens = ctx.setdefault("tokens", {})
    if op[0] == "claim":
        claim = store.claim(op[1], op[2], now=at(op[3]), lease=LEASE)
        if hasattr(claim, "token"):
            tokens[op[1]] = claim.token
        return claim
    token = tokens.get(op[1], "nobody") if op[2] else "wrong-token"
    if op[0] == "complete":
        return store.complete(
            op[1], token, Outcome(succeeded=True, body=b"won"), now=at(op[3])
        )
    if op[0] == "abandon":
        return store.abandon(op[1], token)
    return store.prune(at(op[1]), retention=dt.timedelta(minutes=op[2]))


def _limits_ops() -> st.SearchStrategy[Op]:
    key = st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(1, 3),
        st.sampled_from([None, "x", "y"]),
    )
    return st.one_of(
        st.tuples(
            st.just("consume"),
            st.lists(key, min_size=1, max_size=2, unique_by=lambda k: (k[0], k[2])),
            st.integers(0, 30),
            st.sampled_from([None, "u1", "u2", "u3"]),
        ),
        st.tuples(st.just("prune"), st.integers(0, 30)),
    )


def _limits_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    if op[0] == "consume":
        keys = [LimitKey(k, n, dt.timedelta(minutes=10), m) for k, n, m in op[1]]
        return store.consume(keys, now=at(op[2]), use_id=op[3])
    return store.prune(at(op[1]))


def _detector_setup(store: Any, _ctx: dict[str, Any]) -> None:
    """Three orders alike: two of them pending, queued at the same time."""
    for n in range(3):
        store.record(
            Sighting("douyin", f"DY-{n}", at(n * 10)),
            PRINTS,
            phone=PHONES[0],
            window=HOUR,
            now=START,
        )


def _detector_ops() -> st.SearchStrategy[Op]:
    ids = st.sampled_from([f"DY-{n}" for n in range(6)])
    return st.one_of(
        st.tuples(
            st.just("record"),
            ids,
            st.integers(0, 90),
            st.lists(st.integers(0, 2), max_size=3, unique=True),
            st.sampled_from([None, *PHONES]),
            st.integers(0, 5),
        ),
        st.tuples(
            st.just("resolve"),
            ids,
            st.sampled_from([ReviewState.RELEASED, ReviewState.REJECTED]),
            st.integers(0, 5),
        ),
        st.tuples(st.just("prune"), st.integers(0, 130)),
    )


def _detector_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    if op[0] == "record":
        result = store.record(
            Sighting("douyin", op[1], at(op[2])),
            [PRINTS[n] for n in op[3]],
            phone=op[4],
            window=HOUR,
            now=at(op[5]),
        )
    elif op[0] == "resolve":
        result = store.resolve("douyin", op[1], op[2], actor="ops", now=at(op[3]))
    else:
        result = store.prune(at(op[1]))
    return (
        result,
        store.pending(),
        [store.orders_of_buyer(phone) for phone in PHONES],
    )


def _ledger_ops() -> st.SearchStrategy[Op]:
    pick = st.integers(0, 9)
    rows = st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["SZ", "BJ"]))
    return st.one_of(
        st.tuples(st.just("receive"), rows, st.integers(1, 5)),
        st.tuples(
            st.just("reserve"),
            st.sampled_from(["c1", "c2", "c3"]),
            st.lists(st.tuples(rows, st.integers(1, 3)), min_size=1, max_size=3),
            st.integers(1, 20),
        ),
        st.tuples(st.just("release"), pick),
        st.tuples(st.just("extend"), pick, st.integers(1, 30)),
        st.tuples(st.just("commit"), pick),
        st.tuples(st.just("wait"), st.integers(1, 10)),
        st.tuples(st.just("sweep"), st.sampled_from([None, 1, 2])),
        st.tuples(st.just("safety"), rows, ints),
    )


def _ledger_setup(store: Any, ctx: dict[str, Any]) -> None:
    """Stock on every row, and live holds: an owner's list among them."""
    clock = ctx["clock"] = FrozenClock(START)
    ctx["keys"] = itertools.count()
    ledger = Ledger(store, clock)
    for sku, place in itertools.product("AB", ["SZ", "BJ"]):
        ledger.receive(sku, place, 20, key=f"PO-{sku}-{place}")
    ledger.reserve("c1", [("A", "SZ", 1), ("B", "SZ", 1), ("A", "BJ", 1)], key="R1")
    ledger.reserve("c2", [("B", "BJ", 2)], ttl=dt.timedelta(minutes=3), key="R2")


def _ledger_apply(store: Any, op: Op, ctx: dict[str, Any]) -> object:
    clock, keys = ctx["clock"], ctx["keys"]
    ledger = Ledger(store, clock)
    key = f"key-{next(keys)}"
    holds: list[Hold] = list(store.holds())
    if op[0] == "receive":
        sku, place = op[1]
        result: object = ledger.receive(sku, place, op[2], key=key)
    elif op[0] == "reserve":
        lines = [(*row, n) for row, n in op[2]]
        result = ledger.reserve(op[1], lines, ttl=dt.timedelta(minutes=op[3]), key=key)
    elif op[0] in {"release", "extend", "commit"}:
        if not holds:
            return "no holds"
        hold_id = holds[op[1] % len(holds)].hold_id
        if op[0] == "release":
            result = ledger.release(hold_id, key=key)
        elif op[0] == "commit":
            result = ledger.commit(hold_id, key=key)
        else:
            result = ledger.extend(hold_id, dt.timedelta(minutes=op[2]), key=key)
    elif op[0] == "wait":
        clock.advance(minutes=op[1])
        result = None
    elif op[0] == "sweep":
        result = store.expire_due(clock.now(), limit=op[1])
    else:
        sku, place = op[1]
        ledger.set_safety_stock(sku, place, op[2])
        result = None
    return result, store.balances(clock.now()), store.movements()


def _cursors_ops() -> st.SearchStrategy[Op]:
    cursor = st.sampled_from(["1", "2", "3"])
    return st.tuples(
        st.just("advance"),
        st.sampled_from(["f", "g"]),
        st.sampled_from([None, "1", "2"]),
        cursor,
    )


def _cursors_apply(store: Any, op: Op, _ctx: dict[str, Any]) -> object:
    return store.advance(op[1], op[2], op[3]), store.get("f"), store.get("g")


def _no_setup(_store: Any, _ctx: dict[str, Any]) -> None:
    pass


Setup = Callable[[Any, dict[str, Any]], None]
CASES: dict[str, tuple[Callable[[], st.SearchStrategy[Op]], Apply, Setup]] = {
    "orders": (_orders_ops, _orders_apply, _no_setup),
    "audit": (_audit_ops, _audit_apply, _no_setup),
    "outbox": (_outbox_ops, _outbox_apply, _no_setup),
    "inbox": (_inbox_ops, _inbox_apply, _no_setup),
    "ledger": (_ledger_ops, _ledger_apply, _ledger_setup),
    "keys": (_keys_ops, _keys_apply, _no_setup),
    "limits": (_limits_ops, _limits_apply, _no_setup),
    "detector": (_detector_ops, _detector_apply, _detector_setup),
    "cursors": (_cursors_ops, _cursors_apply, _no_setup),
}

# A unit: ops, each maybe followed by a commit; then how it ends. An
# "outside" unit calls the unit's store with no unit open: refused.
End = str  # "commit", "exit" (no commit), "raise", "rollback-then-exit"


def _units(ops: st.SearchStrategy[Op]) -> st.SearchStrategy[list[Any]]:
    unit = st.tuples(
        st.sampled_from(["commit", "exit", "raise", "rollback", "outside"]),
        st.lists(
            st.tuples(ops, st.sampled_from([False, False, False, True])), max_size=8
        ),
    )
    return st.lists(unit, min_size=1, max_size=8)


def _outcome(call: Callable[[], object]) -> object:
    try:
        return ("ok", call())
    except Exception as error:  # noqa: BLE001 - the error is the result
        return ("error", type(error).__name__)


def _run_journaled(
    name: str, apply: Apply, setup: Setup, units: list[Any]
) -> list[object]:
    """The units through a `MemoryUnitOfWork`: its journals."""
    uow = MemoryUnitOfWork()
    store = getattr(uow, f"_{name}")
    ctx: dict[str, Any] = {}
    with uow:
        setup(store, ctx)
        uow.commit()
    trace: list[object] = []
    for end, steps in units:
        if end == "outside":
            for op, _commit in steps:
                trace.append(_outcome(functools.partial(apply, store, op, ctx)))
            trace.append(state(uow, name))
            continue
        try:
            with uow:
                for op, commit in steps:
                    trace.append(_outcome(functools.partial(apply, store, op, ctx)))
                    if commit:
                        uow.commit()
                    trace.append(state(uow, name))
                if end == "commit":
                    uow.commit()
                elif end == "rollback":
                    uow.rollback()
                    trace.append(state(uow, name))
                elif end == "raise":
                    _crash()
        except _Crash:
            pass
        trace.append(state(uow, name))
    return trace


def _run_copied(
    name: str, apply: Apply, setup: Setup, units: list[Any]
) -> list[object]:
    """The same units the old way: a copy on open and commit, restored on exit."""
    uow = MemoryUnitOfWork()  # only for `state`: its store is used directly
    store = getattr(uow, f"_{name}")
    # The unit's store serves calls only while it journals, in this thread:
    # it journals throughout here, but the journal is only ever dropped.
    store._begin()
    ctx: dict[str, Any] = {}
    setup(store, ctx)
    trace: list[object] = []
    for end, steps in units:
        if end == "outside":
            store._end()
            for op, _commit in steps:
                trace.append(_outcome(functools.partial(apply, store, op, ctx)))
            trace.append(state(uow, name))
            store._begin()
            continue
        saved = store._snapshot()
        for op, commit in steps:
            trace.append(_outcome(functools.partial(apply, store, op, ctx)))
            if commit:
                saved = store._snapshot()
            trace.append(state(uow, name))
        if end == "commit":
            saved = store._snapshot()
        elif end == "rollback":
            store._restore(saved)
            trace.append(state(uow, name))
        store._restore(saved)
        trace.append(state(uow, name))
    store._end()
    return trace


EXAMPLES = 200


@pytest.mark.parametrize("name", STORES)
def test_random_units_match_the_copying_semantics(name: str) -> None:
    """Results and snapshots after every step equal those of copies."""
    strategy, apply, setup = CASES[name]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(units=_units(strategy()))
    def check(units: list[Any]) -> None:
        with counted_tokens():
            journaled = _run_journaled(name, apply, setup, units)
        with counted_tokens():
            copied = _run_copied(name, apply, setup, units)
        assert journaled == copied

    check()


@given(
    heap=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5))),
    steps=st.lists(
        st.one_of(st.none(), st.tuples(st.integers(0, 5), st.integers(0, 5)))
    ),
)
def test_heap_pushes_and_pops_undo_exactly(
    heap: list[tuple[int, int]], steps: list[tuple[int, int] | None]
) -> None:
    """Any pushes and pops, replayed backwards: the very same list."""
    heapq.heapify(heap)
    before = list(heap)
    journal = Journal()
    for step in steps:
        if step is None:
            if heap:
                journal.pop(heap)
        else:
            journal.push(heap, step)
        assert heap == sorted(heap) or _is_heap(heap)
    journal.replay()
    assert heap == before


def _is_heap(heap: list[tuple[int, int]]) -> bool:
    return all(heap[(i - 1) // 2] <= heap[i] for i in range(1, len(heap)))


KNOWN_UNITS: dict[str, tuple[str, list[Any]]] = {
    "key taken over, then undone": (
        "keys",
        [
            ("commit", [(("claim", "k1", "h", 0), False)]),
            ("raise", [(("claim", "k1", "h", 10), False)]),
            ("commit", [(("claim", "k1", "h", 11), False)]),
        ],
    ),
    "key completed, then undone": (
        "keys",
        [
            ("commit", [(("claim", "k1", "h", 0), False)]),
            ("rollback", [(("complete", "k1", True, 1), False)]),
            ("commit", [(("claim", "k1", "h", 2), False)]),
        ],
    ),
}


@pytest.mark.parametrize("case", KNOWN_UNITS)
def test_known_units_match_the_copying_semantics(case: str) -> None:
    """Paths the random units may not reach in their examples."""
    name, units = KNOWN_UNITS[case]
    _strategy, apply, setup = CASES[name]
    with counted_tokens():
        journaled = _run_journaled(name, apply, setup, units)
    with counted_tokens():
        copied = _run_copied(name, apply, setup, units)
    assert journaled == copied
