"""Sportsbook fair value against the exchange price.

The engine maps exchange markets to sportsbook outcomes and fills ``MarketView.fair_yes``
with the de-vigged consensus of the bookmakers (``strategies.devig``). Where the exchange
asks less than that fair value by more than fees plus the minimum edge, buy the cheap side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import MarketView, Proposals, select
from .kernels import odds_edge_select


@dataclass(frozen=True, slots=True)
class OddsEdge:
    min_edge: float
    fee_rate_ppm: int
    enabled: bool = True
    name: str = "odds_edge"

    def fair_yes(self, view: MarketView) -> np.ndarray:
        """The bookmakers' de-vigged consensus it trades on (NaN where there is none)."""
        return view.fair_yes

    def propose(self, view: MarketView) -> Proposals:
        if not self.enabled or view.n == 0:
            return Proposals.empty()
        return select(odds_edge_select, view, view.fair_yes, self.min_edge, self.fee_rate_ppm)
