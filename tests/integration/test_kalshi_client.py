"""KalshiClient against a real loopback HTTP server speaking the Kalshi v2 formats.

The server here is deliberately small and independent of the built-in exchange: it checks
every request's RSA-PSS signature with the public key, pages with opaque cursors, records
what it received, and can be told to misbehave (429, 5xx, lost answers, stalls, bad bodies).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog.testing
from aiohttp import web

from daemon.venues.base import (
    AuthFailed,
    BadResponse,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
)
from daemon.venues.kalshi import KalshiClient
from daemon.venues.kalshi_auth import generate_keypair, load_public_key, verify_signature
from market.orders import Action, OrderIntent, OrderStatus, Side, TimeInForce
from market.units import parse_count, parse_price

PREFIX = "/trade-api/v2"
KEY_ID = "test-key-id"
PRIVATE_PEM, PUBLIC_PEM = generate_keypair()
OTHER_PRIVATE_PEM, _ = generate_keypair()
TS = "2026-03-01T12:00:00Z"
FAULT = web.RequestKey("fault", object)


def market_payload(ticker: str, **over: Any) -> dict[str, Any]:
    """A market with every field the API marks required."""
    m = {
        "ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "market_type": "binary",
        "yes_sub_title": "Yes", "no_sub_title": "No", "created_time": TS, "updated_time": TS,
        "open_time": TS, "close_time": "2026-03-02T00:00:00Z", "latest_expiration_time": TS,
        "settlement_timer_seconds": 60, "status": "active", "notional_value_dollars": "1.0000",
        "yes_bid_dollars": "0.4500", "yes_ask_dollars": "0.4700", "no_bid_dollars": "0.5300",
        "no_ask_dollars": "0.5500", "yes_bid_size_fp": "12.00", "yes_ask_size_fp": "3.50",
        "last_price_dollars": "0.4600", "previous_yes_bid_dollars": "0.4400",
        "previous_yes_ask_dollars": "0.4800", "previous_price_dollars": "0.4500",
        "volume_fp": "1000.00", "volume_24h_fp": "100.00", "liquidity_dollars": "50.0000",
        "open_interest_fp": "500.00", "result": "", "can_close_early": False,
        "fractional_trading_enabled": False, "expiration_value": "", "rules_primary": "r",
        "rules_secondary": "", "price_level_structure": "linear_cent", "price_ranges": [],
        "some_new_field": {"ignored": True},
    }
    m.update(over)
    return m


@dataclass
class FakeKalshi:
    """A Kalshi-format server on 127.0.0.1 with scriptable faults."""

    page_size: int = 1000
    markets: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    settlements: list[dict[str, Any]] = field(default_factory=list)
    balance_cents: int = 123_456
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    post_bodies: list[dict[str, Any]] = field(default_factory=list)
    faults: list[tuple[str, str, str]] = field(default_factory=list)
    override: dict[str, Callable[[web.Request], Any]] = field(default_factory=dict)
    bad_signatures: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.public_key = load_public_key(PUBLIC_PEM)
        self.runner: web.AppRunner | None = None
        self.url = ""

    def fail(self, method: str, path: str, action: str, times: int = 1) -> None:
        """The next ``times`` requests matching (method, path prefix) get ``action``."""
        self.faults.extend([(method, PREFIX + path, action)] * times)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.log if m == method and p == PREFIX + path)

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get(f"{PREFIX}/exchange/status", self._status)
        r.add_get(f"{PREFIX}/markets", self._markets)
        r.add_get(f"{PREFIX}/markets/{{t}}", self._market)
        r.add_get(f"{PREFIX}/markets/{{t}}/orderbook", self._orderbook)
        r.add_get(f"{PREFIX}/series/{{s}}", self._series)
        r.add_post(f"{PREFIX}/portfolio/orders", self._create)
        r.add_get(f"{PREFIX}/portfolio/orders", self._list_orders)
        r.add_get(f"{PREFIX}/portfolio/orders/{{id}}", self._get_order)
        r.add_delete(f"{PREFIX}/portfolio/orders/{{id}}", self._cancel)
        r.add_get(f"{PREFIX}/portfolio/fills", self._fills)
        r.add_get(f"{PREFIX}/portfolio/positions", self._positions)
        r.add_get(f"{PREFIX}/portfolio/balance", self._balance)
        r.add_get(f"{PREFIX}/portfolio/settlements", self._settlements)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}{PREFIX}"

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()

    # -------------------------------------------------------------- plumbing
    def _take_fault(self, request: web.Request) -> str | None:
        for i, (method, path, action) in enumerate(self.faults):
            if method == request.method and request.path == path:
                del self.faults[i]
                return action
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.log.append((request.method, request.path, dict(request.query)))
        h = request.headers
        stamp = h.get("KALSHI-ACCESS-TIMESTAMP", "")
        if h.get("KALSHI-ACCESS-KEY") != KEY_ID or not stamp.isdigit() or not verify_signature(
                self.public_key, stamp, request.method, request.path, h.get("KALSHI-ACCESS-SIGNATURE", "")):
            self.bad_signatures += 1
            return _error(401, "unauthorized", "signature does not verify")
        action = self._take_fault(request)
        request[FAULT] = action
        if action is not None:
            if action.startswith("429"):
                headers = {"Retry-After": action.split(":")[1]} if ":" in action else {}
                return _error(429, "too_many_requests", "slow down", headers)
            if action == "503":
                return _error(503, "service_unavailable", "try later")
            if action == "500html":
                return web.Response(status=500, text="<html>oops</html>", content_type="text/html")
            if action == "drop_before":
                request.transport.abort()  # type: ignore[union-attr]
                raise asyncio.CancelledError
            if action == "garbage":
                return web.Response(status=200, text="{not json", content_type="application/json")
            if action.startswith("status:"):
                _, status, code = action.split(":")
                return _error(int(status), code, f"said {code}")
        if request.path in self.override:
            return web.json_response(self.override[request.path](request))
        return await handler(request)

    def _page(self, request: web.Request, rows: list[Any]) -> tuple[list[Any], str]:
        limit = int(request.query.get("limit", "100"))
        assert 1 <= limit <= 1000, limit
        start = int(request.query.get("cursor", "c0")[1:])
        size = min(limit, self.page_size)
        end = start + size
        return rows[start:end], (f"c{end}" if end < len(rows) else "")

    # -------------------------------------------------------------- handlers
    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": False,
                                  "exchange_estimated_resume_time": None})

    async def _markets(self, request: web.Request) -> web.Response:
        rows = self.markets
        if "tickers" in request.query:
            wanted = request.query["tickers"].split(",")
            rows = [m for m in rows if m["ticker"] in wanted]
        page, cursor = self._page(request, rows)
        return web.json_response({"markets": page, "cursor": cursor})

    async def _market(self, request: web.Request) -> web.Response:
        for m in self.markets:
            if m["ticker"] == request.match_info["t"]:
                return web.json_response({"market": m})
        return _error(404, "not_found", "no such market")

    async def _orderbook(self, request: web.Request) -> web.Response:
        return web.json_response({"orderbook_fp": {
            "yes_dollars": [["0.4000", "5.00"], ["0.4500", "12.00"], ["0.4200", "1.50"]],
            "no_dollars": [["0.5300", "3.50"], ["0.5000", "10.00"]]}})

    async def _series(self, request: web.Request) -> web.Response:
        return web.json_response({"series": {"ticker": request.match_info["s"], "title": "t",
                                             "fee_type": "quadratic", "fee_multiplier": 0.5}})

    async def _create(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.post_bodies.append(body)
        coid = body["client_order_id"]
        if any(o["client_order_id"] == coid for o in self.orders.values()):
            return _error(409, "order_already_exists", "duplicate client_order_id")
        side = body["side"]
        assert set(k for k in body if k.endswith("_price_dollars")) == {f"{side}_price_dollars"}
        price = parse_price(body[f"{side}_price_dollars"])
        count = body["count_fp"]
        parse_count(count)
        order = order_payload(f"ord-{len(self.orders) + 1}", coid, body["ticker"], side,
                              body["action"], price, count)
        self.orders[order["order_id"]] = order
        if request[FAULT] == "drop_after_record":
            request.transport.abort()  # type: ignore[union-attr]
            raise asyncio.CancelledError
        if request[FAULT] == "stall_after_record":
            await asyncio.wait_for(self.release.wait(), 5)
        return web.json_response({"order": order}, status=201)

    async def _list_orders(self, request: web.Request) -> web.Response:
        rows = list(self.orders.values())
        for key in ("ticker", "status"):
            if key in request.query:
                rows = [o for o in rows if o[key] == request.query[key]]
        page, cursor = self._page(request, rows)
        return web.json_response({"orders": page, "cursor": cursor})

    async def _get_order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, "not_found", "no such order")
        return web.json_response({"order": order})

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, "not_found", "no such order")
        reduced = order["remaining_count_fp"]
        order.update(status="canceled", remaining_count_fp="0.00")
        if request[FAULT] == "stall_after_record":
            await asyncio.wait_for(self.release.wait(), 5)
        return web.json_response({"order": order, "reduced_by_fp": reduced})

    async def _fills(self, request: web.Request) -> web.Response:
        rows = self.fills
        if "min_ts" in request.query:
            since = int(request.query["min_ts"])
            rows = [f for f in rows if f["ts"] >= since]
        page, cursor = self._page(request, rows)
        return web.json_response({"fills": page, "cursor": cursor})

    async def _positions(self, request: web.Request) -> web.Response:
        page, cursor = self._page(request, self.positions)
        return web.json_response({"market_positions": page, "event_positions": [], "cursor": cursor})

    async def _balance(self, request: web.Request) -> web.Response:
        return web.json_response({"balance": self.balance_cents, "portfolio_value": 5000,
                                  "updated_ts": 1703123456})

    async def _settlements(self, request: web.Request) -> web.Response:
        page, cursor = self._page(request, self.settlements)
        return web.json_response({"settlements": page, "cursor": cursor})


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message, "details": None}, status=status,
                             headers=headers)


def order_payload(order_id: str, coid: str, ticker: str, side: str, action: str, price: int,
                  count: str, status: str = "resting") -> dict[str, Any]:
    yes = price if side == "yes" else 10_000 - price
    return {
        "order_id": order_id, "user_id": "u1", "client_order_id": coid, "ticker": ticker,
        "side": side, "action": action, "type": "limit", "status": status,
        "yes_price_dollars": f"{yes / 10_000:.4f}", "no_price_dollars": f"{(10_000 - yes) / 10_000:.4f}",
        "fill_count_fp": "0.00", "remaining_count_fp": count, "initial_count_fp": count,
        "taker_fees_dollars": "0.0000", "maker_fees_dollars": "0.0000",
        "taker_fill_cost_dollars": "0.0000", "maker_fill_cost_dollars": "0.0000",
        "created_time": "2026-03-01T12:00:00.123456789Z", "last_update_time": TS,
    }


def fill_payload(i: int, ts: int, side: str = "yes") -> dict[str, Any]:
    from datetime import UTC, datetime
    return {
        "fill_id": f"f{i}", "trade_id": f"f{i}", "order_id": "ord-1", "ticker": "T-A",
        "market_ticker": "T-A", "side": side, "action": "buy", "count_fp": "2.00",
        "yes_price_dollars": "0.4500", "no_price_dollars": "0.5500", "is_taker": i % 2 == 0,
        "fee_cost": "0.0200", "ts": ts,
        "created_time": datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"),
    }


class Recorder:
    """An injected sleep: records the waits and yields without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def server():
    s = FakeKalshi()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(server: FakeKalshi, sleeps: Recorder):
    async with KalshiClient(server.url, KEY_ID, PRIVATE_PEM, reads_per_second=1000,
                            writes_per_second=1000, timeout_s=2, max_retries=3,
                            rng=random.Random(1), sleep=sleeps) as c:
        yield c


