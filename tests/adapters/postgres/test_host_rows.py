"""A host's connection may give its rows as dicts: the stores read theirs as tuples."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg.rows import dict_row
from tests.services._samples import T0, awaiting_payment, cny

from orderkit.adapters.postgres import (
    PostgresCursorStore,
    PostgresKeyStore,
    PostgresUnitOfWork,
)
from orderkit.dedupe import Fingerprinter, IdempotencyKey, Outcome, Replay
from orderkit.dedupe._claims import Claimed
from orderkit.orders import Address, Buyer, OrderLine, OrderPlaced, PaymentCaptured
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock


LEASE = dt.timedelta(seconds=30)


def test_the_desk_and_every_store_work_on_a_connection_giving_dicts(
    pg_dsn: str,
) -> None:
    with psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row) as conn:
        clock = FrozenClock(T0)
        unit = PostgresUnitOfWork(conn)
        with unit as uow:
            Ledger(uow.ledger, clock).receive("LONGJING-250G", "HZ-1", 5)
            uow.commit()
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(locations=["HZ-1"]),
            Fingerprinter.for_tests(),
        )
        placed = OrderPlaced(
            order_id="TB-1",
            key=IdempotencyKey("taobao", "trade.created", "TB-1", "1"),
            occurred_at=T0,
            channel="taobao",
            buyer=Buyer("tb-buyer-1", "王芳", phone="+8613800138000"),
            address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
            lines=[OrderLine("L1", "LONGJING-250G", 2, cny("199.00"))],
        )
        assert isinstance(desk.accept(awaiting_payment(placed)), Accepted)
        paid = desk.record(
            "taobao",
            "TB-1",
            PaymentCaptured(
                order_id="TB-1",
                key=IdempotencyKey("taobao", "trade.paid", "TB-1", "1"),
                occurred_at=T0.add(minutes=5),
                payment_id="alipay-1",
                amount=cny("398.00"),
            ),
        )
        assert paid.order.version == 2
        with unit as uow:
            balance = Ledger(uow.ledger, clock).balance("LONGJING-250G", "HZ-1")
            assert "milestone" in {m.topic for m in uow.outbox.unsent()}
        assert (balance.on_hand, balance.allocated) == (5, 2)

        keys = PostgresKeyStore(conn)
        claim = keys.claim("k-1", "h-1", now=T0, lease=LEASE)
        assert isinstance(claim, Claimed)
        done = Outcome(succeeded=True, body=b"done")
        keys.complete("k-1", claim.token, done, now=T0)
        assert keys.claim("k-1", "h-1", now=T0, lease=LEASE) == Replay("k-1", done)

        cursors = PostgresCursorStore(conn)
        assert cursors.advance("taobao:orders", None, "page-2")
        assert cursors.get("taobao:orders") == "page-2"
