"""dedupe: order fingerprints and idempotency-key claims, beside hand-written floors.

Fingerprints, one operation = one order's fingerprints
(``Fingerprinter.for_tests().fingerprints(order)``; three per order here:
``phone+skus``, ``address+skus`` and ``buyer+skus``):

- ``dedupe.fingerprint.repeating``: a stream in which 80% of the orders come
  from 2,000 earlier buyers (the same buyer id, phone text and address text
  as before, other SKUs) and 20% from new buyers, so the phone and address
  caches answer the repeats and parse the new ones (goal: within 2x of the
  floor, a ratio of at least 0.5);
- ``dedupe.fingerprint.new``: only new buyers; no phone or address repeats
  within the reach of the caches.

The orders are built once, untimed, from a seeded ``random.Random``: three
lines of distinct SKUs from a catalogue of 300, a Chinese mobile number
written in one of seven forms (``+86 138-0013-8000``, ``13800138000``,
``0086 138 0013 8000``, ``+8613800138000``, ...), a structured Chinese
address whose province and city are written with or without their 省 / 市 /
自治区 suffix and whose street sometimes has spaces or full-width digits, and
a buyer id on one of three channels. 40,000 orders have buyers, phones and
addresses of their own; ``new`` cycles through them in order, and
``repeating`` cycles through 200,000 slots in which each of them appears once
(at random places) among 160,000 draws from 8,000 orders of the 2,000 earlier
buyers. orderkit's caches are process-wide LRU caches (phones 32,768 entries,
addresses 8,192, SKUs 4,096; private functions ``_read``, ``_key`` and
``_fold_sku`` in ``orderkit.dedupe``): each figure's setup clears them, so
that a figure does not depend on which ran before it, then folds the
catalogue's SKUs and, for ``repeating``, one order of each earlier buyer (the
buyers are earlier: their parts are in the caches when the figure starts).
A new order comes back only after more distinct phones and addresses than the
caches hold have been looked up, and an LRU cache that is cycled through more
keys than it holds never hits: every new phone and address is parsed, however
long a figure runs.

The ``floor`` is the least code doing the same job, and it caches nothing.
The phone's non-digits are removed by a regex, a ``0086`` or ``86`` prefix
dropped and ``+86`` put before 11 digits starting with 1; the address is
NFKC-normalised as one string, its parts joined by spaces, and a regex drops
the spaces and any 省 / 市 / 自治区 before them; the SKUs are lower-cased and
paired with their quantities in a sorted tuple; then one keyed
``hashlib.blake2b`` (``digest_size=16``, copied from a keyed prototype, as
orderkit does) per kind of part hashes the kind, the part and the SKUs joined
by separators, in hex. No validation, no ``Fingerprint`` objects, no
canonical JSON, no regions, no masked numbers, extensions or landlines, no
merging of repeated SKUs, no addresses written in one string. On this data
it gives the same phone, address and SKU multiset as orderkit and as many
digests per order (checked in setup on a sample). Its phone and address
normalisation costs about 2 us an order, a third of its time; cached like
orderkit's it would cost about 0.4 us on a repeat, so the floor without a
cache is the lenient one for orderkit on the repeating stream, and it stays
the plain code that the figures compare orderkit's, caches included, with.

Key claims, one operation = one claim of a new key:

- ``dedupe.keystore.memory``: ``MemoryKeyStore.claim(key, request_hash,
  now=..., lease=...)``, 1,000 per call; floor: ``if key not in seen:
  seen.add(key)`` on a ``set``. The keys are 128,000 random UUIDs made in
  setup, each with the SHA-256 hex of itself as its request hash. When they
  run out, the store is replaced by a new one and the floor's set cleared,
  and they are used again; dropping the old store (about 5% of the store's
  time) and clearing the set (about 15% of the floor's) happen in the timed
  calls.
- ``dedupe.keystore.sqlite``: ``SqliteKeyStore(path).claim``, one
  ``BEGIN IMMEDIATE`` transaction per claim, 20 claims per call; floor: raw
  ``sqlite3``, ``INSERT OR IGNORE INTO keys (key, hash) VALUES (?, ?)`` and a
  check of ``rowcount``, one ``BEGIN IMMEDIATE ... COMMIT`` per claim, on a
  table ``keys (key TEXT PRIMARY KEY, hash TEXT NOT NULL)`` in a file with
  the store's pragmas (``use_wal``: WAL, ``synchronous=NORMAL``, 1 KiB
  pages, a 16,000-page WAL). Each
  figure starts from fresh files in a new temporary directory; the keys are
  the same UUIDs, with a suffix after their first use, so every claim is of a
  new key and the tables grow as the figure runs. Needs
  ``orderkit.adapters.sqlite``.

Goal for both: within 3x of the floor (a ratio of at least 0.33).

``dedupe.keystore.memory`` has a second baseline, ``least_store``: the least
any key store can do in Python, to show where the goal stands. It is the
same loop over the same keys calling ``claim(key, request_hash, now=...,
lease=...)`` on an object whose method does only what issue #4 asks of
every claim: it refuses a key that is not text of 1 to 255 characters (a
rejected request stores nothing), and keeps the request hash (to tell a
re-send from a conflict) with the claim's time and lease, with one ``in``
test and one dict insert. It answers one ``Claimed`` built in setup: no
other check, no token, no lease end, no lock, no undo journal. Its rate
against the floor's (``least_store`` value / ``floor`` value) is the best
ratio any store could reach.

The clock stands still (``now`` is one UTC ``pendulum.DateTime``, the lease
one minute).
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import hashlib
import importlib
import random
import re
import shutil
import sqlite3
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pendulum

from _harness import Figure
from orderkit.adapters._sqlite_session import use_wal
from orderkit.adapters.memory import MemoryKeyStore
from orderkit.dedupe import (
    Claimed,
    Fingerprinter,
    normalize_address,
    normalize_phone,
    normalize_sku,
    sku_multiset,
)
from orderkit.dedupe import _addresses as addresses
from orderkit.dedupe import _phones as phones
from orderkit.dedupe import _text as text
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine


SQLITE_MODULE = "orderkit.adapters.sqlite"

SEED = 20_261_111
FINGERPRINT_OPS = 100
NEW_ORDERS = 40_000  # more than the phone cache's 32,768 entries
REPEAT_BUYERS = 2_000
ORDERS_PER_REPEAT_BUYER = 4
STREAM = 200_000  # NEW_ORDERS each once, 80% repeat orders
SAMPLE = 400  # orders whose floor parts are checked against orderkit's
CATALOGUE = [f"SKU-{n:04d}" for n in range(300)]

KEYS = 128_000
MEMORY_OPS = 1_000
SQLITE_OPS = 20
NOW = pendulum.datetime(2026, 11, 11, 0, 5, tz="UTC")
LEASE = dt.timedelta(minutes=1)
MAX_KEY_LENGTH = 255  # issue #4: longer keys are refused

PLACED = pendulum.datetime(2026, 11, 11, 0, 5, tz="Asia/Shanghai")
PRICE = Money("99.00", "CNY")
CHANNELS = ("douyin", "mini_program", "tmall")
NAMES = ("王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强")
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139",
    "150", "151", "152", "155", "156", "157", "158", "159",
    "180", "181", "182", "185", "186", "187", "188", "189",
)  # fmt: skip
# Province (short form), its suffix, and cities with districts.
REGIONS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "广东",
        "省",
        (
            ("深圳", ("南山区", "福田区", "宝安区")),
            ("广州", ("天河区", "越秀区", "海珠区")),
            ("佛山", ("禅城区", "顺德区")),
        ),
    ),
    ("浙江", "省", (("杭州", ("西湖区", "余杭区", "滨江区")), ("宁波", ("鄞州区",)))),
    ("江苏", "省", (("南京", ("玄武区", "鼓楼区")), ("苏州", ("姑苏区", "吴中区")))),
    ("四川", "省", (("成都", ("锦江区", "武侯区")),)),
    ("湖北", "省", (("武汉", ("江汉区", "洪山区", "武昌区")),)),
    ("山东", "省", (("青岛", ("崂山区", "黄岛区")), ("济南", ("历下区",)))),
    ("湖南", "省", (("长沙", ("岳麓区", "芙蓉区")),)),
    ("福建", "省", (("厦门", ("思明区", "湖里区")), ("福州", ("鼓楼区",)))),
    ("内蒙古", "自治区", (("呼和浩特", ("新城区", "回民区")), ("包头", ("昆都仑区",)))),
    ("西藏", "自治区", (("拉萨", ("城关区",)),)),
)
ROADS = (
    "科技园路",
    "人民路",
    "中山路",
    "解放大道",
    "建设路",
    "文化路",
    "长江路",
    "新华街",
)
# Full-width digits (U+FF10 to U+FF19), as a Chinese input method types them.
FULL_WIDTH = {ord(d): ord(d) + 0xFEE0 for d in "0123456789"}
TEST_SECRET = b"orderkit tests: NOT a secret"  # Fingerprinter.for_tests()'s key


def _rng(salt: int) -> random.Random:
    return random.Random(SEED + salt)  # noqa: S311 - benchmark data, not a secret


# orders -----------------------------------------------------------------------


def _phone_text(digits: str, form: int) -> str:
    a, b, c = digits[:3], digits[3:7], digits[7:]
    forms = (
        f"+86 {a}-{b}-{c}",
        digits,
        f"0086 {a} {b} {c}",
        f"+86{digits}",
        f"{a} {b} {c}",
        f"0086{digits}",
        f"+86-{a}-{b}-{c}",
    )
    return forms[form % len(forms)]


class _Buyers:
    """Distinct buyers: each with its own id, phone number and address."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.numbers: set[str] = set()
        self.places: set[tuple[str, str, str, int, int, int]] = set()
        self.count = 0

    def _number(self) -> str:
        while True:
            digits = (
                self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            )
            if digits not in self.numbers:
                self.numbers.add(digits)
                return digits

    def _address(self) -> Address:
        rng = self.rng
        while True:
            province, suffix, cities = rng.choice(REGIONS)
            city, districts = rng.choice(cities)
            district = rng.choice(districts)
            road = rng.choice(ROADS)
            number, building, room = (
                rng.randrange(1, 999),
                rng.randrange(1, 40),
                rng.randrange(101, 3300),
            )
            place = (city, district, road, number, building, room)
            if place not in self.places:
                self.places.add(place)
                break
        match rng.randrange(3):
            case 0:
                street = f"{road}{number}号{building}栋{room}室"
            case 1:
                street = f"{road} {number} 号 {building} 栋 {room} 室"
            case _:
                street = f"{road}{number}号{building}栋{room}室".translate(FULL_WIDTH)
        return Address(
            "CN",
            province=province + (suffix if rng.random() < 0.5 else ""),
            city=city + ("市" if rng.random() < 0.5 else ""),
            district=district,
            street=street,
        )

    def new(self) -> tuple[str, Buyer, Address]:
        """A channel, a buyer and an address that no other buyer has."""
        self.count += 1
        rng = self.rng
        channel = rng.choice(CHANNELS)
        phone = _phone_text(self._number(), rng.randrange(7))
        buyer = Buyer(f"{channel[:2]}_{self.count:07d}", rng.choice(NAMES), phone)
        return channel, buyer, self._address()