def intent(side: Side = Side.YES, price: int = 4500, count: int = 250, ts: int = 1) -> OrderIntent:
    return OrderIntent.create("T-A", side, Action.BUY, price, count, "flb", 0.5, ts,
                              time_in_force=TimeInForce.GTC)


# ------------------------------------------------------------------ every Venue method


async def test_exchange_status_and_balance(client: KalshiClient, server: FakeKalshi) -> None:
    status = await client.exchange_status()
    assert status.exchange_active and not status.trading_active
    assert await client.balance() == 123_456 * 100
    assert server.bad_signatures == 0


async def test_a_closed_client_refuses_calls_instead_of_opening_a_new_pool(
    client: KalshiClient, server: FakeKalshi
) -> None:
    """A task still polling during shutdown used to reopen a session that nobody closed."""
    await client.balance()
    await client.close()
    with pytest.raises(Unavailable, match="client is closed"):
        await client.place_order(intent())
    assert client._session is None
    assert not server.post_bodies  # nothing reached the venue


async def test_markets_follow_cursor_across_pages(client: KalshiClient, server: FakeKalshi) -> None:
    server.page_size = 2
    server.markets = [market_payload(f"EV-{i}") for i in range(5)]
    found = await client.markets(status="open")
    assert [m.ticker for m in found] == [f"EV-{i}" for i in range(5)]
    queries = [q for m, p, q in server.log if p == PREFIX + "/markets"]
    assert [q.get("cursor") for q in queries] == [None, "c2", "c4"]
    assert all(q["limit"] == "1000" and q["status"] == "open" for q in queries)
    m = found[0]
    assert (m.yes_bid, m.yes_ask, m.yes_bid_size, m.yes_ask_size, m.last_price, m.volume) == \
        (4500, 4700, 1200, 350, 4600, 100_000)
    assert m.close_time_ns == 1_772_409_600 * 10**9 and m.result is None and m.event_ticker == "EV"


