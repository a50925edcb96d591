"""KalshiClient against the built-in exchange, over real loopback HTTP.

Both ends are the real code: the client signs, paces, retries and parses; the built-in
exchange verifies signatures, matches orders, charges fees, settles markets and injects
faults. The exchange runs on an injected clock (the client signs with the same clock) and
its background loop is effectively off, so each test moves the world by calling ``step``.
"""

from __future__ import annotations

import asyncio
import base64
import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from daemon.venues.base import AuthFailed, BadResponse, NotFound, Rejected, Unavailable
from daemon.venues.kalshi import KalshiClient
from daemon.venues.kalshi_auth import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    auth_headers,
    generate_keypair,
    load_private_key,
    load_public_key,
    signing_message,
)
from daemon.venues.sim.exchange import USER, SimExchange
from market.fees import quadratic_fee
from market.orders import Action, OrderIntent, OrderStatus, Side, TimeInForce
from market.units import CONTRACT_PAYOUT
from tests.integration.test_kalshi_client import Recorder

PRIVATE_PEM, PUBLIC_PEM = generate_keypair()
OTHER_PRIVATE_PEM, _ = generate_keypair()
KEY_ID = "sim-key"
START_NS = 1_772_366_400 * 10**9  # 2026-03-01T12:00:00Z
S = 10**9


class Clock:
    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns

    def seconds(self) -> float:
        return self.ns / 1e9


@pytest.fixture
def clock() -> Clock:
    return Clock(START_NS)


@pytest.fixture
async def sim(clock: Clock):
    exchange = SimExchange(public_key_pem=PUBLIC_PEM, key_id=KEY_ID, seed=11, markets=5,
                           tick_ms=3_600_000, market_life_s=600, clock=clock)
    await exchange.start("127.0.0.1", 0)
    yield exchange
    await exchange.stop()


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


def make_client(sim: SimExchange, clock: Clock, sleeps: Recorder, pem: bytes = PRIVATE_PEM,
                key_id: str = KEY_ID, **kw) -> KalshiClient:
    options = dict(reads_per_second=1000, writes_per_second=1000, timeout_s=2, max_retries=3,
                   rng=random.Random(5), sleep=sleeps, clock=clock.seconds)
    options.update(kw)
    return KalshiClient(f"http://127.0.0.1:{sim.port}/trade-api/v2", key_id, pem, **options)


@pytest.fixture
async def client(sim: SimExchange, clock: Clock, sleeps: Recorder):
    async with make_client(sim, clock, sleeps) as c:
        yield c


def buy(ticker: str, side: Side, price: int, count: int, tif: TimeInForce = TimeInForce.IOC,
        ts: int = 1, action: Action = Action.BUY) -> OrderIntent:
    return OrderIntent.create(ticker, side, action, price, count, "test", 0.5, ts, time_in_force=tif)


def user_orders(sim: SimExchange, coid: str) -> list:
    return [o for o in sim.engine.orders.values() if o.account == USER and o.client_order_id == coid]


# ------------------------------------------------------------------ signing


def test_signing_known_answer() -> None:
    key = load_private_key(PRIVATE_PEM)
    message = signing_message(1703123456789, "get", "/trade-api/v2/portfolio/balance?limit=5")
    assert message == b"1703123456789GET/trade-api/v2/portfolio/balance"
    headers = auth_headers(KEY_ID, key, 1703123456789, "GET", "/trade-api/v2/portfolio/balance")
    assert headers[TIMESTAMP_HEADER] == "1703123456789"
    raw = base64.b64decode(headers[SIGNATURE_HEADER])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256().digest_size)
    load_public_key(PUBLIC_PEM).verify(raw, message, pss, hashes.SHA256())  # raises if wrong
    again = auth_headers(KEY_ID, key, 1703123456789, "GET", "/trade-api/v2/portfolio/balance")
    assert again[SIGNATURE_HEADER] != headers[SIGNATURE_HEADER]  # PSS is randomised