def _order(rng: random.Random, number: int, who: tuple[str, Buyer, Address]) -> Order:
    channel, buyer, address = who
    skus = rng.sample(CATALOGUE, 3)
    return Order(
        order_id=f"O-{number:08d}",
        channel=channel,
        buyer=buyer,
        address=address,
        lines=[
            OrderLine(f"L{i}", sku, rng.randrange(1, 4), PRICE)
            for i, sku in enumerate(skus, start=1)
        ],
        placed_at=PLACED,
    )


class _Orders:
    """The two streams of orders, and the earlier buyers' first orders."""

    def __init__(self) -> None:
        rng = _rng(1)
        buyers = _Buyers(rng)
        earlier = [buyers.new() for _ in range(REPEAT_BUYERS)]
        repeats = [
            _order(rng, n, who)
            for n, who in enumerate(earlier * ORDERS_PER_REPEAT_BUYER)
        ]
        self.warm = repeats[:REPEAT_BUYERS]  # one order of each earlier buyer
        numbered = range(len(repeats), len(repeats) + NEW_ORDERS)
        self.new = [_order(rng, n, buyers.new()) for n in numbered]
        is_new = [True] * NEW_ORDERS + [False] * (STREAM - NEW_ORDERS)
        rng.shuffle(is_new)
        fresh = iter(self.new)
        self.repeating = [next(fresh) if x else rng.choice(repeats) for x in is_new]
        _check_floor(self.new[:SAMPLE] + repeats[:SAMPLE])


