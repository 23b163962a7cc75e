"""The cursor store contract: every rule of `CursorStore` as tests."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from orderkit.errors import StoreError, ValidationError
from orderkit.ports import CursorStore
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD
from orderkit.testing._contract_base import Barrier, StoreContract


_FEED = "shopify:orders"
# Shopify's page_info cursors look like this: opaque, base64, case-sensitive.
_PAGE_2 = "eyJsYXN0X2lkIjo0NTAxLCJkaXJlY3Rpb24iOiJuZXh0In0"
_PAGE_3 = "eyJsYXN0X2lkIjo0NjAyLCJkaXJlY3Rpb24iOiJuZXh0In0"
_PAGE_4 = "eyJsYXN0X2lkIjo0NzAzLCJkaXJlY3Rpb24iOiJuZXh0In0"


def _advance_race(
    feed: str,
    expected: str,
    cursor: str,
    factory: Callable[[], CursorStore],
    barrier: Barrier,
) -> tuple[str, bool]:
    """Advance `feed` from `expected` to `cursor` once; say whether it moved."""
    store = factory()
    barrier.wait(timeout=120)
    return cursor, store.advance(feed, expected, cursor)


class CursorStoreContract(StoreContract[CursorStore]):
    """Every rule of `orderkit.ports.CursorStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`; the hooks `connect`,
    `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    # reading and moving

    def test_a_feed_never_advanced_has_no_cursor(self, store: CursorStore) -> None:
        """A new feed starts from the beginning: `None`."""
        assert store.get(_FEED) is None
        assert store.get("woocommerce:orders") is None

    def test_a_new_feed_advances_from_none(self, store: CursorStore) -> None:
        """The first page's cursor is stored against `None`, then read back."""
        assert store.advance(_FEED, None, _PAGE_2) is True
        assert store.get(_FEED) == _PAGE_2

    def test_a_feed_advances_page_after_page(self, store: CursorStore) -> None:
        """Each advance expects the cursor the one before stored."""
        assert store.advance(_FEED, None, _PAGE_2) is True
        assert store.advance(_FEED, _PAGE_2, _PAGE_3) is True
        assert store.advance(_FEED, _PAGE_3, _PAGE_4) is True
        assert store.get(_FEED) == _PAGE_4

    def test_cursors_are_opaque_and_may_go_back(self, store: CursorStore) -> None:
        """The store never orders cursors: any move from the expected one is fine."""
        assert store.advance(_FEED, None, _PAGE_3) is True
        assert store.advance(_FEED, _PAGE_3, _PAGE_2) is True
        assert store.get(_FEED) == _PAGE_2

    # compare-and-set

    def test_a_stale_expected_cursor_changes_nothing(self, store: CursorStore) -> None:
        """A puller that read an older cursor is told the feed moved."""
        store.advance(_FEED, None, _PAGE_2)
        store.advance(_FEED, _PAGE_2, _PAGE_3)
        assert store.advance(_FEED, _PAGE_2, _PAGE_4) is False
        assert store.get(_FEED) == _PAGE_3

    def test_none_expects_a_new_feed(self, store: CursorStore) -> None:
        """Advancing from `None` a feed that has a cursor changes nothing."""
        store.advance(_FEED, None, _PAGE_2)
        assert store.advance(_FEED, None, _PAGE_3) is False
        assert store.get(_FEED) == _PAGE_2

    def test_a_cursor_expected_of_a_new_feed_changes_nothing(
        self, store: CursorStore
    ) -> None:
        """A feed never advanced has no cursor to match: it stays new."""
        assert store.advance(_FEED, _PAGE_2, _PAGE_3) is False
        assert store.get(_FEED) is None

    def test_advancing_to_the_cursor_it_has_is_a_retry(
        self, store: CursorStore
    ) -> None:
        """A retried advance finds its own work done: `True`, nothing changes."""
        assert store.advance(_FEED, None, _PAGE_2) is True
        assert store.advance(_FEED, None, _PAGE_2) is True
        assert store.advance(_FEED, _PAGE_2, _PAGE_3) is True
        assert store.advance(_FEED, _PAGE_2, _PAGE_3) is True
        assert store.advance(_FEED, _PAGE_3, _PAGE_3) is True
        assert store.get(_FEED) == _PAGE_3
        assert store.advance(_FEED, _PAGE_3, _PAGE_4) is True
        assert store.get(_FEED) == _PAGE_4

    # verbatim

    def test_feeds_are_apart_and_weird_ones_are_data(self, store: CursorStore) -> None:
        """Quotes, SQL, emoji, case, spaces, 255 CJK characters: each its own feed."""
        feeds = [
            *_WEIRD,
            _FEED,
            "Shopify:orders",
            "shopify:orders ",
            " shopify:orders",
            "%",
            "_",
            "订单" * 127 + "单",
        ]
        for i, feed in enumerate(feeds):
            assert store.advance(feed, None, f"page-{i}") is True, feed
        for i, feed in enumerate(feeds):
            assert store.get(feed) == f"page-{i}", feed
        assert store.get("shopify:ORDERS") is None

    def test_cursors_are_kept_and_compared_verbatim(self, store: CursorStore) -> None:
        """A cursor reads back exactly; one differing in case or space is another."""
        cursors = [*_WEIRD, "页码=2&签名=ab+/==", "c" * 4096, "游标" * 2048]
        for i, cursor in enumerate(cursors):
            feed = f"feed-{i}"
            assert store.advance(feed, None, cursor) is True
            found = store.get(feed)
            assert found == cursor
            assert type(found) is str
        store.advance(_FEED, None, _PAGE_2)
        for near in (_PAGE_2.lower(), _PAGE_2.upper(), f"{_PAGE_2} ", f" {_PAGE_2}"):
            assert store.advance(_FEED, near, _PAGE_3) is False, near
        assert store.advance(_FEED, _PAGE_2[:-1], _PAGE_3) is False
        assert store.get(_FEED) == _PAGE_2

    def test_the_longest_cursors_are_expected_too(self, store: CursorStore) -> None:
        """A 4096-character cursor moves on like any other."""
        longest = "游" * 4096
        assert store.advance(_FEED, None, longest) is True
        assert store.advance(_FEED, longest, _PAGE_2) is True
        assert store.get(_FEED) == _PAGE_2

    # bad input

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(lambda s: s.get(""), "feed", id="get-empty-feed"),
            pytest.param(lambda s: s.get(None), "feed", id="get-none-feed"),
            pytest.param(lambda s: s.get(7), "feed", id="get-int-feed"),
            pytest.param(lambda s: s.get("f" * 256), "feed", id="get-long-feed"),
            pytest.param(lambda s: s.get("shop\nify"), "feed", id="get-control"),
            pytest.param(
                lambda s: s.advance("", _PAGE_2, _PAGE_3), "feed", id="empty-feed"
            ),
            pytest.param(
                lambda s: s.advance("   ", _PAGE_2, _PAGE_3), "feed", id="blank-feed"
            ),
            pytest.param(
                lambda s: s.advance("f" * 256, _PAGE_2, _PAGE_3), "feed", id="long-feed"
            ),
            pytest.param(
                lambda s: s.advance(b"shopify", _PAGE_2, _PAGE_3), "feed", id="bytes"
            ),
            pytest.param(
                lambda s: s.advance(_FEED, "", _PAGE_3), "expected", id="empty-expected"
            ),
            pytest.param(
                lambda s: s.advance(_FEED, "e" * 4097, _PAGE_3),
                "expected",
                id="long-expected",
            ),
            pytest.param(
                lambda s: s.advance(_FEED, 2, _PAGE_3), "expected", id="int-expected"
            ),
            pytest.param(
                lambda s: s.advance(_FEED, "a\x00b", _PAGE_3),
                "expected",
                id="nul-expected",
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, ""), "cursor", id="empty-cursor"
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, " \t"), "cursor", id="blank-cursor"
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, None), "cursor", id="none-cursor"
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, "c" * 4097),
                "cursor",
                id="long-cursor",
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, "page\n3"),
                "cursor",
                id="control-cursor",
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, "\ud800"),
                "cursor",
                id="surrogate-cursor",
            ),
            pytest.param(
                lambda s: s.advance(_FEED, _PAGE_2, 3), "cursor", id="int-cursor"
            ),
        ],
    )
    def test_bad_input_names_its_argument_and_changes_nothing(
        self,
        store: CursorStore,
        call: Callable[[Any], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming it; the feed stays."""
        store.advance(_FEED, None, _PAGE_2)
        with pytest.raises(ValidationError) as error:
            call(store)
        assert error.value.field == field
        assert store.get(_FEED) == _PAGE_2
        assert store.get("f" * 255) is None

    def test_a_bad_cursor_does_not_create_a_feed(self, store: CursorStore) -> None:
        """A refused first advance leaves the feed new."""
        with pytest.raises(ValidationError):
            store.advance(_FEED, None, "")
        assert store.get(_FEED) is None
        assert store.advance(_FEED, None, _PAGE_2) is True

    def test_driver_failures_become_store_errors(self, store: CursorStore) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        store.advance(_FEED, None, _PAGE_2)
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.advance(_FEED, _PAGE_2, _PAGE_3)
        assert error.value.__cause__ is not None
        with pytest.raises(StoreError) as error:
            store.get(_FEED)
        assert error.value.__cause__ is not None

    # concurrency

    def test_of_racers_from_one_cursor_exactly_one_moves_the_feed(
        self, store: CursorStore
    ) -> None:
        """Pullers advancing one feed from the same cursor: one wins, the rest lose."""
        store.advance(_FEED, None, _PAGE_2)
        racers = [
            functools.partial(_advance_race, _FEED, _PAGE_2, f"{_PAGE_3}-by-{i}")
            for i in range(self.race_workers)
        ]
        results = self._race(store, racers)
        winners = [cursor for cursor, moved in results if moved]
        assert len(winners) == 1, results
        assert store.get(_FEED) == winners[0]
        losers = [cursor for cursor, moved in results if not moved]
        assert len(losers) == self.race_workers - 1
        # A loser that reads again may go on from where the winner left it.
        assert store.advance(_FEED, winners[0], _PAGE_4) is True
