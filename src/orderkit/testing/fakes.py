"""Fakes of the outside ports, for tests: payments, a carrier, a warehouse, a channel.

Each keeps what a real one would (captures, refunds, labels, pick tasks,
pushed parcels) in memory, honours the port's idempotency contract, and the
payment provider, the carrier and the warehouse count their effects per
key, so that a test can check that no capture, refund, label or pick task
happened twice, whatever crashed and was retried:

```python
payments = FakePayments(clock)
payments.capture("alipay-1", Money("398.00", "CNY"), key="capture:1")
assert max(payments.effects.values()) == 1
```

`FakeWarehouse` also plays the warehouse's side (`confirm` makes the
payload it would send), and `FakeChannel` is a feed a test publishes
records to. The fakes of the other ports are listed in `orderkit.testing`.
Wrap any of them with `orderkit.testing.faults.faulty` to make their calls
fail.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, final

import attrs
import pendulum

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    ConfigurationError,
    IdempotencyConflict,
    OrderkitError,
    RefundExceedsCapture,
    UnknownPayment,
    ValidationError,
)
from orderkit.integrations import (
    ChannelTransaction,
    Label,
    SettlementLine,
    TrackingEvent,
    TrackingStatus,
    TransactionKind,
)
from orderkit.money import Money
from orderkit.orders import Address
from orderkit.ports import Clock
from orderkit.testing._fake_channel import FakeChannel
from orderkit.testing._fake_warehouse import FakeWarehouse


__all__ = ["FakeCarrier", "FakeChannel", "FakePayments", "FakeWarehouse"]


@attrs.frozen(slots=True)
class _Request:
    """What a key was first used for: a repeat must ask the same."""

    kind: TransactionKind
    payment_id: str
    amount: Money


@final
class FakePayments:
    """A payment provider in memory that implements `orderkit.ports.Payments`.

    - `capture` takes any amount of any payment id (it keeps no
      authorisations), unless the payment id is in `declined`: then the
      transaction fails (`succeeded=False`) and moves no money.
    - `refund` sends money back against a payment's captures; more than
      was captured and not refunded raises `RefundExceedsCapture`, an
      unknown payment `UnknownPayment`, and nothing is stored. Refunds of a
      payment id in `refunds_declined` fail (`succeeded=False`).
    - Both are idempotent by `key`: a key used before returns its first
      transaction and moves no money; the same key for another request
      raises `IdempotencyConflict`.
    - `statement(day)` lists the day's successful transactions (UTC days),
      a capture under its payment id and a refund under the transaction id
      `refund` answered with (`ref-000002`), as a real provider's
      statement does; the services keep that id in the order's payment
      ledger (`Refund.provider_id`), so the two reconcile.
    - Transaction ids count up from 1 (`cap-000001`, `ref-000002`) after
      `id_prefix`: two providers given prefixes of their own (`w0-`,
      `w1-`, one per process sharing a database) never hand out the same
      refund id, so their statements, put together, are one provider's.
    - With a `journal` file, it is one provider for every process that
      names the file, and it outlives them: each transaction is appended
      to the file under an exclusive lock (POSIX `flock`), and every call
      reads what other processes appended first. So a test can kill a
      worker mid-saga, `recover` in a new process, and check that no money
      moved twice (`effects` counts every process's transactions).

    Attributes:
        effects: Per key, how many times money moved under it: a test
            asserts every count is at most 1.
        calls: Per key, how many calls were made with it (repeats included).

    Args:
        clock: Stamps the transactions.
        name: The provider's name, the channel of the transactions' keys.
        declined: Payment ids whose captures are declined.
        refunds_declined: Payment ids whose refunds are declined.
        id_prefix: Put before every transaction id it gives (none by default).
        journal: A file to keep the transactions in, shared with every
            process that names it (created if missing); `None` (the
            default) keeps them in this object only.

    Raises:
        ValidationError: `id_prefix` is not a string, or holds control
            characters.
        ConfigurationError: `journal` is given where there are no POSIX
            file locks (Windows), or it cannot be opened or read.

    .. versionadded:: 0.1.0
    """

    def __init__(  # noqa: PLR0913 - the clock, then keyword-only settings
        self,
        clock: Clock,
        *,
        name: str = "fakepay",
        declined: Iterable[str] = (),
        refunds_declined: Iterable[str] = (),
        id_prefix: str = "",
        journal: str | os.PathLike[str] | None = None,
    ) -> None:
        """Create a provider with no transactions, or those of `journal`."""
        self._clock = clock
        self._name = name
        self._id_prefix = _check_prefix(id_prefix)
        self._declined = frozenset(declined)
        self._refunds_declined = frozenset(refunds_declined)
        self._lock = threading.Lock()
        self._first: dict[str, tuple[_Request, ChannelTransaction]] = {}
        self._transactions: list[ChannelTransaction] = []
        self.effects: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._journal = None if journal is None else _Journal(Path(journal))
        with self._shared():
            pass

    @property
    def transactions(self) -> tuple[ChannelTransaction, ...]:
        """Every transaction made, in order, failed ones included."""
        with self._shared():
            return tuple(self._transactions)

    def captured(self, payment_id: str) -> Money | None:
        """What was captured of `payment_id` and not refunded; `None` if nothing."""
        with self._shared():
            return self._net(payment_id)

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        """Capture `amount` of `payment_id`, once per `key`.

        Raises:
            IdempotencyConflict: `key` was used for another request.
        """
        request = _Request(TransactionKind.CAPTURE, payment_id, amount)
        with self._shared():
            first = self._repeat(key, request)
            if first is not None:
                return first
            succeeded = payment_id not in self._declined
            return self._record(key, request, succeeded=succeeded)

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        """Send `amount` back against `payment_id`, once per `key`.

        Raises:
            IdempotencyConflict: `key` was used for another request.
            UnknownPayment: Nothing was captured of `payment_id`.
            RefundExceedsCapture: `amount` is more than what is left of it.
            ValidationError: `reason` is empty.
        """
        if not reason.strip():
            raise ValidationError("reason", reason, "must be a non-empty string")
        request = _Request(TransactionKind.REFUND, payment_id, amount)
        with self._shared():
            first = self._repeat(key, request)
            if first is not None:
                return first
            left = self._net(payment_id)
            if left is None:
                raise UnknownPayment("payment_id", payment_id, "nothing was captured")
            if amount > left:
                raise RefundExceedsCapture(
                    "amount", amount, f"payment {payment_id!r} has {left} left"
                )
            succeeded = payment_id not in self._refunds_declined
            return self._record(key, request, succeeded=succeeded)

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        """The day's successful transactions, settled at once with no fee.

        A capture is named by its payment id, and a refund by the id the
        provider gave it (the `transaction_id` `refund` returned), not the
        merchant's key it was asked under: what a payment ledger records as
        the refund's `provider_id`, which
        `orderkit.services.reconcile_payments` matches it by. No line names
        an order: the provider knows payments only.
        """
        with self._shared():
            done = [
                (request, t)
                for request, t in self._first.values()
                if t.succeeded and t.created_at.date() == day
            ]
        return [
            SettlementLine(
                transaction_id=(
                    request.payment_id
                    if request.kind is TransactionKind.CAPTURE
                    else t.transaction_id
                ),
                kind=t.kind,
                amount=t.amount,
                fee=Money(0, t.amount.currency),
                settled_at=t.created_at,
            )
            for request, t in done
        ]

    @contextlib.contextmanager
    def _shared(self) -> Iterator[None]:
        """Hold the provider for one call, having read what others appended.

        This process's threads wait on a lock; with a journal, every process
        waits on the file's.
        """
        with self._lock:
            if self._journal is None:
                yield
                return
            with self._journal.locked() as entries:
                for key, request, transaction in entries:
                    self._keep(key, request, transaction)
                yield

    def _keep(
        self, key: str, request: _Request, transaction: ChannelTransaction
    ) -> None:
        self._first[key] = (request, transaction)
        self._transactions.append(transaction)
        if transaction.succeeded:
            self.effects[key] += 1

    def _repeat(self, key: str, request: _Request) -> ChannelTransaction | None:
        self.calls[key] += 1
        first = self._first.get(key)
        if first is None:
            return None
        if first[0] != request:
            raise IdempotencyConflict(key)
        return first[1]

    def _record(
        self, key: str, request: _Request, *, succeeded: bool
    ) -> ChannelTransaction:
        prefix = "cap" if request.kind is TransactionKind.CAPTURE else "ref"
        transaction = ChannelTransaction(
            transaction_id=(
                f"{self._id_prefix}{prefix}-{len(self._transactions) + 1:06d}"
            ),
            # The provider knows payments, not orders: it reports the payment.
            order_id=request.payment_id,
            key=IdempotencyKey(self._name, str(request.kind), request.payment_id, key),
            kind=request.kind,
            amount=request.amount,
            succeeded=succeeded,
            created_at=self._clock.now(),
            parent_id=request.payment_id,
        )
        if self._journal is not None:
            self._journal.append(key, request, transaction)
        self._keep(key, request, transaction)
        return transaction

    def _net(self, payment_id: str) -> Money | None:
        moved = [
            t for t in self._transactions if t.succeeded and t.parent_id == payment_id
        ]
        captured = [t.amount for t in moved if t.kind is TransactionKind.CAPTURE]
        if not captured:
            return None
        refunded = [t.amount for t in moved if t.kind is TransactionKind.REFUND]
        return sum(captured[1:], captured[0]) - sum(
            refunded, Money(0, captured[0].currency)
        )


@final
class _Journal:
    """`FakePayments`' transactions in a file: one JSON object per line."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._read = 0
        self._file: IO[bytes] | None = None
        try:
            import fcntl  # noqa: PLC0415 - POSIX only: asked for with a journal
        except ImportError:
            raise ConfigurationError(
                "journal", "needs POSIX file locks (fcntl)", value=str(path)
            ) from None
        self._flock = fcntl.flock
        self._exclusive = fcntl.LOCK_EX
        self._unlock = fcntl.LOCK_UN

    @contextlib.contextmanager
    def locked(self) -> Iterator[list[tuple[str, _Request, ChannelTransaction]]]:
        """The lock on the file, and the entries appended since the last read."""
        try:
            with self._path.open("a+b") as file:
                self._flock(file.fileno(), self._exclusive)
                try:
                    file.seek(self._read)
                    data = file.read()
                    # A last line without its end was cut off by a process
                    # that died writing it: no transaction, and cut away
                    # before the next one is appended.
                    whole = data[: data.rfind(b"\n") + 1]
                    entries = [self._parsed(line) for line in whole.splitlines()]
                    self._read += len(whole)
                    self._file = file
                    yield entries
                    file.flush()
                finally:
                    self._file = None
                    self._flock(file.fileno(), self._unlock)
        except OSError as error:
            raise ConfigurationError(
                "journal", f"cannot be used: {error.strerror}", value=str(self._path)
            ) from error

    def _parsed(self, line: bytes) -> tuple[str, _Request, ChannelTransaction]:
        try:
            return _entry(line)
        except (ValueError, KeyError, TypeError, OrderkitError) as error:
            raise ConfigurationError(
                "journal",
                f"holds a line that is no transaction ({error!r:.80})",
                value=str(self._path),
            ) from error

    def append(
        self, key: str, request: _Request, transaction: ChannelTransaction
    ) -> None:
        """Write one transaction at the end of the file, while it is locked."""
        assert self._file is not None  # noqa: S101 - only inside `locked`
        self._file.truncate(self._read)
        entry = {
            "key": key,
            "kind": str(request.kind),
            "payment_id": request.payment_id,
            "amount": str(request.amount.amount),
            "currency": request.amount.currency.code,
            "transaction_id": transaction.transaction_id,
            "channel": transaction.key.channel,
            "succeeded": transaction.succeeded,
            "created_at": transaction.created_at.isoformat(),
        }
        line = json.dumps(entry, ensure_ascii=False).encode() + b"\n"
        self._file.seek(0, os.SEEK_END)
        self._file.write(line)
        # Its own line is read already: the next read starts after it.
        self._read = self._file.tell()


def _entry(line: bytes) -> tuple[str, _Request, ChannelTransaction]:
    said = json.loads(line)
    kind = TransactionKind(said["kind"])
    amount = Money(said["amount"], said["currency"])
    payment_id = said["payment_id"]
    created = pendulum.parse(said["created_at"])
    assert isinstance(created, pendulum.DateTime)  # noqa: S101 - written by append
    transaction = ChannelTransaction(
        transaction_id=said["transaction_id"],
        order_id=payment_id,
        key=IdempotencyKey(said["channel"], str(kind), payment_id, said["key"]),
        kind=kind,
        amount=amount,
        succeeded=said["succeeded"],
        created_at=created,
        parent_id=payment_id,
    )
    return said["key"], _Request(kind, payment_id, amount), transaction


def _check_prefix(value: object) -> str:
    if not isinstance(value, str) or not value.isprintable():
        raise ValidationError(
            "id_prefix", value, "must be a string without control characters"
        )
    return value


@final
class FakeCarrier:
    """A carrier in memory that implements `orderkit.ports.Carrier`.

    - `create_label` books one parcel per shipment id: asking again returns
      the same label (idempotent by shipment id); the same shipment id for
      another address raises `IdempotencyConflict`.
    - `tracking` returns the scans `scan` added for a parcel, oldest first.

    Attributes:
        effects: Per shipment id, how many labels were booked: a test
            asserts every count is at most 1.
        calls: Per shipment id, how many calls were made (repeats included).

    Args:
        clock: Stamps the labels and scans.
        code: The carrier's code (`"SF"`), the prefix of tracking numbers.

    .. versionadded:: 0.1.0
    """

    def __init__(self, clock: Clock, *, code: str = "SF") -> None:
        """Create a carrier with no parcels."""
        self._clock = clock
        self._code = code
        self._lock = threading.Lock()
        self._labels: dict[str, tuple[Address, Label]] = {}
        self._scans: dict[str, list[TrackingEvent]] = {}
        self.effects: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    @property
    def labels(self) -> dict[str, Label]:
        """Every label booked, by shipment id."""
        with self._lock:
            return {sid: label for sid, (_, label) in self._labels.items()}

    def create_label(
        self, shipment_id: str, address: Address, *, parcels: int = 1
    ) -> Label:
        """Book the shipment, once per shipment id, and return its label.

        Raises:
            IdempotencyConflict: The shipment id was booked for another address.
            ValidationError: `parcels` is not a positive integer.
        """
        if parcels < 1:
            raise ValidationError("parcels", parcels, "must be a positive integer")
        with self._lock:
            self.calls[shipment_id] += 1
            booked = self._labels.get(shipment_id)
            if booked is not None:
                if booked[0] != address:
                    raise IdempotencyConflict(f"label:{shipment_id}")
                return booked[1]
            number = f"{self._code}{len(self._labels) + 1:010d}"
            label = Label(
                carrier=self._code,
                tracking_number=number,
                document=f"https://labels.example/{number}.pdf",
                created_at=self._clock.now(),
            )
            self._labels[shipment_id] = (address, label)
            self._scans[number] = []
            self.effects[shipment_id] += 1
            return label

    def scan(
        self, tracking_number: str, status: TrackingStatus, *, description: str = ""
    ) -> TrackingEvent:
        """Add a scan of a parcel, now; `tracking` reports it.

        Raises:
            ValidationError: No parcel has that tracking number.
        """
        with self._lock:
            scans = self._parcel(tracking_number)
            event = TrackingEvent(
                carrier=self._code,
                tracking_number=tracking_number,
                status=status,
                at=self._clock.now(),
                key=IdempotencyKey(
                    self._code, "scan", tracking_number, str(len(scans) + 1)
                ),
                carrier_code=str(status).upper(),
                description=description,
            )
            scans.append(event)
            return event

    def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:
        """Return the parcel's scans, oldest first.

        Raises:
            ValidationError: No parcel has that tracking number.
        """
        with self._lock:
            return tuple(self._parcel(tracking_number))

    def _parcel(self, tracking_number: str) -> list[TrackingEvent]:
        scans = self._scans.get(tracking_number)
        if scans is None:
            raise ValidationError("tracking_number", tracking_number, "no such parcel")
        return scans
