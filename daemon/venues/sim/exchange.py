"""The built-in exchange over HTTP: Kalshi Trade API v2 endpoints, formats and errors.

An aiohttp.web app on loopback. Requests to the order book and the portfolio must be
signed like Kalshi's (RSA-PSS over timestamp + method + path) with the configured key;
answers carry every field venues.md lists as required, with ``*_dollars`` strings and
``*_fp`` counts. Faults can be injected for drills and tests (latency, 5xx, 429 bursts,
timeouts, malformed bodies, trading paused, frozen books). The Odds-API-compatible feed
for the same games is mounted on the same app.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from daemon.logs import get_logger
from daemon.venues.kalshi_auth import load_public_key, verify_signature
from market.orders import OrderStatus, Side
from market.units import UnitError

from . import formats as fmt
from .matching import MatchingEngine, SimReject
from .odds_feed import DEFAULT_API_KEY, add_odds_routes
from .traders import BackgroundTraders
from .world import SimWorld

log = get_logger("edgewarden.sim")
PREFIX = "/trade-api/v2"
USER = "user"
MAX_CLOCK_SKEW_MS = 30_000
HANG_S = 3_600  # a "timeout" fault: far longer than any client waits


@dataclass
class Faults:
    latency_ms: int = 0
    error_5xx_rate: float = 0.0
    rate_limit_burst_every: int = 0
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    trading_paused: bool = False
    frozen_books: bool = False
    hold_orders: bool = False
    """Our orders never match: a good-till-cancelled one rests until it is cancelled."""

    @classmethod
    def from_settings(cls, faults: Any) -> Faults:
        return cls(**{name: getattr(faults, name) for name in cls.__dataclass_fields__})


@dataclass
class SimExchange:
    """World + matching engine + background traders, and the HTTP app that serves them."""

    public_key_pem: bytes
    key_id: str
    seed: int = 7
    markets: int = 40
    tick_ms: int = 250
    market_life_s: float = 120.0
    bias_scale: float = 3.0
    starting_balance: int = 100_000_000  # $10,000
    faults: Faults = field(default_factory=Faults)
    odds_api_key: str | None = None
    clock: Callable[[], int] = time.time_ns

    def __post_init__(self) -> None:
        now = self.clock()
        self.rng = random.Random(self.seed)
        self.world = SimWorld(self.seed, self.markets, now, self.market_life_s, bias_scale=self.bias_scale)
        self.engine = MatchingEngine()
        self.engine.add_account(USER, self.starting_balance)
        self.traders = BackgroundTraders(self.engine, self.world, self.seed)
        self.public_key = load_public_key(self.public_key_pem)
        self.updated_ns: dict[str, int] = {}
        self.settled: list[tuple[str, Side, int]] = []
        self._settled: set[str] = set()
        self.requests = 0
        self.requests_by_path: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.port = 0
        self._sync_markets(now)
        self.traders.step(now)
        self._touch_all(now)

    # ------------------------------------------------------------------ simulation
    def _sync_markets(self, now: int) -> None:
        for game in self.world.games:
            if game.ticker not in self.engine.books:
                self.engine.open_market(game.ticker)
        for game in self.world.advance(now):
            # One advance may take a game from active straight to finalized (a long pause):
            # close it first in any case, and settle it exactly once.
            if game.status != "active" and self.engine.books[game.ticker].open:
                self.engine.close_market(game.ticker, now)
            if game.status == "finalized" and game.result is not None and game.ticker not in self._settled:
                self._settled.add(game.ticker)
                self.engine.settle(game.ticker, game.result, now)
                self.settled.append((game.ticker, game.result, now))
            self.updated_ns[game.ticker] = now
        for game in self.world.games:
            if game.ticker not in self.engine.books:
                self.engine.open_market(game.ticker)

    def _touch_all(self, now: int) -> None:
        for game in self.world.open_games():
            self.updated_ns[game.ticker] = now

    def step(self, now: int | None = None) -> None:
        """One simulation step: lifecycle, then (unless frozen) fresh quotes."""
        now = now or self.clock()
        self._sync_markets(now)
        if not self.faults.frozen_books:
            self.traders.step(now)
            self._touch_all(now)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_ms / 1000)
            try:
                self.step()
            except Exception:  # a bug in the toy must not take the daemon down with it
                log.exception("sim_step_failed")

    # ------------------------------------------------------------------ server
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get(f"{PREFIX}/exchange/status", self.exchange_status)
        r.add_get(f"{PREFIX}/markets", self.list_markets)
        r.add_get(f"{PREFIX}/markets/{{ticker}}", self.get_market)
        r.add_get(f"{PREFIX}/markets/{{ticker}}/orderbook", self.orderbook)
        r.add_get(f"{PREFIX}/series/{{series}}", self.series)
        r.add_post(f"{PREFIX}/portfolio/orders", self.create_order)
        r.add_get(f"{PREFIX}/portfolio/orders", self.list_orders)
        r.add_get(f"{PREFIX}/portfolio/orders/{{order_id}}", self.get_order)
        r.add_delete(f"{PREFIX}/portfolio/orders/{{order_id}}", self.cancel_order)
        r.add_get(f"{PREFIX}/portfolio/fills", self.list_fills)
        r.add_get(f"{PREFIX}/portfolio/positions", self.list_positions)
        r.add_get(f"{PREFIX}/portfolio/balance", self.balance)
        r.add_get(f"{PREFIX}/portfolio/settlements", self.list_settlements)
        self.odds = add_odds_routes(app, self.world, seed=self.seed,
                                    api_keys=(self.odds_api_key or DEFAULT_API_KEY,), quota=1_000_000)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        # A short shutdown: handlers stuck in a "timeout" fault must not hold stop() for a minute.
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="sim-exchange")
        log.info("sim_exchange_listening", url=f"http://{host}:{self.port}{PREFIX}", markets=self.markets)
        return self.port

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ middleware
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        self.requests += 1
        self.requests_by_path[f"{request.method} {request.path}"] = \
            self.requests_by_path.get(f"{request.method} {request.path}", 0) + 1
        if not request.path.startswith(PREFIX):
            return await handler(request)  # the odds feed has its own rules
        f = self.faults
        if f.latency_ms:
            await asyncio.sleep(f.latency_ms / 1000)
        if f.rate_limit_burst_every and self.requests % f.rate_limit_burst_every == 0:
            return fmt.error(429, "too_many_requests", "rate limit exceeded", headers={"Retry-After": "1"})
        hang = bool(f.timeout_rate) and self.rng.random() < f.timeout_rate
        if hang and request.method == "GET":
            await asyncio.sleep(HANG_S)
        if f.error_5xx_rate and self.rng.random() < f.error_5xx_rate:
            return fmt.error(503, "service_unavailable", "simulated outage")
        if _needs_auth(request.path):
            refused = self._authenticate(request)
            if refused is not None:
                return refused
        try:
            response = await handler(request)
        except SimReject as exc:
            return fmt.error(exc.status, exc.code, exc.message)
        except (UnitError, ValueError, KeyError) as exc:
            return fmt.error(400, "invalid_parameters", str(exc))
        if hang:  # a write that was done but whose answer never comes: the ambiguous case
            await asyncio.sleep(HANG_S)
        if f.malformed_rate and self.rng.random() < f.malformed_rate and isinstance(response, web.Response):
            return fmt.malformed(response, self.rng)
        return response

    def _authenticate(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("KALSHI-ACCESS-KEY")
        stamp = request.headers.get("KALSHI-ACCESS-TIMESTAMP", "")
        signature = request.headers.get("KALSHI-ACCESS-SIGNATURE", "")
        if key != self.key_id:
            return fmt.error(401, "unauthorized", "unknown or missing KALSHI-ACCESS-KEY")
        if not stamp.isdigit() or abs(int(stamp) - self.clock() // 1_000_000) > MAX_CLOCK_SKEW_MS:
            return fmt.error(401, "unauthorized", "KALSHI-ACCESS-TIMESTAMP missing or too far from now")
        if not verify_signature(self.public_key, stamp, request.method, request.path, signature):
            return fmt.error(401, "unauthorized", "signature does not verify")
        return None

    # ------------------------------------------------------------------ market data
    async def exchange_status(self, request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": not self.faults.trading_paused,
                                  "exchange_estimated_resume_time": None})

    async def list_markets(self, request: web.Request) -> web.Response:
        q = request.query
        # The usual call (status=open) looks at live games only, not the session's whole history.
        pool = self.world.open_games() if q.get("status") == "open" else self.world.games
        games = [g for g in pool if fmt.status_matches(g.status, q.get("status"))]
        if "series_ticker" in q:
            games = [g for g in games if g.series_ticker == q["series_ticker"]]
        if "event_ticker" in q:
            games = [g for g in games if g.event_ticker == q["event_ticker"]]
        if "tickers" in q:
            wanted = set(q["tickers"].split(","))
            games = [g for g in games if g.ticker in wanted]
        page, cursor = fmt.paginate(games, q)
        return web.json_response({"markets": [self._market(g) for g in page], "cursor": cursor})

    async def get_market(self, request: web.Request) -> web.Response:
        return web.json_response({"market": self._market(self._game(request.match_info["ticker"]))})

    async def orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        self._game(ticker)
        depth = int(request.query.get("depth", "0") or 0)
        book = self.engine.books[ticker]
        return web.json_response({"orderbook_fp": {
            "yes_dollars": fmt.ladder(book.levels(Side.YES), depth),
            "no_dollars": fmt.ladder(book.levels(Side.NO), depth),
        }})

    async def series(self, request: web.Request) -> web.Response:
        series = request.match_info["series"]
        if series not in {g.series_ticker for g in self.world.games}:
            raise SimReject("not_found", f"no series {series}", 404)
        return web.json_response({"series": {"ticker": series, "title": "Pro basketball game",
                                             "fee_type": "quadratic", "fee_multiplier": 1}})

    def _game(self, ticker: str):
        game = self.world.by_ticker.get(ticker)
        if game is None:
            raise SimReject("not_found", f"no market {ticker}", 404)
        return game

    def _market(self, game) -> dict[str, Any]:
        return fmt.market(game, self.engine.books[game.ticker], self.updated_ns.get(game.ticker, game.open_ns))

    # ------------------------------------------------------------------ portfolio
    async def create_order(self, request: web.Request) -> web.Response:
        if self.faults.trading_paused:
            raise SimReject("trading_is_paused", "trading is paused on the exchange", 409)
        body = await request.json()
        order = fmt.parse_create_order(body)
        now = self.clock()
        self._sync_markets(now)
        existing = self.engine.by_client_id.get((USER, order["client_order_id"]))
        if existing is not None:
            raise SimReject("order_already_exists", "an order with this client_order_id exists", 409)
        placed = self.engine.submit(USER, order["client_order_id"], order["ticker"], order["side"],
                                    order["action"], order["price"], order["count"], order["tif"],
                                    order["post_only"], now, reduce_only=order["reduce_only"],
                                    match=not self.faults.hold_orders)
        self.updated_ns[placed.ticker] = now
        return web.json_response({"order": fmt.order(placed)}, status=201)

    async def list_orders(self, request: web.Request) -> web.Response:
        q = request.query
        orders = [o for o in self.engine.orders.values() if o.account == USER]
        if "ticker" in q:
            orders = [o for o in orders if o.ticker == q["ticker"]]
        if "status" in q:
            orders = [o for o in orders if o.status.value == q["status"]]
        page, cursor = fmt.paginate(orders, q)
        return web.json_response({"orders": [fmt.order(o) for o in page], "cursor": cursor})

    async def get_order(self, request: web.Request) -> web.Response:
        order = self.engine.orders.get(request.match_info["order_id"])
        if order is None or order.account != USER:
            raise SimReject("not_found", "no such order", 404)
        return web.json_response({"order": fmt.order(order)})

    async def cancel_order(self, request: web.Request) -> web.Response:
        order, reduced = self.engine.cancel(USER, request.match_info["order_id"], self.clock())
        return web.json_response({"order": fmt.order(order), "reduced_by_fp": fmt.count(reduced)})

    async def list_fills(self, request: web.Request) -> web.Response:
        q = request.query
        fills = self.engine.fills_by_account.get(USER, [])
        if "ticker" in q:
            fills = [f for f in fills if f.ticker == q["ticker"]]
        if "min_ts" in q:
            since = int(q["min_ts"]) * 1_000_000_000
            fills = [f for f in fills if f.ts_ns >= since]
        page, cursor = fmt.paginate(fills, q)
        return web.json_response({"fills": [fmt.fill(f) for f in page], "cursor": cursor})

    async def list_positions(self, request: web.Request) -> web.Response:
        account = self.engine.accounts[USER]
        rows = [p for p in account.positions.values() if p.quantity or p.realized_pnl]
        page, cursor = fmt.paginate(rows, request.query)
        resting = {}
        for o in self.engine.orders.values():
            if o.account == USER and o.status is OrderStatus.RESTING:
                resting[o.ticker] = resting.get(o.ticker, 0) + 1
        return web.json_response({
            "market_positions": [fmt.position(p, resting.get(p.ticker, 0), self.clock()) for p in page],
            "event_positions": [], "cursor": cursor,
        })

    async def balance(self, request: web.Request) -> web.Response:
        account = self.engine.accounts[USER]
        value = sum(p.cost for p in account.positions.values())
        return web.json_response({"balance": account.balance // 100, "portfolio_value": value // 100,
                                  "updated_ts": self.clock() // 1_000_000_000})

    async def list_settlements(self, request: web.Request) -> web.Response:
        rows = [fmt.settlement(s, self.world.by_ticker[s.ticker].event_ticker)
                for acct, s in self.engine.settlements if acct == USER]
        page, cursor = fmt.paginate(rows, request.query)
        return web.json_response({"settlements": page, "cursor": cursor})


def _needs_auth(path: str) -> bool:
    return path.startswith(f"{PREFIX}/portfolio") or path.endswith("/orderbook")

