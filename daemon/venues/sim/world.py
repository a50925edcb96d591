"""The simulated world behind the built-in exchange and odds feed: games, truth, outcomes.

Every game has a true home-win probability. The exchange quotes it with the
favourite–longshot bias real Kalshi prices show (venues.md: contracts at 90¢ win ~93.8%,
at 6¢ ~5.2%), so longshots are overpriced and favourites underpriced; bookmakers (the odds
feed) quote around the truth with a margin. Outcomes are drawn from the true probability.
``bias_scale`` stretches the real table's excess (1.0 = the real size) so a short session
shows the effect; everything is a deterministic function of the seed and the clock.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import numpy as np

from market.orders import Side
from strategies.flb import KALSHI_FLB_TABLE

SPORT_KEY = "basketball_nba"
SERIES = "KXNBAGAME"
TEAMS = (
    ("ATL", "Atlanta Hawks"), ("BOS", "Boston Celtics"), ("BKN", "Brooklyn Nets"),
    ("CHA", "Charlotte Hornets"), ("CHI", "Chicago Bulls"), ("CLE", "Cleveland Cavaliers"),
    ("DAL", "Dallas Mavericks"), ("DEN", "Denver Nuggets"), ("DET", "Detroit Pistons"),
    ("GSW", "Golden State Warriors"), ("HOU", "Houston Rockets"), ("IND", "Indiana Pacers"),
    ("LAC", "Los Angeles Clippers"), ("LAL", "Los Angeles Lakers"), ("MEM", "Memphis Grizzlies"),
    ("MIA", "Miami Heat"), ("MIL", "Milwaukee Bucks"), ("MIN", "Minnesota Timberwolves"),
    ("NOP", "New Orleans Pelicans"), ("NYK", "New York Knicks"), ("OKC", "Oklahoma City Thunder"),
    ("ORL", "Orlando Magic"), ("PHI", "Philadelphia 76ers"), ("PHX", "Phoenix Suns"),
    ("POR", "Portland Trail Blazers"), ("SAC", "Sacramento Kings"), ("SAS", "San Antonio Spurs"),
    ("TOR", "Toronto Raptors"), ("UTA", "Utah Jazz"), ("WAS", "Washington Wizards"),
)
S = 1_000_000_000


@dataclass
class SimGame:
    game_id: str
    sport_key: str
    home_team: str
    away_team: str
    home_code: str
    away_code: str
    commence_ns: int
    true_home_prob: float
    ticker: str
    event_ticker: str
    series_ticker: str
    open_ns: int
    close_ns: int
    settle_ns: int
    outcome: Side
    """Drawn at creation from the true probability; revealed only once the market closes."""
    status: str = "active"
    result: Side | None = None


class FlbBias:
    """True probability → the biased exchange price, by inverting the FLB table's curve."""

    def __init__(self, scale: float = 1.0) -> None:
        table = np.asarray(KALSHI_FLB_TABLE)
        self.points = table[:, 0]
        self.excess = (table[:, 1] - table[:, 0]) * scale
        grid = np.arange(1, 10_000) / 10_000
        truth = np.clip(grid + np.interp(grid, self.points, self.excess), 1e-6, 1 - 1e-6)
        order = np.argsort(truth, kind="stable")
        self._truth, self._price = truth[order], grid[order]

    def price_for(self, true_prob: float) -> float:
        return float(np.interp(true_prob, self._truth, self._price))

    def true_for(self, price: float) -> float:
        return float(np.clip(price + np.interp(price, self.points, self.excess), 1e-6, 1 - 1e-6))


class SimWorld:
    def __init__(self, seed: int, n_markets: int, start_ns: int, market_life_s: float = 120.0,
                 settle_delay_s: float = 5.0, bias_scale: float = 3.0) -> None:
        if n_markets < 1:
            raise ValueError("the sim world needs at least one market")
        self.rng = random.Random(seed)
        self.n_markets = n_markets
        self.market_life_ns = int(market_life_s * S)
        self.settle_delay_ns = int(settle_delay_s * S)
        self.bias = FlbBias(bias_scale)
        self.games: list[SimGame] = []
        self.by_ticker: dict[str, SimGame] = {}
        self._live: list[SimGame] = []
        """Games not finalized yet: a long session steps only these, not its whole history."""
        self._serial = 0
        for i in range(n_markets):
            # Stagger the first games so markets do not all close at once.
            self._new_game(start_ns, start_ns + self.market_life_ns * (i + 1) // n_markets)

    def _new_game(self, now_ns: int, close_ns: int) -> SimGame:
        self._serial += 1
        (hc, home), (ac, away) = self.rng.sample(TEAMS, 2)
        # Spread of true probabilities wide enough to have favourites and longshots.
        p = min(max(self.rng.betavariate(0.7, 0.7), 0.01), 0.99)
        day = dt.datetime.fromtimestamp(close_ns // S, dt.UTC)
        date = f"{day:%y}{day:%b}{day:%d}".upper()
        event = f"{SERIES}-{date}{ac}{hc}{self._serial:04d}"
        game = SimGame(
            game_id=f"sim{self._serial:06d}", sport_key=SPORT_KEY, home_team=home, away_team=away,
            home_code=hc, away_code=ac, commence_ns=close_ns, true_home_prob=p,
            ticker=f"{event}-{hc}", event_ticker=event, series_ticker=SERIES, open_ns=now_ns,
            close_ns=close_ns, settle_ns=close_ns + self.settle_delay_ns,
            outcome=Side.YES if self.rng.random() < p else Side.NO,
        )
        self.games.append(game)
        self._live.append(game)
        self.by_ticker[game.ticker] = game
        return game

    def open_games(self) -> list[SimGame]:
        return [g for g in self._live if g.status == "active"]

    def quoted_price(self, game: SimGame) -> int:
        """The biased YES price the background makers centre their quotes on (whole cents)."""
        return min(max(round(self.bias.price_for(game.true_home_prob) * 100), 2), 98) * 100

    def advance(self, now_ns: int) -> list[SimGame]:
        """Move games through active → closed → determined → finalized; keep n open."""
        changed = []
        for game in self._live:
            before = game.status
            if game.status == "active" and now_ns >= game.close_ns:
                game.status = "closed"
            if game.status == "closed" and now_ns >= game.close_ns + self.settle_delay_ns // 2:
                game.status, game.result = "determined", game.outcome
            if game.status == "determined" and now_ns >= game.close_ns + self.settle_delay_ns:
                game.status = "finalized"
            if game.status != before:
                changed.append(game)
        self._live = [g for g in self._live if g.status != "finalized"]
        missing = self.n_markets - sum(g.status == "active" for g in self._live)
        for _ in range(missing):
            self._new_game(now_ns, now_ns + self.market_life_ns)
        return changed
