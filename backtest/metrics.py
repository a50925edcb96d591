"""What a backtest says about the edge: P&L after fees, fee drag, win rate, Sharpe, drawdown,
net bps by price bucket, slippage, and the price-vs-outcome reliability of the data.

Definitions (statistics.md where it pins one):
- P&L after fees: realized P&L summed over positions (settled markets in full; open ones
  only their fees), money units. Gross = P&L + fees. Fee drag % = fees / gross × 100
  (NaN when gross ≤ 0: fees cannot "drag" a loss).
- Win rate: share of settled fills whose side won (``monitoring.collector``).
- Net bps: P&L after fees / capital deployed × 10,000, settled fills.
- Sharpe: mean / standard deviation (ddof 1) of P&L per period (``period_ns``, default one
  UTC day, empty periods count as 0) × √(periods per 365 days); NaN under two periods.
- Max drawdown: largest fall of capital + cumulative P&L from its running peak.
- Reliability: per market, the last YES mid before settlement; bins of the integer price
  (``price * B // 10000``), empty bins dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from market.units import CONTRACT_PAYOUT, DAY_NS
from monitoring.collector import BucketStats, Trade, summarise

from .engine import BacktestResult
from .events import BOOK, RESULT_YES, SETTLE, Dataset

YEAR_NS = 365 * DAY_NS


@dataclass(frozen=True, slots=True)
class Summary:
    pnl: int
    gross_pnl: int
    fees: int
    fee_drag_pct: float
    orders: int
    fills: int
    contracts: int
    settled_fills: int
    win_rate: float
    deployed: int
    net_bps: float
    sharpe: float
    max_drawdown: int
    max_drawdown_pct: float
    open_exposure: int
    by_bucket: tuple[BucketStats, ...]
    slippage_bps: tuple[float, ...]
    fill_ratio: float

    def as_row(self) -> dict[str, float | int]:
        """The scalar figures, for tables and sweeps."""
        return {k: getattr(self, k) for k in (
            "pnl", "gross_pnl", "fees", "fee_drag_pct", "orders", "fills", "contracts", "settled_fills",
            "win_rate", "deployed", "net_bps", "sharpe", "max_drawdown", "max_drawdown_pct",
            "open_exposure", "fill_ratio")}


def trades(result: BacktestResult) -> list[Trade]:
    """Every fill as a ``monitoring.collector.Trade`` with its market's result when settled."""
    return [Trade(f.ticker, f.strategy, f.side, f.count, f.price, f.fee, f.decision_price,
                  result.results.get(f.ticker)) for f in result.fills]


def equity_curve(result: BacktestResult) -> tuple[np.ndarray, np.ndarray]:
    """(ts, capital + cumulative realized P&L) at every P&L event."""
    if not result.pnl_events:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    events = sorted(result.pnl_events)
    ts = np.array([t for t, _ in events], np.int64)
    equity = result.capital + np.cumsum(np.array([d for _, d in events], np.int64))
    return ts, equity


def drawdown(equity: np.ndarray, capital: int) -> np.ndarray:
    """Peak − equity at each point (money units), the starting capital as the first peak."""
    if not len(equity):
        return np.zeros(0, np.int64)
    peak = np.maximum.accumulate(np.maximum(equity, capital))
    return peak - equity


def sharpe(result: BacktestResult, period_ns: int = DAY_NS) -> float:
    if len(result.pnl_events) < 2:
        return float("nan")
    ts = np.array([t for t, _ in result.pnl_events], np.int64)
    delta = np.array([d for _, d in result.pnl_events], np.float64)
    period = (ts - ts.min()) // period_ns
    per = np.bincount(period, weights=delta)
    if len(per) < 2 or per.std(ddof=1) == 0:
        return float("nan")
    return float(per.mean() / per.std(ddof=1) * math.sqrt(YEAR_NS / period_ns))


def summarize(result: BacktestResult, period_ns: int = DAY_NS) -> Summary:
    stats = summarise(trades(result), sum(o.count for o in result.orders),
                      sum(f.count for f in result.fills))
    pnl, fees = result.pnl, result.fees
    gross = pnl + fees
    _, equity = equity_curve(result)
    dd = drawdown(equity, result.capital)
    worst = int(dd.max()) if len(dd) else 0
    at = int(dd.argmax()) if len(dd) else 0
    peak = int(np.maximum.accumulate(np.maximum(equity, result.capital))[at]) if len(dd) else result.capital
    return Summary(
        pnl=pnl, gross_pnl=gross, fees=fees,
        fee_drag_pct=fees / gross * 100 if gross > 0 else float("nan"),
        orders=len(result.orders), fills=len(result.fills),
        contracts=sum(f.count for f in result.fills), settled_fills=stats.settled,
        win_rate=stats.hit_rate, deployed=stats.cost, net_bps=stats.net_bps,
        sharpe=sharpe(result, period_ns), max_drawdown=worst,
        max_drawdown_pct=worst / peak * 100 if peak > 0 else float("nan"),
        open_exposure=result.open_exposure, by_bucket=stats.by_bucket,
        slippage_bps=tuple(f.slippage_bps for f in result.fills), fill_ratio=stats.fill_ratio,
    )


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    bin: int
    mean_price: float
    outcome_rate: float
    n: int


def reliability(data: Dataset, bins: int = 20) -> tuple[ReliabilityBin, ...]:
    """Last YES mid of each settled market before its settlement vs its result."""
    last_mid: dict[int, int] = {}
    outcomes: dict[int, int] = {}
    book = np.flatnonzero((data.kind == BOOK) & (data.a > 0) & (data.b > 0))
    settle = np.flatnonzero(data.kind == SETTLE)
    settled_at = {int(data.slot[i]): int(data.ts[i]) for i in settle}
    for i in book.tolist():
        slot = int(data.slot[i])
        if slot in settled_at and data.ts[i] <= settled_at[slot]:
            last_mid[slot] = int(data.a[i] + data.b[i]) // 2
    for i in settle.tolist():
        outcomes[int(data.slot[i])] = 1 if data.a[i] == RESULT_YES else 0
    groups: dict[int, list[tuple[int, int]]] = {}
    for slot, mid in last_mid.items():
        groups.setdefault(min(mid * bins // CONTRACT_PAYOUT, bins - 1), []).append((mid, outcomes[slot]))
    return tuple(
        ReliabilityBin(b, float(np.mean([m for m, _ in g])) / CONTRACT_PAYOUT,
                       float(np.mean([y for _, y in g])), len(g))
        for b, g in sorted(groups.items())
    )
