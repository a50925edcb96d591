"""Backtest data loaders: CSV layouts, bad rows reported with file and line, the real
football-data files and their quirks, and a daemon ledger."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.data import load, parse_ts
from backtest.events import BOOK, SETTLE, TRADE, DataError, DatasetBuilder
from backtest.football import FootballOptions, kickoff_ns, load_football, quote
from daemon.commands.backtest import load_dataset, open_ledger
from daemon.ledger import Ledger

FOOTBALL = Path(__file__).resolve().parents[3] / "shared" / "data" / "football-data"
if not FOOTBALL.is_dir():
    FOOTBALL = Path("/work/shared/data/football-data")
S = 1_000_000_000


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_book_trade_and_settlement_csvs_load_in_exact_units(tmp_path: Path) -> None:
    write(tmp_path / "book.csv", [
        ["ts", "ticker", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size", "fair_yes"],
        ["2026-01-01T00:00:01Z", "M", "0.5600", "0.58", "10.00", "2.50", "0.6"],
        ["1767225600000000000", "M", "", "0.5800", "", "1.00", ""],
    ])
    write(tmp_path / "trades.csv", [["ts", "ticker", "yes_price", "count", "taker_side"],
                                    ["2026-01-01T00:00:02.5+00:00", "M", "0.57", "3.00", "no"]])
    write(tmp_path / "settle.csv", [["ts", "ticker", "result"], ["2026-01-02T00:00:00Z", "M", "yes"]])
    write(tmp_path / "markets.csv", [["ticker", "close_ts"], ["M", "2026-01-01T23:00:00Z"]])
    d = load(tmp_path)
    assert d.problems == () and d.tickers == ("M",)
    t0 = 1_767_225_600 * S
    rows = list(zip(d.ts.tolist(), d.kind.tolist(), d.a.tolist(), d.b.tolist(), d.c.tolist(), d.d.tolist(),
                    strict=True))
    assert rows == [(t0, BOOK, 0, 5_800, 0, 100), (t0 + S, BOOK, 5_600, 5_800, 1_000, 250),
                    (t0 + 2_500_000_000, TRADE, 5_700, 300, 1, 0), (t0 + 86_400 * S, SETTLE, 0, 0, 0, 0)]
    assert math.isnan(d.fair[0]) and d.fair[1] == 0.6
    assert d.close_ts.tolist() == [t0 + 23 * 3_600 * S]


def test_bad_rows_are_reported_with_file_and_line_and_the_good_ones_kept(tmp_path: Path) -> None:
    write(tmp_path / "book.csv", [
        ["ts", "ticker", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size"],
        ["2026-01-01T00:00:00Z", "M", "0.56", "0.58", "1", "1"],
        ["2026-01-01T00:00:00", "M", "0.56", "0.58", "1", "1"],  # no offset
        ["2026-01-01T00:00:01Z", "M", "0.60", "0.58", "1", "1"],  # crossed
        ["2026-01-01T00:00:02Z", "M", "0.56123", "0.58", "1", "1"],  # finer than 1/10,000
        ["2026-01-01T00:00:03Z", "", "0.56", "0.58", "1", "1"],  # no ticker
        ["2026-01-01T00:00:04Z", "M", "1.20", "0.58", "1", "1"],
        ["2026-01-01T00:00:05Z", "M", "0.56", "0.58", "-1", "1"],
        ["2026-01-01T00:00:06Z", "M", "0.56", "0.58", "1"],  # short row
    ])
    d = load(tmp_path)
    assert len(d) == 1
    assert [(p.source, p.line) for p in d.problems] == [("book.csv", n) for n in range(3, 10)]
    assert "no UTC offset" in d.problems[0].message and "crossed" in d.problems[1].message
    with pytest.raises(DataError, match="book.csv:3"):
        load(tmp_path, strict=True)


def test_unknown_layouts_and_missing_paths_are_errors_or_problems(tmp_path: Path) -> None:
    write(tmp_path / "x.csv", [["a", "b"], ["1", "2"]])
    d_problems = load(tmp_path).problems
    assert d_problems[0].line == 1 and "unknown layout" in d_problems[0].message
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "missing")


CELL = st.one_of(st.sampled_from(["", "0", "0.5", "0.56", "1", "yes", "no", "-1", "nan", "1e3", "0.99999",
                                  "2026-01-01T00:00:00Z", "1767225600000000000", "M", " ", "\u00e9"]),
                 st.text(max_size=8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=8), max_size=6),
       layout=st.sampled_from(["book", "trades", "settlements"]))
def test_fuzzed_rows_either_load_or_are_reported_never_lost(tmp_path: Path, rows: list[list[str]],
                                                            layout: str) -> None:
    header = {"book": ["ts", "ticker", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size", "fair_yes"],
              "trades": ["ts", "ticker", "yes_price", "count", "taker_side"],
              "settlements": ["ts", "ticker", "result"]}[layout]
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    path = tmp_path / f"{layout}.csv"
    path.write_text(text.getvalue())
    nonblank = sum(1 for r in csv.reader(io.StringIO(text.getvalue())) if r) - 1
    d = load(path)
    # csv skips blank lines; every other row is an event or a problem naming its line
    assert len(d) + len(d.problems) == nonblank
    assert all(p.source == path.name and p.line >= 2 for p in d.problems)
    book = d.kind == BOOK
    assert ((d.a[book] >= 0) & (d.a[book] < 10_000) & (d.b[book] >= 0) & (d.b[book] < 10_000)).all()


@given(st.text(max_size=40))
@settings(max_examples=200)
def test_timestamps_are_exact_ns_or_refused(text: str) -> None:
    try:
        value = parse_ts(text)
    except ValueError:
        return
    assert isinstance(value, int) and 0 < value < 2**62


def test_the_real_football_files_become_binary_contracts() -> None:
    d = load(FOOTBALL)
    assert d.n_markets == 7 * 380
    assert d.book_events == 7 * 380 * 3 and np.count_nonzero(d.kind == SETTLE) == 7 * 380
    # 2025/26 has no Pinnacle prices from 17/01/2026: 170 matches fall back to Bet365 for the
    # fair value, opening and closing, each reported, none dropped
    assert len(d.problems) == 340 and all(p.source == "E0_2526.csv" and not p.skipped for p in d.problems)
    assert {p.line for p in d.problems} == set(range(212, 382))
    i = d.tickers.index("EPL-20240816-MAN_UNITED-FULHAM-HOME")
    books = np.flatnonzero((d.slot == i) & (d.kind == BOOK))
    kickoff = kickoff_ns("16/08/2024", "20:00")
    assert kickoff == 1_723_834_800 * S  # 20:00 BST = 19:00 UTC
    assert d.ts[books].tolist() == [kickoff - 48 * 3_600 * S, kickoff - 300 * S, kickoff]
    # the closing quote: the row's AvgC* odds de-vigged, 2¢ wide around the home-win probability
    bid, ask = int(d.a[books[1]]), int(d.b[books[1]])
    assert ask - bid == 200 and 5_600 <= bid <= 6_000
    assert d.a[books[2]] == 0 and d.b[books[2]] == 0  # no in-play trading
    assert d.a[np.flatnonzero((d.slot == i) & (d.kind == SETTLE))][0] == 0  # H: YES


def test_stale_and_placeholder_prices_are_refused_with_their_line() -> None:
    b = DatasetBuilder()
    load_football(FOOTBALL / "E0_2223.csv", b, FootballOptions(price_from=("B365",), fair_from=()))
    villa = [p for p in b.problems if p.line == 223]  # Aston Villa v Arsenal, stale Bet365 away price
    assert villa and "overround" in villa[0].message and villa[0].skipped
    with pytest.raises(ValueError, match="Max"):
        FootballOptions(price_from=("Max",))


def test_football_rows_with_bad_cells_are_reported(tmp_path: Path) -> None:
    header = ["Div", "Date", "Time", "HomeTeam", "AwayTeam", "FTR", "AvgH", "AvgD", "AvgA", "AvgCH", "AvgCD", "AvgCA"]
    write(tmp_path / "E0.csv", [header,
                                ["E0", "31/02/2024", "15:00", "A", "B", "H", "2", "3.5", "4", "2", "3.5", "4"],
                                ["E0", "01/03/2024", "15:00", "A", "B", "X", "2", "3.5", "4", "2", "3.5", "4"],
                                ["E0", "02/03/2024", "15:00", "A", "B", "D", "0", "3.5", "4", "", "3.5", "4"],
                                ["E0", "03/03/2024", "", "A", "B", "A", "2", "3.5", "4", "2.1", "3.4", "3.9"]])
    d = load(tmp_path, FootballOptions(fair_from=()))
    assert d.n_markets == 1  # only the last row; a missing time is 15:00
    assert [(p.line, p.skipped) for p in d.problems] == [(2, True), (3, True), (4, True), (4, True)]
    assert "0 (no price)" in d.problems[2].message and "blank" in d.problems[3].message


@given(st.floats(0.0, 1.0), st.sampled_from([0, 100, 200, 300, 1_000]))
def test_quotes_are_on_ticks_inside_the_contract_and_spread_wide(p: float, spread: int) -> None:
    bid, ask = quote(p, spread, 100)
    assert 100 <= bid < ask <= 9_900 and bid % 100 == 0 and ask - bid == max(spread, 100)


async def test_a_ledger_replays_its_snapshots_closes_and_settlements(tmp_path: Path) -> None:
    path = tmp_path / "edgewarden.sqlite"
    ledger = await Ledger.open(path)
    t = 1_767_225_600 * S
    await ledger.write("markets", [{"ts_ns": t, "ticker": "A", "close_ts_ns": t + 10 * S},
                                   {"ts_ns": t, "ticker": "B", "close_ts_ns": t + 20 * S}])
    await ledger.write("book_snapshots", [
        {"ts_ns": t, "ticker": "A", "yes_bid": 9_000, "yes_ask": 9_200, "yes_bid_size": 100, "yes_ask_size": 200},
        {"ts_ns": t, "ticker": "B", "yes_bid": None, "yes_ask": 500, "yes_bid_size": None, "yes_ask_size": 300},
        {"ts_ns": t + S, "ticker": "B", "yes_bid": 400, "yes_ask": 300, "yes_bid_size": 1, "yes_ask_size": 1},
    ])
    await ledger.write("settlements", [{"ts_ns": t + 30 * S, "ticker": "A", "result": "yes", "payout": 0,
                                        "fee": 0, "venue_ts_ns": t + 29 * S}])
    await ledger.close()
    with pytest.raises(DataError, match="edgewarden.sqlite: a daemon ledger, and no ledger reader"):
        load(path)  # backtest alone cannot read it: the daemon hands in its reader
    d = load_dataset(path)
    assert d.tickers == ("A", "B") and d.close_ts.tolist() == [t + 10 * S, t + 20 * S]
    got = list(zip(d.ts.tolist(), d.kind.tolist(), d.slot.tolist(), d.a.tolist(), d.b.tolist(), strict=True))
    # A is gone from the second refresh: an empty book; B's crossed row is reported, not kept
    assert got == [(t, BOOK, 0, 9_000, 9_200), (t, BOOK, 1, 0, 500), (t + S, BOOK, 0, 0, 0),
                   (t + 29 * S, SETTLE, 0, 0, 0)]
    assert [(p.line, "not a valid book" in p.message) for p in d.problems] == [(3, True)]


def test_a_ledger_the_daemon_cannot_open_is_a_data_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^gone.sqlite: not a readable ledger \(no ledger at "):
        with open_ledger(tmp_path / "gone.sqlite"):
            pass


FOOTBALL_HEADER = ["Div", "Date", "Time", "HomeTeam", "AwayTeam", "FTR", "AvgH", "AvgD", "AvgA", "AvgCH", "AvgCD",
                   "AvgCA", "PSH", "PSD", "PSA"]
ODDS = st.one_of(st.sampled_from(["", "0", "1", "1.01", "2.5", "3.4", "4", "101", "-2", "x"]),
                 st.floats(0, 50).map(lambda x: f"{x:.2f}"))
TRIPLE = st.one_of(st.just(("2.1", "3.4", "3.6")), st.just(("1.5", "4.0", "6.5")), st.tuples(ODDS, ODDS, ODDS))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(
    st.sampled_from(["01/03/2024", "31/02/2024", "2024-03-01", ""]), st.sampled_from(["15:00", "", "25:00"]),
    st.sampled_from(["Arsenal", "", "Man City"]), st.sampled_from(["H", "D", "A", "", "X"]),
    st.tuples(TRIPLE, TRIPLE, TRIPLE).map(lambda t: [*t[0], *t[1], *t[2]])), max_size=5))
def test_fuzzed_football_rows_become_markets_or_reported_problems(tmp_path: Path, rows: list) -> None:
    path = tmp_path / "E0_fuzz.csv"
    write(path, [FOOTBALL_HEADER] + [["E0", date, time, home, "Chelsea", ftr, *odds]
                                     for date, time, home, ftr, odds in rows])
    d = load(path, FootballOptions(fair_from=("PS",)))

    def usable(triple: list[str]) -> bool:
        try:
            odds = [float(x) for x in triple]
        except ValueError:
            return False
        return all(x > 1 for x in odds) and 1.0 <= sum(1 / x for x in odds) <= 1.12

    for i, (date, time, home, ftr, odds) in enumerate(rows):
        line = i + 2
        row_ok = date == "01/03/2024" and time != "25:00" and home != "" and ftr in ("H", "D", "A")
        quotes = usable(odds[0:3]) + usable(odds[3:6])
        skipped = [p for p in d.problems if p.line == line and p.skipped]
        kept = [p for p in d.problems if p.line == line and not p.skipped]
        if not row_ok:
            assert len(skipped) == 1 and not kept  # the row is refused once, for its first bad cell
        else:
            assert len(skipped) == 2 - quotes  # each unusable quote reported
            # fair values are kept gaps: opening from PS* when usable; closing never (no PSC* columns)
            assert len(kept) == (usable(odds[0:3]) and not usable(odds[6:9])) + usable(odds[3:6])
    assert all(p.source == "E0_fuzz.csv" for p in d.problems)
    book = d.kind == BOOK
    assert ((d.b[book] - d.a[book])[d.a[book] > 0] == 200).all()
