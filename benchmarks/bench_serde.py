"""serde: a ten-line order to and from JSON bytes, beside pydantic v2.

One operation is one order written (``dumps``) or read (``loads``) by a
converter from ``orderkit.serialization.make_converter()``:

- ``serde.dumps`` / ``serde.loads``: JSON by orjson (the ``fast`` extra);
- ``serde.dumps_stdlib`` / ``serde.loads_stdlib``: JSON by the standard
  library (``make_converter(json="stdlib")``).

Reading builds every value through orderkit's constructors: the currency is
looked up, every amount is checked for floats and decimal places, every
string and quantity is validated, timestamps are converted to UTC
``pendulum.DateTime``.

The ``pydantic`` baseline is a set of pydantic v2 models of the same shape
(lines with SKU, quantity and a ``Decimal`` unit price with its currency,
buyer, address, aware timestamps, a status enum, payments, shipments and
idempotency keys) reading and writing the same document with
``model_validate_json`` and ``model_dump_json``: validation in Rust, and no
rules beyond the types.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import pendulum
from pydantic import AwareDatetime, BaseModel

from _harness import Figure
from orderkit import IdempotencyKey, Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.serialization import make_converter


PLACED = pendulum.datetime(2026, 11, 11, 0, 5, 12, tz="Asia/Shanghai")
SKUS = [
    ("RETRO-CLOCK", "复古闹钟", "199.00"),
    ("VELVET-LAMP", "丝绒台灯", "89.50"),
    ("TEAK-STOOL", "柚木凳", "329.00"),
    ("JADE-TEAPOT", "玉石茶壶", "1288.00"),
    ("SILK-SCARF", "真丝围巾", "158.80"),
    ("BAMBOO-MAT", "竹席", "76.30"),
    ("CLAY-VASE", "陶土花瓶", "45.90"),
    ("PAPER-LANTERN", "纸灯笼", "12.50"),
    ("BRASS-BELL", "黄铜铃", "33.00"),
    ("INK-STONE", "砚台", "420.00"),
]
ORDER = Order(
    order_id="DY-1001",
    channel="douyin",
    buyer=Buyer("buyer-42", "李雷", "138****8000", "lilei@example.com"),
    address=Address(
        "CN",
        "北京市",
        "北京市",
        "朝阳区",
        "建国路 88 号",
        "100022",
        "韩梅梅",
        "13812348000",
    ),
    lines=[
        OrderLine(f"L{n}", sku, n, Money(price, "CNY"), title)
        for n, (sku, title, price) in enumerate(SKUS, start=1)
    ],
    placed_at=PLACED,
    status=OrderStatus.PAID,
    version=2,
    pay_by=PLACED.add(minutes=30),
    payments=[Payment("PAY-1", Money("2672.80", "CNY"), PLACED.add(minutes=3))],
    applied_keys=[
        IdempotencyKey("douyin", "trade.created", "DY-1001", "evt-7000"),
        IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001"),
    ],
)

FAST = make_converter()
STDLIB = make_converter(json="stdlib")
DOCUMENT = STDLIB.dumps(ORDER)


class Status(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PICKING = "picking"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class MoneyModel(BaseModel):
    amount: Decimal
    currency: str


class BuyerModel(BaseModel):
    buyer_id: str
    name: str = ""
    phone: str | None = None
    email: str | None = None


class AddressModel(BaseModel):
    country: str
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    postcode: str = ""
    recipient: str = ""
    phone: str | None = None


class LineModel(BaseModel):
    line_id: str
    sku: str
    quantity: int
    unit_price: MoneyModel
    title: str = ""


class PaymentModel(BaseModel):
    payment_id: str
    amount: MoneyModel
    captured_at: AwareDatetime


class ShipmentLineModel(BaseModel):
    line_id: str
    quantity: int


class ShipmentModel(BaseModel):
    shipment_id: str
    lines: list[ShipmentLineModel]
    carrier: str
    tracking_number: str
    shipped_at: AwareDatetime
    status: str = "shipped"


class KeyModel(BaseModel):
    channel: str
    event_type: str
    object_id: str
    event_id: str


class OrderModel(BaseModel):
    order_id: str
    channel: str
    buyer: BuyerModel
    address: AddressModel
    lines: list[LineModel]
    placed_at: AwareDatetime
    status: Status = Status.PENDING_PAYMENT
    version: int = 1
    pay_by: AwareDatetime | None = None
    payments: list[PaymentModel] = []
    shipments: list[ShipmentModel] = []
    cancel_reason: str | None = None
    applied_keys: list[KeyModel] = []
    address_changed_at: AwareDatetime | None = None


MODEL = OrderModel.model_validate_json(DOCUMENT)


def _check() -> None:
    # Every subject reads back what it wrote, and both sides see one document.
    for converter in (FAST, STDLIB):
        if converter.loads(converter.dumps(ORDER), Order) != ORDER:
            raise AssertionError(f"{converter.json_backend}: the order changed")
    if OrderModel.model_validate_json(MODEL.model_dump_json()) != MODEL:
        raise AssertionError("pydantic: the order changed")
    if len(MODEL.lines) != len(ORDER.lines) or MODEL.lines[3].unit_price.amount != (
        ORDER.lines[3].unit_price.amount
    ):
        raise AssertionError("pydantic read another order")


_check()


def dumps() -> bytes:
    return FAST.dumps(ORDER)


def loads() -> Order:
    return FAST.loads(DOCUMENT, Order)


def dumps_stdlib() -> bytes:
    return STDLIB.dumps(ORDER)


def loads_stdlib() -> Order:
    return STDLIB.loads(DOCUMENT, Order)


def pydantic_dumps() -> str:
    return MODEL.model_dump_json()


def pydantic_loads() -> OrderModel:
    return OrderModel.model_validate_json(DOCUMENT)


FIGURES = [
    Figure(
        name="serde.dumps",
        unit="ops/s",
        run=dumps,
        ops_per_call=1,
        baselines={"pydantic": pydantic_dumps},
        requires=("orjson",),
        description="a ten-line order to JSON bytes, by orjson",
    ),
    Figure(
        name="serde.loads",
        unit="ops/s",
        run=loads,
        ops_per_call=1,
        baselines={"pydantic": pydantic_loads},
        requires=("orjson",),
        description="a ten-line order from JSON bytes, by orjson",
    ),
    Figure(
        name="serde.dumps_stdlib",
        unit="ops/s",
        run=dumps_stdlib,
        ops_per_call=1,
        baselines={"pydantic": pydantic_dumps},
        description="a ten-line order to JSON bytes, by the standard library",
    ),
    Figure(
        name="serde.loads_stdlib",
        unit="ops/s",
        run=loads_stdlib,
        ops_per_call=1,
        baselines={"pydantic": pydantic_loads},
        description="a ten-line order from JSON bytes, by the standard library",
    ),
]
