"""The Odds API v4, simulated for the sim world's games (aiohttp.web routes).

Bookmakers quote decimal prices around each game's fair probability (``true_home_prob``),
each with its own margin (3–6 % by default) and a little noise, so de-vigging several
books recovers a consensus close to the truth, as with real books. h2h (three-way with
``Draw`` for soccer), spreads and totals derive from one normal model of the home margin.
Prices are a deterministic function of (seed, game, bookmaker) and the game's current
probability. Answers follow the real API: ``apiKey`` required (401 ``INVALID_KEY``), quota
headers on every answer for a valid key, a call costs markets × regions, 429
``EXCEEDED_FREQ_LIMIT`` when called faster than ``min_interval_s``, 401
``OUT_OF_USAGE_CREDITS`` when the quota is spent.

``add_odds_routes(app, world, ...)`` mounts ``/v4/...`` on an existing application (the sim
exchange's); ``create_odds_app(world, ...)`` builds a standalone one.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any, Protocol

from aiohttp import web

DEFAULT_API_KEY = "sim-odds-key"
_DOCS = "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html"
_STD = NormalDist()

SPORTS: dict[str, tuple[str, str]] = {
    "basketball_nba": ("Basketball", "NBA"),
    "basketball_ncaab": ("Basketball", "NCAAB"),
    "americanfootball_nfl": ("American Football", "NFL"),
    "americanfootball_ncaaf": ("American Football", "NCAAF"),
    "baseball_mlb": ("Baseball", "MLB"),
    "icehockey_nhl": ("Ice Hockey", "NHL"),
    "soccer_epl": ("Soccer", "EPL"),
    "soccer_usa_mls": ("Soccer", "MLS"),
}
# Standard deviation of the home margin and a typical total, per sport group.
_MARGIN_SIGMA = {"basketball": 12.0, "americanfootball": 13.5, "baseball": 4.0, "icehockey": 2.5,
                 "soccer": 1.8}
_TOTAL_BASE = {"basketball": 224.5, "americanfootball": 44.5, "baseball": 8.5, "icehockey": 6.0,
               "soccer": 2.5}
REGION_BOOKMAKERS: dict[str, tuple[tuple[str, str], ...]] = {
    "us": (("draftkings", "DraftKings"), ("fanduel", "FanDuel"), ("betmgm", "BetMGM"),
           ("williamhill_us", "Caesars")),
    "us2": (("espnbet", "ESPN BET"), ("fanatics", "Fanatics")),
    "uk": (("williamhill", "William Hill"), ("paddypower", "Paddy Power")),
    "eu": (("pinnacle", "Pinnacle"), ("unibet_eu", "Unibet")),
    "au": (("sportsbet", "SportsBet"), ("tab", "TAB")),
}
ODDS_MARKETS = ("h2h", "spreads", "totals")


class GameLike(Protocol):
    game_id: str
    sport_key: str
    home_team: str
    away_team: str
    commence_ns: int
    true_home_prob: float


@dataclass
class OddsFeedState:
    """The feed's mutable state: quota per key, call times, request counts, injected faults."""

    world: Any
    seed: int
    api_keys: frozenset[str]
    quota: int
    min_interval_s: float
    margin_range: tuple[float, float] = (0.03, 0.06)
    noise: float = 0.01
    monotonic: Callable[[], float] = time.monotonic
    clock_ns: Callable[[], int] = time.time_ns
    used: Counter[str] = field(default_factory=Counter)
    last_call: dict[str, float] = field(default_factory=dict)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: list[int] = field(default_factory=list)

    def remaining(self, key: str) -> int:
        return self.quota - self.used[key]

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next ``times`` odds calls with ``status`` (429/5xx drills)."""
        self.faults.extend([status] * times)


STATE_KEY = web.AppKey("odds_feed_state", OddsFeedState)


def add_odds_routes(
    app: web.Application,
    world: Any,
    *,
    seed: int = 7,
    api_keys: Iterable[str] = (DEFAULT_API_KEY,),
    quota: int = 500,
    min_interval_s: float = 0.0,
    margin_range: tuple[float, float] = (0.03, 0.06),
    noise: float = 0.01,
    monotonic: Callable[[], float] = time.monotonic,
    clock_ns: Callable[[], int] = time.time_ns,
    prefix: str = "/v4",
) -> OddsFeedState:
    """Mount the Odds API routes on ``app`` under ``prefix``; returns the feed's state."""
    state = OddsFeedState(world, seed, frozenset(api_keys), quota, min_interval_s, margin_range,
                          noise, monotonic, clock_ns)
    app[STATE_KEY] = state
    prefix = prefix.rstrip("/")

    async def sports(request: web.Request) -> web.Response:
        return _sports(state, request)

    async def odds(request: web.Request) -> web.Response:
        return _odds(state, request)

    app.router.add_get(f"{prefix}/sports", sports)
    app.router.add_get(f"{prefix}/sports/", sports)
    app.router.add_get(f"{prefix}/sports/{{sport}}/odds", odds)
    app.router.add_get(f"{prefix}/sports/{{sport}}/odds/", odds)
    return state


