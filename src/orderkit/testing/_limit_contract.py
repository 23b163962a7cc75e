"""The limit store contract: every rule of `LimitStore` as tests."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

import pendulum
import pytest

from orderkit.errors import NaiveDatetime, StoreError, ValidationError
from orderkit.ports import LimitStore
from orderkit.pricing import (
    Exceeded,
    Granted,
    LimitKey,
    LimitRule,
    LimitScope,
    Overage,
    PurchaseContext,
)
from orderkit.services._limits import PurchaseLimits
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START as _START
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD
from orderkit.testing._contract_base import Barrier, StoreContract


_DAY = dt.timedelta(days=1)
_HOUR = dt.timedelta(hours=1)
_BUYER = "buyer:dy-buyer-8848|channel:douyin"
_IP = "ip:203.0.113.7|distinct:buyer"


def _five_a_day(key: str = _BUYER) -> LimitKey:
    return LimitKey(key, 5, _DAY)


def _raw_key(*fields: Any) -> LimitKey:  # noqa: ANN401 - wrong types on purpose
    """A key made of whatever a careless caller passes."""
    return LimitKey(*fields)


def _consume_race(
    keys: Sequence[LimitKey],
    attempts: int,
    start: dt.datetime,
    factory: Callable[[], LimitStore],
    barrier: Barrier,
) -> int:
    """Consume `keys` `attempts` times, a microsecond apart; say how many granted."""
    store = factory()
    barrier.wait(timeout=120)
    granted = 0
    for i in range(attempts):
        now = start + dt.timedelta(microseconds=i)
        if isinstance(store.consume(keys, now=now), Granted):
            granted += 1
    return granted


class LimitStoreContract(StoreContract[LimitStore]):
    """Every rule of `orderkit.ports.LimitStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`; the hooks `connect`,
    `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    race_attempts: int = 40
    """Consumes every racer makes for the one buyer."""
    race_limit: int = 25
    """The buyer's limit in the race: fewer than the racers' attempts together."""

    # helpers

    @staticmethod
    def granted_times(
        store: LimitStore, key: LimitKey, now: dt.datetime, attempts: int
    ) -> int:
        """Consume `key` alone `attempts` times at `now`; say how many were granted."""
        return sum(
            isinstance(store.consume([key], now=now), Granted) for _ in range(attempts)
        )

    def assert_untouched(self, store: LimitStore, key: str, now: dt.datetime) -> None:
        """Assert that no use of `key` counts at `now`: a limit of one is granted."""
        assert store.consume([LimitKey(key, 1, _DAY)], now=now) == Granted(), key

    # counting

    def test_a_limit_grants_exactly_its_number_of_uses(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Five orders a day: five granted, the sixth exceeded with the count."""
        key = _five_a_day()
        decisions = [store.consume([key], now=clock.now()) for _ in range(5)]
        assert decisions == [Granted()] * 5
        for _ in range(3):
            assert store.consume([key], now=clock.now()) == Exceeded((Overage(key, 5),))

    def test_a_limit_of_one_grants_once(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """One gift set per buyer: the first order only."""
        key = LimitKey("buyer:B1|sku:gift-set", 1, _DAY)
        assert self.granted_times(store, key, clock.now(), 4) == 1

    def test_keys_count_apart_and_weird_ones_are_data(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Quotes, SQL, emoji, case, 255 CJK characters: each its own counter."""
        names = [*_WEIRD, "buyer:B1", "buyer:b1", "buyer:B1 ", "%", "_", "礼" * 255]
        for name in names:
            granted = self.granted_times(store, LimitKey(name, 2, _DAY), clock.now(), 3)
            assert granted == 2, name
        for name in names:
            exceeded = store.consume([LimitKey(name, 2, _DAY)], now=clock.now())
            assert exceeded == Exceeded((Overage(LimitKey(name, 2, _DAY), 2),))
        assert self.granted_times(store, LimitKey("buyer:B2", 2, _DAY), _START, 3) == 2

    def test_the_longest_key_and_member_are_kept(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """255 characters of 4 bytes each, in the key and the member alike."""
        wide = "".join(chr(0x20000 + n * 7919 % 40000) for n in range(255))
        key = LimitKey(wide, 2, _DAY, member=wide[::-1])
        assert store.consume([key], now=clock.now()) == Granted()
        other = LimitKey(wide, 2, _DAY, member=wide)
        assert store.consume([other], now=clock.now()) == Granted()
        third = LimitKey(wide, 2, _DAY, member="buyer:B3")
        assert store.consume([third], now=clock.now()) == Exceeded((Overage(third, 2),))

    def test_each_key_is_checked_against_its_own_limit(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """The limit is the caller's, per call: a higher one grants more."""
        assert self.granted_times(store, LimitKey(_BUYER, 2, _DAY), clock.now(), 3) == 2
        assert self.granted_times(store, LimitKey(_BUYER, 4, _DAY), clock.now(), 3) == 2

    # weights: units rules

    def test_weights_are_summed(self, store: LimitStore, clock: FrozenClock) -> None:
        """2 units, then 2, then 1 fill a limit of 5; the count is the units."""
        two, one = LimitKey(_BUYER, 5, _DAY, weight=2), LimitKey(_BUYER, 5, _DAY)
        assert store.consume([two], now=clock.now()) == Granted()
        assert store.consume([two], now=clock.now()) == Granted()
        assert store.consume([two], now=clock.now()) == Exceeded((Overage(two, 4),))
        assert store.consume([one], now=clock.now()) == Granted()
        assert store.consume([one], now=clock.now()) == Exceeded((Overage(one, 5),))

    def test_a_use_heavier_than_the_room_left_records_nothing(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """3 units left 2 of 5: an order of 3 is refused, with its other keys."""
        three = LimitKey(_BUYER, 5, _DAY, weight=3)
        device = LimitKey("device:iPhone-7F3A", 1, _DAY)
        assert store.consume([three], now=clock.now(), use_id="DY-1") == Granted()
        refused = store.consume([device, three], now=clock.now(), use_id="DY-2")
        assert refused == Exceeded((Overage(three, 3),))
        # Nothing of it counts: the device's one use and the 2 units are left.
        assert store.consume([device], now=clock.now()) == Granted()
        exactly = LimitKey(_BUYER, 5, _DAY, weight=2)
        assert store.consume([exactly], now=clock.now(), use_id="DY-2") == Granted()
        last = LimitKey(_BUYER, 5, _DAY)
        assert store.consume([last], now=clock.now()) == Exceeded((Overage(last, 5),))

    def test_a_weight_over_the_limit_alone_is_refused(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """An order of 3 units against 2 per buyer: refused on a new key too."""
        three = LimitKey(_BUYER, 2, _DAY, weight=3)
        for _ in range(2):
            assert store.consume([three], now=clock.now()) == Exceeded(
                (Overage(three, 0),)
            )
        two = LimitKey(_BUYER, 2, _DAY, weight=2)
        assert store.consume([two], now=clock.now()) == Granted()
        assert store.consume([two], now=clock.now()) == Exceeded((Overage(two, 2),))

    def test_weights_stop_counting_with_their_window(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A heavy use frees its whole weight when it leaves the window."""
        heavy = LimitKey(_BUYER, 4, _HOUR, weight=4)
        assert store.consume([heavy], now=clock.now()) == Granted()
        clock.advance(minutes=59)
        one = LimitKey(_BUYER, 4, _HOUR)
        assert store.consume([one], now=clock.now()) == Exceeded((Overage(one, 4),))
        clock.advance(minutes=1)
        assert store.consume([heavy], now=clock.now()) == Granted()

    def test_a_key_named_twice_uses_its_weight_once(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """3 units against 5 a day and 9 a week: 3 counted, not 6."""
        day = LimitKey(_BUYER, 5, _DAY, weight=3)
        week = LimitKey(_BUYER, 9, 7 * _DAY, weight=3)
        assert store.consume([day, week], now=clock.now()) == Granted()
        probe = LimitKey(_BUYER, 5, _DAY, weight=2)
        assert store.consume([probe], now=clock.now()) == Granted()
        clock.advance(days=1)
        # The week holds 5 units: 3 more fit in 9, once.
        assert store.consume([day, week], now=clock.now()) == Granted()
        assert store.consume([day, week], now=clock.now()) == Exceeded(
            (Overage(day, 3), Overage(week, 8))
        )

    def test_weights_beside_distinct_members_on_one_key(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Members count once each, uses without one by their weight."""
        heavy = LimitKey(_IP, 4, _DAY, weight=2)
        member = LimitKey(_IP, 4, _DAY, member="buyer:B1")
        assert store.consume([heavy], now=clock.now()) == Granted()
        for _ in range(3):
            assert store.consume([member], now=clock.now()) == Granted()
        assert store.consume([heavy], now=clock.now()) == Exceeded((Overage(heavy, 3),))
        assert store.consume([LimitKey(_IP, 4, _DAY)], now=clock.now()) == Granted()

    def test_record_keeps_weights_as_given(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """An order of 7 units a person let through counts 7, over the limit."""
        seven = LimitKey(_BUYER, 5, _DAY, weight=7)
        assert store.record([seven], now=clock.now(), use_id="DY-1") == Granted()
        assert store.record([seven], now=clock.now(), use_id="DY-1") == Granted(
            replayed=True
        )
        one = LimitKey(_BUYER, 10, _DAY)
        assert self.granted_times(store, one, clock.now(), 5) == 3

    # the sliding window

    def test_a_use_stops_counting_exactly_one_window_later(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """The window is (now - window, now]: the bound itself no longer counts."""
        key = LimitKey(_BUYER, 2, _HOUR)
        first = clock.now()
        assert self.granted_times(store, key, first, 1) == 1
        clock.advance(minutes=30)
        assert self.granted_times(store, key, clock.now(), 1) == 1
        just_before = first + _HOUR - dt.timedelta(microseconds=1)
        assert store.consume([key], now=just_before) == Exceeded((Overage(key, 2),))
        assert store.consume([key], now=first + _HOUR) == Granted()
        assert store.consume([key], now=first + _HOUR) == Exceeded((Overage(key, 2),))

    def test_two_windows_over_one_key_share_its_uses(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """5 a day and 7 a week on one buyer: one use per call, checked twice."""
        day, week = LimitKey(_BUYER, 5, _DAY), LimitKey(_BUYER, 7, 7 * _DAY)
        assert self.granted_times_both(store, [day, week], clock.now(), 6) == 5
        clock.advance(days=1)
        assert self.granted_times_both(store, [day, week], clock.now(), 6) == 2
        assert store.consume([day, week], now=clock.now()) == Exceeded(
            (Overage(week, 7),)
        )

    @staticmethod
    def granted_times_both(
        store: LimitStore, keys: list[LimitKey], now: dt.datetime, attempts: int
    ) -> int:
        """Consume `keys` together `attempts` times; say how many were granted."""
        return sum(
            isinstance(store.consume(keys, now=now), Granted) for _ in range(attempts)
        )

    def test_a_clock_stepping_back_frees_no_room(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Uses recorded after `now` still count: the limit never loosens."""
        key = LimitKey(_BUYER, 2, _HOUR)
        assert self.granted_times(store, key, clock.now().add(hours=5), 2) == 2
        assert store.consume([key], now=clock.now()) == Exceeded((Overage(key, 2),))

    def test_times_in_any_zone_are_instants(self, store: LimitStore) -> None:
        """A `now` at UTC+8 is the same instant as in UTC."""
        key = LimitKey(_BUYER, 1, _HOUR)
        beijing = pendulum.datetime(2026, 11, 11, 8, 0, tz="Asia/Shanghai")
        assert store.consume([key], now=beijing) == Granted()
        assert store.consume([key], now=_START.add(minutes=59)) == Exceeded(
            (Overage(key, 1),)
        )
        assert store.consume([key], now=_START.add(hours=1)) == Granted()

    def test_a_window_reaching_before_the_first_instant_counts_from_it(
        self, store: LimitStore
    ) -> None:
        """Near the start of time a window simply starts there."""
        key = LimitKey(_BUYER, 1, dt.timedelta(days=1))
        early = pendulum.datetime(1, 1, 1, 0, 1)
        assert store.consume([key], now=early) == Granted()
        assert store.consume([key], now=early.add(hours=1)) == Exceeded(
            (Overage(key, 1),)
        )

    # all or nothing

    def test_one_key_over_its_limit_records_nothing_for_any(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A buyer at the limit: the device and the phone are not counted either."""
        buyer = LimitKey(_BUYER, 1, _DAY)
        device = LimitKey("device:iPhone-7F3A", 2, _DAY)
        phone = LimitKey("phone:+8613800138000", 2, _DAY)
        assert store.consume([buyer], now=clock.now()) == Granted()
        for _ in range(5):
            decision = store.consume([device, buyer, phone], now=clock.now())
            assert decision == Exceeded((Overage(buyer, 1),))
            assert isinstance(decision, Exceeded)
            assert decision.keys == (_BUYER,)
        assert self.granted_times(store, device, clock.now(), 3) == 2
        assert self.granted_times(store, phone, clock.now(), 3) == 2

    def test_exceeded_lists_every_key_over_in_the_order_given(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Each key at its limit is named, with its count; the others are not."""
        ip = LimitKey("ip:203.0.113.7", 1, _DAY)
        device = LimitKey("device:iPhone-7F3A", 3, _DAY)
        buyer = LimitKey(_BUYER, 1, _DAY)
        assert store.consume([ip, device, buyer], now=clock.now()) == Granted()
        assert store.consume([buyer, device, ip], now=clock.now()) == Exceeded(
            (Overage(buyer, 1), Overage(ip, 1))
        )

    # distinct members

    def test_distinct_members_count_once_each(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """At most 3 accounts per IP: known accounts go on, a fourth is refused."""

        def account(buyer: str) -> LimitKey:
            return LimitKey(_IP, 3, _DAY, member=f"buyer:{buyer}")

        for buyer in ("B1", "B2", "B1", "B3", "B2", "B1"):
            assert store.consume([account(buyer)], now=clock.now()) == Granted()
        assert store.consume([account("B4")], now=clock.now()) == Exceeded(
            (Overage(account("B4"), 3),)
        )
        assert store.consume([account("B3")], now=clock.now()) == Granted()
        clock.advance(days=1)
        assert store.consume([account("B4")], now=clock.now()) == Granted()

    def test_a_member_seen_before_its_window_counts_anew(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Only members within the window are known; older ones are room again."""
        first = LimitKey(_IP, 1, _HOUR, member="buyer:B1")
        second = LimitKey(_IP, 1, _HOUR, member="buyer:B2")
        assert store.consume([first], now=clock.now()) == Granted()
        assert store.consume([second], now=clock.now()) == Exceeded(
            (Overage(second, 1),)
        )
        clock.advance(hours=1)
        assert store.consume([second], now=clock.now()) == Granted()
        assert store.consume([first], now=clock.now()) == Exceeded((Overage(first, 1),))

    # idempotency

    def test_a_retried_use_id_is_granted_once_and_counted_once(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A retried check for one order replays its grant and counts nothing."""
        key = LimitKey(_BUYER, 2, _DAY)
        assert store.consume([key], now=clock.now(), use_id="douyin:DY-1") == Granted()
        for _ in range(3):
            again = store.consume([key], now=clock.now(), use_id="douyin:DY-1")
            assert again == Granted(replayed=True)
        assert store.consume([key], now=clock.now(), use_id="douyin:DY-2") == Granted()
        assert store.consume([key], now=clock.now(), use_id="douyin:DY-3") == Exceeded(
            (Overage(key, 2),)
        )
        assert store.consume([key], now=clock.now(), use_id="douyin:DY-2") == Granted(
            replayed=True
        )

    def test_a_granted_use_id_replays_whatever_its_keys(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A retry naming other keys replays the grant and touches none of them."""
        buyer, ip = LimitKey(_BUYER, 1, _DAY), LimitKey(_IP, 1, _DAY)
        assert (
            store.consume([buyer], now=clock.now(), use_id="douyin:DY-1") == Granted()
        )
        again = store.consume([buyer, ip], now=clock.now(), use_id="douyin:DY-1")
        assert again == Granted(replayed=True)
        # The replay recorded nothing: the IP still has its one use left.
        assert store.consume([ip], now=clock.now(), use_id="douyin:DY-2") == Granted()

    def test_an_exceeded_use_id_is_not_remembered(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A refused order retried once the window slid is checked anew."""
        key = LimitKey(_BUYER, 1, _HOUR)
        assert store.consume([key], now=clock.now(), use_id="DY-1") == Granted()
        refused = store.consume([key], now=clock.now(), use_id="DY-2")
        assert isinstance(refused, Exceeded)
        clock.advance(hours=1)
        assert store.consume([key], now=clock.now(), use_id="DY-2") == Granted()

    # recording without a check

    def test_record_counts_over_the_limit_and_against_later_uses(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A use a person allowed is recorded at the limit, and counts from then on."""
        key = LimitKey(_BUYER, 1, _DAY)
        assert store.consume([key], now=clock.now()) == Granted()
        assert store.record([key], now=clock.now()) == Granted()
        assert store.record([key], now=clock.now()) == Granted()
        assert store.consume([key], now=clock.now()) == Exceeded((Overage(key, 3),))
        # The first use lapses; the recorded ones still count.
        clock.advance(hours=1)
        wider = LimitKey(_BUYER, 3, _DAY)
        assert store.consume([wider], now=clock.now()) == Exceeded((Overage(wider, 3),))

    def test_record_counts_each_key_and_member_once_and_stops_with_its_window(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """As a granted consume records: a key named twice once, members distinctly."""
        day, hour = LimitKey(_BUYER, 5, _DAY), LimitKey(_BUYER, 1, _HOUR)
        seen = LimitKey(_IP, 1, _DAY, member="buyer:B1")
        assert store.record([day, hour, seen], now=clock.now()) == Granted()
        assert store.consume([LimitKey(_BUYER, 2, _DAY)], now=clock.now()) == Granted()
        assert store.consume([seen], now=clock.now()) == Granted()
        other = LimitKey(_IP, 1, _DAY, member="buyer:B2")
        assert store.consume([other], now=clock.now()) == Exceeded((Overage(other, 1),))
        clock.advance(hours=1)
        assert store.consume([hour], now=clock.now()) == Granted()
        clock.advance(days=1)
        self.assert_untouched(store, _BUYER, clock.now())
        self.assert_untouched(store, _IP, clock.now())

    def test_a_recorded_use_id_is_recorded_once_and_replays_either_call(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A retried record counts nothing twice; so does a consume with its id."""
        key = LimitKey(_BUYER, 2, _DAY)
        assert store.record([key], now=clock.now(), use_id="douyin:DY-2") == Granted()
        for _ in range(3):
            again = store.record([key], now=clock.now(), use_id="douyin:DY-2")
            assert again == Granted(replayed=True)
        checked = store.consume([key], now=clock.now(), use_id="douyin:DY-2")
        assert checked == Granted(replayed=True)
        # One use counted: one more fits.
        assert store.consume([key], now=clock.now(), use_id="douyin:DY-3") == Granted()
        replayed = store.record([key], now=clock.now(), use_id="douyin:DY-3")
        assert replayed == Granted(replayed=True)
        assert store.consume([key], now=clock.now()) == Exceeded((Overage(key, 2),))

    def test_prune_deletes_recorded_uses_and_their_use_ids(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Recorded uses are uses: pruned with the rest, their use id new again."""
        key = LimitKey(_BUYER, 1, 30 * _DAY)
        store.record([key], now=clock.now(), use_id="DY-1")
        clock.advance(hours=1)
        assert store.prune(clock.now()) == 1
        assert store.record([key], now=clock.now(), use_id="DY-1") == Granted()
        assert store.consume([key], now=clock.now()) == Exceeded((Overage(key, 1),))

    def test_record_driver_failures_become_store_errors(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A failing backend raises StoreError from record too."""
        store.record([_five_a_day()], now=clock.now())
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.record([_five_a_day()], now=clock.now())
        assert error.value.__cause__ is not None

    # retention

    def test_prune_deletes_uses_before_the_bound(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Uses and use ids before `before` go; those at it or later stay."""
        key = LimitKey(_BUYER, 10, 30 * _DAY)
        store.consume([key], now=clock.now(), use_id="DY-1")
        store.consume([key, LimitKey("ip:1", 10, _DAY)], now=clock.now())
        bound = clock.advance(hours=1)
        store.consume([key], now=clock.now(), use_id="DY-3")
        clock.advance(hours=1)
        assert store.prune(bound) == 3
        assert store.prune(bound) == 0
        # The uses at the bound still count; the pruned use id is new again.
        probe = LimitKey(_BUYER, 2, 30 * _DAY)
        assert store.consume([probe], now=clock.now()) == Granted()
        assert store.consume([key], now=clock.now(), use_id="DY-3") == Granted(
            replayed=True
        )
        assert store.consume([key], now=clock.now(), use_id="DY-1") == Granted()
        self.assert_untouched(store, "ip:1", clock.now())

    def test_prune_keeps_everything_after_the_bound(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Nothing recorded at or after `before` is deleted."""
        for i in range(20):
            store.consume([LimitKey(f"buyer:B{i}", 5, _DAY)], now=clock.now())
        assert store.prune(clock.now()) == 0
        assert store.prune(clock.now().subtract(days=1)) == 0
        assert self.granted_times(store, LimitKey("buyer:B1", 1, _DAY), _START, 1) == 0

    # bad input

    @pytest.mark.parametrize(
        ("make", "field"),
        [
            pytest.param(lambda: LimitKey("", 5, _DAY), "key", id="empty-key"),
            pytest.param(lambda: LimitKey("  ", 5, _DAY), "key", id="blank-key"),
            pytest.param(lambda: LimitKey("k" * 256, 5, _DAY), "key", id="long-key"),
            pytest.param(lambda: LimitKey("a\nb", 5, _DAY), "key", id="control"),
            pytest.param(lambda: _raw_key(7, 5, _DAY), "key", id="int-key"),
            pytest.param(lambda: LimitKey("k", 0, _DAY), "limit", id="zero-limit"),
            pytest.param(lambda: LimitKey("k", -1, _DAY), "limit", id="negative"),
            pytest.param(
                lambda: LimitKey("k", limit=True, window=_DAY), "limit", id="bool"
            ),
            pytest.param(lambda: _raw_key("k", 5.0, _DAY), "limit", id="float"),
            pytest.param(lambda: LimitKey("k", 2**63, _DAY), "limit", id="huge"),
            pytest.param(
                lambda: LimitKey("k", 5, dt.timedelta(0)), "window", id="zero-window"
            ),
            pytest.param(lambda: _raw_key("k", 5, 86400), "window", id="int-window"),
            pytest.param(
                lambda: LimitKey("k", 5, _DAY, member=""), "member", id="empty-member"
            ),
            pytest.param(
                lambda: LimitKey("k", 5, _DAY, weight=0), "weight", id="zero-weight"
            ),
            pytest.param(
                lambda: LimitKey("k", 5, _DAY, weight=-2), "weight", id="neg-weight"
            ),
            pytest.param(
                lambda: LimitKey("k", 5, _DAY, weight=True), "weight", id="bool-weight"
            ),
            pytest.param(
                lambda: _raw_key("k", 5, _DAY, None, 2.0), "weight", id="float-weight"
            ),
            pytest.param(
                lambda: LimitKey("k", 5, _DAY, weight=2**63), "weight", id="huge-weight"
            ),
            pytest.param(
                lambda: LimitKey("k", 5, _DAY, member="buyer:B1", weight=2),
                "weight",
                id="weight-with-member",
            ),
        ],
    )
    def test_a_bad_key_names_its_field(
        self, make: Callable[[], object], field: str
    ) -> None:
        """A key is checked when made: keys over 255 characters, no limit, no window."""
        with pytest.raises(ValidationError) as error:
            make()
        assert error.value.field == field

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(lambda s, t: s.consume([], now=t), "keys", id="no-keys"),
            pytest.param(lambda s, t: s.consume(_BUYER, now=t), "keys", id="str-keys"),
            pytest.param(lambda s, t: s.consume(None, now=t), "keys", id="none-keys"),
            pytest.param(
                lambda s, t: s.consume([_five_a_day(), (_BUYER, 5, _DAY)], now=t),
                "keys[1]",
                id="tuple-key",
            ),
            pytest.param(
                lambda s, t: s.consume([_five_a_day()], now=t, use_id=""),
                "use_id",
                id="empty-use-id",
            ),
            pytest.param(
                lambda s, t: s.consume([_five_a_day()], now=t, use_id="u" * 256),
                "use_id",
                id="long-use-id",
            ),
            pytest.param(
                lambda s, t: s.consume([_five_a_day()], now=t, use_id=1001),
                "use_id",
                id="int-use-id",
            ),
            pytest.param(
                lambda s, t: s.consume([_five_a_day()], now=t.naive()),
                "now",
                id="naive-now",
            ),
            pytest.param(
                lambda s, _: s.consume([_five_a_day()], now="2026-11-11T00:00Z"),
                "now",
                id="str-now",
            ),
            pytest.param(lambda s, t: s.prune(t.naive()), "before", id="naive-prune"),
            pytest.param(lambda s, t: s.record([], now=t), "keys", id="record-no-keys"),
            pytest.param(
                lambda s, t: s.record([_five_a_day(), _BUYER], now=t),
                "keys[1]",
                id="record-str-key",
            ),
            pytest.param(
                lambda s, t: s.record([_five_a_day()], now=t, use_id=""),
                "use_id",
                id="record-empty-use-id",
            ),
            pytest.param(
                lambda s, t: s.record([_five_a_day()], now=t.naive()),
                "now",
                id="record-naive-now",
            ),
            pytest.param(
                lambda s, t: s.consume(
                    [_five_a_day(), LimitKey(_BUYER, 9, _HOUR, weight=2)], now=t
                ),
                "keys[1]",
                id="one-key-two-weights",
            ),
            pytest.param(
                lambda s, t: s.record(
                    [LimitKey(_BUYER, 9, _HOUR, weight=3), _five_a_day()], now=t
                ),
                "keys[1]",
                id="record-one-key-two-weights",
            ),
        ],
    )
    def test_bad_input_names_its_field_and_records_nothing(
        self,
        store: LimitStore,
        clock: FrozenClock,
        call: Callable[[Any, pendulum.DateTime], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming it; nothing counts."""
        with pytest.raises(ValidationError) as error:
            call(store, clock.now())
        assert error.value.field == field
        if field in {"now", "before"}:
            assert isinstance(error.value, NaiveDatetime)
        self.assert_untouched(store, _BUYER, clock.now())

    def test_driver_failures_become_store_errors(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        store.consume([_five_a_day()], now=clock.now())
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.consume([_five_a_day()], now=clock.now())
        assert error.value.__cause__ is not None

    # the service over the store

    def test_the_service_counts_orders_per_buyer_and_per_ip(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """PurchaseLimits: 2 orders per buyer, 2 accounts per IP, all or nothing."""
        limits = PurchaseLimits(
            [
                LimitRule(LimitScope.BUYER, 2, _DAY),
                LimitRule(LimitScope.IP, 2, _DAY, distinct=LimitScope.BUYER),
            ],
            store,
            clock,
            retention=_DAY,  # so that two days on, prune() finds every use old
        )

        def order(buyer: str, ip: str = "203.0.113.7") -> PurchaseContext:
            return PurchaseContext(buyer_id=buyer, channel="douyin", ip=ip)

        assert limits.check(order("B1"), use_id="DY-1") == Granted()
        assert limits.check(order("B1"), use_id="DY-1") == Granted(replayed=True)
        assert limits.check(order("B1")) == Granted()
        refused = limits.check(order("B1"))
        assert isinstance(refused, Exceeded)
        assert refused.keys == ("buyer:B1|channel:douyin",)
        assert limits.check(order("B2")) == Granted()
        refused = limits.check(order("B3"))
        assert isinstance(refused, Exceeded)
        assert refused.keys == ("ip:203.0.113.7|distinct:buyer",)
        # B3 was refused on the IP, so B3's own count is untouched.
        assert limits.check(order("B3", ip="198.51.100.1")) == Granted()
        assert limits.check(PurchaseContext(channel="douyin")) == Granted()
        clock.advance(days=2)
        assert limits.prune() >= 5

    def test_the_service_records_an_order_let_through_over_the_limits(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """PurchaseLimits.record: the order counts against every rule, once."""
        limits = PurchaseLimits(
            [
                LimitRule(LimitScope.BUYER, 1, _DAY),
                LimitRule(LimitScope.DEVICE, 2, _DAY),
            ],
            store,
            clock,
        )

        def order(buyer: str) -> PurchaseContext:
            return PurchaseContext(buyer_id=buyer, channel="douyin", device="dev-1")

        assert limits.check(order("B1"), use_id="DY-1") == Granted()
        assert isinstance(limits.check(order("B1"), use_id="DY-2"), Exceeded)
        assert limits.record(order("B1"), use_id="DY-2") == Granted()
        assert limits.record(order("B1"), use_id="DY-2") == Granted(replayed=True)
        # The device's two uses are DY-1's and DY-2's: B2 is refused on it.
        refused = limits.check(order("B2"), use_id="DY-3")
        assert isinstance(refused, Exceeded)
        assert refused.keys == ("device:dev-1",)
        assert limits.record(PurchaseContext(channel="douyin")) == Granted()

    def test_the_service_counts_units_per_buyer_and_sku(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """限购2件: 2 units of a SKU per buyer a day, orders of any size."""
        limits = PurchaseLimits(
            [
                LimitRule(
                    LimitScope.BUYER,
                    2,
                    _DAY,
                    sku="SKU-X",
                    units=True,
                    day_in="Asia/Shanghai",
                ),
                LimitRule(LimitScope.BUYER, 5, _DAY),
            ],
            store,
            clock,
        )

        def order(*lines: tuple[str, int]) -> PurchaseContext:
            return PurchaseContext(
                buyer_id="B1",
                channel="douyin",
                skus=[sku for sku, _ in lines],
                quantities=[quantity for _, quantity in lines],
            )

        refused = limits.check(order(("SKU-X", 3)), use_id="DY-1")
        assert isinstance(refused, Exceeded)
        assert refused.keys == ("buyer:B1|channel:douyin|sku:sku-x|units",)
        assert refused.over[0].count == 0
        assert refused.over[0].key.weight == 3
        assert limits.check(order(("SKU-X", 1), ("TEA", 9)), use_id="DY-2") == (
            Granted()
        )
        assert limits.check(order(("TEA", 9)), use_id="DY-3") == Granted()
        assert limits.check(order(("sku-x", 1)), use_id="DY-4") == Granted()
        refused = limits.check(order(("SKU-X", 1)), use_id="DY-5")
        assert isinstance(refused, Exceeded)
        assert refused.over[0].count == 2
        # The orders rule counted DY-2, DY-3 and DY-4 once each, not their units.
        assert limits.record(order(("SKU-X", 4)), use_id="DY-5") == Granted()
        assert limits.check(order(("TEA", 1)), use_id="DY-6") == Granted()
        assert isinstance(limits.check(order(("TEA", 1))), Exceeded)

    # concurrency

    def test_racers_for_one_buyer_never_pass_the_limit(
        self, store: LimitStore, clock: FrozenClock
    ) -> None:
        """Racers consuming for one buyer at once: exactly the limit is granted."""
        keys = [
            LimitKey(_BUYER, self.race_limit, _DAY),
            LimitKey(_IP, 1, _DAY, member="buyer:dy-buyer-8848"),
        ]
        racer = functools.partial(_consume_race, keys, self.race_attempts, clock.now())
        granted = self._race(store, [racer] * self.race_workers)
        assert self.race_attempts * self.race_workers > self.race_limit
        assert sum(granted) == self.race_limit, granted
        after = store.consume(keys, now=clock.now().add(seconds=1))
        assert after == Exceeded((Overage(keys[0], self.race_limit),))
