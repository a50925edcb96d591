"""History as one time-ordered column store: book quotes, trades and settlements.

The replay core (``backtest.fills``) walks plain int64 columns, so every source (CSV,
Parquet, a daemon ledger, sportsbook files) is turned into the same :class:`Dataset`.
Columns ``a..d`` mean different things per kind, in the units of ``market.units``:

| kind | a | b | c | d |
| --- | --- | --- | --- | --- |
| BOOK | yes_bid | yes_ask | yes_bid_size | yes_ask_size |
| TRADE | yes_price | count | taker side (0 bought YES, 1 bought NO) | 0 |
| SETTLE | result (0 YES, 1 NO) | 0 | 0 | 0 |

A price of 0 means "no level"; ``fair`` is an external fair probability of YES (NaN when
unknown), carried on BOOK events for strategies such as odds_edge. Times are exchange ns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from market.units import CONTRACT_PAYOUT

BOOK, TRADE, SETTLE = 0, 1, 2
KIND_NAMES = ("book", "trade", "settle")
RESULT_YES, RESULT_NO = 0, 1


@dataclass(frozen=True, slots=True)
class DataProblem:
    """A row that could not be trusted (or only partly): where it is and what is wrong."""

    source: str
    line: int
    message: str
    skipped: bool = True
    """True when the row contributed nothing; False when it was kept with a gap (e.g. no fair value)."""

    def __str__(self) -> str:
        what = "skipped" if self.skipped else "kept"
        return f"{self.source}:{self.line}: {self.message} ({what})"


class DataError(ValueError):
    """Data that cannot be used at all (unreadable file, unknown layout, strict mode)."""


@dataclass(frozen=True, slots=True)
class Dataset:
    tickers: tuple[str, ...]
    ts: np.ndarray
    kind: np.ndarray
    slot: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    fair: np.ndarray
    close_ts: np.ndarray
    """Per market: when it stops trading (ns, 0 = unknown); the engine's close guard uses it."""
    problems: tuple[DataProblem, ...] = ()

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def n_markets(self) -> int:
        return len(self.tickers)

    @property
    def book_events(self) -> int:
        return int(np.count_nonzero(self.kind == BOOK))

    @property
    def start_ns(self) -> int:
        return int(self.ts[0]) if len(self.ts) else 0

    @property
    def end_ns(self) -> int:
        return int(self.ts[-1]) if len(self.ts) else 0

    def settlements(self) -> dict[str, int]:
        """ticker → settlement time, for markets that settle in this data."""
        rows = np.flatnonzero(self.kind == SETTLE)
        return {self.tickers[int(self.slot[i])]: int(self.ts[i]) for i in rows}

    def select(self, mask: np.ndarray) -> Dataset:
        """The events where ``mask`` is true (same markets, same slots)."""
        return Dataset(self.tickers, self.ts[mask], self.kind[mask], self.slot[mask], self.a[mask],
                       self.b[mask], self.c[mask], self.d[mask], self.fair[mask], self.close_ts,
                       self.problems)

    def between(self, start_ns: int, end_ns: int) -> Dataset:
        """Events with ``start_ns <= ts < end_ns``."""
        return self.select((self.ts >= start_ns) & (self.ts < end_ns))


@dataclass
class DatasetBuilder:
    """Collects events from any loader, then sorts them once into a Dataset."""

    tickers: list[str] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    _slots: dict[str, int] = field(default_factory=dict)
    _rows: list[tuple[int, int, int, int, int, int, int, float]] = field(default_factory=list)
    _close: dict[int, int] = field(default_factory=dict)

    def slot(self, ticker: str) -> int:
        slot = self._slots.get(ticker)
        if slot is None:
            slot = self._slots[ticker] = len(self.tickers)
            self.tickers.append(ticker)
        return slot

    def book(self, ts: int, ticker: str, yes_bid: int, yes_ask: int, bid_size: int, ask_size: int,
             fair: float = float("nan")) -> None:
        self._rows.append((ts, BOOK, self.slot(ticker), yes_bid, yes_ask, bid_size, ask_size, fair))

    def trade(self, ts: int, ticker: str, yes_price: int, count: int, taker_side: int) -> None:
        self._rows.append((ts, TRADE, self.slot(ticker), yes_price, count, taker_side, 0, float("nan")))

    def settle(self, ts: int, ticker: str, result: int) -> None:
        self._rows.append((ts, SETTLE, self.slot(ticker), result, 0, 0, 0, float("nan")))

    def close_time(self, ticker: str, close_ts: int) -> None:
        self._close[self.slot(ticker)] = close_ts

    def problem(self, source: str, line: int, message: str, skipped: bool = True) -> None:
        self.problems.append(DataProblem(source, line, message, skipped))

    def build(self) -> Dataset:
        rows = self._rows
        n = len(rows)
        ts = np.fromiter((r[0] for r in rows), np.int64, n)
        kind = np.fromiter((r[1] for r in rows), np.int64, n)
        # Stable sort by time, and within one instant books before trades before settlements:
        # a settlement is the last thing that happens to a market.
        order = np.lexsort((kind, ts))
        cols = [np.fromiter((r[i] for r in rows), np.int64, n)[order] for i in range(2, 7)]
        fair = np.fromiter((r[7] for r in rows), np.float64, n)[order]
        close = np.zeros(len(self.tickers), np.int64)
        for slot, value in self._close.items():
            close[slot] = value
        return Dataset(tuple(self.tickers), ts[order], kind[order], cols[0], *cols[1:], fair, close,
                       tuple(self.problems))


def from_arrays(tickers: tuple[str, ...], ts: np.ndarray, kind: np.ndarray, slot: np.ndarray,
                a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray,
                fair: np.ndarray | None = None, close_ts: np.ndarray | None = None) -> Dataset:
    """A Dataset from columns already in memory (synthetic data, benchmarks), checked and sorted."""
    n = len(ts)
    columns = [np.ascontiguousarray(x, dtype=np.int64) for x in (ts, kind, slot, a, b, c, d)]
    if any(len(x) != n for x in columns):
        raise DataError("event columns have different lengths")
    if n and (columns[2].min() < 0 or columns[2].max() >= len(tickers)):
        raise DataError("an event names a market slot outside the ticker list")
    if n and not np.isin(columns[1], (BOOK, TRADE, SETTLE)).all():
        raise DataError("unknown event kind")
    book = columns[1] == BOOK
    for col, name in ((columns[3], "yes_bid"), (columns[4], "yes_ask")):
        if ((col[book] < 0) | (col[book] >= CONTRACT_PAYOUT)).any():
            raise DataError(f"{name} outside 0..{CONTRACT_PAYOUT - 1}")
    fair = np.full(n, np.nan) if fair is None else np.asarray(fair, np.float64)
    order = np.lexsort((columns[1], columns[0]))
    if not np.array_equal(order, np.arange(n)):
        columns = [x[order] for x in columns]
        fair = fair[order]
    close = np.zeros(len(tickers), np.int64) if close_ts is None else np.asarray(close_ts, np.int64)
    return Dataset(tuple(tickers), *columns, fair, close)
