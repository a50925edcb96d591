"""Background traders that keep the built-in exchange's books alive.

A market maker quotes both sides of every open market around the world's biased price,
re-quoting each step with a little noise; a flow trader now and then takes liquidity.
Both are ordinary accounts of the matching engine, so their trades obey the same rules,
fees and money conservation as ours.
"""

from __future__ import annotations

import random

from market.orders import Action, OrderStatus, Side, TimeInForce
from market.units import CONTRACT_PAYOUT

from .matching import MatchingEngine, SimReject
from .world import SimWorld

MAKER, FLOW = "sim-maker", "sim-flow"
BIG = 10**15  # background accounts are never short of money


class BackgroundTraders:
    def __init__(self, engine: MatchingEngine, world: SimWorld, seed: int,
                 half_spread: int = 100, take_probability: float = 0.05) -> None:
        self.engine = engine
        self.world = world
        self.rng = random.Random(seed ^ 0x5EED)
        self.half_spread = half_spread
        self.take_probability = take_probability
        self._quotes: dict[str, list[str]] = {}
        self._seq = 0
        for name in (MAKER, FLOW):
            if name not in engine.accounts:
                engine.add_account(name, BIG, keep_fills=False)

    def step(self, now_ns: int) -> None:
        for game in self.world.open_games():
            self._requote(game.ticker, self.world.quoted_price(game), now_ns)
            if self.rng.random() < self.take_probability:
                self._take(game.ticker, now_ns)

    def _id(self) -> str:
        self._seq += 1
        return f"bg-{self._seq}"

    def _requote(self, ticker: str, centre: int, now_ns: int) -> None:
        for order_id in self._quotes.pop(ticker, []):
            order = self.engine.orders.get(order_id)
            if order is not None and order.status is OrderStatus.RESTING:
                self.engine.cancel(MAKER, order_id, now_ns)
            self.engine.forget(order_id)
        mid = centre + self.rng.choice((-100, 0, 0, 0, 100))
        bid = min(max(mid - self.half_spread, 100), CONTRACT_PAYOUT - 200)
        ask = min(max(mid + self.half_spread, bid + 100), CONTRACT_PAYOUT - 100)
        placed = []
        for side, price in ((Side.YES, bid), (Side.NO, CONTRACT_PAYOUT - ask)):
            for level in range(3):  # three levels a side, one cent apart
                level_price = price - 100 * level
                if level_price <= 0:
                    break
                size = self.rng.randint(5, 60) * 100
                try:
                    order = self.engine.submit(MAKER, self._id(), ticker, side, Action.BUY, level_price,
                                               size, TimeInForce.GTC, True, now_ns)
                except SimReject:
                    continue  # would cross a resting order: skip this level
                placed.append(order.order_id)
        self._quotes[ticker] = placed

    def _take(self, ticker: str, now_ns: int) -> None:
        side = self.rng.choice((Side.YES, Side.NO))
        levels = self.engine.books[ticker].levels(side.opposite)
        if not levels:
            return
        price = CONTRACT_PAYOUT - levels[0][0]
        try:
            order = self.engine.submit(FLOW, self._id(), ticker, side, Action.BUY, price,
                                       self.rng.randint(1, 10) * 100, TimeInForce.IOC, False, now_ns)
        except SimReject:
            return
        self.engine.forget(order.order_id)