_orders: list[_Orders] = []


def _data() -> _Orders:
    if not _orders:
        _orders.append(_Orders())
    return _orders[0]


# the floor ----------------------------------------------------------------------

_NON_DIGITS = re.compile(r"\D")
# A space that joins two parts (or sits in the street), with the province,
# city or district suffix before it (a district's, not before a road word).
_FLOOR_SEPARATOR = re.compile(
    "(?:省|自治区|市|[区县旗](?= (?![路街道巷弄]|大道|大街)))? "
)
_FLOOR_HASHER = hashlib.blake2b(key=TEST_SECRET, digest_size=16)
_MOBILE_DIGITS = 11
_PREFIXED_DIGITS = 13


def floor_phone(raw: str) -> str | None:
    digits = _NON_DIGITS.sub("", raw)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == _PREFIXED_DIGITS:
        digits = digits[2:]
    if len(digits) == _MOBILE_DIGITS and digits[0] == "1":
        return "+86" + digits
    return None


def floor_address(address: Address) -> str:
    joined = f"{address.province} {address.city} {address.district} {address.street}"
    key = "CN:" + _FLOOR_SEPARATOR.sub("", unicodedata.normalize("NFKC", joined))
    # A room's final 室 is no part of orderkit's key ("1201室" is room 1201).
    return key[:-1] if key.endswith("室") and key[-2:-1].isdigit() else key


