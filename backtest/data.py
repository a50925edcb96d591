"""Load history into a :class:`Dataset`: CSV or Parquet files, a daemon ledger, sportsbook CSVs.

The one place in ``backtest`` that reads files. Layouts, found by their header:

- book snapshots: ``ts, ticker, yes_bid, yes_ask, yes_bid_size, yes_ask_size[, fair_yes]``
- trades: ``ts, ticker, yes_price, count, taker_side`` (``yes``: the taker bought YES)
- settlements: ``ts, ticker, result`` (``yes`` | ``no``)
- markets: ``ticker, close_ts``
- football-data.co.uk match files (``backtest.football``)

``ts`` is integer ns since the epoch or ISO-8601 with a UTC offset; prices are dollars
(``0.5600``, blank = no level), counts are contracts (``10.00``), exactly as the API writes
them, parsed by ``market.units``. A row that cannot be trusted is skipped and reported as a
:class:`DataProblem` with its file and line (``strict=True`` raises on the first instead);
nothing is dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from market.units import CONTRACT_PAYOUT, UnitError, parse_count, parse_dollars

from .events import RESULT_NO, RESULT_YES, DataError, Dataset, DatasetBuilder
from .football import FootballOptions, is_football_header, load_football
from .ledger_source import LedgerOpener, LedgerRows

LAYOUTS: dict[str, tuple[str, ...]] = {
    "book": ("ts", "ticker", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size"),
    "trades": ("ts", "ticker", "yes_price", "count", "taker_side"),
    "settlements": ("ts", "ticker", "result"),
    "markets": ("ticker", "close_ts"),
}
SQLITE_MAGIC = b"SQLite format 3\x00"


class _Strict(DataError):
    pass


def load(paths: Path | Iterable[Path], football: FootballOptions | None = None,
         strict: bool = False, open_ledger: LedgerOpener | None = None) -> Dataset:
    """Every file under ``paths`` (a file, a directory, or several), in name order.

    A daemon ledger among them is read through ``open_ledger`` (the daemon supplies it).
    """
    builder = DatasetBuilder()
    files: list[Path] = []
    for path in [paths] if isinstance(paths, Path) else list(paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower()
                            in (".csv", ".parquet", ".sqlite", ".db"))
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"{path}: no such file or directory")
    if not files:
        raise DataError("no data files found (.csv, .parquet, .sqlite)")
    for file in files:
        load_file(file, builder, football or FootballOptions(), open_ledger)
        if strict and builder.problems:
            raise DataError(str(builder.problems[0]))
    return builder.build()


def load_file(path: Path, builder: DatasetBuilder, football: FootballOptions,
              open_ledger: LedgerOpener | None = None) -> None:
    with path.open("rb") as handle:
        magic = handle.read(len(SQLITE_MAGIC))
    if magic == SQLITE_MAGIC:
        if open_ledger is None:
            raise DataError(f"{path.name}: a daemon ledger, and no ledger reader was given")
        with open_ledger(path) as reader:
            load_ledger(reader, path.name, builder)
    elif path.suffix.lower() == ".parquet":
        _load_rows(path.name, _parquet_rows(path), builder)
    else:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        if is_football_header(header):
            load_football(path, builder, football)
        else:
            _load_rows(path.name, _csv_rows(path), builder)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise DataError(f"{path.name}: empty file")
        yield 0, {"__header__": [f.strip() for f in reader.fieldnames]}
        for row in reader:
            if None in row:
                yield reader.line_num, {"__error__": f"{len(row[None]) + len(reader.fieldnames)} "
                                        f"fields, header has {len(reader.fieldnames)}"}
                continue
            yield reader.line_num, {k.strip(): v for k, v in row.items()}


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path.name}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    table = pq.read_table(path)
    yield 0, {"__header__": list(table.column_names)}
    for i, row in enumerate(table.to_pylist(), start=1):
        yield i, {k: "" if v is None else str(v) for k, v in row.items()}


def _layout(header: list[str]) -> str | None:
    for name, columns in LAYOUTS.items():
        if all(c in header for c in columns):
            return name
    return None


def _load_rows(source: str, rows: Iterator[tuple[int, dict[str, Any]]], builder: DatasetBuilder) -> None:
    _, first = next(rows)
    header = first["__header__"]
    layout = _layout(header)
    if layout is None:
        known = "; ".join(f"{k}: {', '.join(v)}" for k, v in LAYOUTS.items())
        builder.problem(source, 1, f"unknown layout {header!r} (expected football-data or {known})")
        return
    parse = _PARSERS[layout]
    for line, row in rows:
        try:
            if "__error__" in row:
                raise ValueError(row["__error__"])
            parse(row, builder)
        except (ValueError, UnitError) as exc:
            builder.problem(source, line, str(exc))


# ---------------------------------------------------------------------- row parsers
def parse_ts(text: str) -> int:
    """Integer ns since the epoch, or ISO-8601 with an offset (``Z`` allowed); never naive."""
    text = (text or "").strip()
    if not text:
        raise ValueError("ts is blank")
    if text.isascii() and text.isdigit():
        value = int(text)
    else:
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"ts {text!r} is neither ns since the epoch nor ISO-8601") from None
        if moment.tzinfo is None:
            raise ValueError(f"ts {text!r} has no UTC offset")
        seconds = int((moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() // 1)
        value = seconds * 1_000_000_000 + moment.microsecond * 1_000
    if not 0 < value < 2**62:
        raise ValueError(f"ts {text!r} is outside the representable range")
    return value


def _ticker(row: dict[str, Any]) -> str:
    ticker = (row.get("ticker") or "").strip()
    if not ticker or not ticker.isprintable() or any(c.isspace() for c in ticker):
        raise ValueError(f"ticker {row.get('ticker')!r} is blank or has spaces")
    return ticker


def _units(row: dict[str, Any], name: str, blank_ok: bool, parse: Any) -> int:
    """The field parsed to units; 0 for a blank allowed field; the error names the field."""
    text = (row.get(name) or "").strip()
    if not text:
        if blank_ok:
            return 0
        raise ValueError(f"{name} is blank")
    try:
        return parse(text)
    except UnitError as exc:
        raise ValueError(f"{name} {text!r}: {exc.why}") from None


def _price(row: dict[str, Any], name: str, blank_ok: bool) -> int:
    units = _units(row, name, blank_ok, parse_dollars)
    if units and not 0 < units < CONTRACT_PAYOUT:
        raise ValueError(f"{name} {row[name].strip()!r} is not a price between 0 and 1 dollar")
    return units


def _count(row: dict[str, Any], name: str, blank_ok: bool) -> int:
    units = _units(row, name, blank_ok, parse_count)
    if units < 0:
        raise ValueError(f"{name} {row[name].strip()!r} is negative")
    return units


def _side(row: dict[str, Any], name: str) -> int:
    text = (row.get(name) or "").strip().lower()
    if text not in ("yes", "no"):
        raise ValueError(f"{name} {row.get(name)!r} is not yes or no")
    return RESULT_YES if text == "yes" else RESULT_NO


def _book_row(row: dict[str, Any], b: DatasetBuilder) -> None:
    ts, ticker = parse_ts(row["ts"]), _ticker(row)
    bid, ask = _price(row, "yes_bid", True), _price(row, "yes_ask", True)
    bid_size, ask_size = _count(row, "yes_bid_size", True), _count(row, "yes_ask_size", True)
    if bid and ask and bid >= ask:
        raise ValueError(f"crossed or locked book: yes_bid {row['yes_bid']} >= yes_ask {row['yes_ask']}")
    if (bid == 0) != (bid_size == 0) or (ask == 0) != (ask_size == 0):
        raise ValueError("a price level needs both a price and a size (or neither)")
    fair = float("nan")
    text = (row.get("fair_yes") or "").strip()
    if text:
        fair = float(text) if _is_float(text) else math.nan
        if not 0.0 < fair < 1.0:
            raise ValueError(f"fair_yes {text!r} is not a probability strictly between 0 and 1")
    b.book(ts, ticker, bid, ask, bid_size, ask_size, fair)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _trade_row(row: dict[str, Any], b: DatasetBuilder) -> None:
    ts, ticker = parse_ts(row["ts"]), _ticker(row)
    price, count = _price(row, "yes_price", False), _count(row, "count", False)
    if count == 0:
        raise ValueError("count is 0")
    b.trade(ts, ticker, price, count, _side(row, "taker_side"))


def _settlement_row(row: dict[str, Any], b: DatasetBuilder) -> None:
    b.settle(parse_ts(row["ts"]), _ticker(row), _side(row, "result"))


def _market_row(row: dict[str, Any], b: DatasetBuilder) -> None:
    b.close_time(_ticker(row), parse_ts(row["close_ts"]))


_PARSERS = {"book": _book_row, "trades": _trade_row, "settlements": _settlement_row,
            "markets": _market_row}


# ---------------------------------------------------------------------- daemon ledger
def load_ledger(reader: LedgerRows, source: str, builder: DatasetBuilder) -> None:
    """What the daemon saw: its sampled book snapshots, its markets' close times, and the
    settlements it recorded. A market missing from a refresh had left the open list, so it
    gets an empty book there (the daemon's board marks it closed).

    ``reader`` is already open (the daemon's, which knows the schema); ``source`` names the
    file in problems.
    """
    markets = reader.rows("markets")
    snapshots = reader.rows("book_snapshots")
    settlements = reader.rows("settlements")
    for row in markets:
        if row["close_ts_ns"]:
            builder.close_time(row["ticker"], int(row["close_ts_ns"]))
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in snapshots:
        groups.setdefault(int(row["ts_ns"]), []).append(row)
    shown: set[str] = set()
    for ts in sorted(groups):
        seen: set[str] = set()
        for row in groups[ts]:
            seen.add(row["ticker"])  # listed, so open, even when its quote is refused
            try:
                bid, ask = _ledger_int(row, "yes_bid"), _ledger_int(row, "yes_ask")
                bsz, asz = _ledger_int(row, "yes_bid_size"), _ledger_int(row, "yes_ask_size")
                if bid >= CONTRACT_PAYOUT or ask >= CONTRACT_PAYOUT or (bid and ask and bid >= ask):
                    raise ValueError(f"yes_bid {bid} / yes_ask {ask} is not a valid book")
            except ValueError as exc:
                builder.problem(f"{source} book_snapshots id", int(row["id"]), str(exc))
                continue
            builder.book(ts, row["ticker"], bid, ask, bsz if bid else 0, asz if ask else 0)
        for ticker in sorted(shown - seen):
            builder.book(ts, ticker, 0, 0, 0, 0)
        shown = seen
    for row in settlements:
        if row["result"] not in ("yes", "no"):
            builder.problem(f"{source} settlements id", int(row["id"]), f"result {row['result']!r}")
            continue
        ts = int(row["venue_ts_ns"] or row["ts_ns"])
        builder.settle(ts, row["ticker"], RESULT_YES if row["result"] == "yes" else RESULT_NO)


def _ledger_int(row: dict[str, Any], name: str) -> int:
    value = row[name]
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} {value!r} is not a non-negative integer")
    return value
