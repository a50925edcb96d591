"""Sportsbook fair value against the exchange price.

The engine maps exchange markets to sportsbook outcomes and fills ``MarketView.fair_yes``
with the de-vigged consensus of the bookmakers (``strategies.devig``). Where the exchange
asks less than that fair value by more than fees plus the minimum edge, buy the cheap side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from market.units import CONTRACT_PAYOUT

from .base import SIDE_NO, SIDE_YES, MarketView, Proposals, fee_per_contract


@dataclass(frozen=True, slots=True)
class OddsEdge:
    min_edge: float
    fee_rate_ppm: int
    enabled: bool = True
    name: str = "odds_edge"

    def propose(self, view: MarketView) -> Proposals:
        if not self.enabled or view.n == 0:
            return Proposals.empty()
        known = np.isfinite(view.fair_yes)
        fair_yes = np.where(known, view.fair_yes, 0.5)

        yes_ask = view.yes_ask
        buy_yes = known & (yes_ask > 0) & (view.yes_ask_size > 0)
        buy_yes &= (fair_yes - yes_ask / CONTRACT_PAYOUT
                    - fee_per_contract(yes_ask, self.fee_rate_ppm)) > self.min_edge

        no_ask = view.no_ask
        buy_no = known & (no_ask > 0) & (view.no_ask_size > 0)
        buy_no &= ((1.0 - fair_yes) - no_ask / CONTRACT_PAYOUT
                   - fee_per_contract(no_ask, self.fee_rate_ppm)) > self.min_edge

        yes_slots = np.flatnonzero(buy_yes)
        no_slots = np.flatnonzero(buy_no)
        return Proposals(
            slot=np.concatenate([yes_slots, no_slots]).astype(np.int64),
            side=np.concatenate([
                np.full(len(yes_slots), SIDE_YES, np.int8), np.full(len(no_slots), SIDE_NO, np.int8)
            ]),
            price=np.concatenate([yes_ask[yes_slots], no_ask[no_slots]]).astype(np.int64),
            fair=np.concatenate([fair_yes[yes_slots], 1.0 - fair_yes[no_slots]]),
            size_cap=np.concatenate([view.yes_ask_size[yes_slots], view.no_ask_size[no_slots]]).astype(np.int64),
        )
