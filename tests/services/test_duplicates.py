"""The duplicate detector: incident 6, the review queue, the buyer index, the window."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryDetectorStore
from orderkit.dedupe import (
    Fingerprinter,
    FingerprintKind,
    Match,
    ReviewState,
    Screening,
    Sighting,
)
from orderkit.errors import (
    ConcurrencyConflict,
    InvalidPhone,
    NaiveDatetime,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.services import DEFAULT_DETECTOR_RETENTION, DuplicateDetector
from orderkit.testing import FrozenClock


PHONE = FingerprintKind.PHONE_SKUS
ADDRESS = FingerprintKind.ADDRESS_SKUS
BUYER = FingerprintKind.BUYER_SKUS
HOUR = dt.timedelta(hours=1)
# Mid-Autumn Festival eve, 20:05 in Beijing: gift sets sell.
EVENING = pendulum.datetime(2024, 9, 14, 20, 5, tz="Asia/Shanghai")
NOW = pendulum.datetime(2024, 9, 14, 12, 30)
GIFT_SET = ("MOONCAKE-GIFT-SET", "JADE-TEAPOT")


def gift_order(
    order_id: str,
    channel: str,
    buyer: Buyer,
    address: Address,
    skus: tuple[str, ...] = GIFT_SET,
    *,
    minutes: float = 0,
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
        placed_at=EVENING.add(seconds=minutes * 60),
    )


DOUYIN = gift_order(
    "DY-6920001",
    "douyin",
    Buyer("dy_4417", "王芳", "+86 138-0013-8000"),
    Address("CN", street="北京市朝阳区建国路88号国贸大厦B座1203"),
)


def mini_program(minutes: float = 20, order_id: str = "MP-20240914-0042") -> Order:
    return gift_order(
        order_id,
        "mini_program",
        Buyer("wx_oX3kd92", "王芳", "13800138000"),
        Address("CN", street="北京朝阳区建国路88号国贸大厦B座1203"),
        tuple(sku.lower() for sku in GIFT_SET),
        minutes=minutes,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def store() -> MemoryDetectorStore:
    return MemoryDetectorStore()


@pytest.fixture
def detector(store: MemoryDetectorStore, clock: FrozenClock) -> DuplicateDetector:
    return DuplicateDetector(HOUR, store, Fingerprinter.for_tests(), clock)


@pytest.fixture
def after_douyin(detector: DuplicateDetector) -> DuplicateDetector:
    """The detector once Wang Fang's Douyin order was checked."""
    assert detector.check(DOUYIN) == Screening("douyin", "DY-6920001", (), None)
    return detector


def kinds(screening: Screening) -> dict[str, tuple[FingerprintKind, ...]]:
    return {m.order_id: m.kinds for m in screening.matches}


class TestIncidentSix:
    """One buyer, two channels, two gift sets: the brief's scenario, case by case."""

    def test_the_same_buyer_on_two_channels_is_flagged(
        self, after_douyin: DuplicateDetector, clock: FrozenClock
    ) -> None:
        screening = after_douyin.check(mini_program())
        assert screening.suspected
        assert screening.matches == (
            Match("douyin", "DY-6920001", DOUYIN.placed_at, (PHONE, ADDRESS)),
        )
        suspicion = screening.suspicion
        assert suspicion is not None
        assert (suspicion.channel, suspicion.order_id) == (
            "mini_program",
            "MP-20240914-0042",
        )
        assert suspicion.state is ReviewState.PENDING
        assert suspicion.flagged_at == clock.now()
        assert suspicion.reason == "phone+skus, address+skus as douyin DY-6920001"
        assert list(after_douyin.pending()) == [suspicion]

    def test_another_phone_at_the_same_door_is_flagged_on_the_address(
        self, after_douyin: DuplicateDetector
    ) -> None:
        neighbour = gift_order(
            "MP-20240914-0043",
            "mini_program",
            Buyer("wx_k2d8", "王芳", "13912345678"),
            Address(
                "CN",
                province="北京",
                district="朝阳区",
                street="建国路88号国贸大厦B座1203",
            ),
            minutes=35,
        )
        screening = after_douyin.check(neighbour)
        assert screening.suspected
        assert kinds(screening) == {"DY-6920001": (ADDRESS,)}

    def test_a_different_buyer_at_the_same_door_with_other_skus_is_not(
        self, after_douyin: DuplicateDetector
    ) -> None:
        colleague = gift_order(
            "TB-3318820",
            "taobao",
            Buyer("tb_li_wei", "李伟", "13912345678"),
            Address("CN", street="北京市朝阳区建国路88号国贸大厦B座1203"),
            ("VELVET-LAMP",),
            minutes=10,
        )
        assert after_douyin.check(colleague) == Screening(
            "taobao", "TB-3318820", (), None
        )
        assert list(after_douyin.pending()) == []

    def test_the_same_order_after_the_window_is_not(
        self, after_douyin: DuplicateDetector
    ) -> None:
        screening = after_douyin.check(mini_program(minutes=61))
        assert not screening.suspected
        assert list(after_douyin.pending()) == []


