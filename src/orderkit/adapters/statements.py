"""Payment providers' CSV bills, read into canonical settlement lines.

WeChat Pay and Alipay let a merchant download the day's transactions as a
CSV bill. Neither is a plain CSV file: both are GBK-encoded; WeChat Pay
prefixes every data cell with a backtick (`` `4200001234...``) and Alipay
pads them with a tab, so that spreadsheet programs keep long ids as text;
and both wrap the data in title rows before the column header and summary
rows after it. `read_wechat_bill` and `read_alipay_bill` find the data by
its column names, read every row exactly (amounts as `Decimal` text, the
bills' naive times in the providers' zone, Asia/Shanghai), and return the
`SettlementLine`s with a `MalformedRow`, line number included, for each row
they could not read, so that one bad row never stops the rest of the bill
from being reconciled (`orderkit.services.reconcile_payments`).

A file that is not such a bill at all (no column header, a missing column,
a column named twice, or a bill cut short before its summary) is refused
with a `StructureError`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable
from typing import Final, final

import attrs
import pendulum

from orderkit._validate import as_tuple, count, plain_text
from orderkit.errors import StructureError, UnknownCurrency, ValidationError
from orderkit.integrations import (
    SettlementLine,
    TransactionKind,
    read_instant,
    read_money,
    read_signed_money,
)
from orderkit.integrations._reading import zone_named
from orderkit.money import Currency, Money


__all__ = [
    "MalformedRow",
    "StatementRead",
    "read_alipay_bill",
    "read_wechat_bill",
]

# Both providers write local times without an offset, in China Standard Time.
_BILL_ZONE: Final = "Asia/Shanghai"


@final
@attrs.frozen(slots=True, kw_only=True)
class MalformedRow:
    """A data row of a bill that could not be read.

    Attributes:
        line: Its line number in the file, from 1.
        field: The column that could not be read; empty for the whole row
            (wrong number of cells, bytes that are not GBK).
        value: The cell as written (the row, for the whole row).
        problem: What was wrong with it.

    .. versionadded:: 0.1.0
    """

    line: int = attrs.field(validator=count("line"))
    field: str = attrs.field(validator=plain_text("field"))
    value: str = attrs.field(validator=plain_text("value"))
    problem: str = attrs.field(validator=plain_text("problem"))


def _lines(value: Iterable[SettlementLine]) -> tuple[SettlementLine, ...]:
    return as_tuple(value, "lines", SettlementLine)


def _rejected(value: Iterable[MalformedRow]) -> tuple[MalformedRow, ...]:
    return as_tuple(value, "rejected", MalformedRow)


def _numbers(value: Iterable[int]) -> tuple[int, ...]:
    numbers = as_tuple(value, "numbers", int)
    for i, number in enumerate(numbers):
        if isinstance(number, bool) or number < 1:
            raise ValidationError(f"numbers[{i}]", number, "must be a line, from 1")
    return numbers


@final
@attrs.frozen(slots=True, kw_only=True)
class StatementRead:
    """What a bill reader made of a bill.

    Attributes:
        provider: Whose bill it is (`"wechat"`, `"alipay"`).
        lines: The rows read, in the bill's order.
        rejected: The rows that could not be read, or that state no settled
            money (a WeChat Pay refund not `SUCCESS`), in the bill's order.
        numbers: The line number in the file, from 1, of each of `lines`,
            for people to find a row a difference names; empty when the
            reader does not tell them.

    Raises:
        ValidationError: `numbers` is neither empty nor one per line.

    .. versionadded:: 0.1.0
    """

    provider: str = attrs.field(validator=plain_text("provider"))
    lines: tuple[SettlementLine, ...] = attrs.field(converter=_lines)
    rejected: tuple[MalformedRow, ...] = attrs.field(default=(), converter=_rejected)
    numbers: tuple[int, ...] = attrs.field(default=(), converter=_numbers)

    def __attrs_post_init__(self) -> None:
        if self.numbers and len(self.numbers) != len(self.lines):
            raise ValidationError(
                "numbers",
                len(self.numbers),
                f"must name the line of each of the {len(self.lines)} lines",
            )


# --------------------------------------------------------------------------
# Rows and cells


_SHOWN: Final = 200
"""How much of a refused line a `MalformedRow` shows."""


@final
@attrs.frozen(slots=True)
class _Row:
    number: int
    text: str
    cells: tuple[str, ...] | None  # None: not CSV (see `_cells`)


def _decoded(data: bytes, provider: str) -> list[tuple[int, str | None, bytes]]:
    """Every line with its number, decoded; `None` for undecodable bytes."""
    if not isinstance(data, bytes):
        raise StructureError("data", data, "must be the bill's bytes", provider)
    # A UTF-8 byte order mark declares the encoding; without one the
    # providers write GBK. GB 18030 decodes every GBK byte sequence alike
    # and is the superset providers actually emit for rare characters. A
    # bill saved again as UTF-8 without a mark is told by decoding whole:
    # Chinese text in GBK is practically never valid UTF-8.
    encoding = "gb18030"
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8) :], "utf-8"
    elif _is_utf8(data):
        encoding = "utf-8"
    found: list[tuple[int, str | None, bytes]] = []
    # GBK's trail bytes are 0x40-0xFE, so a 0x0A byte always ends a line.
    for number, raw in enumerate(data.split(b"\n"), start=1):
        chunk = raw.removesuffix(b"\r")
        try:
            found.append((number, chunk.decode(encoding), chunk))
        except UnicodeDecodeError:
            found.append((number, None, chunk))
    return found


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _cells(text: str) -> tuple[str, ...] | None:
    """The line's cells; `None` when the csv module refuses the line.

    It refuses a cell longer than its field size limit.
    """
    try:
        found = next(csv.reader([text]))
    except csv.Error:
        return None
    # A backtick before the value (WeChat Pay) and tabs around it (Alipay)
    # only keep spreadsheets from reading ids as numbers.
    return tuple(cell.strip().removeprefix("`").strip() for cell in found)


@final
@attrs.frozen(slots=True)
class _Layout:
    """Where a provider's data starts and ends, and how a row is read."""

    provider: str
    columns: tuple[str, ...]
    is_header: Callable[[tuple[str, ...]], bool]
    is_end: Callable[[str], bool]
    end_name: str
    read_row: Callable[[dict[str, str], str], SettlementLine]