def floor_skus(lines: Sequence[OrderLine]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((line.sku.lower(), line.quantity) for line in lines))


def _floor_hash(kind: str, part: str, skus: str) -> str:
    hasher = _FLOOR_HASHER.copy()
    hasher.update(f"{kind}\x1f{part}\x1f{skus}".encode())
    return hasher.hexdigest()


def floor_fingerprints(order: Order) -> list[str]:
    skus = "\x1e".join(f"{sku}\x1f{n}" for sku, n in floor_skus(order.lines))
    found = []
    raw = order.buyer.phone
    phone = floor_phone(raw) if raw else None
    if phone is not None:
        found.append(_floor_hash("phone", phone, skus))
    found.append(_floor_hash("address", floor_address(order.address), skus))
    buyer = f"{order.channel}\x1f{order.buyer.buyer_id}"
    found.append(_floor_hash("buyer", buyer, skus))
    return found


def _check_floor(sample: Sequence[Order]) -> None:
    """The floor reads the sample as orderkit does, into as many digests."""
    fingerprinter = Fingerprinter.for_tests()
    for order in sample:
        assert order.buyer.phone is not None
        phone = normalize_phone(order.buyer.phone)
        assert floor_phone(order.buyer.phone) == phone, (order.buyer.phone, phone)
        key = normalize_address(order.address)
        assert floor_address(order.address) == key, (order.address, key)
        assert floor_skus(order.lines) == sku_multiset(order.lines), order.lines
        count = len(fingerprinter.fingerprints(order))
        assert len(floor_fingerprints(order)) == count == 3, order


# fingerprint figures ------------------------------------------------------------


class _Stream:
    """A fingerprinter and a cursor each for orderkit and the floor."""

    def __init__(self, orders: list[Order]) -> None:
        assert len(orders) % FINGERPRINT_OPS == 0
        self.orders = orders
        self.fingerprinter = Fingerprinter.for_tests()
        self.at = 0
        self.floor_at = 0


_streams: dict[str, _Stream] = {}


def _clear_caches() -> None:
    phones._read.cache_clear()  # noqa: SLF001 - the benchmark resets them
    addresses._key.cache_clear()  # noqa: SLF001
    addresses._head.cache_clear()  # noqa: SLF001
    text._fold_sku.cache_clear()  # noqa: SLF001


