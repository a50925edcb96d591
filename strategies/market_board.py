"""The engine's picture of every watched market: top of book as numpy columns by gate slot.

The poller writes here; strategies read a :class:`MarketView` of it. Columns are indexed by
the same slot as the risk gate's state arrays, so a proposal's slot means one market
everywhere.
"""

from __future__ import annotations

import numpy as np

from strategies.base import MarketView
from strategies.kernels import masked_quotes

QUOTE_ROWS = ("yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size", "book_ts")
"""The rows of ``MarketBoard.quotes``: one array, so the tick's kernel takes the board in one
argument (each array crossing into numba costs, and more so with cold caches)."""


class MarketBoard:
    def __init__(self, capacity: int = 1024) -> None:
        self.tickers: list[str] = []
        self._set_quotes(np.zeros((len(QUOTE_ROWS), capacity), np.int64))
        self.fair_yes = np.full(capacity, np.nan)
        self.open = np.zeros(capacity, np.bool_)

    def _set_quotes(self, quotes: np.ndarray) -> None:
        self.quotes = quotes
        self.yes_bid, self.yes_ask, self.yes_bid_size, self.yes_ask_size, self.book_ts = quotes

    def add(self, ticker: str, slot: int) -> None:
        if slot != len(self.tickers):
            raise ValueError(f"board slot {slot} for {ticker} is out of step with the gate")
        if slot >= self.quotes.shape[1]:
            self._set_quotes(np.concatenate([self.quotes, np.zeros_like(self.quotes)], axis=1))
            self.open = np.concatenate([self.open, np.zeros_like(self.open)])
            self.fair_yes = np.concatenate([self.fair_yes, np.full(len(self.fair_yes), np.nan)])
        self.tickers.append(ticker)

    def update(self, slot: int, yes_bid: int, yes_ask: int, bid_size: int, ask_size: int,
               ts_ns: int, is_open: bool) -> bool:
        """Store a quote; True when it differs from the one before (a book change)."""
        changed = (
            self.yes_bid[slot] != yes_bid or self.yes_ask[slot] != yes_ask
            or self.yes_bid_size[slot] != bid_size or self.yes_ask_size[slot] != ask_size
        )
        self.yes_bid[slot], self.yes_ask[slot] = yes_bid, yes_ask
        self.yes_bid_size[slot], self.yes_ask_size[slot] = bid_size, ask_size
        self.book_ts[slot] = ts_ns
        self.open[slot] = is_open
        return bool(changed)

    def view(self) -> MarketView:
        """Open markets only: a closed market quotes nothing a strategy may act on."""
        n = len(self.tickers)
        bid, ask, bid_size, ask_size = masked_quotes(
            self.open[:n], self.yes_bid[:n], self.yes_ask[:n], self.yes_bid_size[:n], self.yes_ask_size[:n])
        return MarketView(bid, ask, bid_size, ask_size, self.book_ts[:n], self.fair_yes[:n])

    def spread(self, slot: int) -> int | None:
        bid, ask = int(self.yes_bid[slot]), int(self.yes_ask[slot])
        return ask - bid if bid > 0 and ask > 0 else None
