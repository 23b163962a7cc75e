"""The STATEMENT argument of `orderkit reconcile`: bills, plain CSV or JSON.

Four formats, detected from the file unless `--format` names one:

- `wechat`: a WeChat Pay merchant bill (交易账单), GBK or UTF-8,
  read by `orderkit.adapters.statements.read_wechat_bill`;
- `alipay`: an Alipay merchant bill (业务明细), the same way, by
  `read_alipay_bill`;
- `csv`: plain CSV, UTF-8 (or GBK), with a header row naming the columns
  `transaction_id`, `kind`, `amount`, `currency`, `settled_at`, and
  optionally `fee` and `order_id`; a row per `SettlementLine`;
- `json`: settlement lines as `orderkit.serialization` writes them, in a
  JSON array or one per line (an empty `order_id`, like an empty CSV cell,
  names no order).

Whatever the format, a row that cannot be read becomes a `MalformedRow`
with its line number and the rest are read.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, final

import attrs

from orderkit.adapters.statements import (
    MalformedRow,
    StatementRead,
    read_alipay_bill,
    read_wechat_bill,
)
from orderkit.cli._jsonlines import NotJson, items
from orderkit.cli._order_files import InputError, read_bytes, utf8
from orderkit.errors import StructureError, ValidationError
from orderkit.integrations import (
    SettlementLine,
    TransactionKind,
    read_instant,
    read_money,
    read_signed_money,
)
from orderkit.serialization import make_converter


FORMATS: Final = ("auto", "wechat", "alipay", "csv", "json")
"""The values of `--format`."""
NAMES: Final = {
    "wechat": "WeChat Pay bill",
    "alipay": "Alipay bill",
    "csv": "CSV statement",
    "json": "JSON statement",
}
_REQUIRED: Final = ("transaction_id", "kind", "amount", "currency", "settled_at")
# The first cell of each format's header row, as `detect` finds it; a
# plain CSV's header is told by its cells (or by this first one, so that a
# header lacking a column is read, and refused, as a CSV saying which).
_HEADERS: Final = {
    "交易时间": "wechat",
    "支付宝交易号": "alipay",
    "transaction_id": "csv",
}
_SNIFF_LINES: Final = 40
_SNIFF_CHARS: Final = 16_384


@final
@attrs.frozen(slots=True)
class Statement:
    """What was read from the STATEMENT file.

    Attributes:
        format: The format it was read as (see `FORMATS`).
        lines: The settlement lines read.
        rejected: The rows that could not be read, with line numbers.
        numbers: The line number of each of `lines`.
    """

    format: str
    lines: tuple[SettlementLine, ...]
    rejected: tuple[MalformedRow, ...]
    numbers: tuple[int, ...]


def load_statement(path: str, format_: str = "auto") -> Statement:
    """Read the statement in `path`, as `format_` or as detected.

    Raises:
        InputError: The file is missing, of no format known, or not a
            statement of its format at all (no header, a bill cut short).
    """
    data = read_bytes(path, "STATEMENT")
    chosen = detect(path, data) if format_ == "auto" else format_
    readers: dict[str, Callable[[bytes, str], StatementRead]] = {
        "wechat": lambda data, _path: read_wechat_bill(data),
        "alipay": lambda data, _path: read_alipay_bill(data),
        "csv": _plain_csv,
        "json": _json,
    }
    try:
        read = readers[chosen](data, path)
    except StructureError as error:
        name = NAMES[chosen]
        article = "an" if name[0] in "AEIOU" else "a"
        problem = f"{error.field}: {error.problem}" if error.field else error.problem
        raise InputError(f"STATEMENT {path}: not {article} {name}: {problem}") from None
    return Statement(chosen, read.lines, read.rejected, read.numbers)


def _text(data: bytes, path: str | None = None) -> str:
    """The bytes as UTF-8 or, failing that, GB 18030 text.

    The encoding is chosen as the bill readers choose it: a byte order
    mark, else UTF-8 if the whole of `data` decodes as UTF-8. With a
    `path`, bytes that are neither are refused (an `InputError` naming the
    first such byte); without, they are replaced, as befits a look at a
    file's first lines.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data, last = data[3:], "utf-8"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # The providers' bills are GBK; GB 18030 reads every GBK byte alike.
            last = "gb18030"
    if path is None:
        return data.decode(last, errors="replace")
    try:
        return data.decode(last)
    except UnicodeDecodeError as error:
        raise InputError(
            f"STATEMENT {path}: not UTF-8 or GB 18030 text (byte {error.start + 1})"
        ) from None


def detect(path: str, data: bytes) -> str:
    """The format of a statement file, from its name and first lines.

    Raises:
        InputError: None of the formats fits.
    """
    if Path(path).suffix.lower() in {".json", ".jsonl"}:
        return "json"
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        # No format would read it: the one thing to say is that it is empty.
        raise InputError(f"STATEMENT {path}: empty")
    if head[:1] in {b"[", b"{"}:
        return "json"
    # The encoding is told from the whole file, as the readers tell it: a
    # UTF-8 character cut at the sniffing limit would read as GB 18030.
    for line in _text(data)[:_SNIFF_CHARS].splitlines()[:_SNIFF_LINES]:
        if not line.strip():
            continue
        try:
            cells = next(csv.reader([line]), None) or [""]
        except csv.Error:
            continue  # a cell too long for the csv module: not a header
        found = _HEADERS.get(cells[0].strip().removeprefix("`").strip())
        if found is not None:
            return found
        if set(_REQUIRED) <= {cell.strip().lower() for cell in cells}:
            return "csv"
    raise InputError(
        f"STATEMENT {path}: cannot tell its format (not a WeChat Pay or Alipay"
        " bill, a CSV whose header names transaction_id, kind, amount, currency"
        " and settled_at, or JSON); give --format"
    )