def _setup_stream(name: str) -> None:
    data = _data()
    stream = _Stream(data.repeating if name == "repeating" else data.new)
    _streams[name] = stream
    _clear_caches()
    for sku in CATALOGUE:
        normalize_sku(sku)
    if name == "repeating":
        for order in data.warm:
            stream.fingerprinter.fingerprints(order)
    gc.collect()


def _fingerprint(name: str) -> Callable[[], None]:
    def run() -> None:
        stream = _streams[name]
        fingerprints = stream.fingerprinter.fingerprints
        start = stream.at
        for order in stream.orders[start : start + FINGERPRINT_OPS]:
            fingerprints(order)
        stream.at = (start + FINGERPRINT_OPS) % len(stream.orders)

    run.__name__ = f"fingerprint_{name}"
    return run


def _floor_fingerprint(name: str) -> Callable[[], None]:
    def run() -> None:
        stream = _streams[name]
        start = stream.floor_at
        for order in stream.orders[start : start + FINGERPRINT_OPS]:
            floor_fingerprints(order)
        stream.floor_at = (start + FINGERPRINT_OPS) % len(stream.orders)

    run.__name__ = f"floor_fingerprint_{name}"
    return run


# key claims ---------------------------------------------------------------------


class _Keys:
    """Random UUID keys, and the SHA-256 hex of each as its request hash."""

    def __init__(self) -> None:
        rng = _rng(2)
        self.keys = [
            str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(KEYS)
        ]
        self.hashes = [hashlib.sha256(k.encode()).hexdigest() for k in self.keys]


_keys: list[_Keys] = []


def _key_data() -> _Keys:
    if not _keys:
        _keys.append(_Keys())
    return _keys[0]


class _LeastStore:
    """The least a key store can do: keep each new key's record in a dict."""

    def __init__(self, answer: Claimed) -> None:
        self.records: dict[str, tuple[str, pendulum.DateTime, dt.timedelta]] = {}
        self.answer = answer

    def claim(
        self,
        key: str,
        request_hash: str,
        *,
        now: pendulum.DateTime,
        lease: dt.timedelta,
    ) -> Claimed:
        if type(key) is not str or not 0 < len(key) <= MAX_KEY_LENGTH:
            raise ValueError(key)
        records = self.records
        if key in records:
            raise ValueError(key)
        records[key] = (request_hash, now, lease)
        return self.answer


_LEAST_ANSWER = Claimed("least", "token", NOW + LEASE)


