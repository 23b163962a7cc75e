"""The unit-of-work contract: all or nothing, over every store of a backend."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable

import attrs
import pytest

from orderkit.dedupe import Claimed, Fingerprint, FingerprintKind, InProgress, Sighting
from orderkit.errors import (
    ConcurrencyConflict,
    NaiveDatetime,
    StoreError,
    ValidationError,
)
from orderkit.orders import AuditRecord, Order
from orderkit.orders._messages import OutboxMessage, order_stream
from orderkit.ports import UnitOfWork
from orderkit.pricing import Granted, LimitKey
from orderkit.services import Ledger
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START, Barrier, StoreContract
from orderkit.testing._order_store_contract import paid, sample_order, sample_record


_FEED = "douyin:orders"
_SKU = "RETRO-CLOCK"
_WAREHOUSE = "SZ-1"
_BUYER = LimitKey("buyer:BUYER-7", 2, dt.timedelta(days=1))
_PHONE = "+8613812348000"
_PHONE_PRINT = Fingerprint(FingerprintKind.PHONE_SKUS, 1, f"{0x138:032x}")


class _Crash(Exception):
    """The failure in the middle of a unit of work."""


def _message(message_id: str, order: Order | None = None) -> OutboxMessage:
    order = order or sample_order()
    return OutboxMessage(
        message_id=message_id,
        stream=order_stream(order.channel, order.order_id),
        topic="milestone",
        payload=b'{"milestone":"paid"}',
        created_at=START,
    )


def _write_everything(uow: UnitOfWork) -> None:
    """One change, written to every store of the unit."""
    uow.orders.save(sample_order(), None)
    uow.orders.save(paid(sample_order()), 1)
    uow.audit.append("douyin", [sample_record()])
    uow.outbox.add([_message("paid:douyin:DY-1001")])
    uow.inbox.seen("notifier", "upstream-1", now=START)
    Ledger(uow.ledger, FrozenClock(START)).receive(_SKU, _WAREHOUSE, 10, key="PO-1")
    uow.keys.claim(
        "douyin:orders/paid:DY-1001", "hash-1", now=START, lease=dt.timedelta(minutes=1)
    )
    assert uow.limits.consume([_BUYER], now=START, use_id="DY-1001") == Granted()
    assert uow.cursors.advance(_FEED, None, "page-2")
    uow.detector.record(
        Sighting("douyin", "DY-1001", START),
        [_PHONE_PRINT],
        phone=_PHONE,
        window=dt.timedelta(days=1),
        now=START,
    )


def _write_something_else(uow: UnitOfWork) -> None:
    """Another change to every store, over what `_write_everything` committed."""
    uow.orders.save(sample_order(order_id="DY-2"), None)
    uow.orders.save(paid(sample_order(), version=3), 2)
    uow.audit.append("douyin", [sample_record(version=3)])
    uow.outbox.add([_message("placed:douyin:DY-2")])
    uow.inbox.seen("notifier", "upstream-2", now=START)
    Ledger(uow.ledger, FrozenClock(START)).receive(_SKU, _WAREHOUSE, 5, key="PO-2")
    uow.keys.claim(
        "douyin:orders/paid:DY-2", "hash-2", now=START, lease=dt.timedelta(minutes=1)
    )
    assert uow.limits.consume([_BUYER], now=START, use_id="DY-2") == Granted()
    assert uow.cursors.advance(_FEED, "page-2", "page-3")
    uow.detector.record(
        Sighting("douyin", "DY-2", START),
        [_PHONE_PRINT],
        phone=_PHONE,
        window=dt.timedelta(days=1),
        now=START,
    )


def _nothing_of_it(uow: UnitOfWork) -> None:
    """Assert, inside a unit, that nothing `_write_everything` wrote is there."""
    assert uow.orders.get("douyin", "DY-1001") is None
    assert list(uow.audit.records("douyin", "DY-1001")) == []
    assert list(uow.outbox.unsent()) == []
    assert uow.inbox.seen("notifier", "upstream-1", now=START) is False
    assert list(uow.ledger.balances(START)) == []
    assert uow.ledger.receipt("PO-1") is None
    assert uow.cursors.get(_FEED) is None
    assert list(uow.detector.orders_of_buyer(_PHONE)) == []
    assert uow.limits.consume([_BUYER], now=START, use_id="DY-1001") == Granted()


def _all_of_it(uow: UnitOfWork) -> None:
    """Assert, inside a unit, that everything `_write_everything` wrote is there."""
    assert uow.orders.get("douyin", "DY-1001") == paid(sample_order())
    assert list(uow.audit.records("douyin", "DY-1001")) == [sample_record()]
    assert [m.message_id for m in uow.outbox.unsent()] == ["paid:douyin:DY-1001"]
    assert uow.inbox.seen("notifier", "upstream-1", now=START) is True
    assert [b.on_hand for b in uow.ledger.balances(START)] == [10]
    assert uow.ledger.receipt("PO-1") is not None
    claim = uow.keys.claim(
        "douyin:orders/paid:DY-1001", "hash-1", now=START, lease=dt.timedelta(minutes=1)
    )
    assert isinstance(claim, InProgress)
    assert uow.cursors.get(_FEED) == "page-2"
    assert [s.order_id for s in uow.detector.orders_of_buyer(_PHONE)] == ["DY-1001"]
    assert uow.limits.consume([_BUYER], now=START, use_id="DY-1001") == Granted(
        replayed=True
    )


def _bump_race(number: int, factory: Callable[[], UnitOfWork], barrier: Barrier) -> int:
    """In one unit: read the order, save it one version on, add a message."""
    uow = factory()
    barrier.wait(timeout=120)
    with uow:
        order = uow.orders.get("douyin", "DY-1001")
        assert order is not None
        uow.orders.save(attrs.evolve(order, version=order.version + 1), order.version)
        uow.outbox.add([_message(f"bump-{number}")])
        uow.commit()
        return order.version + 1


class UnitOfWorkContract(StoreContract[UnitOfWork]):
    """Every rule of `orderkit.ports.UnitOfWork`, as tests over `make_store()`.

    `make_store` returns a unit of work over empty stores; `connect`, when
    given, opens another unit of work on the same backend (in a thread or
    another process) for the races. The hooks are described on
    `StoreContract`.

    .. versionadded:: 0.1.0
    """

    def test_commit_makes_everything_visible_together(self, store: UnitOfWork) -> None:
        """Order, audit, outbox, inbox, ledger, key, limit, cursor: all committed."""
        with store:
            _write_everything(store)
            _all_of_it(store)
            store.commit()
        with store:
            _all_of_it(store)

    def test_a_failure_in_the_middle_leaves_nothing(self, store: UnitOfWork) -> None:
        """An exception before commit: nothing of the unit is anywhere."""

        def crash() -> None:
            with store:
                _write_everything(store)
                raise _Crash

        with pytest.raises(_Crash):
            crash()
        with store:
            _nothing_of_it(store)
            # Claimable afresh: the first claim is gone.
            claim = store.keys.claim(
                "douyin:orders/paid:DY-1001",
                "hash-2",
                now=START,
                lease=dt.timedelta(minutes=1),
            )
            assert isinstance(claim, Claimed)
            assert claim.attempt == 1

    def test_leaving_without_commit_rolls_back(self, store: UnitOfWork) -> None:
        """Forgetting to commit is a rollback."""
        with store:
            _write_everything(store)
        with store:
            _nothing_of_it(store)

    def test_what_follows_a_commit_is_its_own(self, store: UnitOfWork) -> None:
        """After commit the unit goes on; later writes roll back unless committed."""
        with store:
            store.orders.save(sample_order(), None)
            store.commit()
            store.orders.save(paid(sample_order()), 1)
            store.outbox.add([_message("paid:douyin:DY-1001")])
        with store:
            assert store.orders.get("douyin", "DY-1001") == sample_order()
            assert list(store.outbox.unsent()) == []

    def test_rollback_undoes_since_the_last_commit(self, store: UnitOfWork) -> None:
        """`rollback()` forgets the uncommitted writes; the unit goes on."""
        with store:
            store.orders.save(sample_order(), None)
            store.commit()
            store.orders.save(paid(sample_order()), 1)
            store.rollback()
            assert store.orders.get("douyin", "DY-1001") == sample_order()
            store.outbox.add([_message("placed:douyin:DY-1001")])
            store.commit()
        with store:
            assert store.orders.get("douyin", "DY-1001") == sample_order()
            assert len(store.outbox.unsent()) == 1

    def test_undoing_a_unit_keeps_what_was_committed_before(
        self, store: UnitOfWork
    ) -> None:
        """A failed unit, or a `rollback()`, undoes its own writes, never a commit's.

        Each unit here writes to every store over what an earlier unit
        committed: a rollback that restores a store to empty, or loses its
        committed rows, shows up in one of them.
        """
        with store:
            _write_everything(store)
            store.commit()

        def crash() -> None:
            with store:
                _write_something_else(store)
                raise _Crash

        with pytest.raises(_Crash):
            crash()
        with store:
            _all_of_it(store)
        with store:
            _write_something_else(store)
            store.rollback()
        with store:
            _all_of_it(store)

    def test_a_refused_call_writes_nothing_and_the_unit_goes_on(
        self, store: UnitOfWork
    ) -> None:
        """A conflict inside the unit undoes only itself."""
        with store:
            store.orders.save(sample_order(), None)
            store.outbox.add([_message("placed:douyin:DY-1001")])
            with pytest.raises(ConcurrencyConflict):
                store.outbox.add(
                    [
                        _message("other"),
                        attrs.evolve(_message("placed:douyin:DY-1001"), topic="x"),
                    ]
                )
            with pytest.raises(ConcurrencyConflict):
                store.orders.save(sample_order(), None)
            store.commit()
        with store:
            assert store.orders.get("douyin", "DY-1001") == sample_order()
            assert [m.message_id for m in store.outbox.unsent()] == [
                "placed:douyin:DY-1001"
            ]

    def test_the_stores_belong_to_an_open_unit(self, store: UnitOfWork) -> None:
        """Outside `with`, stores, commit and rollback raise StoreError."""
        with pytest.raises(StoreError):
            _ = store.orders
        with pytest.raises(StoreError):
            store.commit()
        with pytest.raises(StoreError):
            store.rollback()
        with store, pytest.raises(StoreError):
            store.__enter__()
        with store:
            assert store.orders.get("douyin", "DY-1001") is None

    def test_the_audit_log_keeps_each_version_once_in_order(
        self, store: UnitOfWork
    ) -> None:
        """Appends are idempotent per version, all or nothing, read in order."""
        first, second = sample_record(version=2), sample_record(version=3)
        with store:
            store.audit.append("douyin", [second])
            store.audit.append("douyin", [first, second])  # `second` again: skipped
            store.commit()
        with store:
            assert list(store.audit.records("douyin", "DY-1001")) == [first, second]
            assert list(store.audit.records("taobao", "DY-1001")) == []
        rewritten = sample_record(version=3, actor="ops")
        with store:
            with pytest.raises(ConcurrencyConflict) as caught:
                store.audit.append("douyin", [sample_record(version=4), rewritten])
            assert caught.value.what == "audit:douyin:DY-1001:3"
            store.commit()
        with store:
            assert list(store.audit.records("douyin", "DY-1001")) == [first, second]

    def test_the_audit_log_lists_a_window_soonest_recorded_first(
        self, store: UnitOfWork
    ) -> None:
        """`recorded_between()`, where a log has it: a window's records, in pages.

        Records of two channels and several orders, some recorded at one
        instant, paged through one at a time: the window's records, by
        instant, then channel, order id and version, each with its channel.
        """

        def record(order_id: str, version: int, minutes: int) -> AuditRecord:
            return attrs.evolve(
                sample_record(order_id, version),
                recorded_at=START.add(minutes=minutes, microseconds=version),
            )

        written = [
            ("taobao", record("DY-2", 2, 5)),
            ("douyin", record("DY-2", 2, 5)),
            ("douyin", record("DY-1", 2, 5)),
            ("douyin", record("DY-1", 3, 1)),
            ("douyin", record("DY-1", 4, 30)),
            ("douyin", record("DY-3", 2, 0)),
            ("douyin", record("DY-3", 3, 60)),
        ]
        with store:
            listed_by = getattr(store.audit, "recorded_between", None)
            if listed_by is None:
                pytest.skip("this audit log does not list records by instant")
            for channel, r in written:
                store.audit.append(channel, [r])
            store.commit()
        start, end = START.add(microseconds=3), START.add(minutes=60)
        listed: list[tuple[str, AuditRecord]] = []
        after = None
        while True:
            with store:
                page = store.audit.recorded_between(  # type: ignore[attr-defined]
                    start, end, after=after, limit=1
                )
            if not page:
                break
            assert len(page) == 1
            after = page[0]
            listed.append(after)
            assert len(listed) <= len(written)
        assert listed == sorted(
            (pair for pair in written if start <= pair[1].recorded_at < end),
            key=lambda pair: (pair[1].recorded_at, pair[0], pair[1].order_id),
        )
        assert [(c, r.order_id, r.version) for c, r in listed] == [
            ("douyin", "DY-1", 3),
            ("douyin", "DY-1", 2),
            ("douyin", "DY-2", 2),
            ("taobao", "DY-2", 2),
            ("douyin", "DY-1", 4),
        ]

    @pytest.mark.parametrize(
        ("arguments", "error", "field"),
        [
            pytest.param(
                {"start": START, "end": dt.datetime(2026, 11, 12)},  # noqa: DTZ001 - naive on purpose
                NaiveDatetime,
                "end",
                id="naive-end",
            ),
            pytest.param(
                {"start": START.add(days=1), "end": START},
                ValidationError,
                "end",
                id="backwards",
            ),
            pytest.param(
                {"start": START, "end": START.add(days=1), "after": sample_record()},
                ValidationError,
                "after",
                id="record-after",
            ),
            pytest.param(
                {
                    "start": START,
                    "end": START.add(days=1),
                    "after": ("", sample_record()),
                },
                ValidationError,
                "after",
                id="empty-channel-after",
            ),
            pytest.param(
                {"start": START, "end": START.add(days=1), "limit": 0},
                ValidationError,
                "limit",
                id="zero-limit",
            ),
        ],
    )
    def test_the_audit_log_window_names_bad_input(
        self,
        store: UnitOfWork,
        arguments: dict[str, object],
        error: type[ValidationError],
        field: str,
    ) -> None:
        """A naive instant, an empty window, a bad `after` or `limit`: named."""
        with store:
            listed_by = getattr(store.audit, "recorded_between", None)
            if listed_by is None:
                pytest.skip("this audit log does not list records by instant")
            with pytest.raises(error) as caught:
                listed_by(**arguments)
            assert caught.value.field == field

    @pytest.mark.parametrize(
        ("channel", "order_records", "field"),
        [
            ("", None, "channel"),
            ("douyin", "not records", "records"),
            ("douyin", ["not a record"], "records[0]"),
        ],
    )
    def test_the_audit_log_names_bad_input_and_stores_nothing(
        self, store: UnitOfWork, channel: str, order_records: object, field: str
    ) -> None:
        """A bad channel or record is a `ValidationError` naming it."""
        records = [sample_record()] if order_records is None else order_records
        with store:
            with pytest.raises(ValidationError) as caught:
                store.audit.append(channel, records)  # type: ignore[arg-type]
            assert caught.value.field == field
            store.commit()
        with store:
            assert list(store.audit.records("douyin", "DY-1001")) == []

    def test_a_kept_store_serves_no_other_unit_or_thread(
        self, store: UnitOfWork
    ) -> None:
        """A store kept past its unit, or called from another thread, is refused."""
        with store:
            kept = store.orders
        with pytest.raises(StoreError):
            kept.save(sample_order(), None)
        refused: list[BaseException] = []

        def write() -> None:
            try:
                kept.save(sample_order(), None)
            except StoreError as exc:
                refused.append(exc)

        with store:
            writer = threading.Thread(target=write)
            writer.start()
            writer.join(timeout=60)
            store.commit()
        assert len(refused) == 1
        with store:
            assert store.orders.get("douyin", "DY-1001") is None

    def test_others_see_nothing_of_an_open_unit(self, store: UnitOfWork) -> None:
        """A unit elsewhere, waiting or not, never sees what this one rolls back."""
        factory = self.connect(store)
        other = store if factory is None else factory()
        seen: list[Order | None] = []
        errors: list[BaseException] = []

        def look() -> None:
            try:
                with other:
                    seen.append(other.orders.get("douyin", "DY-1001"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        looker = threading.Thread(target=look)

        def crash() -> None:
            with store:
                store.orders.save(sample_order(), None)
                looker.start()
                raise _Crash

        with pytest.raises(_Crash):
            crash()
        looker.join(timeout=60)
        if other is not store:
            self.dispose(other)
        assert errors == []
        assert seen == [None]

    def test_units_run_as_if_one_at_a_time(self, store: UnitOfWork) -> None:
        """Racing read-modify-write units lose no update, also across processes."""
        with store:
            store.orders.save(sample_order(), None)
            store.commit()
        racers = [functools.partial(_bump_race, i) for i in range(self.race_workers)]
        versions = self._race(store, racers)
        assert sorted(versions) == list(range(2, 2 + self.race_workers))
        with store:
            order = store.orders.get("douyin", "DY-1001")
            assert order is not None
            assert order.version == 1 + self.race_workers
            assert len(store.outbox.unsent()) == self.race_workers
