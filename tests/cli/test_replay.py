"""`orderkit replay EVENTS.jsonl`: outcomes per line, the stored orders, exit codes."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from orderkit.cli import main


SAMPLES = Path(__file__).parents[1] / "fixtures" / "cli"
EVENTS = SAMPLES / "events.jsonl"
# Lines 7 and 11 of the sample are broken on purpose.
BROKEN = {7, 11}


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["replay", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *args, "--json")
    assert err == ""
    result: dict[str, Any] = json.loads(out)
    return code, result


def sample_lines() -> list[str]:
    return EVENTS.read_text(encoding="utf-8").splitlines()


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clean(tmp_path: Path) -> Path:
    """The sample without its broken lines (blank lines keep the numbers)."""
    lines = ["" if n in BROKEN else t for n, t in enumerate(sample_lines(), 1)]
    return write(tmp_path / "events.jsonl", lines)


def outcomes(result: dict[str, Any]) -> list[tuple[int | None, str, str]]:
    return [(s["line"], s["event"], s["outcome"]) for s in result["steps"]]


def order(result: dict[str, Any], order_id: str) -> dict[str, Any]:
    (found,) = [o for o in result["orders"] if o["order"]["order_id"] == order_id]
    assert isinstance(found, dict)
    return found


class TestSample:
    """The sample stream: duplicates, early, late and broken lines."""

    def test_every_line_gets_its_outcome(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, result = run_json(capsys, EVENTS)
        assert code == 1  # two lines are malformed
        assert outcomes(result) == [
            (1, "OrderPlaced", "applied"),
            (2, "PaymentCaptured", "applied"),
            (3, "PaymentCaptured", "duplicate"),
            (4, "PaymentCaptured", "parked"),  # before its order was placed
            (5, "OrderPlaced", "applied"),
            (4, "PaymentCaptured", "applied"),  # let through by line 5
            (6, "PickingStarted", "applied"),
            (8, "Shipped", "applied"),
            (9, "Delivered", "parked"),  # before the InTransit scan
            (10, "InTransit", "applied"),
            (9, "Delivered", "applied"),
            (12, "Cancelled", "refund_due"),
            (13, "InTransit", "stale"),  # a scan resent after delivery
        ]
        assert result["events"] == 11
        assert result["outcomes"]["duplicate"] == 1
        assert result["outcomes"]["stale"] == 1

    def test_a_line_nested_too_deeply_is_malformed(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        deep = '{"a":' * 50_000 + "1" + "}" * 50_000
        lines = [sample_lines()[0], deep]

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines))

        assert code == 1
        assert result["malformed"] == [
            {"line": 2, "problem": "not JSON: nested too deeply"}
        ]

    def test_malformed_lines_are_reported_by_number_and_the_rest_applied(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _, result = run_json(capsys, EVENTS)
        assert [m["line"] for m in result["malformed"]] == sorted(BROKEN)
        assert "not JSON" in result["malformed"][0]["problem"]
        assert "type" in result["malformed"][1]["problem"]
        assert result["malformed_lines"] == 2

    def test_a_key_named_twice_is_a_malformed_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        placed, paid = sample_lines()[:2]
        # A second "type": one reader would see a capture, another an order.
        twice = paid.replace("{", '{"type": "OrderPlaced", ', 1)
        assert json.loads(twice)["type"] == "PaymentCaptured"

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", [placed, twice]))

        assert code == 1
        assert result["malformed"] == [
            {
                "line": 2,
                "problem": "not JSON: the key 'type' appears twice in one object",
            }
        ]
        assert outcomes(result) == [(1, "OrderPlaced", "applied")]

    def test_a_first_line_that_is_an_array_is_one_malformed_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        lines = ['["not an event"]', *sample_lines()[:2]]

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines))

        assert code == 1
        assert [m["line"] for m in result["malformed"]] == [1]
        assert outcomes(result) == [
            (2, "OrderPlaced", "applied"),
            (3, "PaymentCaptured", "applied"),
        ]

    def test_a_first_line_cut_short_after_a_bracket_is_one_malformed_line(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """As anywhere else in the file: not taken for a broken array."""
        lines = ['[{"type": "OrderPlaced",', *sample_lines()]
        _, sample = run_json(capsys, EVENTS)

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines))

        assert code == 1
        assert result["malformed"][0] == {
            "line": 1,
            "problem": "not JSON: Expecting property name enclosed in double"
            " quotes (column 25)",
        }
        assert [m["line"] for m in result["malformed"][1:]] == [
            n + 1 for n in sorted(BROKEN)
        ]
        assert outcomes(result) == [
            (None if line is None else line + 1, event, outcome)
            for line, event, outcome in outcomes(sample)
        ]

    def test_orders_end_in_their_status_with_a_gapless_audit_trail(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _, result = run_json(capsys, EVENTS)
        delivered = order(result, "TB-1111-01")
        assert delivered["channel"] == "taobao"
        assert delivered["order"]["status"] == "delivered"
        trail = delivered["audit"]
        assert [r["version"] for r in trail] == list(range(1, 8))
        assert delivered["order"]["version"] == 7
        assert "ParkedDelivered" in [r["event_type"] for r in trail]
        cancelled = order(result, "TB-1111-02")
        assert cancelled["order"]["status"] == "cancelled"
        assert [r["event_type"] for r in cancelled["audit"]] == [
            "OrderPlaced",
            "PaymentCaptured",
            "Cancelled",
        ]

    def test_table_shows_outcomes_malformed_lines_and_audit_trails(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = run(capsys, EVENTS)
        assert (code, err) == (1, "")
        assert "11 read, 2 malformed lines" in out
        assert "line 7: not JSON" in out
        assert "line 11: type:" in out
        assert "taobao:TB-1111-01  delivered, version 7" in out
        rows = [line.split() for line in out.splitlines()]
        assert ["13", "InTransit", "taobao:TB-1111-01", "stale"] in [
            row[:4] for row in rows
        ]

    def test_a_clean_stream_exits_0(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        code, result = run_json(capsys, clean(tmp_path))
        assert code == 0
        assert result["malformed"] == []
        assert len(result["steps"]) == 13

    def test_reads_stdin_with_a_dash(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        data = clean(tmp_path).read_bytes()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        code, result = run_json(capsys, "-")
        assert code == 0
        assert result["events"] == 11


class TestStore:
    """With --db the orders stay, and a second replay changes nothing."""

    def test_replaying_again_into_the_same_database_is_all_repeats(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        events, db = clean(tmp_path), tmp_path / "orders.db"
        first_code, first = run_json(capsys, events, "--db", db)
        code, again = run_json(capsys, events, "--db", db)
        assert (first_code, code) == (0, 0)
        assert {s["outcome"] for s in again["steps"]} == {"duplicate", "stale"}
        assert again["orders"] == first["orders"]

    def test_an_event_names_its_order_s_channel_beside_it(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        db = tmp_path / "orders.db"
        placed = sample_lines()[0]
        jd = json.loads(placed)
        jd["channel"] = "jd"
        jd["key"] = {**jd["key"], "channel": "jd"}
        # The same order id stored on two channels: which one is not guessed.
        run_json(
            capsys,
            write(tmp_path / "placed.jsonl", [*sample_lines()[:2], json.dumps(jd)]),
            "--db",
            db,
        )
        pick = json.loads(sample_lines()[5])  # its key's channel is the warehouse's
        assert pick["key"]["channel"] == "wms"
        lines = [json.dumps(pick), json.dumps({**pick, "channel": "taobao"})]
        code, result = run_json(
            capsys, write(tmp_path / "pick.jsonl", lines), "--db", db
        )
        assert code == 1  # line 1 was not stored
        assert outcomes(result) == [
            (1, "PickingStarted", "parked"),
            (2, "PickingStarted", "applied"),
        ]
        (waiting,) = result["waiting"]
        assert waiting["line"] == 1
        assert "stored on jd, taobao" in waiting["detail"]
        assert 'give its "channel"' in waiting["detail"]
        assert order(result, "TB-1111-01")["order"]["status"] == "picking"

    def test_a_later_replay_finds_a_stored_order_by_its_id(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        db = tmp_path / "orders.db"
        first = [sample_lines()[n - 1] for n in (1, 2, 6, 8, 9)]
        code, _ = run_json(capsys, write(tmp_path / "day1.jsonl", first), "--db", db)
        assert code == 0
        scan = json.loads(sample_lines()[9])  # no "channel": its key's is sf's
        assert (scan["type"], scan["key"]["channel"]) == ("InTransit", "sf")

        code, result = run_json(
            capsys, write(tmp_path / "day2.jsonl", [json.dumps(scan)]), "--db", db
        )

        assert code == 0
        assert result["waiting"] == []
        assert [(s["channel"], s["outcome"]) for s in result["steps"]] == [
            ("taobao", "applied"),  # and the Delivered parked with the order
            ("taobao", "applied"),
        ]
        assert order(result, "TB-1111-01")["order"]["status"] == "delivered"

    def test_a_channel_with_a_newline_keeps_the_table_s_rows_whole(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        pick = json.loads(sample_lines()[5])
        lines = [*sample_lines()[:2], json.dumps({**pick, "channel": "tao\nbao"})]

        code, out, _ = run(
            capsys, write(tmp_path / "e.jsonl", lines), "--db", tmp_path / "o.db"
        )

        assert code == 1  # the store refuses that channel
        (row,) = [line for line in out.splitlines() if "PickingStarted" in line]
        assert "tao\\nbao:TB-1111-01" in row
        assert "rejected" in row

    def test_events_for_an_order_never_placed_wait_unstored(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        events = write(tmp_path / "e.jsonl", sample_lines()[3:4])
        code, result = run_json(capsys, events)
        assert code == 1  # the event was lost: not stored
        assert [(w["line"], w["order_id"]) for w in result["waiting"]] == [
            (1, "TB-1111-02")
        ]
        assert 'give its "channel" in the event' in result["waiting"][0]["detail"]
        assert result["orders"] == []
        code, out, _ = run(capsys, events)
        assert code == 1
        assert "neither the events nor the store have it" in out
        assert 'give "channel" in the events' in out
        assert "line 1: PaymentCaptured for TB-1111-02\n" in out

    def test_a_rejected_event_exits_1(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        pay = json.loads(sample_lines()[1])
        pay["amount"]["currency"] = "USD"
        pay["amount"]["amount"] = "398.00"
        lines = [sample_lines()[0], json.dumps(pay)]
        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines))
        assert code == 1
        assert outcomes(result)[-1] == (2, "PaymentCaptured", "rejected")
        assert "CNY" in result["steps"][-1]["detail"]
        assert order(result, "TB-1111-01")["order"]["status"] == "pending_payment"

    def test_an_event_a_store_refuses_is_rejected_and_the_rest_applied(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        placed = json.loads(sample_lines()[0])
        too_long = {**placed, "order_id": "X" * 300}
        too_long["key"] = {**placed["key"], "object_id": "X" * 300}
        lines = [json.dumps(too_long, ensure_ascii=False), sample_lines()[0]]
        db = tmp_path / "orders.db"

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines), "--db", db)

        assert code == 1
        assert outcomes(result) == [
            (1, "OrderPlaced", "rejected"),
            (2, "OrderPlaced", "applied"),
        ]
        assert "a store refused it" in result["steps"][0]["detail"]
        assert [o["order"]["order_id"] for o in result["orders"]] == ["TB-1111-01"]

    def test_an_order_id_too_long_to_look_up_rejects_its_event_only(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # Not placed in the stream and no "channel" beside it: its order is
        # looked up in the store, which refuses the id.
        placed, pay = sample_lines()[0], json.loads(sample_lines()[1])
        too_long = {**pay, "order_id": "X" * 300}
        lines = [placed, json.dumps(too_long, ensure_ascii=False), sample_lines()[1]]
        db = tmp_path / "orders.db"

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines), "--db", db)

        assert code == 1
        assert outcomes(result) == [
            (1, "OrderPlaced", "applied"),
            (2, "PaymentCaptured", "rejected"),
            (3, "PaymentCaptured", "applied"),
        ]
        assert result["steps"][1]["channel"] == "taobao"
        assert "order_id" in result["steps"][1]["detail"]
        # The events around it were stored: a second replay finds them.
        code, again = run_json(
            capsys, write(tmp_path / "e2.jsonl", lines[2:]), "--db", db
        )
        assert code == 0
        assert outcomes(again) == [(1, "PaymentCaptured", "duplicate")]
        assert order(again, "TB-1111-01")["order"]["status"] == "paid"

    def test_a_refused_array_stores_nothing(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        # More events than one commit takes, then a syntax error.
        placed = json.loads(sample_lines()[0])
        events = []
        for i in range(501):
            oid = f"TB-ARR-{i}"
            key = {**placed["key"], "object_id": oid}
            events.append(json.dumps({**placed, "order_id": oid, "key": key}))
        path = tmp_path / "events.json"
        path.write_text("[\n" + ",\n".join(events) + ',\n{"type": oops}\n]\n')
        db = tmp_path / "orders.db"

        code, out, err = run(capsys, path, "--db", db)

        assert (code, out) == (2, "")
        assert "line 503: not JSON" in err
        code, result = run_json(
            capsys, write(tmp_path / "e.jsonl", [events[0]]), "--db", db
        )
        assert outcomes(result) == [(1, "OrderPlaced", "applied")]

    def test_the_channel_beside_an_event_comes_before_an_order_of_its_id(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        placed, pay = sample_lines()[0], json.loads(sample_lines()[1])
        elsewhere = {**pay, "channel": "jd", "key": {**pay["key"], "channel": "jd"}}
        lines = [json.dumps(elsewhere, ensure_ascii=False), placed]

        code, result = run_json(capsys, write(tmp_path / "e.jsonl", lines))

        assert code == 1  # the jd payment waits, unstored
        # jd's payment waits for jd's order of that id, not taobao's.
        assert order(result, "TB-1111-01")["order"]["status"] == "pending_payment"
        assert [(w["line"], w["channel"]) for w in result["waiting"]] == [(1, "jd")]


class TestBadUsage:
    @pytest.mark.parametrize(
        ("args", "said"),
        [
            ([], "required"),
            (["missing.jsonl"], "EVENTS missing.jsonl: no such file"),
            ([str(EVENTS), "--db"], "expected one argument"),
        ],
    )
    def test_exits_2_with_one_line(
        self, capsys: pytest.CaptureFixture[str], args: list[str], said: str
    ) -> None:
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert said in err

    @pytest.mark.parametrize(
        ("data", "said"),
        [
            ("订单".encode("gbk"), "not UTF-8"),
            (b"\xef\xbb\xbf[\xff]", "not UTF-8 text (byte 5)"),  # the BOM counts
            (b'[{"type": "Completed"}, oops]', "line 1: not JSON"),
            # An array over lines: what follows it was dropped unread.
            (b'[\n[]\n]\n{"type": "Closed"}\n', "line 4: not JSON: text after"),
            (b"[" * 100_000 + b"]" * 100_000, "line 1: not JSON: nested too deeply"),
        ],
    )
    def test_unreadable_files_exit_2(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        data: bytes,
        said: str,
    ) -> None:
        events = tmp_path / "events.jsonl"
        events.write_bytes(data)
        code, out, err = run(capsys, events)
        assert (code, out) == (2, "")
        assert said in err
        assert err.count("\n") == 1

    def test_help_explains_the_stream_with_examples(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["replay", "--help"]) == 0
        out = capsys.readouterr().out
        for text in ("EVENTS", "--db", "--json", "duplicate", "stale", "parked"):
            assert text in out, text
        assert "orderkit replay events.jsonl" in out
        assert "exit codes" in out
