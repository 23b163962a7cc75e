"""Pulling a channel's feed page by page, resuming where the last pull stopped."""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import attrs

from orderkit._validate import positive_int
from orderkit.dedupe._claims import check_text
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelPage, ChannelRecord
from orderkit.ports import Channel, CursorStore


@final
@attrs.frozen(slots=True, kw_only=True)
class Pulled:
    """What one `pull` did, and why it stopped.

    Attributes:
        pages: How many pages were pulled and accepted.
        records: How many records those pages held, all accepted.
        cursor: The cursor the feed was left at by this pull (where the
            next pull starts); `None` if the feed was never advanced. When
            `overtaken`, the feed has moved past it.
        caught_up: The channel's last page was pulled: the feed has nothing
            more for now. Its cursor is not stored (there is none), so the
            next pull reads that page again, with whatever it gained since.
        overtaken: Another puller moved the feed first; this pull accepted
            the page it had pulled but left the cursor to the other puller
            and stopped.

    .. versionadded:: 0.1.0
    """

    pages: int
    records: int
    cursor: str | None
    caught_up: bool
    overtaken: bool


def pull(  # noqa: PLR0913 - the ports, the feed and the host's sink, then bounds
    channel: Channel,
    cursors: CursorStore,
    feed: str,
    accept: Callable[[tuple[ChannelRecord, ...]], object],
    *,
    limit: int = 100,
    max_pages: int | None = None,
) -> Pulled:
    """Pull `feed` from its stored cursor, page by page, until it is caught up.

    For each page: pull it after the feed's cursor, hand its records to
    `accept` (which makes them durable), and only then advance the cursor
    from the one it was pulled with. A crash or a failure between the two
    leaves the cursor where it was, so the next pull reads the page again:
    `accept` must be idempotent, as the records' idempotency keys make it.

    The pull stops when the channel has no next page (`caught_up`), when
    another puller moved the feed first (`overtaken`), after `max_pages`
    pages, or when the channel hands back the cursor it was given (nothing
    new past it: `caught_up`).

    Args:
        channel: The channel; only its `pull(cursor, limit=)` is called.
        cursors: Where the feed's cursor is kept.
        feed: The feed's name in `cursors` (`"shopify:orders"`).
        accept: Called once per page, in order, with the page's records
            (perhaps none); it makes them durable before returning.
        limit: At most this many records per page.
        max_pages: Stop after this many pages; `None` for no bound.

    Returns:
        How many pages and records were accepted, the cursor the feed was
        left at, and why the pull stopped.

    Raises:
        ValidationError: A bad argument, naming it; nothing was pulled.
            Or the channel returned something other than a `ChannelPage`
            (naming `channel.pull()`; nothing of it was accepted), or a
            next cursor the store refuses (the page was accepted, the
            cursor not advanced).
        InvalidQuantity: `limit` or `max_pages` is not a positive integer.
        StoreError: The cursor store failed.
        Exception: Whatever `channel.pull` or `accept` raised; the cursor
            stays at the page that failed, so the next pull resumes there.

    .. versionadded:: 0.1.0
    """
    _check_port("channel", channel, ("pull",))
    _check_port("cursors", cursors, ("get", "advance"))
    name = check_text("feed", feed)
    if not callable(accept):
        raise ValidationError("accept", accept, "must be callable")
    positive_int("limit")(None, None, limit)
    if max_pages is not None:
        positive_int("max_pages")(None, None, max_pages)

    cursor = cursors.get(name)
    pages = records = 0
    caught_up = overtaken = False
    while max_pages is None or pages < max_pages:
        page = channel.pull(cursor, limit=limit)
        if not isinstance(page, ChannelPage):
            raise ValidationError("channel.pull()", page, "must be a ChannelPage")
        accept(page.records)
        pages += 1
        records += len(page.records)
        # The last page has no next cursor; a channel handing back the one
        # it was given has nothing past it. Either way, pulling on would
        # read the same page forever.
        if page.cursor is None or page.cursor == cursor:
            caught_up = True
            break
        if not cursors.advance(name, cursor, page.cursor):
            overtaken = True
            break
        cursor = page.cursor
    return Pulled(
        pages=pages,
        records=records,
        cursor=cursor,
        caught_up=caught_up,
        overtaken=overtaken,
    )


def _check_port(field: str, port: object, methods: tuple[str, ...]) -> None:
    """Refuse `port` unless it has every method named."""
    missing = [m for m in methods if not callable(getattr(port, m, None))]
    if missing:
        needs = ", ".join(f"{m}()" for m in methods)
        raise ValidationError(field, port, f"must be a port with {needs}")