async def test_bad_signature_stale_timestamp_and_unknown_key_are_auth_failed(
        sim: SimExchange, clock: Clock, sleeps: Recorder) -> None:
    async with make_client(sim, clock, sleeps, pem=OTHER_PRIVATE_PEM) as wrong_key:
        with pytest.raises(AuthFailed, match="401"):
            await wrong_key.balance()
    async with make_client(sim, clock, sleeps, key_id="someone-else") as wrong_id:
        with pytest.raises(AuthFailed):
            await wrong_id.positions()
    stale = Clock(START_NS - 60 * S)  # a minute behind the exchange
    async with make_client(sim, stale, sleeps) as late:
        with pytest.raises(AuthFailed):
            await late.orderbook(sim.world.games[0].ticker)
        assert (await late.exchange_status()).exchange_active  # public calls need no signature
    assert sleeps.waits == []  # an auth failure is not retried


# ------------------------------------------------------------------ market data


async def test_market_data_endpoints(client: KalshiClient, sim: SimExchange) -> None:
    status = await client.exchange_status()
    assert status.exchange_active and status.trading_active
    markets = await client.markets(status="open")
    games = sim.world.open_games()
    assert sorted(m.ticker for m in markets) == sorted(g.ticker for g in games)
    game = games[0]
    by_event = await client.markets(status=None, event_ticker=game.event_ticker)
    assert [m.ticker for m in by_event] == [game.ticker]
    assert len(await client.markets(series_ticker=game.series_ticker)) == len(games)
    assert await client.markets(series_ticker="KXNOPE") == []
    picked = await client.markets(tickers=[games[1].ticker, games[2].ticker])
    assert {m.ticker for m in picked} == {games[1].ticker, games[2].ticker}

    market = await client.market(game.ticker)
    book = await client.orderbook(game.ticker, depth=2)
    yes, no = sim.engine.books[game.ticker].levels(Side.YES), sim.engine.books[game.ticker].levels(Side.NO)
    assert [(lv.price, lv.count) for lv in book.yes_bids] == yes[:2]
    assert [(lv.price, lv.count) for lv in book.no_bids] == no[:2]
    assert market.yes_bid == yes[0][0] and market.yes_ask == CONTRACT_PAYOUT - no[0][0]
    assert market.event_ticker == game.event_ticker and market.status == "active"
    assert market.close_time_ns == game.close_ns // 1000 * 1000  # ISO time keeps microseconds
    # The quotes centre on the world's biased price, not on the true probability.
    centre = (market.yes_bid + market.yes_ask) / 2 / CONTRACT_PAYOUT
    assert abs(centre - sim.world.quoted_price(game) / CONTRACT_PAYOUT) <= 0.02
    series = await client.series(game.series_ticker)
    assert series.fee_type == "quadratic" and series.fee_multiplier == "1"
    with pytest.raises(NotFound):
        await client.market("KXNBAGAME-NOPE")
    with pytest.raises(NotFound):
        await client.series("KXNOPE")


async def test_markets_paginate_across_pages(sim: SimExchange, clock: Clock, sleeps: Recorder) -> None:
    async with make_client(sim, clock, sleeps, page_limit=2) as small:
        paged = await small.markets(status=None)
    async with make_client(sim, clock, sleeps) as big:
        whole = await big.markets(status=None)
    assert [m.ticker for m in paged] == [m.ticker for m in whole] and len(whole) == 5
    assert sim.requests_by_path["GET /trade-api/v2/markets"] == 3 + 1  # 2+2+1, then one page


# ------------------------------------------------------------------ trading