def create_odds_app(world: Any, **options: Any) -> web.Application:
    """A standalone application serving only the odds feed (state at ``app[STATE_KEY]``)."""
    app = web.Application()
    add_odds_routes(app, world, **options)
    return app


# ------------------------------------------------------------------ handlers


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"message": message, "error_code": code, "details_url": f"{_DOCS}#{code.lower().replace('_', '-')}"}
    return web.json_response(body, status=status, headers=headers)


def _quota_headers(state: OddsFeedState, key: str, last: int) -> dict[str, str]:
    return {"x-requests-remaining": str(state.remaining(key)), "x-requests-used": str(state.used[key]),
            "x-requests-last": str(last)}


def _authorised(state: OddsFeedState, request: web.Request) -> tuple[str | None, web.Response | None]:
    state.requests[(request.method, request.path)] += 1
    key = request.query.get("apiKey", "")
    if key not in state.api_keys:
        return None, _error(401, "INVALID_KEY", "API key is not valid or is missing. Get a key at "
                            "https://the-odds-api.com")
    return key, None


def _sports(state: OddsFeedState, request: web.Request) -> web.Response:
    key, refused = _authorised(state, request)
    if refused is not None or key is None:
        return refused  # type: ignore[return-value]
    keys = sorted({g.sport_key for g in _games(state.world)})
    body = [{"key": k, "group": SPORTS.get(k, ("Sports", k))[0], "title": SPORTS.get(k, ("", k))[1],
             "description": SPORTS.get(k, ("", k))[1], "active": True, "has_outrights": False}
            for k in keys]
    return web.json_response(body, headers=_quota_headers(state, key, 0))


def _odds(state: OddsFeedState, request: web.Request) -> web.Response:
    key, refused = _authorised(state, request)
    if refused is not None or key is None:
        return refused  # type: ignore[return-value]
    free = _quota_headers(state, key, 0)
    query = request.query
    regions = [r for r in query.get("regions", "").split(",") if r]
    markets = [m for m in query.get("markets", "h2h").split(",") if m]
    odds_format = query.get("oddsFormat", "decimal")
    date_format = query.get("dateFormat", "iso")
    if not regions or any(r not in REGION_BOOKMAKERS for r in regions):
        return _error(422, "INVALID_REGION", f"Invalid regions {query.get('regions')!r}", free)
    if not markets or any(m not in ODDS_MARKETS for m in markets):
        return _error(422, "INVALID_MARKET", f"Invalid markets {query.get('markets')!r}", free)
    if odds_format not in ("decimal", "american"):
        return _error(422, "INVALID_ODDS_FORMAT", f"Invalid oddsFormat {odds_format!r}", free)
    if date_format not in ("iso", "unix"):
        return _error(422, "INVALID_DATE_FORMAT", f"Invalid dateFormat {date_format!r}", free)
    sport = request.match_info["sport"]
    games = [g for g in _games(state.world) if g.sport_key == sport and not _settled(g)]
    if sport not in SPORTS and not games:
        return _error(404, "UNKNOWN_SPORT", f"Unknown sport {sport!r}. Check /v4/sports", free)
    now = state.monotonic()
    last = state.last_call.get(key)
    if state.faults:
        status = state.faults.pop(0)
        code = "EXCEEDED_FREQ_LIMIT" if status == 429 else "INTERNAL_ERROR"
        return _error(status, code, "Injected fault", free)
    if last is not None and now - last < state.min_interval_s:
        return _error(429, "EXCEEDED_FREQ_LIMIT", "Requests are being made too frequently. "
                      "Slow down the request rate", free)
    cost = len(markets) * len(regions)
    if state.remaining(key) < cost:
        return _error(401, "OUT_OF_USAGE_CREDITS", "Usage quota has been reached", free)
    state.last_call[key] = now
    state.used[key] += cost
    books = _bookmakers(regions)
    now_ns = state.clock_ns()
    body = [_event(state, g, books, markets, now_ns, odds_format, date_format) for g in games]
    return web.json_response(body, headers=_quota_headers(state, key, cost))


def _games(world: Any) -> list[Any]:
    games = world.games
    return list(games.values()) if isinstance(games, dict) else list(games)


def _settled(game: Any) -> bool:
    return bool(getattr(game, "settled", False) or getattr(game, "result", None))


