"""The trade log for people who live in spreadsheets: one row per fill, one file per UTC day.

It is a copy of the ledger's fills, never the source of truth; the parser exists because
people edit these files and later tools (reports, backtests) read them back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from market.orders import Action, Side
from market.units import (
    UnitError,
    format_count,
    format_dollars,
    parse_count,
    parse_dollars,
    parse_price,
)

HEADER = (
    "ts", "fill_id", "order_id", "client_order_id", "ticker", "side", "action",
    "count", "price", "fee", "is_taker", "strategy",
)


@dataclass(frozen=True, slots=True)
class TradeRow:
    ts_ns: int
    fill_id: str
    order_id: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: int
    price: int
    fee: int
    is_taker: bool
    strategy: str


class TradeCsvError(ValueError):
    """A row that cannot be trusted, with file and line."""


def csv_path(data_dir: Path, ts_ns: int) -> Path:
    day = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC).date()
    return data_dir / f"trades-{day:%Y-%m-%d}.csv"


def _iso(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _parse_iso(text: str) -> int:
    if not text.endswith("Z") or not text.isascii():
        raise ValueError("expected UTC time like 2026-01-20T23:59:59.000000123Z")
    head, _, frac = text[:-1].partition(".")
    moment = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    if frac and (not frac.isdigit() or len(frac) > 9):
        raise ValueError(f"bad fraction of a second {frac!r}")
    return int(moment.timestamp()) * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def append_trades(data_dir: Path, trades: Iterable[TradeRow]) -> list[Path]:
    """Append rows to their day's file (header only when the file is new); flushed and fsynced."""
    by_file: dict[Path, list[TradeRow]] = {}
    for trade in trades:
        by_file.setdefault(csv_path(data_dir, trade.ts_ns), []).append(trade)
    for path, rows in by_file.items():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        unterminated = not new and not _ends_with_newline(path)
        # 0600 whatever the umask: fills and P&L are private.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with open(fd, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(HEADER)
            elif unterminated:  # saved by a spreadsheet without a final newline
                handle.write("\r\n")
            for t in rows:
                writer.writerow((
                    _iso(t.ts_ns), t.fill_id, t.order_id, t.client_order_id, t.ticker, t.side.value,
                    t.action.value, format_count(t.count), format_dollars(t.price),
                    format_dollars(t.fee), "true" if t.is_taker else "false", t.strategy,
                ))
            handle.flush()
            os.fsync(handle.fileno())
    return list(by_file)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) in (b"\n", b"\r")


def read_trade_csv(path: Path) -> list[TradeRow]:
    """Parse a trade log strictly; the error names the file, line and field."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # e.g. a spreadsheet saved it as Windows-1252
        line = data[: exc.start].count(b"\n") + 1
        raise TradeCsvError(f"{path}:{line}: not UTF-8 ({exc.reason}); save it as UTF-8 CSV") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    try:
        for record in reader:
            records.append((reader.line_num, record))
    except csv.Error as exc:
        raise TradeCsvError(f"{path}:{reader.line_num}: {exc}") from None
    if not records or tuple(records[0][1]) != HEADER:
        raise TradeCsvError(f"{path}:1: header must be {','.join(HEADER)}")
    rows: list[TradeRow] = []
    for line, record in records[1:]:
        if not record:
            continue
        if len(record) != len(HEADER):
            raise TradeCsvError(f"{path}:{line}: expected {len(HEADER)} fields, got {len(record)}")
        try:
            rows.append(_row(dict(zip(HEADER, record, strict=True))))
        except (ValueError, UnitError) as exc:
            raise TradeCsvError(f"{path}:{line}: {exc}") from None
    return rows


def _row(f: dict[str, str]) -> TradeRow:
    for name in ("fill_id", "order_id", "ticker"):
        if not f[name].strip():
            raise ValueError(f"{name} is empty")
    if f["is_taker"] not in ("true", "false"):
        raise ValueError(f"is_taker {f['is_taker']!r}: expected true or false")
    try:
        side, action = Side(f["side"]), Action(f["action"])
    except ValueError:
        raise ValueError(f"side/action {f['side']!r}/{f['action']!r}: expected yes|no and buy|sell") from None
    try:
        ts = _parse_iso(f["ts"])
    except ValueError as exc:
        raise ValueError(f"ts {f['ts']!r}: {exc}") from None
    count = parse_count(f["count"])
    if count <= 0:
        raise ValueError(f"count {f['count']!r} must be positive")
    fee = parse_dollars(f["fee"])
    if fee < 0:
        raise ValueError(f"fee {f['fee']!r} must not be negative")
    return TradeRow(ts, f["fill_id"], f["order_id"], f["client_order_id"], f["ticker"], side, action,
                    count, parse_price(f["price"]), fee, f["is_taker"] == "true", f["strategy"])