def _read(data: bytes, layout: _Layout, zone: str) -> StatementRead:
    zone_named(zone)  # a bad zone is refused before any row, not at the first
    provider = layout.provider
    header: tuple[str, ...] | None = None
    lines: list[SettlementLine] = []
    numbers: list[int] = []
    rejected: list[MalformedRow] = []
    ended = False
    for number, text, raw in _decoded(data, provider):
        if header is None:
            cells = None if text is None or not text.strip() else _cells(text)
            if cells is not None and layout.is_header(cells):
                header = _check_header(cells, layout, number)
            continue
        if text is None:
            rejected.append(
                MalformedRow(
                    line=number,
                    field="",
                    value=raw.decode("gb18030", errors="replace"),
                    problem="is not GBK text",
                )
            )
            continue
        if layout.is_end(text):
            ended = True
            break
        if not text.strip():
            continue
        row = _Row(number, text, _cells(text))
        line = _read_row(row, header, layout, zone, rejected)
        if line is not None:
            lines.append(line)
            numbers.append(number)
    if header is None:
        raise StructureError(
            "header", data[:80], "has no column header row", f"{provider} bill"
        )
    if not ended:
        raise StructureError(
            "summary",
            data[-80:],
            f"ends before {layout.end_name}: the bill is cut short",
            f"{provider} bill",
        )
    return StatementRead(
        provider=provider, lines=lines, rejected=rejected, numbers=numbers
    )


def _check_header(
    cells: tuple[str, ...], layout: _Layout, number: int
) -> tuple[str, ...]:
    # A row is read by column name: of two columns of one name, one would
    # be dropped unseen.
    twice = sorted({c for c in cells if c and cells.count(c) > 1})
    if twice:
        raise StructureError(
            f"line {number}",
            ",".join(cells),
            f"names the column(s) {', '.join(twice)} twice",
            f"{layout.provider} bill",
        )
    missing = [c for c in layout.columns if c not in cells]
    if missing:
        raise StructureError(
            f"line {number}",
            ",".join(cells),
            f"lacks the column(s) {', '.join(missing)}",
            f"{layout.provider} bill",
        )
    return cells


def _read_row(
    row: _Row,
    header: tuple[str, ...],
    layout: _Layout,
    zone: str,
    rejected: list[MalformedRow],
) -> SettlementLine | None:
    if row.cells is None:
        rejected.append(
            MalformedRow(
                line=row.number,
                field="",
                value=row.text[:_SHOWN],
                problem="is not CSV: a cell is too long",
            )
        )
        return None
    if len(row.cells) != len(header):
        rejected.append(
            MalformedRow(
                line=row.number,
                field="",
                value=row.text,
                problem=f"has {len(row.cells)} cells, the header {len(header)}",
            )
        )
        return None
    try:
        return layout.read_row(dict(zip(header, row.cells, strict=True)), zone)
    except ValidationError as error:
        value = error.value if isinstance(error.value, str) else repr(error.value)
        rejected.append(
            MalformedRow(
                line=row.number, field=error.field, value=value, problem=error.problem
            )
        )
        return None