class _Claimant:
    """A key store made by `make`, claiming the keys in turn, 1,000 per call.

    When the keys run out, the store is replaced by a new one and they are
    used again.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.store = make()
        self.at = 0

    def claim_next(self, keys: _Keys) -> None:
        start = self.at
        if start == KEYS:
            self.store = self.make()
            start = 0
        claim = self.store.claim
        end = start + MEMORY_OPS
        for key, request_hash in zip(
            keys.keys[start:end], keys.hashes[start:end], strict=True
        ):
            claimed = claim(key, request_hash, now=NOW, lease=LEASE)
            if not isinstance(claimed, Claimed):
                raise TypeError(f"{key}: {claimed!r}, not Claimed")
        self.at = end


class _Memory:
    def __init__(self) -> None:
        self.keys = _key_data()
        self.orderkit = _Claimant(MemoryKeyStore)
        self.least = _Claimant(lambda: _LeastStore(_LEAST_ANSWER))
        self.seen: set[str] = set()
        self.floor_at = 0


_memory: list[_Memory] = []


def _setup_memory() -> None:
    _memory.clear()
    gc.collect()
    _memory.append(_Memory())


def memory_claim() -> None:
    state = _memory[0]
    state.orderkit.claim_next(state.keys)


def least_store_claim() -> None:
    state = _memory[0]
    state.least.claim_next(state.keys)


def floor_memory_claim() -> None:
    state = _memory[0]
    start = state.floor_at
    if start == KEYS:
        state.seen.clear()
        start = 0
    seen = state.seen
    end = start + MEMORY_OPS
    for key in state.keys.keys[start:end]:
        if key not in seen:
            seen.add(key)
        else:
            raise ValueError(key)
    state.floor_at = end


class _Sqlite:
    """A `SqliteKeyStore` and a raw table, in a fresh temporary directory."""

    def __init__(self) -> None:
        module: Any = importlib.import_module(SQLITE_MODULE)
        self.keys = _key_data()
        self.directory = Path(tempfile.mkdtemp(prefix="orderkit-bench-"))
        self.store: Any = module.SqliteKeyStore(self.directory / "keys.db")
        self.raw = sqlite3.connect(self.directory / "raw.db", isolation_level=None)
        use_wal(self.raw, 5.0)  # the stores' own pragmas
        self.raw.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, hash TEXT NOT NULL)")
        self.cursor = self.raw.cursor()
        self.at = 0
        self.floor_at = 0

    def take(self, start: int) -> list[tuple[str, str]]:
        """The next SQLITE_OPS new keys from `start` on, with their hashes."""
        lap, offset = divmod(start, KEYS)
        keys = self.keys.keys[offset : offset + SQLITE_OPS]
        hashes = self.keys.hashes[offset : offset + SQLITE_OPS]
        if lap:
            keys = [f"{key}.{lap}" for key in keys]
        return list(zip(keys, hashes, strict=True))

    def close(self) -> None:
        self.raw.close()
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)


_sqlite: list[_Sqlite] = []


def _close_sqlite() -> None:
    while _sqlite:
        _sqlite.pop().close()


def _setup_sqlite() -> None:
    _memory.clear()
    _close_sqlite()
    gc.collect()
    _sqlite.append(_Sqlite())


atexit.register(_close_sqlite)

RAW_INSERT = "INSERT OR IGNORE INTO keys (key, hash) VALUES (?, ?)"


def sqlite_claim() -> None:
    bench = _sqlite[0]
    claim = bench.store.claim
    for key, request_hash in bench.take(bench.at):
        claimed = claim(key, request_hash, now=NOW, lease=LEASE)
        if not isinstance(claimed, Claimed):
            raise TypeError(f"{key}: {claimed!r}, not Claimed")
    bench.at += SQLITE_OPS


def raw_sqlite_claim() -> None:
    bench = _sqlite[0]
    execute = bench.cursor.execute
    cursor = bench.cursor
    for pair in bench.take(bench.floor_at):
        execute("BEGIN IMMEDIATE")
        execute(RAW_INSERT, pair)
        if cursor.rowcount != 1:
            raise ValueError(pair)
        execute("COMMIT")
    bench.floor_at += SQLITE_OPS


FIGURES: list[Figure] = [
    Figure(
        name="dedupe.fingerprint.repeating",
        unit="orders/s",
        run=_fingerprint("repeating"),
        ops_per_call=FINGERPRINT_OPS,
        baselines={"floor": _floor_fingerprint("repeating")},
        description=(
            "fingerprints of 3-line orders, 80% from 2,000 earlier buyers"
            " (goal: within 2x of floor)"
        ),
        setup=lambda: _setup_stream("repeating"),
    ),
    Figure(
        name="dedupe.fingerprint.new",
        unit="orders/s",
        run=_fingerprint("new"),
        ops_per_call=FINGERPRINT_OPS,
        baselines={"floor": _floor_fingerprint("new")},
        description="fingerprints of 3-line orders, every buyer new",
        setup=lambda: _setup_stream("new"),
    ),
    Figure(
        name="dedupe.keystore.memory",
        unit="claims/s",
        run=memory_claim,
        ops_per_call=MEMORY_OPS,
        baselines={"floor": floor_memory_claim, "least_store": least_store_claim},
        description="MemoryKeyStore.claim of a new key (goal: within 3x of floor)",
        setup=_setup_memory,
    ),
    Figure(
        name="dedupe.keystore.sqlite",
        unit="claims/s",
        run=sqlite_claim,
        ops_per_call=SQLITE_OPS,
        baselines={"floor": raw_sqlite_claim},
        requires=(SQLITE_MODULE,),
        description=(
            "SqliteKeyStore.claim of a new key, one transaction each"
            " (goal: within 3x of raw INSERT OR IGNORE)"
        ),
        setup=_setup_sqlite,
    ),
]