class TestReview:
    """A suspect waits in the queue until a person releases or rejects it."""

    @pytest.fixture
    def suspected(self, after_douyin: DuplicateDetector) -> DuplicateDetector:
        assert after_douyin.check(mini_program()).suspected
        return after_douyin

    def test_confirming_releases_it(
        self, suspected: DuplicateDetector, clock: FrozenClock
    ) -> None:
        clock.advance(minutes=8)
        released = suspected.confirm(
            "mini_program", "MP-20240914-0042", actor="kefu-li"
        )
        assert released.state is ReviewState.RELEASED
        assert (released.actor, released.resolved_at) == ("kefu-li", clock.now())
        assert released.reason == "phone+skus, address+skus as douyin DY-6920001"
        assert list(suspected.pending()) == []
        assert suspected.suspicion("mini_program", "MP-20240914-0042") == released

    def test_rejecting_marks_it_for_cancelling(
        self, suspected: DuplicateDetector
    ) -> None:
        rejected = suspected.reject("mini_program", "MP-20240914-0042", actor="kefu-li")
        assert rejected.state is ReviewState.REJECTED
        assert list(suspected.pending()) == []

    def test_the_same_decision_twice_is_a_no_op(
        self, suspected: DuplicateDetector, clock: FrozenClock
    ) -> None:
        first = suspected.reject("mini_program", "MP-20240914-0042", actor="kefu-li")
        clock.advance(minutes=1)
        again = suspected.reject("mini_program", "MP-20240914-0042", actor="kefu-zhao")
        assert again == first

    def test_the_other_decision_afterwards_conflicts(
        self, suspected: DuplicateDetector
    ) -> None:
        rejected = suspected.reject("mini_program", "MP-20240914-0042", actor="kefu-li")
        with pytest.raises(ConcurrencyConflict):
            suspected.confirm("mini_program", "MP-20240914-0042", actor="kefu-zhao")
        assert suspected.suspicion("mini_program", "MP-20240914-0042") == rejected

    @pytest.mark.parametrize(
        ("channel", "order_id"),
        [
            ("douyin", "DY-6920001"),
            ("douyin", "DY-404"),
            ("douyin", "MP-20240914-0042"),
        ],
        ids=["not-suspected", "unknown", "wrong-channel"],
    )
    def test_an_order_without_a_suspicion_cannot_be_resolved(
        self, suspected: DuplicateDetector, channel: str, order_id: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            suspected.confirm(channel, order_id, actor="kefu-li")
        assert error.value.field == "order_id"

    @pytest.mark.parametrize("actor", ["", "  ", "kefu\n", "k" * 256])
    def test_who_decided_is_required(
        self, suspected: DuplicateDetector, actor: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            suspected.confirm("mini_program", "MP-20240914-0042", actor=actor)
        assert error.value.field == "actor"
        assert len(suspected.pending()) == 1

    def test_the_queue_is_oldest_first(
        self, after_douyin: DuplicateDetector, clock: FrozenClock
    ) -> None:
        for n in range(3):
            clock.advance(minutes=1)
            after_douyin.check(mini_program(minutes=n, order_id=f"MP-{n}"))
        assert [s.order_id for s in after_douyin.pending()] == ["MP-0", "MP-1", "MP-2"]
        assert [s.order_id for s in after_douyin.pending(limit=1)] == ["MP-0"]


class TestRecheck:
    """Checking an order again reports its first screening and stores nothing."""

    def test_a_repeated_check_is_the_first_one(
        self, after_douyin: DuplicateDetector, clock: FrozenClock
    ) -> None:
        first = after_douyin.check(mini_program())
        clock.advance(minutes=30)
        assert after_douyin.check(mini_program()) == first
        assert after_douyin.check(DOUYIN) == Screening("douyin", "DY-6920001", (), None)
        assert len(after_douyin.pending()) == 1

    def test_a_check_after_review_shows_the_decision(
        self, after_douyin: DuplicateDetector
    ) -> None:
        after_douyin.check(mini_program())
        after_douyin.confirm("mini_program", "MP-20240914-0042", actor="kefu-li")
        again = after_douyin.check(mini_program())
        assert again.suspicion is not None
        assert again.suspicion.state is ReviewState.RELEASED
        assert list(after_douyin.pending()) == []


class TestWindow:
    """Measured between placing times, either way, both ends included."""

    @pytest.mark.parametrize(
        ("minutes", "suspected"),
        [(60, True), (-60, True), (60 + 1 / 60, False), (-60 - 1 / 60, False)],
        ids=["hour-later", "hour-earlier", "hour-and-a-second", "before-that"],
    )
    def test_exactly_one_hour_apart_still_matches(
        self,
        after_douyin: DuplicateDetector,
        minutes: float,
        suspected: bool,
    ) -> None:
        assert after_douyin.check(mini_program(minutes=minutes)).suspected is suspected

    def test_an_order_placed_earlier_but_checked_later_matches(
        self, detector: DuplicateDetector
    ) -> None:
        assert not detector.check(mini_program(minutes=50)).suspected
        late = detector.check(DOUYIN)
        assert kinds(late) == {"MP-20240914-0042": (PHONE, ADDRESS)}

    @settings(max_examples=40)
    @given(minutes=st.integers(min_value=-180, max_value=180))
    def test_suspected_exactly_within_the_window(self, minutes: int) -> None:
        detector = DuplicateDetector(
            HOUR, MemoryDetectorStore(), Fingerprinter.for_tests(), FrozenClock(NOW)
        )
        detector.check(DOUYIN)
        assert detector.check(mini_program(minutes)).suspected is (abs(minutes) <= 60)


class TestWhatNeverMatches:
    """Masked phones, other SKUs, and a buyer's own other orders."""

    def test_masked_phones_never_match(self, detector: DuplicateDetector) -> None:
        first = gift_order(
            "DY-1",
            "douyin",
            Buyer("dy_1", "王芳", "138****8000"),
            Address("CN", street="上海市浦东新区世纪大道100号", phone="138****8000"),
        )
        second = gift_order(
            "DY-2",
            "douyin",
            Buyer("dy_2", "张伟", "138****8000"),
            Address("CN", street="广东省深圳市南山区科技园1号", phone="138****8000"),
            minutes=5,
        )
        detector.check(first)
        assert not detector.check(second).suspected
        assert detector.orders_of_buyer("138****8000") == ()

    def test_the_same_account_buying_other_skus_is_not_a_duplicate(
        self, after_douyin: DuplicateDetector
    ) -> None:
        tea = gift_order(
            "DY-6920002",
            "douyin",
            DOUYIN.buyer,
            DOUYIN.address,
            ("JADE-TEAPOT",),
            minutes=3,
        )
        assert not after_douyin.check(tea).suspected

    def test_the_same_account_buying_the_same_again_is_flagged_on_all_three(
        self, after_douyin: DuplicateDetector
    ) -> None:
        again = gift_order(
            "DY-6920002", "douyin", DOUYIN.buyer, DOUYIN.address, minutes=3
        )
        assert kinds(after_douyin.check(again)) == {
            "DY-6920001": (PHONE, ADDRESS, BUYER)
        }


class TestBuyerIndex:
    """One buyer's orders from every channel, joined by the normalised phone."""

    def test_orders_join_across_channels(self, after_douyin: DuplicateDetector) -> None:
        after_douyin.check(mini_program())
        lamp = gift_order(
            "JD-88120",
            "jd",
            Buyer("jd_wangfang", "王芳", "0086 138 0013 8000"),
            Address("CN", street="上海市浦东新区世纪大道100号"),
            ("VELVET-LAMP",),
            minutes=60 * 24 * 3,
        )
        assert not after_douyin.check(lamp).suspected
        expected = (
            Sighting("douyin", "DY-6920001", DOUYIN.placed_at),
            Sighting("mini_program", "MP-20240914-0042", EVENING.add(minutes=20)),
            Sighting("jd", "JD-88120", lamp.placed_at),
        )
        for written in [
            "+86 138-0013-8000",
            "13800138000",
            "＋８６ １３８００１３８０００",  # noqa: RUF001 - the full-width form
        ]:
            assert tuple(after_douyin.orders_of_buyer(written)) == expected

    def test_the_recipients_phone_is_not_the_buyers(
        self, detector: DuplicateDetector
    ) -> None:
        gift = gift_order(
            "DY-1",
            "douyin",
            Buyer("dy_1", "王芳", None),
            Address("CN", street="北京市朝阳区建国路88号", phone="13800138000"),
        )
        detector.check(gift)
        assert detector.orders_of_buyer("13800138000") == []

    def test_a_phone_in_another_region(self, store: MemoryDetectorStore) -> None:
        detector = DuplicateDetector(
            HOUR,
            store,
            Fingerprinter.for_tests(channel_regions={"shopify": "US"}),
            FrozenClock(NOW),
        )
        order = gift_order(
            "1001",
            "shopify",
            Buyer("gid-7", "Ada Lovelace", "(502) 555-0143"),
            Address("US", province="Kentucky", street="Chestnut Street 92"),
        )
        detector.check(order)
        found = detector.orders_of_buyer("(502) 555-0143", region="US")
        assert [s.order_id for s in found] == ["1001"]
        assert [s.order_id for s in detector.orders_of_buyer("+15025550143")] == [
            "1001"
        ]

    def test_junk_is_refused(self, detector: DuplicateDetector) -> None:
        with pytest.raises(InvalidPhone):
            detector.orders_of_buyer("call me maybe")


class TestLines:
    """What was ordered is a multiset: the order and split of lines never matter."""

    @settings(max_examples=30)
    @given(data=st.data())
    def test_reordered_or_split_lines_never_change_the_verdict(
        self, data: st.DataObject
    ) -> None:
        skus = data.draw(st.permutations(["MOONCAKE-GIFT-SET", "JADE-TEAPOT"] * 2))
        detector = DuplicateDetector(
            HOUR, MemoryDetectorStore(), Fingerprinter.for_tests(), FrozenClock(NOW)
        )
        two_each = gift_order(
            "DY-1",
            "douyin",
            DOUYIN.buyer,
            DOUYIN.address,
            ("MOONCAKE-GIFT-SET", "JADE-TEAPOT") * 2,
        )
        detector.check(two_each)
        shuffled = gift_order(
            "MP-1",
            "mini_program",
            Buyer("wx_1", "王芳", "13800138000"),
            Address("CN", street="北京朝阳区建国路88号国贸大厦B座1203"),
            tuple(skus),
            minutes=data.draw(st.integers(min_value=0, max_value=60)),
        )
        assert kinds(detector.check(shuffled)) == {"DY-1": (PHONE, ADDRESS)}


class TestBadInput:
    """Refused input stores nothing."""

    def test_not_an_order(self, detector: DuplicateDetector) -> None:
        with pytest.raises(ValidationError) as error:
            detector.check("DY-6920001")  # type: ignore[arg-type]
        assert error.value.field == "order"

    def test_an_id_too_long_to_store(
        self, detector: DuplicateDetector, store: MemoryDetectorStore
    ) -> None:
        long_id = gift_order("D" * 256, "douyin", DOUYIN.buyer, DOUYIN.address)
        with pytest.raises(ValidationError) as error:
            detector.check(long_id)
        assert error.value.field == "order_id"
        assert store.orders_of_buyer("+8613800138000") == []
        assert not detector.check(DOUYIN).suspected

    @pytest.mark.parametrize(
        ("window", "retention", "field"),
        [
            (dt.timedelta(0), DEFAULT_DETECTOR_RETENTION, "window"),
            (3600, DEFAULT_DETECTOR_RETENTION, "window"),
            (HOUR, dt.timedelta(minutes=30), "retention"),
            (HOUR, -HOUR, "retention"),
        ],
    )
    def test_windows_and_retention_are_checked(
        self, store: MemoryDetectorStore, window: object, retention: object, field: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            DuplicateDetector(
                window,  # type: ignore[arg-type]
                store,
                Fingerprinter.for_tests(),
                FrozenClock(NOW),
                retention=retention,  # type: ignore[arg-type]
            )
        assert error.value.field == field

    def test_a_naive_clock_is_refused(self, store: MemoryDetectorStore) -> None:
        class NaiveClock:
            def now(self) -> pendulum.DateTime:
                return NOW.naive()

            def sleep(self, seconds: float) -> None:
                raise NotImplementedError

        detector = DuplicateDetector(
            HOUR, store, Fingerprinter.for_tests(), NaiveClock()
        )
        with pytest.raises(NaiveDatetime):
            detector.check(DOUYIN)
        assert store.orders_of_buyer("+8613800138000") == []


class TestPrune:
    """Orders past the retention are forgotten; the queue never is."""

    def test_prune_keeps_the_retention_and_the_queue(
        self, after_douyin: DuplicateDetector, clock: FrozenClock
    ) -> None:
        after_douyin.check(mini_program())
        clock.set(EVENING.add(days=7))
        assert after_douyin.prune() == 0  # placed exactly seven days ago: kept
        clock.advance(minutes=30)
        assert after_douyin.prune() == 1  # DY-6920001; MP-... awaits review
        assert [s.order_id for s in after_douyin.orders_of_buyer("13800138000")] == [
            "MP-20240914-0042"
        ]
        after_douyin.confirm("mini_program", "MP-20240914-0042", actor="kefu-li")
        assert after_douyin.prune() == 1
        assert after_douyin.suspicion("mini_program", "MP-20240914-0042") is None

    def test_the_window_is_public(self, detector: DuplicateDetector) -> None:
        assert detector.window == HOUR
