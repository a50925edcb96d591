"""What a strategy sees and what it proposes: columns over all markets, not objects per market.

A strategy is a pure function of a :class:`MarketView` (the latest books of every watched
market, as numpy columns indexed by market slot) to :class:`Proposals`. It never sizes an
order and never talks to a venue: sizing and every limit belong to the risk gate, so the
same strategy code runs unchanged in backtest, paper and live (DESIGN principle 4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from market.units import CONTRACT_PAYOUT

SIDE_YES = 0
SIDE_NO = 1
NO_PRICE = 0
"""Price column value meaning "no level on this side of the book"."""


@dataclass(frozen=True, slots=True)
class MarketView:
    """Top of book for every market slot (int64 price units; 0 = no level)."""

    yes_bid: np.ndarray
    yes_ask: np.ndarray
    yes_bid_size: np.ndarray
    yes_ask_size: np.ndarray
    book_ts_ns: np.ndarray
    fair_yes: np.ndarray
    """External fair probability of YES per slot (e.g. de-vigged odds); NaN when unknown."""

    @property
    def n(self) -> int:
        return len(self.yes_bid)

    @property
    def no_ask(self) -> np.ndarray:
        """NO ask = 1 − best YES bid (0 where there is no YES bid)."""
        return np.where(self.yes_bid > 0, CONTRACT_PAYOUT - self.yes_bid, NO_PRICE)

    @property
    def no_ask_size(self) -> np.ndarray:
        return self.yes_bid_size

    @classmethod
    def empty(cls, n: int) -> MarketView:
        zeros = np.zeros(n, dtype=np.int64)
        return cls(zeros, zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(),
                   np.full(n, np.nan))


@dataclass(frozen=True, slots=True)
class Proposals:
    """Buy proposals: per row a market slot, the side, its limit price and fair probability.

    ``fair`` is the fair probability of the side being bought (YES or NO), so the gate's
    edge is always ``fair − price`` whichever side it is.
    """

    slot: np.ndarray
    side: np.ndarray
    price: np.ndarray
    fair: np.ndarray
    size_cap: np.ndarray
    """Most the book offers at ``price`` (count units): never propose more than is there."""

    def __len__(self) -> int:
        return len(self.slot)

    @classmethod
    def empty(cls) -> Proposals:
        i = np.zeros(0, dtype=np.int64)
        return cls(i, i.astype(np.int8), i.copy(), np.zeros(0), i.copy())

    @staticmethod
    def concat(parts: list[Proposals]) -> Proposals:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Proposals.empty()
        return Proposals(
            np.concatenate([p.slot for p in parts]),
            np.concatenate([p.side for p in parts]),
            np.concatenate([p.price for p in parts]),
            np.concatenate([p.fair for p in parts]),
            np.concatenate([p.size_cap for p in parts]),
        )


@dataclass(frozen=True, slots=True)
class StrategyDefaults:
    """The risk section's values a strategy screens with (plain numbers, not RiskLimits):
    proposing only what clears them keeps the gate's work and the decisions table small."""

    min_edge: float
    fee_rate_ppm: int


class Strategy(Protocol):
    name: str
    enabled: bool

    def propose(self, view: MarketView) -> Proposals: ...


def select(kernel: Callable[..., int], view: MarketView, *args: object) -> Proposals:
    """Run a selection kernel (strategies.kernels) over the view into fresh Proposals.

    The kernel gets the four quote columns, then ``args``, then the five output columns,
    and returns how many rows it wrote (at most two per market: YES and NO).
    """
    rows = 2 * view.n
    slot, side = np.empty(rows, np.int64), np.empty(rows, np.int8)
    price, fair, size_cap = np.empty(rows, np.int64), np.empty(rows, np.float64), np.empty(rows, np.int64)
    k = kernel(view.yes_bid, view.yes_ask, view.yes_bid_size, view.yes_ask_size, *args,
               slot, side, price, fair, size_cap)
    return Proposals(slot[:k], side[:k], price[:k], fair[:k], size_cap[:k])
