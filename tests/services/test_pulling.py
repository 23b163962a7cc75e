"""Pulling a feed: page by page, the cursor stored only after the records."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryCursorStore
from orderkit.adapters.sqlite import SqliteCursorStore
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import InvalidQuantity, StoreError, ValidationError
from orderkit.integrations import (
    ChannelPage,
    ChannelRecord,
    ChannelTransaction,
    TransactionKind,
)
from orderkit.money import Money
from orderkit.orders import Shipment
from orderkit.ports import CursorStore
from orderkit.services import Pulled, pull


FEED = "shopify:transactions"
# Black Friday, 09:00 in New York: the payments pour in.
T0 = pendulum.datetime(2025, 11, 28, 14, 0)
STORES = ["memory", "sqlite"]


def payment(n: int) -> ChannelTransaction:
    order_id = f"SH-{1000 + n}"
    return ChannelTransaction(
        transaction_id=f"TX-{7700 + n}",
        order_id=order_id,
        key=IdempotencyKey("shopify", "orders/paid", order_id, f"tx-{7700 + n}"),
        kind=TransactionKind.SALE,
        amount=Money("129.00", "USD"),
        succeeded=True,
        created_at=T0.add(minutes=n),
    )


def start_of(page: int) -> str:
    """The cursor page `page` (from 1) starts at."""
    return f"eyJwYWdlIjo{page}fQ"


def cursor_of(page: int) -> str | None:
    """Where page `page` (from 0) starts; the first starts at `None`."""
    return None if page == 0 else start_of(page)


def last_cursor(layout: Sequence[int]) -> str | None:
    """The cursor a fully pulled feed ends at: the last page's own."""
    return cursor_of(len(layout) - 1)


class PagedChannel:
    """A channel whose feed is a fixed list of pages, `layout[i]` records each."""

    def __init__(self, layout: Sequence[int]) -> None:
        numbers = iter(range(sum(layout)))
        self.pages = [
            ChannelPage(
                records=[payment(next(numbers)) for _ in range(count)],
                cursor=cursor_of(i + 1) if i + 1 < len(layout) else None,
            )
            for i, count in enumerate(layout)
        ]
        self.starts = {cursor_of(i): i for i in range(len(layout))}
        self.asked: list[str | None] = []
        self.limits: list[int] = []
        self.before_pull: Callable[[int], None] = lambda _: None

    @property
    def records(self) -> list[ChannelRecord]:
        return [record for page in self.pages for record in page.records]

    @property
    def channel(self) -> str:
        return "shopify"

    @property
    def topics(self) -> frozenset[str]:
        return frozenset()

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:
        raise NotImplementedError

    def pull(self, cursor: str | None, *, limit: int) -> ChannelPage:
        self.asked.append(cursor)
        self.limits.append(limit)
        index = self.starts[cursor]
        self.before_pull(index)
        return self.pages[index]

    def push_shipment(self, order_id: str, shipment: Shipment) -> None:
        raise NotImplementedError

    def push_stock(self, sku: str, sellable: int) -> None:
        raise NotImplementedError


class Outage(RuntimeError):
    """The host's database is down."""