def _bookmakers(regions: list[str]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for region in regions:
        for book_key, title in REGION_BOOKMAKERS[region]:
            seen.setdefault(book_key, title)
    return list(seen.items())


# ------------------------------------------------------------------ prices


def odds_event_id(game_id: str) -> str:
    """The feed's event id for a sim game: 32 hex digits, like the real API's ids."""
    return hashlib.blake2b(str(game_id).encode(), digest_size=16).hexdigest()


def _group(sport_key: str) -> str:
    return sport_key.split("_", 1)[0]


def _event(state: OddsFeedState, game: GameLike, books: list[tuple[str, str]], markets: list[str],
           now_ns: int, odds_format: str, date_format: str) -> dict[str, Any]:
    def when(ns: int) -> Any:
        if date_format == "unix":
            return ns // 1_000_000_000
        return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    bookmakers = []
    for book_key, title in books:
        quotes = book_quotes(state.seed, game, book_key, state.margin_range, state.noise)
        out = [{"key": m, "last_update": when(now_ns),
                "outcomes": [_outcome(o, odds_format) for o in quotes[m]]} for m in markets]
        bookmakers.append({"key": book_key, "title": title, "last_update": when(now_ns), "markets": out})
    return {"id": odds_event_id(game.game_id), "sport_key": game.sport_key,
            "sport_title": SPORTS.get(game.sport_key, ("", game.sport_key))[1],
            "commence_time": when(game.commence_ns), "home_team": game.home_team,
            "away_team": game.away_team, "bookmakers": bookmakers}


def _outcome(outcome: tuple[str, float, float | None], odds_format: str) -> dict[str, Any]:
    name, price, point = outcome
    shown: float | int = price if odds_format == "decimal" else _american(price)
    body: dict[str, Any] = {"name": name, "price": shown}
    if point is not None:
        body["point"] = point
    return body


def _american(decimal_odds: float) -> int:
    if decimal_odds >= 2.0:
        return round((decimal_odds - 1.0) * 100)
    return round(-100.0 / (decimal_odds - 1.0))


def _prices(probabilities: list[float], margin: float) -> list[float]:
    """Decimal odds whose implied probabilities sum to 1 + ``margin``, as real books price.

    The margin goes on as a power, π_i = p_i^a (a < 1), so it falls mostly on longshots and
    a heavy favourite never gets odds below 1; prices are floored to 2 decimals (never
    giving back margin) and kept at 1.01 or more.
    """
    p = [min(max(x, 0.002), 0.995) for x in probabilities]
    total = sum(p)
    p = [x / total for x in p]
    low, high = 0.05, 1.0
    for _ in range(60):  # Σ p^a falls as a rises: bisect for Σ = 1 + margin
        mid = (low + high) / 2
        if sum(x**mid for x in p) > 1.0 + margin:
            low = mid
        else:
            high = mid
    return [max(1.01, math.floor(100.0 / x**low) / 100.0) for x in p]


def book_quotes(seed: int, game: GameLike, book_key: str, margin_range: tuple[float, float] = (0.03, 0.06),
                noise: float = 0.01) -> dict[str, list[tuple[str, float, float | None]]]:
    """One bookmaker's h2h, spreads and totals for ``game``: (name, decimal price, point)."""
    rng = random.Random(f"{seed}|{game.game_id}|{book_key}")
    line_rng = random.Random(f"{seed}|{game.game_id}|lines")
    margin = rng.uniform(*margin_range)
    home = min(max(float(game.true_home_prob) + rng.gauss(0.0, noise), 0.01), 0.99)
    group = _group(game.sport_key)
    if group == "soccer":
        draw = (1.0 - home) * 0.45
        names = [game.home_team, game.away_team, "Draw"]
        h2h = [(n, o, None) for n, o in zip(names, _prices([home, 1 - home - draw, draw], margin), strict=True)]
    else:
        names = [game.home_team, game.away_team]
        h2h = [(n, o, None) for n, o in zip(names, _prices([home, 1 - home], margin), strict=True)]
    sigma = _MARGIN_SIGMA.get(group, 10.0)
    mean_margin = sigma * _STD.inv_cdf(min(max(float(game.true_home_prob), 0.01), 0.99))
    home_point = -(math.floor(mean_margin) + 0.5)  # half-point lines: no pushes
    cover = _STD.cdf((mean_margin + home_point) / sigma) + rng.gauss(0.0, noise)
    home_odds, away_odds = _prices([cover, 1 - cover], margin)
    spreads = [(game.home_team, home_odds, home_point), (game.away_team, away_odds, -home_point)]
    base = _TOTAL_BASE.get(group, 50.0)
    total = math.floor(base * (1.0 + line_rng.uniform(-0.08, 0.08))) + 0.5
    over = 0.5 + rng.gauss(0.0, noise)
    over_odds, under_odds = _prices([over, 1 - over], margin)
    totals = [("Over", over_odds, total), ("Under", under_odds, total)]
    return {"h2h": h2h, "spreads": spreads, "totals": totals}