async def test_markets_by_tickers_and_single_market(client: KalshiClient, server: FakeKalshi) -> None:
    server.markets = [market_payload("EV-A", yes_bid_dollars="0.0000", yes_ask_dollars="1.0000",
                                     result="yes"), market_payload("EV-B"), market_payload("EV-C")]
    found = await client.markets(tickers=["EV-A", "EV-C"])
    assert [m.ticker for m in found] == ["EV-A", "EV-C"]
    assert server.log[-1][2]["tickers"] == "EV-A,EV-C"
    assert await client.markets(tickers=[]) == []
    one = await client.market("EV-A")
    assert (one.yes_bid, one.yes_ask, one.result) == (0, 0, Side.YES)
    with pytest.raises(NotFound):
        await client.market("EV-NOPE")


async def test_orderbook_sorted_with_derived_asks(client: KalshiClient, server: FakeKalshi) -> None:
    book = await client.orderbook("EV-A", depth=5)
    assert server.log[-1][2]["depth"] == "5"
    assert [(lv.price, lv.count) for lv in book.yes_bids] == [(4500, 1200), (4200, 150), (4000, 500)]
    assert book.best_ask(Side.YES).price == 4700 and book.ticker == "EV-A"


async def test_series_fee_terms(client: KalshiClient) -> None:
    series = await client.series("KXNBA")
    assert (series.ticker, series.fee_type, series.fee_multiplier) == ("KXNBA", "quadratic", "0.5")


