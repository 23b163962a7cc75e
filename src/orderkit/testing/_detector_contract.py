"""The detector store contract: every rule of `DetectorStore` as tests."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

import pendulum
import pytest

from orderkit.dedupe import (
    Fingerprint,
    Fingerprinter,
    FingerprintKind,
    Match,
    ReviewState,
    Sighting,
    Suspicion,
)
from orderkit.errors import (
    ConcurrencyConflict,
    NaiveDatetime,
    StoreError,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.ports import DetectorStore
from orderkit.services import DuplicateDetector
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START as _START
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD
from orderkit.testing._contract_base import Barrier, StoreContract


_HOUR = dt.timedelta(hours=1)
_PHONE = FingerprintKind.PHONE_SKUS
_ADDRESS = FingerprintKind.ADDRESS_SKUS
_BUYER = FingerprintKind.BUYER_SKUS
_WANG_FANG = "+8613800138000"
_LI_WEI = "+8613912345678"


def _fingerprint(kind: FingerprintKind, n: int, version: int = 1) -> Fingerprint:
    return Fingerprint(kind, version, f"{n:032x}")


# Wang Fang's phone, her door in Beijing, and three buyer accounts, each
# with the same gift set: what the fingerprinter would make of her orders.
_WANG_PHONE = _fingerprint(_PHONE, 0x138)
_GUOMAO = _fingerprint(_ADDRESS, 0x88)
_DOUYIN_ACCOUNT = _fingerprint(_BUYER, 0xD1)
_MINI_ACCOUNT = _fingerprint(_BUYER, 0xA1)
_OTHER_ACCOUNT = _fingerprint(_BUYER, 0xB1)
_DOUYIN = (_WANG_PHONE, _GUOMAO, _DOUYIN_ACCOUNT)
_MINI = (_WANG_PHONE, _GUOMAO, _MINI_ACCOUNT)


def _recording(**changed: object) -> Callable[[Any, pendulum.DateTime], object]:
    """A call recording Wang Fang's Douyin order at `t`, with `changed` arguments.

    A callable in `changed` is given `t`, for an argument made from the time.
    """

    def call(store: DetectorStore, t: pendulum.DateTime) -> object:
        args: dict[str, Any] = {
            "sighting": Sighting("douyin", "DY-1", t),
            "fingerprints": _DOUYIN,
            "phone": _WANG_FANG,
            "window": _HOUR,
            "now": t,
        }
        args.update(
            (name, value(t) if callable(value) else value)
            for name, value in changed.items()
        )
        return store.record(args.pop("sighting"), args.pop("fingerprints"), **args)

    return call


def _record_race(
    plan: Sequence[tuple[int, str]],
    start: dt.datetime,
    factory: Callable[[], DetectorStore],
    barrier: Barrier,
) -> list[tuple[str, list[str]]]:
    """Record each `(round, order id)`; in a round all racers share a fingerprint."""
    store = factory()
    barrier.wait(timeout=120)
    found = []
    for n, order_id in plan:
        screening = store.record(
            Sighting("douyin", order_id, start),
            [_fingerprint(_PHONE, 0x1000 + n)],
            phone=None,
            window=_HOUR,
            now=start,
        )
        found.append((order_id, [m.order_id for m in screening.matches]))
    return found


def _gift_set(
    order_id: str,
    channel: str,
    buyer: Buyer,
    address: Address,
    *skus: str,
    placed_at: dt.datetime = _START,
) -> Order:
    return Order(
        order_id=order_id,
        channel=channel,
        buyer=buyer,
        address=address,
        lines=[
            OrderLine(f"L{i}", sku, 1, Money("398.00", "CNY"))
            for i, sku in enumerate(skus, start=1)
        ],
        placed_at=placed_at,
    )


class DetectorStoreContract(StoreContract[DetectorStore]):
    """Every rule of `orderkit.ports.DetectorStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`; the hooks `connect`,
    `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    race_rounds: int = 40
    """Rounds of the race; in each, every racer records a duplicate at once."""

    # helpers

    @staticmethod
    def seen(  # noqa: PLR0913 - the order's parts, then keyword options
        store: DetectorStore,
        channel: str,
        order_id: str,
        fingerprints: Sequence[Fingerprint],
        *,
        minutes: float = 0,
        phone: str | None = None,
        now: dt.datetime = _START,
    ) -> tuple[Match, ...]:
        """Record an order placed `minutes` after the start; return its matches."""
        sighting = Sighting(channel, order_id, _START.add(seconds=minutes * 60))
        screening = store.record(
            sighting, fingerprints, phone=phone, window=_HOUR, now=now
        )
        assert (screening.channel, screening.order_id) == (channel, order_id)
        assert screening.suspected is bool(screening.matches)
        if screening.suspicion is not None:
            assert screening.suspicion.matches == screening.matches
        return screening.matches

    def assert_empty(self, store: DetectorStore) -> None:
        """Assert that the store holds nothing: no order, no phone, no queue."""
        assert list(store.pending()) == []
        assert list(store.orders_of_buyer(_WANG_FANG)) == []
        assert self.seen(store, "probe", "P-1", _DOUYIN, phone=_WANG_FANG) == ()

    # matching

    def test_a_first_order_matches_nothing(self, store: DetectorStore) -> None:
        """Nothing seen before: no match, no suspicion, an empty queue."""
        screening = store.record(
            Sighting("douyin", "DY-6920001", _START),
            _DOUYIN,
            phone=_WANG_FANG,
            window=_HOUR,
            now=_START,
        )
        assert screening.matches == ()
        assert screening.suspicion is None
        assert not screening.suspected
        assert list(store.pending()) == []
        assert store.suspicion("douyin", "DY-6920001") is None

    def test_a_repeat_is_queued_with_its_reason(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """The phone and the door matched, not the account: a pending suspicion."""
        self.seen(store, "douyin", "DY-6920001", _DOUYIN)
        clock.advance(minutes=25)
        matches = self.seen(
            store, "mini_program", "MP-0042", _MINI, minutes=20, now=clock.now()
        )
        assert matches == (Match("douyin", "DY-6920001", _START, (_PHONE, _ADDRESS)),)
        suspicion = Suspicion(
            "mini_program",
            "MP-0042",
            _START.add(minutes=20),
            matches,
            flagged_at=clock.now(),
        )
        assert store.suspicion("mini_program", "MP-0042") == suspicion
        assert list(store.pending()) == [suspicion]
        assert suspicion.state is ReviewState.PENDING
        assert store.suspicion("douyin", "DY-6920001") is None

    def test_every_earlier_order_is_a_match_in_placed_order(
        self, store: DetectorStore
    ) -> None:
        """One match per order, with every kind shared, oldest placed first."""
        self.seen(store, "douyin", "DY-2", [_WANG_PHONE, _DOUYIN_ACCOUNT], minutes=30)
        self.seen(store, "taobao", "TB-1", [_GUOMAO], minutes=-10)
        self.seen(store, "jd", "JD-1", [_fingerprint(_PHONE, 0xF00)])
        matches = self.seen(store, "mini_program", "MP-1", _MINI, minutes=5)
        assert matches == (
            Match("taobao", "TB-1", _START.add(minutes=-10), [_ADDRESS]),
            Match("douyin", "DY-2", _START.add(minutes=30), [_PHONE]),
        )

    def test_orders_placed_at_the_same_instant_are_ordered_by_channel_and_id(
        self, store: DetectorStore
    ) -> None:
        """Ties in `placed_at` order the matches by channel, then order id."""
        for channel, order_id in [("jd", "B"), ("douyin", "Z"), ("jd", "A")]:
            self.seen(store, channel, order_id, [_GUOMAO])
        matches = self.seen(store, "youzan", "YZ-1", [_GUOMAO])
        assert [(m.channel, m.order_id) for m in matches] == [
            ("douyin", "Z"),
            ("jd", "A"),
            ("jd", "B"),
        ]

    @pytest.mark.parametrize(
        ("offset", "matched"),
        [
            pytest.param(dt.timedelta(hours=1), True, id="one-hour-later"),
            pytest.param(-dt.timedelta(hours=1), True, id="one-hour-earlier"),
            pytest.param(dt.timedelta(minutes=59), True, id="59-minutes"),
            pytest.param(dt.timedelta(hours=1, microseconds=1), False, id="just-after"),
            pytest.param(
                -dt.timedelta(hours=1, microseconds=1), False, id="just-before"
            ),
            pytest.param(dt.timedelta(days=1), False, id="next-day"),
        ],
    )
    def test_the_window_includes_its_ends(
        self,
        store: DetectorStore,
        offset: dt.timedelta,
        matched: bool,  # noqa: FBT001 - a pytest parameter
    ) -> None:
        """Orders placed exactly a window apart match; a microsecond more does not."""
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        screening = store.record(
            Sighting("mini_program", "MP-1", _START + offset),
            _MINI,
            phone=None,
            window=_HOUR,
            now=_START,
        )
        assert screening.suspected is matched

    def test_an_order_placed_earlier_but_recorded_later_still_matches(
        self, store: DetectorStore
    ) -> None:
        """A channel that delivers late: the window is between placing times."""
        self.seen(store, "mini_program", "MP-1", _MINI, minutes=90)
        matches = self.seen(store, "douyin", "DY-1", _DOUYIN, minutes=40)
        assert [m.order_id for m in matches] == ["MP-1"]

    def test_the_window_is_the_callers(self, store: DetectorStore) -> None:
        """Each call brings its window: a day-long one reaches further."""
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        screening = store.record(
            Sighting("mini_program", "MP-1", _START.add(hours=5)),
            _MINI,
            phone=None,
            window=dt.timedelta(days=1),
            now=_START,
        )
        assert [m.order_id for m in screening.matches] == ["DY-1"]

    def test_other_kinds_and_versions_never_match(self, store: DetectorStore) -> None:
        """Fingerprints compare by stored form: kind, version and digest."""
        self.seen(store, "douyin", "DY-1", [_fingerprint(_PHONE, 7)])
        assert self.seen(store, "jd", "JD-1", [_fingerprint(_ADDRESS, 7)]) == ()
        assert self.seen(store, "jd", "JD-2", [_fingerprint(_PHONE, 7, 2)]) == ()
        assert self.seen(store, "jd", "JD-3", []) == ()
        matches = self.seen(store, "jd", "JD-4", [_fingerprint(_PHONE, 7)])
        assert [m.order_id for m in matches] == ["DY-1"]

    def test_a_fingerprint_given_twice_counts_once(self, store: DetectorStore) -> None:
        """Repeated fingerprints in one call are one fingerprint."""
        self.seen(store, "douyin", "DY-1", [_GUOMAO, _GUOMAO])
        matches = self.seen(store, "jd", "JD-1", [_GUOMAO, _GUOMAO, _GUOMAO])
        assert matches == (Match("douyin", "DY-1", _START, [_ADDRESS]),)

    # idempotency

    def test_recording_again_replays_the_first_result(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """Same order again: its first matches, nothing new stored."""
        self.seen(store, "douyin", "DY-1", _DOUYIN, phone=_WANG_FANG)
        first = self.seen(store, "mini_program", "MP-1", _MINI, phone=_WANG_FANG)
        queued = store.pending()
        clock.advance(minutes=5)
        for fingerprints, minutes in [(_MINI, 0), ([_GUOMAO], 30), ([], -600)]:
            again = self.seen(
                store,
                "mini_program",
                "MP-1",
                fingerprints,
                minutes=minutes,
                phone=_LI_WEI,
                now=clock.now(),
            )
            assert again == first
        # The first order recorded again is still the first: no match.
        assert self.seen(store, "douyin", "DY-1", _DOUYIN, now=clock.now()) == ()
        assert list(store.pending()) == queued
        assert list(store.orders_of_buyer(_LI_WEI)) == []
        assert len(store.orders_of_buyer(_WANG_FANG)) == 2
        later = self.seen(store, "jd", "JD-1", [_WANG_PHONE], minutes=10)
        assert [m.order_id for m in later] == ["DY-1", "MP-1"]

    def test_recording_again_reports_how_it_was_resolved(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """A re-check after review shows the decision, not a fresh suspicion."""
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        self.seen(store, "mini_program", "MP-1", _MINI)
        store.resolve(
            "mini_program",
            "MP-1",
            ReviewState.REJECTED,
            actor="kefu-li",
            now=clock.now(),
        )
        screening = store.record(
            Sighting("mini_program", "MP-1", _START),
            _MINI,
            phone=None,
            window=_HOUR,
            now=clock.now(),
        )
        assert screening.suspicion is not None
        assert screening.suspicion.state is ReviewState.REJECTED
        assert [m.order_id for m in screening.matches] == ["DY-1"]
        assert list(store.pending()) == []

    def test_the_same_id_on_two_channels_is_two_orders(
        self, store: DetectorStore
    ) -> None:
        """Order ids are unique per channel only."""
        self.seen(store, "douyin", "1001", [_GUOMAO])
        matches = self.seen(store, "shopify", "1001", [_GUOMAO])
        assert matches == (Match("douyin", "1001", _START, [_ADDRESS]),)
        assert store.suspicion("douyin", "1001") is None
        assert store.suspicion("shopify", "1001") is not None

    def test_names_are_data(self, store: DetectorStore) -> None:
        """Quotes, SQL, percent signs, emoji and 255 CJK characters."""
        names = [*_WEIRD, "礼" * 255, "DY-1", "dy-1", "DY-1 "]
        for name in names:
            self.seen(store, name, name, [_GUOMAO])
        suspects = [s.order_id for s in store.pending()]
        assert suspects == names[1:]
        last = store.suspicion(names[-1], names[-1])
        assert last is not None
        assert [m.order_id for m in last.matches] == sorted(names[:-1])

    def test_times_in_any_zone_are_instants(self, store: DetectorStore) -> None:
        """Times at UTC+8 are the same instants, handed back in UTC."""
        beijing = pendulum.datetime(2026, 11, 11, 8, 30, tz="Asia/Shanghai")
        self.seen(store, "douyin", "DY-1", [_GUOMAO], minutes=30, now=beijing)
        store.record(
            Sighting("jd", "JD-1", beijing),
            [_GUOMAO],
            phone=None,
            window=_HOUR,
            now=beijing,
        )
        suspicion = store.suspicion("jd", "JD-1")
        assert suspicion is not None
        assert suspicion.flagged_at == _START.add(minutes=30)
        assert suspicion.flagged_at.utcoffset() == dt.timedelta(0)
        assert suspicion.matches[0].placed_at == suspicion.placed_at

    # the review queue

    def test_pending_is_oldest_first_and_bounded(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """By flagging time, then in the order queued; `limit` caps the list."""
        self.seen(store, "douyin", "DY-0", [_GUOMAO])
        flagged = [("DY-2", 2), ("DY-1", 1), ("DY-3a", 3), ("DY-3b", 3), ("DY-3c", 3)]
        for order_id, minutes in flagged:
            self.seen(
                store,
                "douyin",
                order_id,
                [_GUOMAO],
                now=clock.now().add(minutes=minutes),
            )
        ordered = ["DY-1", "DY-2", "DY-3a", "DY-3b", "DY-3c"]
        assert [s.order_id for s in store.pending()] == ordered
        assert [s.order_id for s in store.pending(limit=2)] == ordered[:2]
        assert [s.order_id for s in store.pending(limit=1000)] == ordered

    @pytest.mark.parametrize("state", [ReviewState.RELEASED, ReviewState.REJECTED])
    def test_resolving_records_who_and_when(
        self, store: DetectorStore, clock: FrozenClock, state: ReviewState
    ) -> None:
        """Released or rejected: by whom, when; it leaves the queue, kept."""
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        self.seen(store, "mini_program", "MP-1", _MINI)
        self.seen(store, "jd", "JD-1", _MINI)
        queued = store.suspicion("mini_program", "MP-1")
        assert queued is not None
        clock.advance(minutes=12)
        resolved = store.resolve(
            "mini_program", "MP-1", state, actor="kefu-li", now=clock.now()
        )
        assert resolved == Suspicion(
            "mini_program",
            "MP-1",
            queued.placed_at,
            queued.matches,
            queued.flagged_at,
            state,
            "kefu-li",
            clock.now(),
        )
        assert store.suspicion("mini_program", "MP-1") == resolved
        assert [s.order_id for s in store.pending()] == ["JD-1"]

    def test_a_suspicion_resolves_exactly_once(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """The same decision again is a no-op; the other one conflicts."""
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        self.seen(store, "mini_program", "MP-1", _MINI)
        first = store.resolve(
            "mini_program",
            "MP-1",
            ReviewState.RELEASED,
            actor="kefu-li",
            now=clock.now(),
        )
        clock.advance(minutes=3)
        again = store.resolve(
            "mini_program",
            "MP-1",
            ReviewState.RELEASED,
            actor="kefu-zhao",
            now=clock.now(),
        )
        assert again == first
        assert again.actor == "kefu-li"
        with pytest.raises(ConcurrencyConflict) as error:
            store.resolve(
                "mini_program",
                "MP-1",
                ReviewState.REJECTED,
                actor="kefu-zhao",
                now=clock.now(),
            )
        assert error.value.what == "suspicion:mini_program:MP-1"
        assert store.suspicion("mini_program", "MP-1") == first

    def test_resolving_an_order_without_a_suspicion_is_refused(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """Unknown orders, and orders that matched nothing: nothing to resolve."""
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        for channel, order_id in [("douyin", "DY-1"), ("douyin", "DY-404")]:
            with pytest.raises(ValidationError) as error:
                store.resolve(
                    channel,
                    order_id,
                    ReviewState.RELEASED,
                    actor="kefu-li",
                    now=clock.now(),
                )
            assert error.value.field == "order_id"
        assert store.suspicion("douyin", "DY-1") is None

    # the buyer index

    def test_the_buyer_index_joins_channels_by_phone(
        self, store: DetectorStore
    ) -> None:
        """Orders recorded with one phone, from every channel, oldest first."""
        self.seen(store, "douyin", "DY-1", _DOUYIN, minutes=10, phone=_WANG_FANG)
        self.seen(store, "mini_program", "MP-1", _MINI, phone=_WANG_FANG)
        self.seen(store, "jd", "JD-1", [_OTHER_ACCOUNT], minutes=5, phone=_LI_WEI)
        self.seen(store, "pos", "POS-1", [_OTHER_ACCOUNT], minutes=5)
        assert list(store.orders_of_buyer(_WANG_FANG)) == [
            Sighting("mini_program", "MP-1", _START),
            Sighting("douyin", "DY-1", _START.add(minutes=10)),
        ]
        assert list(store.orders_of_buyer(_LI_WEI)) == [
            Sighting("jd", "JD-1", _START.add(minutes=5))
        ]
        assert list(store.orders_of_buyer("+12125550100")) == []

    def test_the_buyer_index_reaches_past_the_window(
        self, store: DetectorStore
    ) -> None:
        """A buyer's orders join however far apart they were placed."""
        self.seen(store, "douyin", "DY-1", [_DOUYIN_ACCOUNT], phone=_WANG_FANG)
        self.seen(
            store,
            "mini_program",
            "MP-1",
            [_MINI_ACCOUNT],
            minutes=60 * 24 * 30,
            phone="+8613800138000;ext=1234",
        )
        self.seen(
            store, "jd", "JD-1", [_OTHER_ACCOUNT], minutes=60 * 24, phone=_WANG_FANG
        )
        assert [s.order_id for s in store.orders_of_buyer(_WANG_FANG)] == [
            "DY-1",
            "JD-1",
        ]

    # pruning

    def test_prune_forgets_old_orders_but_never_pending_ones(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """Old orders go with their phones and decisions; the queue stays whole."""
        self.seen(store, "douyin", "DY-1", _DOUYIN, phone=_WANG_FANG)
        self.seen(store, "mini_program", "MP-1", _MINI, minutes=10, phone=_WANG_FANG)
        self.seen(store, "jd", "JD-1", _MINI, minutes=20, phone=_WANG_FANG)
        store.resolve(
            "jd", "JD-1", ReviewState.RELEASED, actor="kefu-li", now=clock.now()
        )
        self.seen(store, "taobao", "TB-1", [_OTHER_ACCOUNT], minutes=180)
        assert store.prune(_START.add(hours=2)) == 2  # DY-1 and JD-1
        assert store.prune(_START.add(hours=2)) == 0
        assert store.suspicion("jd", "JD-1") is None
        assert [s.order_id for s in store.pending()] == ["MP-1"]
        assert [s.order_id for s in store.orders_of_buyer(_WANG_FANG)] == ["MP-1"]
        later = self.seen(store, "youzan", "YZ-1", _MINI, minutes=30)
        assert [m.order_id for m in later] == ["MP-1"]
        # A pruned order recorded again is recorded afresh.
        again = self.seen(store, "douyin", "DY-1", _DOUYIN)
        assert [m.order_id for m in again] == ["MP-1", "YZ-1"]

    def test_prune_keeps_what_was_placed_at_or_after_the_cut(
        self, store: DetectorStore
    ) -> None:
        """`before` is excluded: an order placed at that instant stays."""
        self.seen(store, "douyin", "DY-1", [_GUOMAO])
        self.seen(store, "douyin", "DY-2", [_OTHER_ACCOUNT], minutes=-1)
        assert store.prune(_START) == 1
        assert [m.order_id for m in self.seen(store, "jd", "JD-1", [_GUOMAO])] == [
            "DY-1"
        ]

    # bad input

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(
                _recording(sighting=lambda t: ("douyin", "DY-1", t), phone=None),
                "sighting",
                id="tuple-sighting",
            ),
            pytest.param(
                _recording(fingerprints=str(_GUOMAO), phone=None),
                "fingerprints",
                id="text-fingerprints",
            ),
            pytest.param(
                _recording(fingerprints=[_GUOMAO, str(_WANG_PHONE)], phone=None),
                "fingerprints[1]",
                id="text-fingerprint",
            ),
            pytest.param(_recording(phone="13800138000"), "phone", id="national-phone"),
            pytest.param(_recording(phone="138****8000"), "phone", id="masked-phone"),
            pytest.param(
                _recording(window=dt.timedelta(0)), "window", id="zero-window"
            ),
            pytest.param(_recording(window=3600), "window", id="int-window"),
            pytest.param(_recording(now=lambda t: t.naive()), "now", id="naive-now"),
        ],
    )
    def test_a_bad_record_names_its_field_and_stores_nothing(
        self,
        store: DetectorStore,
        clock: FrozenClock,
        call: Callable[[Any, pendulum.DateTime], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming it; nothing is kept."""
        with pytest.raises(ValidationError) as error:
            call(store, clock.now())
        assert error.value.field == field
        if field == "now":
            assert isinstance(error.value, NaiveDatetime)
        self.assert_empty(store)

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(lambda s, _: s.pending(limit=0), "limit", id="zero-limit"),
            pytest.param(lambda s, _: s.pending(limit=True), "limit", id="bool-limit"),
            pytest.param(lambda s, _: s.suspicion("", "DY-1"), "channel", id="channel"),
            pytest.param(
                lambda s, _: s.suspicion("douyin", "D" * 256), "order_id", id="long-id"
            ),
            pytest.param(
                lambda s, t: s.resolve(
                    "douyin", "DY-1", ReviewState.PENDING, actor="kefu-li", now=t
                ),
                "state",
                id="pending-state",
            ),
            pytest.param(
                lambda s, t: s.resolve(
                    "douyin", "DY-1", "confirmed", actor="kefu-li", now=t
                ),
                "state",
                id="unknown-state",
            ),
            pytest.param(
                lambda s, t: s.resolve(
                    "douyin", "DY-1", ReviewState.RELEASED, actor=" ", now=t
                ),
                "actor",
                id="blank-actor",
            ),
            pytest.param(
                lambda s, t: s.resolve(
                    "douyin", "DY-1", ReviewState.RELEASED, actor="k" * 256, now=t
                ),
                "actor",
                id="long-actor",
            ),
            pytest.param(
                lambda s, t: s.resolve(
                    "douyin",
                    "DY-1",
                    ReviewState.RELEASED,
                    actor="kefu-li",
                    now=t.naive(),
                ),
                "now",
                id="naive-resolve",
            ),
            pytest.param(
                lambda s, _: s.orders_of_buyer("13800138000"), "phone", id="national"
            ),
            pytest.param(lambda s, _: s.orders_of_buyer(None), "phone", id="no-phone"),
            pytest.param(lambda s, t: s.prune(t.naive()), "before", id="naive-prune"),
        ],
    )
    def test_other_bad_input_names_its_field_and_changes_nothing(
        self,
        store: DetectorStore,
        clock: FrozenClock,
        call: Callable[[Any, pendulum.DateTime], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming its field."""
        self.seen(store, "douyin", "DY-0", _DOUYIN)
        self.seen(store, "douyin", "DY-1", _DOUYIN)
        queued = store.pending()
        with pytest.raises(ValidationError) as error:
            call(store, clock.now())
        assert error.value.field == field
        assert list(store.pending()) == queued

    def test_driver_failures_become_store_errors(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        self.seen(store, "douyin", "DY-0", _DOUYIN)
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.record(
                Sighting("douyin", "DY-1", _START),
                _DOUYIN,
                phone=None,
                window=_HOUR,
                now=clock.now(),
            )
        assert error.value.__cause__ is not None

    # the service over the store

    def test_the_detector_finds_incident_six(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """One buyer, Douyin and the mini-program, two gift sets: one review."""
        detector = DuplicateDetector(_HOUR, store, Fingerprinter.for_tests(), clock)
        douyin = _gift_set(
            "DY-6920001",
            "douyin",
            Buyer("dy_4417", "王芳", "+86 138-0013-8000"),
            Address("CN", street="北京市朝阳区建国路88号国贸大厦B座1203"),
            "MOONCAKE-GIFT-SET",
        )
        mini_program = _gift_set(
            "MP-20240914-0042",
            "mini_program",
            Buyer("wx_oX3kd92", "王芳", "13800138000"),
            Address("CN", street="北京朝阳区建国路88号国贸大厦B座1203"),
            "mooncake-gift-set",
            placed_at=_START.add(minutes=25),
        )
        assert not detector.check(douyin).suspected
        screening = detector.check(mini_program)
        assert screening.matches == (
            Match("douyin", "DY-6920001", _START, (_PHONE, _ADDRESS)),
        )
        assert list(detector.pending()) == [screening.suspicion]
        released = detector.confirm("mini_program", "MP-20240914-0042", actor="kefu-li")
        assert released.state is ReviewState.RELEASED
        assert [s.order_id for s in detector.orders_of_buyer("13800138000")] == [
            "DY-6920001",
            "MP-20240914-0042",
        ]

    # concurrency

    def test_concurrent_duplicates_see_each_other(
        self, store: DetectorStore, clock: FrozenClock
    ) -> None:
        """Racers record duplicates at once: every pair is matched exactly once.

        Of two orders recorded at the same moment, the later one sees the
        earlier; neither may miss the other, and none may see one that
        was recorded after it.
        """
        plans = [
            [(n, f"R{n}-racer-{racer}") for n in range(self.race_rounds)]
            for racer in range(self.race_workers)
        ]
        found = self._race(
            store,
            [functools.partial(_record_race, plan, clock.now()) for plan in plans],
        )
        matched = {
            order_id: set(others) for racer in found for order_id, others in racer
        }
        for n in range(self.race_rounds):
            ids = [f"R{n}-racer-{racer}" for racer in range(self.race_workers)]
            # Recorded one at a time: the k-th recorded matches the k - 1
            # before it, so the counts are 0, 1, ..., workers - 1.
            counts = sorted(len(matched[order_id]) for order_id in ids)
            assert counts == list(range(self.race_workers)), (n, matched)
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    assert (b in matched[a]) != (a in matched[b]), (a, b)
        assert len(store.pending()) == self.race_rounds * (self.race_workers - 1)