class Sink:
    """The host's durable store: fails on the accept calls numbered in `failing`."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.failing = failing
        self.calls = 0
        self.batches: list[tuple[ChannelRecord, ...]] = []

    def __call__(self, records: tuple[ChannelRecord, ...]) -> None:
        call, self.calls = self.calls, self.calls + 1
        if call in self.failing:
            raise Outage(f"accept call {call}: connection reset")
        self.batches.append(records)

    @property
    def accepted(self) -> list[ChannelRecord]:
        return [record for batch in self.batches for record in batch]


@contextlib.contextmanager
def opened(kind: str) -> Iterator[CursorStore]:
    if kind == "memory":
        yield MemoryCursorStore()
        return
    with SqliteCursorStore(":memory:") as store:
        yield store


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[CursorStore]:
    with opened(request.param) as store:
        yield store


class TestPullingAFeed:
    """Every page is pulled in order, accepted, then its cursor stored."""

    def test_a_new_feed_is_pulled_to_its_last_page(self, store: CursorStore) -> None:
        channel, sink = PagedChannel([3, 2, 4]), Sink()
        pulled = pull(channel, store, FEED, sink)
        assert pulled == Pulled(
            pages=3, records=9, cursor=cursor_of(2), caught_up=True, overtaken=False
        )
        assert channel.asked == [None, cursor_of(1), cursor_of(2)]
        assert sink.batches == [page.records for page in channel.pages]
        assert store.get(FEED) == cursor_of(2)

    def test_the_next_pull_starts_at_the_last_page_again(
        self, store: CursorStore
    ) -> None:
        channel, sink = PagedChannel([2, 2]), Sink()
        pull(channel, store, FEED, sink)
        again = pull(channel, store, FEED, sink)
        assert again == Pulled(
            pages=1, records=2, cursor=cursor_of(1), caught_up=True, overtaken=False
        )
        assert channel.asked == [None, cursor_of(1), cursor_of(1)]

    def test_a_one_page_feed_is_never_advanced(self, store: CursorStore) -> None:
        channel, sink = PagedChannel([2]), Sink()
        assert pull(channel, store, FEED, sink) == Pulled(
            pages=1, records=2, cursor=None, caught_up=True, overtaken=False
        )
        assert store.get(FEED) is None

    def test_empty_pages_are_accepted_and_passed(self, store: CursorStore) -> None:
        channel, sink = PagedChannel([0, 3, 0]), Sink()
        pulled = pull(channel, store, FEED, sink)
        assert (pulled.pages, pulled.records, pulled.caught_up) == (3, 3, True)
        assert [len(batch) for batch in sink.batches] == [0, 3, 0]

    def test_the_limit_goes_to_the_channel(self, store: CursorStore) -> None:
        channel = PagedChannel([1, 1])
        pull(channel, store, FEED, Sink(), limit=250)
        assert channel.limits == [250, 250]

    def test_max_pages_stops_early_and_the_next_pull_goes_on(
        self, store: CursorStore
    ) -> None:
        channel, sink = PagedChannel([1, 1, 1, 1, 1]), Sink()
        first = pull(channel, store, FEED, sink, max_pages=2)
        assert first == Pulled(
            pages=2, records=2, cursor=cursor_of(2), caught_up=False, overtaken=False
        )
        rest = pull(channel, store, FEED, sink, max_pages=10)
        assert rest == Pulled(
            pages=3, records=3, cursor=cursor_of(4), caught_up=True, overtaken=False
        )
        assert sink.accepted == channel.records

    def test_feeds_keep_their_own_cursors(self, store: CursorStore) -> None:
        orders, refunds = PagedChannel([1, 1, 1]), PagedChannel([1, 1])
        pull(orders, store, "shopify:orders", Sink())
        pull(refunds, store, "shopify:refunds", Sink(), max_pages=1)
        assert store.get("shopify:orders") == cursor_of(2)
        assert store.get("shopify:refunds") == cursor_of(1)

    def test_a_channel_handing_back_its_cursor_is_caught_up(
        self, store: CursorStore
    ) -> None:
        channel = PagedChannel([1, 1])
        stuck = ChannelPage(records=[payment(99)], cursor=cursor_of(1))
        channel.pages[1] = stuck
        pulled = pull(channel, store, FEED, Sink())
        assert pulled == Pulled(
            pages=2, records=2, cursor=cursor_of(1), caught_up=True, overtaken=False
        )
        assert channel.asked == [None, cursor_of(1)]


class TestFailures:
    """A failure leaves the cursor at the page that failed; a rerun resumes there."""

    def test_accept_failing_on_page_2_resumes_at_page_2(
        self, store: CursorStore
    ) -> None:
        channel, sink = PagedChannel([2, 3, 1]), Sink(failing=frozenset({1}))
        with pytest.raises(Outage):
            pull(channel, store, FEED, sink)
        assert store.get(FEED) == cursor_of(1)
        assert sink.accepted == list(channel.pages[0].records)
        rerun = pull(channel, store, FEED, sink)
        assert rerun == Pulled(
            pages=2, records=4, cursor=cursor_of(2), caught_up=True, overtaken=False
        )
        assert channel.asked == [None, cursor_of(1), cursor_of(1), cursor_of(2)]
        assert sink.accepted == channel.records

    def test_the_channel_failing_moves_nothing(self, store: CursorStore) -> None:
        channel, sink = PagedChannel([1, 1, 1]), Sink()

        def rate_limited(page: int) -> None:
            if page == 2:
                raise Outage("429 Too Many Requests")

        channel.before_pull = rate_limited
        with pytest.raises(Outage, match="429"):
            pull(channel, store, FEED, sink)
        assert store.get(FEED) == cursor_of(2)
        assert len(sink.batches) == 2

    def test_the_store_failing_after_accept_repulls_the_page(self) -> None:
        store = MemoryCursorStore()
        channel, sink = PagedChannel([1, 1]), Sink()

        class Failing:
            """A cursor store whose writes fail."""

            def get(self, feed: str) -> str | None:
                return store.get(feed)

            def advance(self, feed: str, expected: str | None, cursor: str) -> bool:  # noqa: ARG002 - it fails whatever it is asked
                raise StoreError("sqlite", "advance", "disk I/O error")

        with pytest.raises(StoreError):
            pull(channel, Failing(), FEED, sink)
        assert len(sink.batches) == 1
        assert store.get(FEED) is None
        pull(channel, store, FEED, sink)
        assert channel.asked == [None, None, cursor_of(1)]


class TestRacingPullers:
    """Two pullers of one feed never both move it: the late one stops."""

    def test_a_puller_overtaken_during_accept_stops(self, store: CursorStore) -> None:
        channel = PagedChannel([1, 1, 1, 1])
        other = PagedChannel([1, 1, 1, 1])

        class Slow(Sink):
            def __call__(self, records: tuple[ChannelRecord, ...]) -> None:
                super().__call__(records)
                if self.calls == 2:
                    # Another puller, on another machine, pulls the feed to its end.
                    pull(other, store, FEED, Sink())

        pulled = pull(channel, store, FEED, Slow())
        assert pulled == Pulled(
            pages=2, records=2, cursor=cursor_of(1), caught_up=False, overtaken=True
        )
        assert channel.asked == [None, cursor_of(1)]
        assert store.get(FEED) == cursor_of(3)

    def test_a_puller_landing_where_another_did_goes_on(
        self, store: CursorStore
    ) -> None:
        channel = PagedChannel([1, 1, 1])
        other = PagedChannel([1, 1, 1])

        class Slow(Sink):
            def __call__(self, records: tuple[ChannelRecord, ...]) -> None:
                super().__call__(records)
                if self.calls == 2:
                    # The other puller took the same page: the same advance.
                    pull(other, store, FEED, Sink(), max_pages=1)

        pulled = pull(channel, store, FEED, Slow())
        assert pulled == Pulled(
            pages=3, records=3, cursor=cursor_of(2), caught_up=True, overtaken=False
        )

    def test_a_puller_with_a_stale_cursor_moves_nothing(
        self, store: CursorStore
    ) -> None:
        store.advance(FEED, None, start_of(1))
        channel = PagedChannel([1, 1, 1])

        def another_moves_first(page: int) -> None:
            if page == 1:
                store.advance(FEED, start_of(1), "moved-by-another")

        channel.before_pull = another_moves_first
        pulled = pull(channel, store, FEED, Sink())
        assert pulled.overtaken
        assert pulled.pages == 1
        assert store.get(FEED) == "moved-by-another"


class TestValidation:
    """Bad arguments name themselves; nothing is pulled or stored."""

    @pytest.mark.parametrize(
        ("change", "field", "error"),
        [
            pytest.param({"feed": ""}, "feed", ValidationError, id="empty-feed"),
            pytest.param({"feed": 7}, "feed", ValidationError, id="int-feed"),
            pytest.param({"feed": "a\nb"}, "feed", ValidationError, id="control"),
            pytest.param({"feed": "f" * 256}, "feed", ValidationError, id="long-feed"),
            pytest.param({"limit": 0}, "limit", InvalidQuantity, id="zero-limit"),
            pytest.param({"limit": True}, "limit", InvalidQuantity, id="bool-limit"),
            pytest.param({"limit": 2.5}, "limit", InvalidQuantity, id="float-limit"),
            pytest.param({"max_pages": 0}, "max_pages", InvalidQuantity, id="zero"),
            pytest.param(
                {"max_pages": "3"}, "max_pages", InvalidQuantity, id="str-max-pages"
            ),
            pytest.param({"channel": None}, "channel", ValidationError, id="channel"),
            pytest.param(
                {"cursors": object()}, "cursors", ValidationError, id="cursors"
            ),
            pytest.param({"accept": None}, "accept", ValidationError, id="accept"),
        ],
    )
    def test_a_bad_argument_names_itself_and_changes_nothing(
        self,
        store: CursorStore,
        change: dict[str, Any],
        field: str,
        error: type[ValidationError],
    ) -> None:
        channel, sink = PagedChannel([1, 1]), Sink()
        arguments: dict[str, Any] = {
            "channel": channel,
            "cursors": store,
            "feed": FEED,
            "accept": sink,
            **change,
        }
        with pytest.raises(error) as caught:
            pull(**arguments)
        assert caught.value.field == field
        assert caught.value.value is change[field]
        assert channel.asked == []
        assert sink.calls == 0
        assert store.get(FEED) is None

    def test_a_page_that_is_not_a_page_is_refused(self, store: CursorStore) -> None:
        channel, sink = PagedChannel([1, 1]), Sink()
        channel.pages[0] = {"records": [], "cursor": "next"}  # type: ignore[call-overload]
        with pytest.raises(ValidationError) as caught:
            pull(channel, store, FEED, sink)
        assert caught.value.field == "channel.pull()"
        assert sink.calls == 0
        assert store.get(FEED) is None


class TestResumingProperty:
    """Whatever the pages and the failures, reruns accept every record."""

    @pytest.mark.parametrize("kind", STORES)
    @given(
        layout=st.lists(st.integers(0, 3), min_size=1, max_size=6),
        failing=st.frozensets(st.integers(0, 12), max_size=4),
        max_pages=st.none() | st.integers(1, 3),
    )
    def test_reruns_accept_every_record_and_end_at_the_last_cursor(
        self,
        kind: str,
        layout: list[int],
        failing: frozenset[int],
        max_pages: int | None,
    ) -> None:
        channel, sink = PagedChannel(layout), Sink(failing)
        with opened(kind) as store:
            runs = 0
            while True:
                runs += 1
                assert runs <= len(failing) + len(layout) + 1
                try:
                    pulled = pull(channel, store, FEED, sink, max_pages=max_pages)
                except Outage:
                    continue
                if pulled.caught_up:
                    break
            assert store.get(FEED) == last_cursor(layout)
            assert pulled.cursor == last_cursor(layout)
        assert set(sink.accepted) == set(channel.records)
        # Pages are pulled in order: a page again or the next, none skipped.
        order = [channel.starts[cursor] for cursor in channel.asked]
        assert order[0] == 0
        assert all(b <= a + 1 for a, b in itertools.pairwise(order))
