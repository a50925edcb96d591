"""Order book from the API's two bid ladders.

Kalshi lists only bids, on both sides: a YES ask at p is a NO bid at 1 − p. The best YES
ask is therefore 1 − best NO bid, and the NO asks mirror the YES bids. Levels arrive in no
promised order, so they are sorted here; duplicate prices are merged and empty levels
dropped. A crossed book (YES bid + NO bid > $1) can appear in real data between updates: it
is kept and flagged (``is_crossed``) rather than rejected, so the caller decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .orders import Side
from .units import CONTRACT_PAYOUT


class BookError(ValueError):
    """A ladder level that cannot be a real order book level."""


@dataclass(frozen=True, slots=True)
class Level:
    price: int
    count: int


def _ladder(side: str, levels: Iterable[tuple[int, int]]) -> tuple[Level, ...]:
    merged: dict[int, int] = {}
    for index, level in enumerate(levels):
        try:
            price, count = level
        except (TypeError, ValueError):
            raise BookError(f"{side} bids[{index}]: expected [price, count], got {level!r}") from None
        if isinstance(price, bool) or not isinstance(price, int) or not 0 < price < CONTRACT_PAYOUT:
            raise BookError(f"{side} bids[{index}]: price {price!r} outside 1..{CONTRACT_PAYOUT - 1}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BookError(f"{side} bids[{index}]: count {count!r} must be a non-negative integer")
        if count:
            merged[price] = merged.get(price, 0) + count
    return tuple(Level(p, merged[p]) for p in sorted(merged, reverse=True))


@dataclass(frozen=True, slots=True)
class OrderBook:
    ticker: str
    yes_bids: tuple[Level, ...]
    no_bids: tuple[Level, ...]
    ts_ns: int

    @classmethod
    def from_ladders(
        cls,
        ticker: str,
        yes_bids: Iterable[tuple[int, int]],
        no_bids: Iterable[tuple[int, int]],
        ts_ns: int,
    ) -> OrderBook:
        return cls(ticker, _ladder("yes", yes_bids), _ladder("no", no_bids), ts_ns)

    def bids(self, side: Side) -> tuple[Level, ...]:
        return self.yes_bids if side is Side.YES else self.no_bids

    def asks(self, side: Side) -> tuple[Level, ...]:
        """Asks for ``side``, best (lowest) first, derived from the other side's bids."""
        return tuple(Level(CONTRACT_PAYOUT - lv.price, lv.count) for lv in self.bids(side.opposite))

    def best_bid(self, side: Side) -> Level | None:
        ladder = self.bids(side)
        return ladder[0] if ladder else None

    def best_ask(self, side: Side) -> Level | None:
        other = self.best_bid(side.opposite)
        return Level(CONTRACT_PAYOUT - other.price, other.count) if other else None

    def spread(self, side: Side = Side.YES) -> int | None:
        bid, ask = self.best_bid(side), self.best_ask(side)
        return ask.price - bid.price if bid and ask else None

    def mid(self, side: Side = Side.YES) -> float | None:
        """Mid price as a probability: statistics only, never a price to trade at."""
        bid, ask = self.best_bid(side), self.best_ask(side)
        return (bid.price + ask.price) / (2 * CONTRACT_PAYOUT) if bid and ask else None

    def depth(self, side: Side, book_side: Literal["bid", "ask"], levels: int | None = None) -> int:
        """Total count units on the first ``levels`` levels (all when None)."""
        if levels is not None and levels < 0:
            raise ValueError(f"depth of {self.ticker}: levels {levels} must not be negative")
        if book_side not in ("bid", "ask"):
            raise ValueError(f"depth of {self.ticker}: book_side {book_side!r} not 'bid' or 'ask'")
        ladder = self.bids(side) if book_side == "bid" else self.asks(side)
        return sum(lv.count for lv in ladder[:levels])

    @property
    def is_crossed(self) -> bool:
        spread = self.spread(Side.YES)
        return spread is not None and spread < 0