async def test_trade_round_trip_with_fees_to_the_cent(client: KalshiClient, sim: SimExchange) -> None:
    start = await client.balance()
    assert start == sim.starting_balance
    game = sim.world.open_games()[0]
    book = await client.orderbook(game.ticker)
    ask = book.best_ask(Side.YES)
    count = min(ask.count, 500)
    order = await client.place_order(buy(game.ticker, Side.YES, ask.price, count))
    fee = quadratic_fee(70_000, count, ask.price)
    assert (order.status, order.fill_count, order.remaining_count) == (OrderStatus.EXECUTED, count, 0)
    assert order.taker_fees == fee and fee % 100 == 0
    (fill,) = await client.fills(ticker=game.ticker)
    assert (fill.order_id, fill.count, fill.price, fill.is_taker, fill.fee) == \
        (order.order_id, count, ask.price, True, fee)
    (position,) = await client.positions()
    assert (position.ticker, position.quantity, position.fees_paid) == (game.ticker, count, fee)
    assert await client.balance() == start - count * ask.price // 100 - fee
    traded = await client.market(game.ticker)
    assert (traded.last_price, traded.volume) == (ask.price, sim.engine.books[game.ticker].volume)
    assert traded.volume >= count

    # A resting GTC order below the bid, found by id and by client_order_id, then canceled.
    bid = book.best_bid(Side.YES).price
    resting_intent = buy(game.ticker, Side.YES, bid - 500, 300, TimeInForce.GTC, ts=2)
    resting = await client.place_order(resting_intent)
    assert resting.status is OrderStatus.RESTING and resting.remaining_count == 300
    assert (await client.get_order(resting.order_id)).price == bid - 500
    assert [o.order_id for o in await client.orders(status=OrderStatus.RESTING)] == [resting.order_id]
    found = await client.order_by_client_id(resting_intent.client_order_id, ticker=game.ticker)
    assert found is not None and found.order_id == resting.order_id
    canceled = await client.cancel_order(resting.order_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.remaining_count == 0
    assert len(await client.orders(ticker=game.ticker)) == 2
    with pytest.raises(Rejected):
        await client.cancel_order(resting.order_id)  # not resting any more
    with pytest.raises(NotFound):
        await client.get_order("SO-nope")


async def test_sell_held_contracts_and_rejections(client: KalshiClient, sim: SimExchange) -> None:
    game = sim.world.open_games()[1]
    book = await client.orderbook(game.ticker)
    ask = book.best_ask(Side.NO)
    await client.place_order(buy(game.ticker, Side.NO, ask.price, 200))
    bid = (await client.orderbook(game.ticker)).best_bid(Side.NO)
    sold = await client.place_order(buy(game.ticker, Side.NO, bid.price, 200, action=Action.SELL, ts=2))
    assert sold.status is OrderStatus.EXECUTED and sold.action is Action.SELL
    positions = {p.ticker: p for p in await client.positions()}
    assert positions[game.ticker].quantity == 0
    with pytest.raises(Rejected) as caught:
        await client.place_order(OrderIntent.create(game.ticker, Side.YES, Action.BUY, 9_900, 10**8, "t",
                                                    0.5, 3))
    assert caught.value.code == "insufficient_balance" and caught.value.status == 400
    with pytest.raises(Rejected) as caught:
        await client.place_order(buy(game.ticker, Side.YES, 5_050, 100, ts=5))  # 50.5¢
    assert caught.value.code == "invalid_price"  # the sim's markets are on the one-cent tick
    with pytest.raises(Rejected) as caught:  # flat: a reduce-only order has nothing to reduce
        await client.place_order(OrderIntent.create(game.ticker, Side.YES, Action.BUY, 500, 100, "t",
                                                    0.5, 6, reduce_only=True))
    assert caught.value.code == "reduce_only_violation"


async def test_duplicate_client_order_id_resolves_to_the_one_order(client: KalshiClient,
                                                                   sim: SimExchange) -> None:
    game = sim.world.open_games()[2]
    intent = buy(game.ticker, Side.YES, 200, 100, TimeInForce.GTC)
    first = await client.place_order(intent)
    again = await client.place_order(intent)  # 409 order_already_exists → looked up
    assert again.order_id == first.order_id
    assert len(user_orders(sim, intent.client_order_id)) == 1


async def test_lost_order_answer_is_resolved_by_lookup(sim: SimExchange, clock: Clock,
                                                       sleeps: Recorder) -> None:
    """The exchange commits the order, then never answers: one order, found by its id."""
    original = sim.create_order

    async def commit_then_stop_answering(request):
        response = await original(request)
        sim.faults.timeout_rate = 0.0  # only this answer is lost; the lookup gets through
        return response

    sim.create_order = commit_then_stop_answering  # type: ignore[method-assign]
    await sim.stop()
    await sim.start("127.0.0.1", sim.port)  # re-bind the routes to the wrapped handler
    sim.faults.timeout_rate = 1.0
    game = sim.world.open_games()[0]
    intent = buy(game.ticker, Side.YES, 300, 100, TimeInForce.GTC)
    async with make_client(sim, clock, sleeps, timeout_s=0.3) as c:
        order = await c.place_order(intent)
    assert order.client_order_id == intent.client_order_id and order.status is OrderStatus.RESTING
    assert len(user_orders(sim, intent.client_order_id)) == 1
    assert sim.requests_by_path["POST /trade-api/v2/portfolio/orders"] == 1  # found: never re-sent
    assert sim.requests_by_path["GET /trade-api/v2/portfolio/orders"] >= 1


# ------------------------------------------------------------------ lifecycle


async def test_market_closes_settles_and_pays_exactly(client: KalshiClient, sim: SimExchange,
                                                      clock: Clock) -> None:
    start = await client.balance()
    game = min(sim.world.open_games(), key=lambda g: g.close_ns)
    book = await client.orderbook(game.ticker)
    ask = book.best_ask(Side.YES)
    order = await client.place_order(buy(game.ticker, Side.YES, ask.price, 100))
    resting = await client.place_order(buy(game.ticker, Side.NO, 100, 100, TimeInForce.GTC, ts=2))
    clock.ns = game.close_ns + 1
    sim.step(clock.ns)
    assert (await client.market(game.ticker)).status == "closed"
    assert (await client.get_order(resting.order_id)).status is OrderStatus.CANCELED
    with pytest.raises(Rejected) as caught:
        await client.place_order(buy(game.ticker, Side.YES, ask.price, 100, ts=3))
    assert caught.value.code == "market_closed"
    clock.ns = game.settle_ns + 1
    sim.step(clock.ns)
    market = await client.market(game.ticker)
    assert market.status == "finalized" and market.result is game.outcome
    (settled,) = await client.settlements()
    payout = 10_000 if game.outcome is Side.YES else 0
    assert (settled.ticker, settled.result, settled.yes_count, settled.revenue) == \
        (game.ticker, game.outcome, 100, payout)
    assert await client.balance() == start - ask.price - order.taker_fees + payout
    assert [p.quantity for p in await client.positions() if p.ticker == game.ticker] in ([], [0])
    assert game.ticker not in {m.ticker for m in await client.markets(status="open")}
    assert len(await client.markets(status="open")) == 5  # a new game replaced it


# ------------------------------------------------------------------ faults


async def test_rate_limit_bursts_are_waited_out(client: KalshiClient, sim: SimExchange,
                                                sleeps: Recorder) -> None:
    sim.faults.rate_limit_burst_every = 2
    statuses = [await client.exchange_status() for _ in range(4)]
    assert all(s.trading_active for s in statuses)
    assert sleeps.waits and all(w == 1.0 for w in sleeps.waits)  # the exchange's Retry-After
    assert client.rate_waits["retry"] == len(sleeps.waits)


async def test_rate_limited_orders_are_resent_once_each(client: KalshiClient, sim: SimExchange,
                                                       sleeps: Recorder) -> None:
    sim.faults.rate_limit_burst_every = 2
    game = sim.world.open_games()[3]
    intents = [buy(game.ticker, Side.NO, 100 + 100 * i, 100, TimeInForce.GTC, ts=i) for i in range(4)]
    placed = [await client.place_order(i) for i in intents]
    assert 1.0 in sleeps.waits
    for intent, order in zip(intents, placed, strict=True):
        assert [o.order_id for o in user_orders(sim, intent.client_order_id)] == [order.order_id]


async def test_orders_sendable_now_counts_the_write_tokens_left(sim: SimExchange, clock: Clock,
                                                                 sleeps: Recorder) -> None:
    """What the engine approves per tick: orders past it would wait for the limit."""
    game = sim.world.open_games()[2]
    async with make_client(sim, clock, sleeps, writes_per_second=3) as client:
        assert client.orders_sendable_now() == 3
        for i in range(3):
            await client.place_order(buy(game.ticker, Side.YES, 100, 100, ts=i))
        assert client.orders_sendable_now() == 0 and not sleeps.waits
        clock.ns += 400_000_000  # 0.4 s: 1.2 tokens back
        assert client.orders_sendable_now() == 1


async def test_concurrent_orders_all_land_once(client: KalshiClient, sim: SimExchange) -> None:
    game = sim.world.open_games()[4]
    intents = [buy(game.ticker, Side.YES, 100 * (1 + i % 5), 100, TimeInForce.GTC, ts=i) for i in range(20)]
    placed = await asyncio.gather(*(client.place_order(i) for i in intents))
    assert len({o.order_id for o in placed}) == 20
    resting = await client.orders(ticker=game.ticker, status=OrderStatus.RESTING)
    assert sorted(o.order_id for o in resting) == sorted(o.order_id for o in placed)
    reserved = sim.engine.accounts[USER].reserved
    assert reserved > 0 and await client.balance() == sim.starting_balance  # held back, not spent
    await asyncio.gather(*(client.cancel_order(o.order_id) for o in placed))
    assert sim.engine.accounts[USER].reserved == 0


async def test_5xx_are_retried_with_backoff(client: KalshiClient, sim: SimExchange, sleeps: Recorder) -> None:
    sim.faults.error_5xx_rate = 0.5
    markets = [await client.market(g.ticker) for g in sim.world.open_games()]
    assert len(markets) == 5 and sleeps.waits
    sim.faults.error_5xx_rate = 1.0
    with pytest.raises(Unavailable):
        await client.balance()


async def test_timeouts_become_unavailable(sim: SimExchange, clock: Clock, sleeps: Recorder) -> None:
    sim.faults.timeout_rate = 1.0
    async with make_client(sim, clock, sleeps, timeout_s=0.2, max_retries=1) as c:
        with pytest.raises(Unavailable, match="no answer"):
            await c.exchange_status()
    assert len(sleeps.waits) == 1


async def test_latency_longer_than_the_timeout_is_unavailable(sim: SimExchange, clock: Clock,
                                                               sleeps: Recorder) -> None:
    sim.faults.latency_ms = 2_000
    async with make_client(sim, clock, sleeps, timeout_s=0.05, max_retries=0) as c:
        with pytest.raises(Unavailable):
            await c.exchange_status()


async def test_malformed_bodies_are_bad_responses(client: KalshiClient, sim: SimExchange) -> None:
    game = sim.world.open_games()[0]
    ask = (await client.orderbook(game.ticker)).best_ask(Side.YES)
    order = await client.place_order(buy(game.ticker, Side.YES, ask.price, 100))
    game.close_ns, game.settle_ns = sim.clock(), sim.clock() + 1  # end it now: a settlement row
    sim.step(sim.clock() + sim.world.settle_delay_ns)
    assert await client.settlements()
    sim.faults.malformed_rate = 1.0
    with pytest.raises(BadResponse) as caught:
        await client.market(game.ticker)
    assert caught.value.field.startswith("market.") and caught.value.endpoint.startswith("GET /markets/")
    calls = {
        "markets": client.markets, "balance": client.balance, "status": client.exchange_status,
        "orders": client.orders, "order": lambda: client.get_order(order.order_id),
        "fills": client.fills, "positions": client.positions, "settlements": client.settlements,
        "book": lambda: client.orderbook(game.ticker),
    }
    for name, call in calls.items():
        for _ in range(8):  # missing fields and garbled values, each one named
            with pytest.raises(BadResponse) as caught:
                await call()
            assert caught.value.field, name


async def test_trading_paused(client: KalshiClient, sim: SimExchange) -> None:
    sim.faults.trading_paused = True
    assert not (await client.exchange_status()).trading_active
    game = sim.world.open_games()[0]
    intent = buy(game.ticker, Side.YES, 500, 100, TimeInForce.GTC)
    with pytest.raises(Rejected) as caught:
        await client.place_order(intent)
    assert caught.value.code == "trading_is_paused" and not user_orders(sim, intent.client_order_id)


async def test_frozen_books_stop_changing(client: KalshiClient, sim: SimExchange, clock: Clock) -> None:
    ticker = sim.world.open_games()[0].ticker
    sim.faults.frozen_books = True
    before = await client.orderbook(ticker)
    for _ in range(5):
        clock.ns += S
        sim.step(clock.ns)
    after = await client.orderbook(ticker)
    assert (after.yes_bids, after.no_bids) == (before.yes_bids, before.no_bids)
    sim.faults.frozen_books = False
    changed = False
    for _ in range(20):
        clock.ns += S
        sim.step(clock.ns)
        now = await client.orderbook(ticker)
        changed |= (now.yes_bids, now.no_bids) != (before.yes_bids, before.no_bids)
    assert changed


# ------------------------------------------------------------------ wire format


APPENDIX = {  # venues.md, "fields the Kalshi API marks as required in each answer"
    "ExchangeStatus": "exchange_active trading_active",
    "Market": "ticker event_ticker market_type yes_sub_title no_sub_title created_time updated_time "
              "open_time close_time latest_expiration_time settlement_timer_seconds status "
              "notional_value_dollars yes_bid_dollars yes_ask_dollars no_bid_dollars no_ask_dollars "
              "yes_bid_size_fp yes_ask_size_fp last_price_dollars previous_yes_bid_dollars "
              "previous_yes_ask_dollars previous_price_dollars volume_fp volume_24h_fp liquidity_dollars "
              "open_interest_fp result can_close_early fractional_trading_enabled expiration_value "
              "rules_primary rules_secondary price_level_structure price_ranges",
    "GetMarketsResponse": "markets cursor",
    "GetMarketResponse": "market",
    "OrderbookCountFp": "yes_dollars no_dollars",
    "GetMarketOrderbookResponse": "orderbook_fp",
    "CreateOrderResponse": "order",
    "Order": "order_id user_id client_order_id ticker side action type status yes_price_dollars "
             "no_price_dollars fill_count_fp remaining_count_fp initial_count_fp taker_fees_dollars "
             "maker_fees_dollars taker_fill_cost_dollars maker_fill_cost_dollars",
    "GetOrdersResponse": "orders cursor",
    "CancelOrderResponse": "order reduced_by_fp",
    "Fill": "fill_id trade_id order_id ticker market_ticker side action count_fp yes_price_dollars "
            "no_price_dollars is_taker fee_cost",
    "GetFillsResponse": "fills cursor",
    "MarketPosition": "ticker total_traded_dollars position_fp market_exposure_dollars realized_pnl_dollars "
                      "resting_orders_count fees_paid_dollars last_updated_ts",
    "GetPositionsResponse": "market_positions event_positions",
    "GetBalanceResponse": "balance portfolio_value updated_ts",
}


def missing(kind: str, body: object) -> set[str]:
    assert isinstance(body, dict), (kind, body)
    return set(APPENDIX[kind].split()) - set(body)


async def test_answers_carry_every_required_field(sim: SimExchange, clock: Clock) -> None:
    import aiohttp

    base = f"http://127.0.0.1:{sim.port}/trade-api/v2"
    key = load_private_key(PRIVATE_PEM)

    async def call(session, method: str, path: str, body: dict | None = None, status: int = 200):
        headers = auth_headers(KEY_ID, key, clock.ns // 1_000_000, method, "/trade-api/v2" + path.split("?")[0])
        async with session.request(method, base + path, json=body, headers=headers) as resp:
            assert resp.status == status, (method, path, resp.status, await resp.text())
            return await resp.json()

    game = sim.world.open_games()[0]
    async with aiohttp.ClientSession() as s:
        assert not missing("ExchangeStatus", await call(s, "GET", "/exchange/status"))
        page = await call(s, "GET", "/markets?limit=2")
        assert not missing("GetMarketsResponse", page) and page["cursor"]
        for market in page["markets"]:
            assert not missing("Market", market)
        one = await call(s, "GET", f"/markets/{game.ticker}")
        assert not missing("GetMarketResponse", one) and not missing("Market", one["market"])
        book = await call(s, "GET", f"/markets/{game.ticker}/orderbook?depth=3")
        assert not missing("GetMarketOrderbookResponse", book) and not missing("OrderbookCountFp", book["orderbook_fp"])
        ask = 10_000 - int(round(float(book["orderbook_fp"]["no_dollars"][0][0]) * 10_000))
        taker = {"ticker": game.ticker, "client_order_id": "ew-wire-1", "side": "yes", "action": "buy",
                 "count": 1, "yes_price_dollars": f"{ask / 10_000:.4f}", "time_in_force": "immediate_or_cancel"}
        created = await call(s, "POST", "/portfolio/orders", taker, status=201)
        assert not missing("CreateOrderResponse", created) and not missing("Order", created["order"])
        assert created["order"]["status"] == "executed"
        rest = {"ticker": game.ticker, "client_order_id": "ew-wire-2", "side": "no", "action": "buy",
                "count_fp": "2.00", "no_price_dollars": "0.0100"}
        resting = (await call(s, "POST", "/portfolio/orders", rest, status=201))["order"]
        orders = await call(s, "GET", "/portfolio/orders?status=resting")
        assert not missing("GetOrdersResponse", orders) and [o["order_id"] for o in orders["orders"]] == [resting["order_id"]]
        canceled = await call(s, "DELETE", f"/portfolio/orders/{resting['order_id']}")
        assert not missing("CancelOrderResponse", canceled) and canceled["reduced_by_fp"] == "2.00"
        fills = await call(s, "GET", f"/portfolio/fills?ticker={game.ticker}")
        assert not missing("GetFillsResponse", fills) and len(fills["fills"]) == 1
        assert not missing("Fill", fills["fills"][0])
        positions = await call(s, "GET", "/portfolio/positions")
        assert not missing("GetPositionsResponse", positions)
        assert not missing("MarketPosition", positions["market_positions"][0])
        assert not missing("GetBalanceResponse", await call(s, "GET", "/portfolio/balance"))
        # Errors: HTTP status plus {"code", "message", "details"}.
        for method, path, body, status in [
            ("GET", "/markets/KXNOPE-1", None, 404),
            ("GET", "/portfolio/orders/nope", None, 404),
            ("POST", "/portfolio/orders", {**rest, "count_fp": "abc"}, 400),
            ("POST", "/portfolio/orders", taker, 409),  # the same client_order_id again
            ("GET", "/markets?status=whatever", None, 400),
        ]:
            error = await call(s, method, path, body, status=status)
            assert set(error) == {"code", "message", "details"} and error["code"], (path, error)
        async with s.get(base + "/portfolio/balance") as unsigned:
            assert unsigned.status == 401 and set(await unsigned.json()) == {"code", "message", "details"}
