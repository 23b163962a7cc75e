"""One ledger law run: each step of a `LedgerOperation` list, checked as it goes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from orderkit.errors import HoldNotLive, InsufficientStock, UnknownLocation, UnknownSku
from orderkit.inventory import HoldState, Receipt
from orderkit.services import Resolution
from orderkit.testing._laws import LawBroken, LedgerLaw
from orderkit.testing._ledger_model import TTL, Done, HeldModel, LedgerModel, Row
from orderkit.testing._ledger_ops import LedgerAction, LedgerOperation


_A = LedgerAction
# The law a step answers for when it fails in a way nobody expected.
_LAW_OF = {
    _A.RECEIVE: LedgerLaw.CONSERVATION,
    _A.STOCKTAKE: LedgerLaw.CONSERVATION,
    _A.SHIP: LedgerLaw.CONSERVATION,
    _A.UNALLOCATE: LedgerLaw.CONSERVATION,
    _A.WAIT: LedgerLaw.CONSERVATION,
    _A.TRANSFER: LedgerLaw.NO_OVERSELL,
    _A.RESERVE: LedgerLaw.NO_OVERSELL,
    _A.EXTEND: LedgerLaw.HOLDS_RESOLVE_ONCE,
    _A.COMMIT: LedgerLaw.HOLDS_RESOLVE_ONCE,
    _A.RELEASE: LedgerLaw.HOLDS_RESOLVE_ONCE,
    _A.SWEEP: LedgerLaw.HOLDS_RESOLVE_ONCE,
    _A.REPEAT: LedgerLaw.IDEMPOTENT_KEYS,
}


class LedgerRun(LedgerModel):
    """Runs the steps on the ledger, predicting each outcome with the model."""

    # driving

    def steps(self, operations: Sequence[LedgerOperation]) -> None:
        for op in operations:
            self.history.append(str(op))
            try:
                getattr(self, f"_{op.action}")(op)
            except LawBroken:
                raise
            except Exception as error:
                raise self.broken(
                    _LAW_OF[op.action], f"{op} raised {error!r}"
                ) from error
            try:
                self.check()
            except LawBroken:
                raise
            except Exception as error:
                raise self.broken(
                    _LAW_OF[op.action], f"reading back after {op} raised {error!r}"
                ) from error

    def did(
        self, op: LedgerOperation, run: Callable[[], object], first: object
    ) -> None:
        """Record a step that wrote, for a later `REPEAT` to run again."""
        self.done.append(Done(str(op), run, first, len(self.history)))

    # steps

    def _receive(self, op: LedgerOperation) -> None:
        key, row = self.key(), (op.sku, op.location)

        def run() -> Receipt:
            return self.ledger.receive(op.sku, op.location, op.quantity, key=key)

        self.did(op, run, run())
        self.on_hand[row] = self.on_hand.get(row, 0) + op.quantity

    def _stocktake(self, op: LedgerOperation) -> None:
        key = self.key()

        def run() -> Receipt:
            return self.ledger.adjust(
                op.sku, op.location, counted=op.quantity, reason="count", key=key
            )

        self.did(op, run, run())
        self.on_hand[op.sku, op.location] = op.quantity

    def _transfer(self, op: LedgerOperation) -> None:
        key, source = self.key(), (op.sku, op.location)
        law = LedgerLaw.NO_OVERSELL
        if self.unknown(source):
            self.expect_unknown(law, op)
            return
        can = self.available(source)
        short = (
            [f"{op.sku}@{op.location} had {can} available"] if can < op.quantity else []
        )

        def run() -> Receipt:
            return self.ledger.transfer(
                op.sku, op.location, op.target, op.quantity, key=key
            )

        try:
            first = run()
        except InsufficientStock as error:
            self.refused(law, op, error, short)
            return
        self.granted(law, op, short)
        self.did(op, run, first)
        self.on_hand[source] -= op.quantity
        target = (op.sku, op.target)
        self.on_hand[target] = self.on_hand.get(target, 0) + op.quantity

    def _reserve(self, op: LedgerOperation) -> None:
        key, law = self.key(), LedgerLaw.NO_OVERSELL
        demand: dict[Row, int] = {}
        for sku, location, quantity in op.lines:
            demand[sku, location] = demand.get((sku, location), 0) + quantity
        if any(self.unknown(row) for row in demand):
            self.expect_unknown(law, op)
            return
        mine = [
            h
            for h in self.holds
            if h.owner == op.owner and h.row in demand and self.live(h)
        ]
        short = []
        for row, quantity in demand.items():
            can = self.available(row) + sum(h.quantity for h in mine if h.row == row)
            if can < quantity:
                short.append(f"{row[0]}@{row[1]} had {can} available")

        def run() -> Receipt:
            return self.ledger.reserve(op.owner, op.lines, key=key)

        try:
            first = run()
        except InsufficientStock as error:
            self.refused(law, op, error, short)
            return
        self.granted(law, op, short)
        self.did(op, run, first)
        for h in mine:
            h.state = HoldState.RELEASED
        made = {
            (h.sku, h.location): h.hold_id
            for h in first.holds
            if h.state is HoldState.LIVE
        }
        for row, quantity in demand.items():
            if row not in made:
                raise self.broken(law, f"{op} made no hold of {row[0]}@{row[1]}")
            expiry = self.now() + TTL
            self.holds.append(HeldModel(made[row], op.owner, row, quantity, expiry))

    def expect_unknown(self, law: LedgerLaw, op: LedgerOperation) -> None:
        try:
            if op.action is _A.TRANSFER:
                self.ledger.transfer(op.sku, op.location, op.target, op.quantity)
            else:
                self.ledger.reserve(op.owner, op.lines)
        except (UnknownSku, UnknownLocation):
            return
        raise self.broken(law, f"{op} was granted on stock never received")

    def _extend(self, op: LedgerOperation) -> None:
        n = self.pick(self.holds, op)
        if n is None:
            return
        hold, key = self.holds[n], self.key()
        minutes = dt.timedelta(minutes=op.minutes)
        law = LedgerLaw.HOLDS_RESOLVE_ONCE
        if not self.live(hold):
            try:
                self.ledger.extend(hold.hold_id, minutes, key=key)
            except HoldNotLive:
                return
            raise self.broken(law, f"{op} extended {hold.hold_id}, which is not live")

        def run() -> object:
            return self.ledger.extend(hold.hold_id, minutes, key=key)

        self.did(op, run, run())
        hold.expires_at = max(hold.expires_at, self.now() + minutes)

    def _commit(self, op: LedgerOperation) -> None:
        n = self.pick(self.holds, op)
        if n is None:
            return
        hold, key = self.holds[n], self.key()
        quantity = min(op.quantity, hold.quantity) or None
        law = LedgerLaw.HOLDS_RESOLVE_ONCE

        def run() -> Resolution:
            return self.ledger.commit(hold.hold_id, quantity, key=key)

        if not self.live(hold) and hold.state is not HoldState.COMMITTED:
            try:
                run()
            except HoldNotLive:
                return
            raise self.broken(law, f"{op} committed {hold.hold_id}, which is not live")
        outcome = run()
        if outcome.changed != self.live(hold):
            raise self.broken(law, f"{op} said changed={outcome.changed}")
        if outcome.changed:
            self.did(op, run, outcome)
            hold.state = HoldState.COMMITTED
            owed = (hold.owner, hold.row)
            self.owed[owed] = self.owed.get(owed, 0) + (quantity or hold.quantity)

    def _release(self, op: LedgerOperation) -> None:
        n = self.pick(self.holds, op)
        if n is None:
            return
        hold, key = self.holds[n], self.key()

        def run() -> Resolution:
            return self.ledger.release(hold.hold_id, key=key)

        outcome = run()
        if outcome.changed != self.live(hold):
            raise self.broken(
                LedgerLaw.HOLDS_RESOLVE_ONCE,
                f"{op} said changed={outcome.changed} of a hold that was "
                f"{'live' if self.live(hold) else 'resolved or expired'}",
            )
        if outcome.changed:
            self.did(op, run, outcome)
            hold.state = HoldState.RELEASED

    def _ship(self, op: LedgerOperation) -> None:
        self.out_of_allocation(op, shipping=True)

    def _unallocate(self, op: LedgerOperation) -> None:
        self.out_of_allocation(op, shipping=False)

    def out_of_allocation(self, op: LedgerOperation, *, shipping: bool) -> None:
        owing = sorted(k for k, q in self.owed.items() if q > 0)
        n = self.pick(owing, op)
        if n is None:
            return
        (owner, row), key = owing[n], self.key()
        lines = [(row[0], row[1], op.quantity)]
        have, on_hand = self.owed[owing[n]], self.on_hand.get(row, 0)
        short = [f"{owner} had {have} committed"] if have < op.quantity else []
        if shipping and on_hand < op.quantity:
            short.append(f"{row[0]}@{row[1]} had {on_hand} on hand")
        move = self.ledger.ship if shipping else self.ledger.unallocate

        def run() -> Receipt:
            return move(owner, lines, key=key)

        law = LedgerLaw.CONSERVATION
        try:
            first = run()
        except InsufficientStock as error:
            self.refused(law, op, error, short)
            return
        self.granted(law, op, short)
        self.did(op, run, first)
        self.owed[owner, row] -= op.quantity
        if shipping:
            self.on_hand[row] -= op.quantity

    def _sweep(self, _op: LedgerOperation) -> None:
        swept = self.ledger.expire_due()
        due = {
            h.hold_id: h
            for h in self.holds
            if h.state is HoldState.LIVE and h.expires_at <= self.now()
        }
        for movement in swept:
            if movement.hold_id not in due:
                raise self.broken(
                    LedgerLaw.HOLDS_RESOLVE_ONCE,
                    f"the sweep expired {movement.hold_id}, which was not a live "
                    "hold past its expiry",
                )
        for hold in due.values():
            hold.state = HoldState.EXPIRED

    def _wait(self, op: LedgerOperation) -> None:
        self.clock.advance(minutes=op.minutes)

    def _repeat(self, op: LedgerOperation) -> None:
        n = self.pick(self.done, op)
        if n is None:
            return
        done = self.done[n]
        # Say which step it repeats: `#64` alone means nothing to a reader.
        self.history[-1] = f"{op} (step {done.step}: {done.label})"
        law = LedgerLaw.IDEMPOTENT_KEYS
        before = self.snapshot()
        again = done.again()
        if isinstance(again, Receipt):
            first = done.first
            assert isinstance(first, Receipt)  # noqa: S101 - it ran the same call
            if not again.replayed or again.movements != first.movements:
                raise self.broken(
                    law, f"{done.label} again under its key was not its first receipt"
                )
        if isinstance(again, Resolution) and again.changed:
            raise self.broken(law, f"{done.label} again under its key changed a hold")
        if self.snapshot() != before:
            raise self.broken(
                law, f"{done.label} again under its key changed the ledger"
            )
