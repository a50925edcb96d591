"""Fair probabilities for exchange markets from the sportsbook odds feed.

Each bookmaker's head-to-head prices are de-vigged (``strategies.devig``), the bookmakers'
fair vectors averaged into a consensus, and the consensus is looked up by the teams an
exchange market names (its ``yes_sub_title`` / ``no_sub_title``). A game with too few
bookmakers, or odds older than ``max_age``, has no fair value (NaN), so the odds-edge
strategy leaves it alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from daemon.feeds.odds_api import OddsSnapshot
from daemon.feeds.odds_parse import OddsEvent
from daemon.logs import get_logger
from strategies.devig import DevigError, consensus, devig

log = get_logger("edgewarden.fair")


@dataclass(frozen=True, slots=True)
class GameFair:
    ts_ns: int
    commence_ns: int
    probabilities: dict[str, float]
    bookmakers: int


class FairValues:
    def __init__(self, method: str = "shin", min_bookmakers: int = 2, max_age_s: float = 120.0) -> None:
        self.method = method
        self.min_bookmakers = min_bookmakers
        self.max_age_ns = int(max_age_s * 1e9)
        self.games: dict[frozenset[str], GameFair] = {}

    def update(self, snapshot: OddsSnapshot) -> list[tuple[OddsEvent, GameFair]]:
        """Fold one poll's events in; returns the games that got a consensus."""
        updated = []
        for event in snapshot.events:
            names: list[str] | None = None
            vectors = []
            for book in event.bookmakers:
                market = book.market("h2h")
                if market is None:
                    continue
                outcomes = {o.name: o.price for o in market.outcomes}
                order = sorted(outcomes)
                if names is None:
                    names = order
                if order != names:
                    continue  # a bookmaker naming different outcomes cannot be averaged in
                try:
                    vectors.append(devig([outcomes[n] for n in names], self.method))
                except DevigError as exc:
                    log.warning("odds_devig_failed", event_id=event.id, bookmaker=book.key, error=str(exc))
            if names is None or len(vectors) < self.min_bookmakers:
                continue
            fair = consensus(vectors)
            game = GameFair(snapshot.ts_ns, event.commence_ns,
                            dict(zip(names, (float(p) for p in fair), strict=True)), len(vectors))
            self.games[frozenset((event.home_team, event.away_team))] = game
            updated.append((event, game))
        return updated

    def fair_yes(self, yes_title: str | None, no_title: str | None, now_ns: int) -> float:
        if not yes_title or not no_title:
            return math.nan
        game = self.games.get(frozenset((yes_title, no_title)))
        if game is None or now_ns - game.ts_ns > self.max_age_ns:
            return math.nan
        return game.probabilities.get(yes_title, math.nan)
