"""Fair probabilities for exchange markets from the sportsbook odds feed.

Each bookmaker's head-to-head prices are de-vigged (``strategies.devig``), the bookmakers'
fair vectors averaged into a consensus, and the consensus is looked up by the teams an
exchange market names (its ``yes_sub_title`` / ``no_sub_title``). A game with too few
bookmakers, or odds older than ``max_age``, has no fair value (NaN), so the odds-edge
strategy leaves it alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import structlog

from .devig import DevigError, devig, devig_rows

log = structlog.get_logger("edgewarden.fair")


class Outcome(Protocol):
    name: str
    price: float


class Market(Protocol):
    outcomes: Sequence[Outcome]


class Bookmaker(Protocol):
    key: str

    def market(self, key: str) -> Market | None: ...


class Event(Protocol):
    """What is read of a game (the odds feed's ``OddsEvent`` has it): structural, so this
    module needs nothing of the daemon that polls the feed."""

    id: str
    commence_ns: int
    home_team: str
    away_team: str
    bookmakers: Sequence[Bookmaker]


class Snapshot(Protocol):
    ts_ns: int
    events: Sequence[Event]


@dataclass(frozen=True, slots=True)
class GameFair:
    ts_ns: int
    commence_ns: int
    probabilities: dict[str, float]
    bookmakers: int
    event_id: str = ""
    """The odds feed's id of the game."""
    sport_key: str = ""
    home: str = ""
    away: str = ""


class FairValues:
    def __init__(self, method: str = "shin", min_bookmakers: int = 2, max_age_s: float = 120.0) -> None:
        self.method = method
        self.min_bookmakers = min_bookmakers
        self.max_age_ns = int(max_age_s * 1e9)
        self.games: dict[frozenset[str], GameFair] = {}

    def update(self, snapshot: Snapshot) -> list[tuple[Event, GameFair]]:
        """Fold one poll's events in; returns the games that got a consensus.

        Every bookmaker line of every game is de-vigged in one vectorised call per line
        length (``devig_rows``), and averaged per game the way ``consensus`` does: a poll
        of 500 games is milliseconds of loop time, not a quarter second.
        """
        games: list[tuple[Event, list[str]]] = []
        lines: dict[int, list[list[float]]] = {}
        owners: dict[int, list[tuple[int, str]]] = {}
        for event in snapshot.events:
            names: list[str] | None = None
            for book in event.bookmakers:
                market = book.market("h2h")
                if market is None:
                    continue
                outcomes = {o.name: o.price for o in market.outcomes}
                order = sorted(outcomes)
                if names is None:
                    names = order
                    games.append((event, names))
                if order != names:
                    continue  # a bookmaker naming different outcomes cannot be averaged in
                lines.setdefault(len(names), []).append([outcomes[n] for n in names])
                owners.setdefault(len(names), []).append((len(games) - 1, book.key))
        updated: list[tuple[int, Event, GameFair]] = []
        for width, rows in lines.items():
            fair, ok = devig_rows(np.array(rows), self.method)
            for (game, book), good, row in zip(owners[width], ok.tolist(), rows, strict=True):
                if not good:
                    log.warning("odds_devig_failed", event_id=games[game][0].id, bookmaker=book,
                                error=_devig_error(row, self.method))
            game_of = np.array([game for game, _ in owners[width]])[ok]
            counts = np.bincount(game_of, minlength=len(games))
            sums = np.zeros((len(games), width))
            np.add.at(sums, game_of, fair[ok])
            for game in np.flatnonzero(counts >= self.min_bookmakers).tolist():
                event, names = games[game]
                mean = sums[game] / counts[game]
                fair_game = GameFair(snapshot.ts_ns, event.commence_ns,
                                     dict(zip(names, (mean / mean.sum()).tolist(), strict=True)),
                                     int(counts[game]), event.id, getattr(event, "sport_key", ""),
                                     event.home_team, event.away_team)
                self.games[frozenset((event.home_team, event.away_team))] = fair_game
                updated.append((game, event, fair_game))
        return [(event, fair_game) for _, event, fair_game in sorted(updated, key=lambda u: u[0])]

    def game_of(self, yes_title: str | None, no_title: str | None) -> GameFair | None:
        """The game an exchange market names, if the feed has seen it."""
        if not yes_title or not no_title:
            return None
        return self.games.get(frozenset((yes_title, no_title)))

    def fair_yes(self, yes_title: str | None, no_title: str | None, now_ns: int) -> float:
        if not yes_title or not no_title:
            return math.nan
        game = self.games.get(frozenset((yes_title, no_title)))
        if game is None or now_ns - game.ts_ns > self.max_age_ns:
            return math.nan
        return game.probabilities.get(yes_title, math.nan)


def _devig_error(odds: list[float], method: str) -> str:
    """Why ``devig`` refuses these odds (the vectorised call only says that it does)."""
    try:
        devig(odds, method)
    except DevigError as exc:
        return str(exc)
    return "refused"