# --------------------------------------------------------------------------
# JSON


def _json(data: bytes, path: str) -> StatementRead:
    text = utf8(data, "STATEMENT", path)
    if not text.strip():
        # Every capture would be reported missing from no statement at all;
        # an empty CSV is refused alike. A statement of no lines says [].
        raise InputError(f"STATEMENT {path}: empty")
    converter = make_converter()
    lines: list[SettlementLine] = []
    numbers: list[int] = []
    rejected: list[MalformedRow] = []
    try:
        for item in items(text):
            if item.error is not None:
                rejected.append(
                    MalformedRow(line=item.line, field="", value="", problem=item.error)
                )
                continue
            try:
                line = converter.structure(item.value, SettlementLine)
            except StructureError as error:
                rejected.append(_row(item.line, error))
                continue
            if line.order_id == "":
                # It names no order, as an empty CSV cell does.
                line = attrs.evolve(line, order_id=None)
            lines.append(line)
            numbers.append(item.line)
    except NotJson as error:
        raise InputError(f"STATEMENT {path} {error}") from None
    if (
        not lines
        and rejected
        and all(r.problem.startswith("not JSON") for r in rejected)
    ):
        first = rejected[0]
        raise InputError(f"STATEMENT {path} line {first.line}: {first.problem}")
    return StatementRead(
        provider="json", lines=lines, rejected=rejected, numbers=numbers
    )


def _row(line: int, error: ValidationError) -> MalformedRow:
    """The refused row, its value as written: a JSON value as its JSON text."""
    value = error.value
    if value is attrs.NOTHING:
        written = ""  # a missing field: the problem says so
    elif isinstance(value, str):
        written = value
    else:
        written = json.dumps(value, ensure_ascii=False, default=repr)
    # A JSON escape may have made a lone surrogate, which no row can hold.
    written = written[:200].encode("utf-8", "backslashreplace").decode()
    problem = error.problem
    if isinstance(value, float):
        # Said to whoever wrote the file, not to a Python caller.
        problem = "a JSON number with a fraction is not exact: write it as a string"
    return MalformedRow(line=line, field=error.field, value=written, problem=problem)


# --------------------------------------------------------------------------
# Plain CSV


def _records(text: str) -> Iterator[tuple[int, list[str] | MalformedRow]]:
    """Each CSV record with the line it starts on (a cell may span lines).

    A record the csv module refuses (a cell longer than its field size
    limit) comes as a `MalformedRow`; the reader goes on at the next line.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as error:
            problem = f"not CSV: {error}"
            yield start, MalformedRow(line=start, field="", value="", problem=problem)
            start = reader.line_num + 1
            continue
        if cells is None:
            return
        yield start, cells
        start = reader.line_num + 1


def _plain_csv(data: bytes, path: str) -> StatementRead:
    header: list[str] | None = None
    lines: list[SettlementLine] = []
    numbers: list[int] = []
    rejected: list[MalformedRow] = []
    for number, cells in _records(_text(data, path)):
        if isinstance(cells, MalformedRow):
            if header is None:
                # Without its header the rows below could not be read.
                raise InputError(f"STATEMENT {path} line {number}: {cells.problem}")
            rejected.append(cells)
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _header(cells, f"STATEMENT {path} line {number}")
            continue
        if len(cells) != len(header):
            problem = f"has {len(cells)} cells, the header {len(header)}"
            rejected.append(
                MalformedRow(
                    line=number, field="", value=",".join(cells), problem=problem
                )
            )
            continue
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        try:
            lines.append(_settlement(row))
            numbers.append(number)
        except ValidationError as error:
            rejected.append(_row(number, error))
    if header is None:
        raise InputError(f"STATEMENT {path}: empty, not even a CSV header")
    return StatementRead(
        provider="csv", lines=lines, rejected=rejected, numbers=numbers
    )


def _header(cells: list[str], where: str) -> list[str]:
    """The column names of a header row, refused if twice or lacking.

    Names are read in lower case: a spreadsheet's `Transaction_ID` is the
    column `transaction_id`.
    """
    header = [cell.strip().lower() for cell in cells]
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:
        raise InputError(f"{where}: the CSV header names {', '.join(twice)} twice")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(f"{where}: the CSV header lacks {', '.join(missing)}")
    return header


def _settlement(row: dict[str, str]) -> SettlementLine:
    for name in _REQUIRED:
        if not row[name]:
            raise ValidationError(name, "", "must not be empty")
    currency = row["currency"]
    try:
        kind = TransactionKind(row["kind"])
    except ValueError:
        known = ", ".join(k.value for k in TransactionKind)
        raise ValidationError("kind", row["kind"], f"is not one of {known}") from None
    fee = row.get("fee") or "0"
    return SettlementLine(
        transaction_id=row["transaction_id"],
        kind=kind,
        amount=read_money(row["amount"], currency, path="amount"),
        # A refund's fee comes back to the merchant, written negative.
        fee=read_signed_money(fee, currency, path="fee"),
        settled_at=read_instant(row["settled_at"], path="settled_at"),
        order_id=row.get("order_id") or None,
    )