@pytest.mark.parametrize("side,field,sent", [(Side.YES, "yes_price_dollars", "0.4500"),
                                             (Side.NO, "no_price_dollars", "0.4500")])
async def test_place_order_sends_side_price(client: KalshiClient, server: FakeKalshi,
                                            side: Side, field: str, sent: str) -> None:
    it = intent(side=side)
    order = await client.place_order(it)
    body = server.post_bodies[-1]
    assert body[field] == sent and body["count_fp"] == "2.50"
    assert body["time_in_force"] == "good_till_canceled" and body["client_order_id"] == it.client_order_id
    assert (body["action"], body["side"], body["post_only"], body["reduce_only"]) == ("buy", str(side), False, False)
    assert (order.price, order.side, order.initial_count, order.status) == (4500, side, 250, OrderStatus.RESTING)
    assert order.created_ts_ns == 1_772_366_400_123_456_789


async def test_get_cancel_list_and_lookup_orders(client: KalshiClient, server: FakeKalshi) -> None:
    server.page_size = 2
    placed = [await client.place_order(intent(ts=i)) for i in range(5)]
    assert (await client.get_order(placed[1].order_id)).client_order_id == placed[1].client_order_id
    canceled = await client.cancel_order(placed[0].order_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.remaining_count == 0
    resting = await client.orders(ticker="T-A", status=OrderStatus.RESTING)
    assert [o.order_id for o in resting] == [o.order_id for o in placed[1:]]
    assert len(await client.orders()) == 5
    found = await client.order_by_client_id(placed[4].client_order_id)
    assert found is not None and found.order_id == placed[4].order_id
    assert await client.order_by_client_id("ew-nope") is None


async def test_fills_positions_settlements(client: KalshiClient, server: FakeKalshi) -> None:
    server.page_size = 2
    server.fills = [fill_payload(i, 1_772_366_400 + i, "yes" if i % 2 else "no") for i in range(5)]
    fills = await client.fills()
    assert [f.fill_id for f in fills] == [f"f{i}" for i in range(5)]
    assert [f.price for f in fills[:2]] == [5500, 4500]  # a NO fill is priced on the NO side
    assert fills[0].fee == 200 and fills[0].count == 200 and fills[0].ts_ns == 1_772_366_400 * 10**9
    later = await client.fills(min_ts_ns=(1_772_366_402 * 10**9) + 1, ticker="T-A")
    assert [f.fill_id for f in later] == ["f3", "f4"]  # seconds filter on the server, ns trim here
    assert server.log[-1][2]["min_ts"] == "1772366402"
    server.positions = [{"ticker": f"T-{i}", "position_fp": "-3.00", "market_exposure_dollars": "1.6500",
                         "realized_pnl_dollars": "-0.1200", "fees_paid_dollars": "0.0400",
                         "total_traded_dollars": "2.0000", "resting_orders_count": 0,
                         "last_updated_ts": TS} for i in range(3)]
    positions = await client.positions()
    assert len(positions) == 3 and positions[0].quantity == -300 and positions[0].realized_pnl == -1200
    server.settlements = [{"ticker": "T-A", "event_ticker": "T", "market_result": "no",
                           "yes_count_fp": "0.00", "no_count_fp": "3.00", "yes_total_cost_dollars": "0",
                           "no_total_cost_dollars": "1.65", "revenue": 300, "settled_time": TS,
                           "fee_cost": "0.04"}]
    (settled,) = await client.settlements()
    assert (settled.result, settled.no_count, settled.revenue) == (Side.NO, 300, 30_000)


# ------------------------------------------------------------------ auth


async def test_wrong_key_is_auth_failed(server: FakeKalshi, sleeps: Recorder) -> None:
    async with KalshiClient(server.url, KEY_ID, OTHER_PRIVATE_PEM, sleep=sleeps) as bad:
        with pytest.raises(AuthFailed):
            await bad.balance()
    assert server.bad_signatures == 1 and sleeps.waits == []  # auth failures are not retried


# ------------------------------------------------------------------ retries and rate limits


async def test_429_honours_retry_after(client: KalshiClient, server: FakeKalshi, sleeps: Recorder) -> None:
    server.fail("GET", "/portfolio/balance", "429:2", times=2)
    assert await client.balance() == 12_345_600
    assert sleeps.waits == [2.0, 2.0]
    assert client.rate_waits["retry"] == 2 and client.rate_waits["retry_seconds"] == 4.0
    assert server.count("GET", "/portfolio/balance") == 3


async def test_read_gives_up_after_max_retries(client: KalshiClient, server: FakeKalshi,
                                              sleeps: Recorder) -> None:
    server.fail("GET", "/exchange/status", "503", times=4)
    with pytest.raises(Unavailable):
        await client.exchange_status()
    assert len(sleeps.waits) == 3 and server.count("GET", "/exchange/status") == 4
    for attempt, wait in enumerate(sleeps.waits):  # exponential, with jitter in [½, 1] of the step
        step = 0.25 * 2 ** attempt
        assert step / 2 <= wait <= step
    server.fail("GET", "/exchange/status", "429", times=4)
    with pytest.raises(RateLimited):
        await client.exchange_status()


async def test_html_5xx_is_unavailable_and_4xx_rejected(client: KalshiClient, server: FakeKalshi) -> None:
    server.fail("GET", "/portfolio/balance", "500html", times=4)
    with pytest.raises(Unavailable):
        await client.balance()
    server.fail("POST", "/portfolio/orders", "status:400:invalid_parameters")
    with pytest.raises(Rejected) as caught:
        await client.place_order(intent())
    assert (caught.value.code, caught.value.status) == ("invalid_parameters", 400)
    assert caught.value.message == "said invalid_parameters"


async def test_write_bucket_paces_orders(server: FakeKalshi, sleeps: Recorder) -> None:
    async with KalshiClient(server.url, KEY_ID, PRIVATE_PEM, writes_per_second=2, sleep=sleeps,
                            clock=lambda: 1_772_366_400.0) as c:  # a frozen clock: no refill
        for i in range(4):
            await c.place_order(intent(ts=i))
    assert sleeps.waits == [0.5, 1.0]  # two tokens of burst, then one per ½ s, queued
    assert c.rate_waits["write"] == 2 and c.rate_waits["write_seconds"] == 1.5


# ------------------------------------------------------------------ ambiguous writes


@pytest.mark.parametrize("fault", ["drop_after_record", "stall_after_record"])
async def test_lost_order_answer_resolved_by_lookup(server: FakeKalshi, sleeps: Recorder, fault: str) -> None:
    server.fail("POST", "/portfolio/orders", fault)
    it = intent()
    async with KalshiClient(server.url, KEY_ID, PRIVATE_PEM, timeout_s=0.5, sleep=sleeps) as c:
        order = await c.place_order(it)
    assert len(server.orders) == 1 and order.order_id == "ord-1"
    assert order.client_order_id == it.client_order_id
    assert server.count("POST", "/portfolio/orders") == 1  # found, so never re-sent
    assert server.count("GET", "/portfolio/orders") >= 1
    assert server.log[-1][2]["ticker"] == "T-A"


async def test_order_not_recorded_is_resent_with_same_id(client: KalshiClient, server: FakeKalshi,
                                                         sleeps: Recorder) -> None:
    server.fail("POST", "/portfolio/orders", "drop_before")
    server.fail("POST", "/portfolio/orders", "503")
    it = intent()
    order = await client.place_order(it)
    assert len(server.orders) == 1 and server.count("POST", "/portfolio/orders") == 3
    assert server.count("GET", "/portfolio/orders") == 2  # a lookup before each re-send
    assert {b["client_order_id"] for b in server.post_bodies} == {it.client_order_id}
    assert order.client_order_id == it.client_order_id and len(sleeps.waits) == 2


async def _warm(client: KalshiClient) -> None:
    client.prepare_orders()
    for _ in range(200):
        if client._orders_wire.warm:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no warm order connection")


async def test_send_order_writes_the_request_before_anyone_awaits_it(client: KalshiClient,
                                                                     server: FakeKalshi) -> None:
    cold = client.send_order(intent(ts=1))  # no warm connection yet: nothing leaves until awaited
    await asyncio.sleep(0.05)
    assert not server.post_bodies
    assert (await cold).client_order_id == intent(ts=1).client_order_id
    await _warm(client)
    placing = client.send_order(intent(ts=2))
    for _ in range(200):  # the exchange records it while the coroutine has not even started
        if len(server.post_bodies) == 2:
            break
        await asyncio.sleep(0.01)
    assert server.post_bodies[-1]["client_order_id"] == intent(ts=2).client_order_id
    order = await placing
    assert order.client_order_id == intent(ts=2).client_order_id and len(server.orders) == 2


async def test_orders_share_a_request_head_built_once_per_signature(server: FakeKalshi, sleeps: Recorder) -> None:
    now = [1_700_000_000.0]
    async with KalshiClient(server.url, KEY_ID, PRIVATE_PEM, writes_per_second=1000, timeout_s=2,
                            rng=random.Random(1), sleep=sleeps, clock=lambda: now[0]) as c:
        heads: list[bytes] = []
        build = c._orders_wire.head
        c._orders_wire.head = lambda *a: heads.append(build(*a)) or heads[-1]  # type: ignore[method-assign]
        c.prepare_orders()  # signs, and builds the head, before the books arrive
        assert len(heads) == 1
        for ts in (1, 2, 3):
            await c.send_order(intent(ts=ts))
        assert len(heads) == 1
        now[0] += 1.5  # past the signature's reuse window: signed afresh, a new head
        await c.send_order(intent(ts=4))
        assert len(heads) == 2 and heads[0] != heads[1]
    assert server.bad_signatures == 0 and len(server.orders) == 4


async def test_send_order_raises_a_refusal_only_when_awaited(client: KalshiClient, server: FakeKalshi) -> None:
    """The engine writes a tick's orders in a row: one refused must not stop the others
    (every failure reaches it through the await, where its failed-order path is)."""
    await _warm(client)
    bad = OrderIntent("ew-bad", "T-A", Side.YES, Action.BUY, 0, 100, TimeInForce.GTC, False, False, "t", 0.5, 1)
    refused = client.send_order(bad)  # no exception here
    good = client.send_order(intent(ts=7))
    with pytest.raises(Rejected, match="out of range"):
        await refused
    assert (await good).client_order_id == intent(ts=7).client_order_id
    assert [b["client_order_id"] for b in server.post_bodies] == [intent(ts=7).client_order_id]


async def test_a_request_written_ahead_and_lost_is_looked_up_then_written_afresh(
    client: KalshiClient, server: FakeKalshi, sleeps: Recorder
) -> None:
    await _warm(client)
    server.fail("POST", "/portfolio/orders", "drop_before")
    it = intent()
    order = await client.send_order(it)
    assert order.client_order_id == it.client_order_id and len(server.orders) == 1
    assert server.count("POST", "/portfolio/orders") == 2 and server.count("GET", "/portfolio/orders") == 1
    assert len(sleeps.waits) == 1


async def test_duplicate_409_resolves_to_existing(client: KalshiClient, server: FakeKalshi) -> None:
    it = intent()
    server.orders["ord-9"] = order_payload("ord-9", it.client_order_id, "T-A", "yes", "buy", 4500,
                                           "2.50", status="executed")
    order = await client.place_order(it)
    assert order.order_id == "ord-9" and order.status is OrderStatus.EXECUTED
    assert len(server.orders) == 1


async def test_409_without_an_order_is_rejected(client: KalshiClient, server: FakeKalshi) -> None:
    server.fail("POST", "/portfolio/orders", "status:409:trading_is_paused")
    with pytest.raises(Rejected) as caught:
        await client.place_order(intent())
    assert caught.value.code == "trading_is_paused" and not server.orders


async def test_lost_answer_and_failed_lookup_is_unavailable(client: KalshiClient, server: FakeKalshi) -> None:
    server.fail("POST", "/portfolio/orders", "503")
    server.fail("GET", "/portfolio/orders", "503", times=4)
    with pytest.raises(Unavailable, match="state unknown"):
        await client.place_order(intent())
    assert server.count("POST", "/portfolio/orders") == 1


async def test_rate_limited_order_is_resent(client: KalshiClient, server: FakeKalshi, sleeps: Recorder) -> None:
    server.fail("POST", "/portfolio/orders", "429:1")
    await client.place_order(intent())
    assert sleeps.waits == [1.0] and len(server.orders) == 1
    assert server.count("GET", "/portfolio/orders") == 0  # a 429 is a clear "not placed"


async def test_cancel_with_lost_answer_reads_state(server: FakeKalshi, sleeps: Recorder) -> None:
    async with KalshiClient(server.url, KEY_ID, PRIVATE_PEM, timeout_s=0.5, sleep=sleeps) as c:
        placed = await c.place_order(intent())
        server.fail("DELETE", f"/portfolio/orders/{placed.order_id}", "stall_after_record")
        canceled = await c.cancel_order(placed.order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert server.count("DELETE", f"/portfolio/orders/{placed.order_id}") == 1
    assert server.count("GET", f"/portfolio/orders/{placed.order_id}") == 1


async def test_cancel_not_done_is_resent(client: KalshiClient, server: FakeKalshi) -> None:
    placed = await client.place_order(intent())
    server.fail("DELETE", f"/portfolio/orders/{placed.order_id}", "503")
    canceled = await client.cancel_order(placed.order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert server.count("DELETE", f"/portfolio/orders/{placed.order_id}") == 2


# ------------------------------------------------------------------ bad answers


async def test_malformed_bodies_name_the_field(client: KalshiClient, server: FakeKalshi) -> None:
    bad = market_payload("EV-A")
    del bad["yes_bid_dollars"]
    server.markets = [market_payload("EV-0"), bad]
    with pytest.raises(BadResponse) as caught:
        await client.markets()
    assert caught.value.field == "markets[1].yes_bid_dollars" and caught.value.endpoint == "GET /markets"
    server.markets = [market_payload("EV-A", yes_ask_dollars="0.47001")]
    with pytest.raises(BadResponse) as caught:
        await client.market("EV-A")
    assert caught.value.field == "market.yes_ask_dollars" and caught.value.value == "0.47001"
    server.fail("GET", "/portfolio/balance", "garbage")
    with pytest.raises(BadResponse) as caught:
        await client.balance()
    assert caught.value.field == "<body>"
    server.override[PREFIX + "/portfolio/balance"] = lambda r: {"balance": "12.00"}
    with pytest.raises(BadResponse, match="balance"):
        await client.balance()


async def test_repeated_cursor_is_refused(client: KalshiClient, server: FakeKalshi) -> None:
    server.override[PREFIX + "/portfolio/positions"] = lambda r: {"market_positions": [], "cursor": "same"}
    with pytest.raises(BadResponse) as caught:
        await client.positions()
    assert caught.value.field == "cursor"


async def test_long_retry_after_is_not_waited(client: KalshiClient, server: FakeKalshi,
                                              sleeps: Recorder) -> None:
    server.fail("GET", "/portfolio/balance", "429:120")
    with pytest.raises(RateLimited) as caught:
        await client.balance()
    assert caught.value.retry_after_s == 120.0 and sleeps.waits == []


async def test_order_logs_carry_client_order_id_and_no_secrets(client: KalshiClient,
                                                               server: FakeKalshi) -> None:
    server.fail("POST", "/portfolio/orders", "503")
    it = intent()
    with structlog.testing.capture_logs() as logs:
        await client.place_order(it)
    events = [e["event"] for e in logs]
    assert events == ["order_answer_lost", "order_not_found_resending", "order_answered"]
    assert all(e["client_order_id"] == it.client_order_id for e in logs)
    text = repr(logs)
    assert "PRIVATE KEY" not in text and PRIVATE_PEM.decode().splitlines()[1] not in text
    assert "SIGNATURE" not in text.upper()
