"""Trade statistics: did the edge survive fees, slippage and execution?

Pure functions over settled trades. A trade is one fill of a buy, joined with its market's
result when known. Money stays in integer units; ratios (hit rate, bps) are floats.
Buckets follow statistics.md: bucket of a price = ``price * B // 10000`` on the integer,
never on a float that may sit a hair below an edge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from market.orders import Side, slippage_bps
from market.units import CONTRACT_PAYOUT, COUNT_SCALE

PRICE_BUCKETS = 20  # 5¢ buckets
SLIPPAGE_EDGES_BPS = (-100, -50, -20, -10, -5, 0, 5, 10, 20, 50, 100, 200, 500)


@dataclass(frozen=True, slots=True)
class Trade:
    """One bought fill: ``price`` is of ``side``; ``decision_price`` the limit the gate approved."""

    ticker: str
    strategy: str
    side: Side
    count: int
    price: int
    fee: int
    decision_price: int
    result: Side | None = None
    """The market's result; None while unsettled."""

    @property
    def family(self) -> str:
        """Series part of the ticker (``KXNBAGAME-26JAN20LALBOS-LAL`` → ``KXNBAGAME``)."""
        return self.ticker.split("-", 1)[0]

    @property
    def cost(self) -> int:
        return self.count * self.price // COUNT_SCALE

    @property
    def pnl(self) -> int | None:
        """P&L after fees once settled, in money units."""
        if self.result is None:
            return None
        payout = self.count * CONTRACT_PAYOUT // COUNT_SCALE if self.result is self.side else 0
        return payout - self.cost - self.fee

    @property
    def slippage_bps(self) -> float:
        """Fill vs decision price, worse (paid more) positive."""
        return slippage_bps(self.price, self.decision_price)


def price_bucket(price: int, buckets: int = PRICE_BUCKETS) -> int:
    return min(price * buckets // CONTRACT_PAYOUT, buckets - 1)


@dataclass(frozen=True, slots=True)
class BucketStats:
    bucket: int
    trades: int
    wins: int
    pnl: int
    cost: int

    @property
    def hit_rate(self) -> float:
        return self.wins / self.trades if self.trades else float("nan")

    @property
    def net_bps(self) -> float:
        return self.pnl / self.cost * 10_000 if self.cost else float("nan")

    @property
    def label(self) -> str:
        width = 100 // PRICE_BUCKETS
        return f"{self.bucket * width}-{(self.bucket + 1) * width}¢"


@dataclass(frozen=True, slots=True)
class Summary:
    trades: int
    settled: int
    wins: int
    pnl: int
    fees: int
    cost: int
    fill_ratio: float
    by_bucket: tuple[BucketStats, ...]
    pnl_by_family: Mapping[str, int] = field(default_factory=dict)
    pnl_by_strategy: Mapping[str, int] = field(default_factory=dict)
    slippage_histogram: tuple[int, ...] = ()

    @property
    def hit_rate(self) -> float:
        return self.wins / self.settled if self.settled else float("nan")

    @property
    def net_bps(self) -> float:
        """P&L after fees / capital deployed × 10,000 (settled trades)."""
        return self.pnl / self.cost * 10_000 if self.cost else float("nan")


def summarise(trades: Iterable[Trade], ordered_count: int, filled_count: int) -> Summary:
    """All statistics over ``trades``; fill ratio = filled / ordered contracts."""
    trades = list(trades)
    settled = [t for t in trades if t.result is not None]
    buckets: dict[int, list[Trade]] = defaultdict(list)
    family: dict[str, int] = defaultdict(int)
    strategy: dict[str, int] = defaultdict(int)
    for t in settled:
        buckets[price_bucket(t.price)].append(t)
        family[t.family] += t.pnl or 0
        strategy[t.strategy] += t.pnl or 0
    by_bucket = tuple(
        BucketStats(
            b, len(ts), sum(t.result is t.side for t in ts), sum(t.pnl or 0 for t in ts),
            sum(t.cost for t in ts),
        )
        for b, ts in sorted(buckets.items())
    )
    slippage = np.array([t.slippage_bps for t in trades], dtype=np.float64)
    edges = np.array((-np.inf, *SLIPPAGE_EDGES_BPS, np.inf))
    histogram = tuple(int(n) for n in np.histogram(slippage, bins=edges)[0]) if len(slippage) else ()
    return Summary(
        trades=len(trades),
        settled=len(settled),
        wins=sum(t.result is t.side for t in settled),
        pnl=sum(t.pnl or 0 for t in settled),
        fees=sum(t.fee for t in trades),
        cost=sum(t.cost for t in settled),
        fill_ratio=filled_count / ordered_count if ordered_count else float("nan"),
        by_bucket=by_bucket,
        pnl_by_family=dict(family),
        pnl_by_strategy=dict(strategy),
        slippage_histogram=histogram,
    )