def _required(cells: dict[str, str], column: str) -> str:
    value = cells[column]
    if not value:
        raise ValidationError(column, value, "must not be empty")
    return value


def _kind_amount(
    kind: TransactionKind, amount: Money, column: str, value: str
) -> Money:
    """The gross amount, positive, from a cell whose sign must fit the kind."""
    outgoing = kind is TransactionKind.REFUND
    if outgoing and amount.amount > 0:
        raise ValidationError(column, value, "a refund row must not be positive")
    if not outgoing and amount.amount < 0:
        raise ValidationError(column, value, f"a {kind} row must not be negative")
    return abs(amount)


# --------------------------------------------------------------------------
# WeChat Pay


_WECHAT_STATUS: Final = {
    "SUCCESS": TransactionKind.SALE,
    "REFUND": TransactionKind.REFUND,
    "REVOKED": TransactionKind.VOID,
}


def _wechat_row(cells: dict[str, str], zone: str) -> SettlementLine:
    status = _required(cells, "交易状态")
    kind = _WECHAT_STATUS.get(status)
    if kind is None:
        known = ", ".join(_WECHAT_STATUS)
        raise ValidationError("交易状态", status, f"is not a status ({known})")
    currency = _required(cells, "货币种类")
    try:
        Currency(currency)
    except UnknownCurrency:
        raise ValidationError("货币种类", currency, "is not an ISO 4217 code") from None
    refund = kind is TransactionKind.REFUND
    if refund:
        _settled_refund(cells)
    # Refunds go under the merchant's refund number, the id a payment
    # ledger records when it asks for the refund (Alipay's bill does too).
    id_column = "商户退款单号" if refund else "微信订单号"
    amount_column = "退款金额" if refund else "应结订单金额"
    gross = read_money(_required(cells, amount_column), currency, path=amount_column)
    return SettlementLine(
        transaction_id=_required(cells, id_column),
        kind=kind,
        amount=gross,
        fee=read_signed_money(_required(cells, "手续费"), currency, path="手续费"),
        settled_at=_when(cells, "交易时间", zone),
        order_id=cells["商户订单号"] or None,
    )


_WECHAT_REFUND_STATES: Final = {
    "PROCESSING": "is still processing: no money has reached the buyer yet",
    "REFUNDCLOSE": "was closed: no money went back",
    "CHANGE": "failed to reach the buyer and must be redone by hand",
}


def _settled_refund(cells: dict[str, str]) -> None:
    """Refuse a refund row whose 退款状态 says the money has not gone back.

    The bill lists a refund on the day it was asked for, whatever became of
    it; read as refunded, a closed or failed one would match the payment
    ledger's refund and hide that the buyer never got the money. A bill
    without the column, or a blank cell, is read as settled, as before.
    """
    state = cells.get("退款状态", "")
    if state in {"", "SUCCESS"}:
        return
    problem = _WECHAT_REFUND_STATES.get(state, "is not a refund state WeChat Pay uses")
    raise ValidationError(
        "退款状态",
        state,
        f"{problem}; only a SUCCESS refund is settled money (read it again in a "
        "later bill)",
    )


def _when(cells: dict[str, str], column: str, zone: str) -> pendulum.DateTime:
    return read_instant(_required(cells, column), path=column, zone=zone)


_WECHAT: Final = _Layout(
    provider="wechat",
    columns=(
        "交易时间",
        "微信订单号",
        "商户订单号",
        "交易状态",
        "货币种类",
        "应结订单金额",
        "商户退款单号",
        "退款金额",
        "手续费",
    ),
    is_header=lambda cells: cells[:1] == ("交易时间",),
    is_end=lambda text: (_cells(text) or ())[:1] == ("总交易单数",),
    end_name="the 总交易单数 summary row",
    read_row=_wechat_row,
)


