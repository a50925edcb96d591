"""Daily CSV trade log: spreadsheet-edited files, day rollover, strict parsing (round trip + fuzz)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.ledger.trade_csv import (
    HEADER,
    TradeCsvError,
    TradeRow,
    append_trades,
    csv_path,
    read_trade_csv,
)
from market.orders import Action, Side

NS = 1_000_000_000
GOOD = "2026-01-20T10:00:00.5Z,f,o,c,KX-A,yes,buy,1.00,0.5000,0.0100,true,flb"


def row(ts_ns: int, fill_id: str = "f1") -> TradeRow:
    return TradeRow(ts_ns, fill_id, "o1", "c1", "KX-A", Side.YES, Action.BUY, 1_000, 5_600, 1_800, True, "flb")


def test_rollover_is_at_utc_midnight_to_the_nanosecond(tmp_path: Path) -> None:
    midnight = int(dt.datetime(2026, 1, 21, tzinfo=dt.UTC).timestamp()) * NS
    paths = append_trades(tmp_path, [row(midnight - 1, "a"), row(midnight, "b"), row(midnight + 1, "c")])
    assert sorted(p.name for p in paths) == ["trades-2026-01-20.csv", "trades-2026-01-21.csv"]
    assert [r.fill_id for r in read_trade_csv(tmp_path / "trades-2026-01-20.csv")] == ["a"]
    assert [r.fill_id for r in read_trade_csv(tmp_path / "trades-2026-01-21.csv")] == ["b", "c"]
    assert read_trade_csv(csv_path(tmp_path, midnight - 1))[0].ts_ns == midnight - 1


def test_header_once_over_many_batches(tmp_path: Path) -> None:
    t = int(dt.datetime(2026, 1, 20, 12, tzinfo=dt.UTC).timestamp()) * NS
    for i in range(5):
        append_trades(tmp_path, [row(t + i, f"f{i}"), row(t + i, f"g{i}")])
    lines = (tmp_path / "trades-2026-01-20.csv").read_text().splitlines()
    assert lines.count(",".join(HEADER)) == 1 and len(lines) == 11
    assert lines[1].split(",")[7:11] == ["10.00", "0.5600", "0.1800", "true"]


def test_appending_after_a_spreadsheet_dropped_the_last_newline(tmp_path: Path) -> None:
    path = tmp_path / "trades-2026-01-20.csv"
    path.write_text(",".join(HEADER) + "\n" + GOOD, newline="")  # no final newline
    t = int(dt.datetime(2026, 1, 20, 12, tzinfo=dt.UTC).timestamp()) * NS
    append_trades(tmp_path, [row(t)])
    parsed = read_trade_csv(path)
    assert [r.fill_id for r in parsed] == ["f", "f1"]


def test_spreadsheet_quirks_that_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    # A byte-order mark, CRLF line ends, quoted fields and a blank line are all accepted.
    quoted = GOOD.replace(",flb", ',"flb, v2"')
    path.write_bytes(("\ufeff" + ",".join(HEADER) + "\r\n" + quoted + "\r\n\r\n").encode())
    [parsed] = read_trade_csv(path)
    assert parsed.strategy == "flb, v2" and parsed.ts_ns % NS == NS // 2


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        ("", ":1:", "header must be"),
        ("ts,fill_id\n", ":1:", "header must be"),
        (",".join(HEADER) + "\n" + GOOD.replace("10:00:00.5Z", "10:00:00.5"), ":2:", "ts"),
        (",".join(HEADER) + "\n" + GOOD.replace("10:00:00.5Z", "10:00:00.5+00:00"), ":2:", "ts"),
        (",".join(HEADER) + "\n" + GOOD.replace(".5Z", ".\u0665Z"), ":2:", "ts"),  # Arabic-Indic digit
        (",".join(HEADER) + "\n" + GOOD + "\n" + GOOD.replace(",1.00,", ",0.00,"), ":3:", "count"),
        (",".join(HEADER) + "\n" + GOOD.replace(",0.0100,", ",-0.0100,"), ":2:", "fee"),
        (",".join(HEADER) + "\n" + GOOD.replace(",0.5000,", ",1.0000,"), ":2:", "price"),
        (",".join(HEADER) + "\n" + GOOD.replace(",KX-A,", ",,"), ":2:", "ticker is empty"),
        (",".join(HEADER) + "\n" + GOOD + ",extra", ":2:", "expected 12 fields"),
    ],
)
def test_malformed_files_are_rejected_with_file_and_line(
    tmp_path: Path, content: str, where: str, message: str
) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(TradeCsvError, match=rf"t\.csv{where} .*{message}"):
        read_trade_csv(path)


def test_a_file_saved_as_windows_1252_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes((",".join(HEADER) + "\n" + GOOD + "\n" + GOOD.replace("flb", "caf\xe9") + "\n").encode("cp1252"))
    with pytest.raises(TradeCsvError, match=r"t\.csv:3: not UTF-8"):
        read_trade_csv(path)


trade_rows = st.builds(
    TradeRow,
    ts_ns=st.integers(0, 4_000_000_000 * NS),
    fill_id=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12).filter(str.strip),
    order_id=st.text(min_size=1, max_size=8).filter(str.strip),
    client_order_id=st.text(max_size=8),
    ticker=st.text(min_size=1, max_size=8).filter(str.strip),
    side=st.sampled_from(Side),
    action=st.sampled_from(Action),
    count=st.integers(1, 10**9),
    price=st.integers(1, 9_999),
    fee=st.integers(0, 10**9),
    is_taker=st.booleans(),
    strategy=st.text(max_size=8),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(trade_rows, min_size=1, max_size=5))
def test_round_trip_of_any_rows(tmp_path: Path, rows: list[TradeRow]) -> None:
    for path in tmp_path.glob("trades-*.csv"):
        path.unlink()
    written = append_trades(tmp_path, rows)
    back = [r for path in sorted(set(written)) for r in read_trade_csv(path)]
    key = lambda r: (r.ts_ns // (86_400 * NS), rows.index(r))  # noqa: E731 (files are per day)
    assert sorted(back, key=key) == sorted(rows, key=key)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(GOOD.split(",")) | st.text(max_size=12), min_size=10, max_size=13),
       st.binary(max_size=40))
def test_parser_fuzz_only_trusted_rows_or_a_located_error(tmp_path: Path, fields: list[str], junk: bytes) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerow(fields)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8", "surrogatepass") + junk)
    try:
        rows = read_trade_csv(path)
    except TradeCsvError as exc:
        assert str(exc).startswith(f"{path}:")
        return
    for r in rows:
        assert 0 < r.count and 0 < r.price < 10_000 and r.fee >= 0 and r.fill_id.strip()
        assert isinstance(r.side, Side) and isinstance(r.action, Action)