def read_wechat_bill(data: bytes, *, zone: str = _BILL_ZONE) -> StatementRead:
    """Read a WeChat Pay merchant bill (交易账单, all transactions).

    The layout: title rows; the column header, starting with 交易时间; one
    row per transaction, every cell prefixed with a backtick; then the
    summary header (总交易单数, 应结订单总金额, ...) and its totals row.
    Columns are found by name, so added columns are ignored. A row with
    交易状态 `SUCCESS` is a `SALE` of 应结订单金额 under 微信订单号;
    `REFUND` a `REFUND` of 退款金额 under 商户退款单号 (the merchant's
    refund number, which a payment ledger records as the refund id);
    `REVOKED` a `VOID`. 手续费 is the fee as written (negative on a
    refund: returned). A refund row whose 退款状态 is not `SUCCESS`
    (`PROCESSING`, `REFUNDCLOSE`, `CHANGE`) moved no money to the buyer
    yet: it is returned among the rejected rows, naming the state, so that
    reconciliation shows it to a person instead of matching it.
    交易时间 is local time in `zone`; 商户订单号 is the order id.

    Args:
        data: The bill's bytes, GBK, or UTF-8 with or without a byte
            order mark.
        zone: The IANA zone of the bill's times.

    Returns:
        The lines read and the rows that could not be, with line numbers.

    Raises:
        ConfigurationError: `zone` is not an IANA zone.
        StructureError: No column header, a required column missing or
            a column named twice, or no summary after the data (a bill
            cut short).

    .. versionadded:: 0.1.0
    """
    return _read(data, _WECHAT, zone)


# --------------------------------------------------------------------------
# Alipay


_ALIPAY_KIND: Final = {"交易": TransactionKind.SALE, "退款": TransactionKind.REFUND}
_ALIPAY_CURRENCY: Final = "CNY"
# The headers write their parentheses full-width (U+FF08, U+FF09), as Alipay does.
_ALIPAY_AMOUNT: Final = "订单金额\uff08元\uff09"
_ALIPAY_FEE: Final = "服务费\uff08元\uff09"


def _alipay_row(cells: dict[str, str], zone: str) -> SettlementLine:
    business = _required(cells, "业务类型")
    kind = _ALIPAY_KIND.get(business)
    if kind is None:
        known = ", ".join(_ALIPAY_KIND)
        raise ValidationError("业务类型", business, f"is not a type ({known})")
    column = _ALIPAY_AMOUNT
    written = _required(cells, column)
    gross = read_signed_money(written, _ALIPAY_CURRENCY, path=column)
    refund = kind is TransactionKind.REFUND
    id_column = "退款批次号/请求号" if refund else "支付宝交易号"
    fee = read_signed_money(
        _required(cells, _ALIPAY_FEE), _ALIPAY_CURRENCY, path=_ALIPAY_FEE
    )
    return SettlementLine(
        transaction_id=_required(cells, id_column),
        kind=kind,
        amount=_kind_amount(kind, gross, column, written),
        fee=fee,
        settled_at=_when(cells, "完成时间", zone),
        order_id=cells["商户订单号"] or None,
    )


_ALIPAY: Final = _Layout(
    provider="alipay",
    columns=(
        "支付宝交易号",
        "商户订单号",
        "业务类型",
        "完成时间",
        _ALIPAY_AMOUNT,
        "退款批次号/请求号",
        _ALIPAY_FEE,
    ),
    is_header=lambda cells: cells[:1] == ("支付宝交易号",),
    is_end=lambda text: text.startswith("#") and "业务明细列表结束" in text,
    end_name="the #---业务明细列表结束--- line",
    read_row=_alipay_row,
)


def read_alipay_bill(data: bytes, *, zone: str = _BILL_ZONE) -> StatementRead:
    """Read an Alipay merchant bill (业务明细), as the download's CSV has it.

    The layout: `#` comment rows (account, period), a
    `#-----业务明细列表-----` line, the column header (支付宝交易号, 商户订单号,
    业务类型, ...), one row per transaction with cells padded by tabs, a
    `#-----业务明细列表结束-----` line, then `#` summary rows (交易合计,
    退款合计, 导出时间). Columns are found by name. 业务类型 `交易` is a
    `SALE` of 订单金额 (元) under 支付宝交易号; `退款` a `REFUND` under
    退款批次号/请求号, its 订单金额 (元) written negative (money going
    out). 服务费 (元) is the fee as written. Amounts are in yuan (CNY);
    完成时间 is local time in `zone`; 商户订单号 is the order id.

    Args:
        data: The bill's bytes, GBK, or UTF-8 with or without a byte
            order mark.
        zone: The IANA zone of the bill's times.

    Returns:
        The lines read and the rows that could not be, with line numbers.

    Raises:
        ConfigurationError: `zone` is not an IANA zone.
        StructureError: No column header, a required column missing or
            a column named twice, or no end-of-list line after the data
            (a bill cut short).

    .. versionadded:: 0.1.0
    """
    return _read(data, _ALIPAY, zone)
