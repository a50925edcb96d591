"""The paper venue: real books over loopback HTTP (built-in exchange + Kalshi client), local fills.

Every test ends by proving, from the exchange's own request counter, that nothing but
market-data GETs reached it: no POST, no DELETE, no /portfolio call, and the exchange's
account for us has no order.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiohttp.test_utils import TestServer

from daemon.venues.base import Rejected
from daemon.venues.kalshi import KalshiClient
from daemon.venues.kalshi_auth import generate_keypair
from daemon.venues.paper import PaperVenue, paper_order_id
from daemon.venues.sim.exchange import USER, SimExchange
from market.fees import schedule_from_name
from market.orders import Action, OrderIntent, OrderStatus, Side, TimeInForce

KEY_ID = "paper-test-key"
START = 10_000_000  # $1,000.00
_seq = itertools.count()

# NO bids at 60/59/58¢ are YES asks at 40/41/42¢; YES bids at 38/37¢.
NO_BIDS = [(6000, 1000), (5900, 2000), (5800, 3000)]
YES_BIDS = [(3800, 1000), (3700, 2000)]


@pytest.fixture(scope="module")
def keypair():
    return generate_keypair(2048)


class Sim:
    def __init__(self, exchange: SimExchange, client: KalshiClient) -> None:
        self.exchange = exchange
        self.client = client
        self.tickers = [g.ticker for g in exchange.world.games]

    def set_book(self, ticker: str, yes_bids, no_bids, clear: bool = True) -> None:
        """Replace the exchange's book for ``ticker`` with exact resting orders of a maker."""
        engine, now = self.exchange.engine, time.time_ns()
        if clear:
            for order in list(engine.orders.values()):
                if order.ticker == ticker and order.status is OrderStatus.RESTING:
                    engine.cancel(order.account, order.order_id, now)
        if "test-maker" not in engine.accounts:
            engine.add_account("test-maker", 10**15)
        for side, ladder in ((Side.YES, yes_bids), (Side.NO, no_bids)):
            for price, count in ladder:
                engine.submit("test-maker", f"tm-{next(_seq)}", ticker, side, Action.BUY, price, count,
                              TimeInForce.GTC, False, now)

    def determine(self, ticker: str, result: Side) -> None:
        game = self.exchange.world.by_ticker[ticker]
        game.status, game.result = "determined", result


@pytest.fixture
async def sim(keypair):
    private_pem, public_pem = keypair
    # Not exchange.start(): no background stepping, so the books stay exactly as a test sets them.
    exchange = SimExchange(public_pem, KEY_ID, seed=3, markets=3, market_life_s=3600)
    server = TestServer(exchange.app(), host="127.0.0.1")
    await server.start_server()
    client = KalshiClient(str(server.make_url("/trade-api/v2")), KEY_ID, private_pem)
    harness = Sim(exchange, client)
    for ticker in harness.tickers:
        harness.set_book(ticker, YES_BIDS, NO_BIDS)
    yield harness
    await client.close()
    await server.close()
    # The proof: only market-data GETs ever reached the exchange.
    seen = exchange.requests_by_path
    assert not [k for k in seen if not k.startswith("GET ")], seen
    assert not [k for k in seen if "/portfolio" in k], seen
    assert not [o for o in exchange.engine.orders.values() if o.account == USER]
    assert exchange.engine.accounts[USER].balance == exchange.starting_balance


def intent(ticker, price, count, side=Side.YES, action=Action.BUY, tif=TimeInForce.IOC, **kw) -> OrderIntent:
    return OrderIntent.create(ticker, side, action, price, count, "test", 0.5, 1_700_000_000_000_000_000 + next(_seq),
                              time_in_force=tif, **kw)


def paper(sim: Sim, balance: int = START, **kw) -> PaperVenue:
    return PaperVenue(sim.client, balance, **kw)


async def test_buy_walks_the_levels_and_ioc_cancels_the_remainder(sim):
    venue, ticker = paper(sim), sim.tickers[0]
    order = await venue.place_order(intent(ticker, 4100, 4000))
    assert (order.status, order.fill_count, order.remaining_count) == (OrderStatus.CANCELED, 3000, 0)
    fills = await venue.fills()
    assert [(f.price, f.count, f.is_taker, f.fee) for f in fills] == [(4000, 1000, True, 1700),
                                                                      (4100, 2000, True, 3400)]
    # Fees to the cent: 0.07·10·0.40·0.60 = $0.168 → $0.17; 0.07·20·0.41·0.59 = $0.33866 → $0.34.
    assert order.taker_fees == 5100 and order.maker_fees == 0
    assert await venue.balance() == START - 40_000 - 82_000 - 5_100
    (position,) = await venue.positions()
    assert (position.quantity, position.exposure, position.fees_paid, position.realized_pnl) == (
        3000, 122_000, 5_100, -5_100)
    assert [round(s.bps, 6) for s in venue.slippage] == [round(-100 / 4100 * 10_000, 6), 0.0]
    assert order.order_id == paper_order_id(order.client_order_id)
    assert [f.fill_id for f in fills] == [f"{order.order_id}-1", f"{order.order_id}-2"]


async def test_taken_liquidity_stays_taken_until_its_level_changes(sim):
    venue, ticker = paper(sim), sim.tickers[0]
    await venue.place_order(intent(ticker, 4100, 3000))  # takes 40¢ × 10 and 41¢ × 20
    again = await venue.place_order(intent(ticker, 4100, 1000))
    assert (again.fill_count, again.status) == (0, OrderStatus.CANCELED)
    deeper = await venue.place_order(intent(ticker, 4200, 500))
    assert deeper.fill_count == 500 and (await venue.fills())[-1].price == 4200
    # The real 40¢ level changes size (15 now); 41¢ and 42¢ are as they were.
    sim.set_book(ticker, YES_BIDS, [(6000, 1500), *NO_BIDS[1:]])
    fresh = await venue.place_order(intent(ticker, 4200, 5000))
    assert [(f.price, f.count) for f in (await venue.fills())[-2:]] == [(4000, 1500), (4200, 2500)]
    assert fresh.fill_count == 4000  # 41¢ still taken, 42¢ had 2500 left of 3000


async def test_fill_or_kill_is_all_or_nothing(sim):
    venue, ticker = paper(sim), sim.tickers[1]
    killed = await venue.place_order(intent(ticker, 4200, 7000, tif=TimeInForce.FOK))
    assert (killed.status, killed.fill_count) == (OrderStatus.CANCELED, 0)
    assert await venue.fills() == [] and await venue.balance() == START
    filled = await venue.place_order(intent(ticker, 4200, 6000, tif=TimeInForce.FOK))
    assert (filled.status, filled.fill_count) == (OrderStatus.EXECUTED, 6000)
    assert [(f.price, f.count) for f in await venue.fills()] == [(4000, 1000), (4100, 2000), (4200, 3000)]


async def test_gtc_rests_then_fills_as_maker_when_a_later_book_crosses(sim):
    venue = paper(sim, fees=schedule_from_name("quadratic_with_maker_fees"))
    ticker = sim.tickers[2]
    order = await venue.place_order(intent(ticker, 3900, 1000, tif=TimeInForce.GTC))
    assert (order.status, order.fill_count, order.remaining_count) == (OrderStatus.RESTING, 0, 1000)
    assert await venue.match_resting() == []  # the book has not moved
    assert [o.order_id for o in await venue.orders(status="resting")] == [order.order_id]

    sim.set_book(ticker, [], [(6100, 500)], clear=False)  # a seller at 39¢ arrives
    book = await venue.orderbook(ticker)
    assert book.best_ask(Side.YES).price == 3900
    (fill,) = await venue.fills()
    # Maker: own price, maker fee 0.0175·5·0.39·0.61 = $0.0208 → $0.03.
    assert (fill.price, fill.count, fill.is_taker, fill.fee) == (3900, 500, False, 300)
    assert (await venue.get_order(order.order_id)).remaining_count == 500

    sim.set_book(ticker, [], [(6200, 2000)], clear=False)  # more, even cheaper
    late = await venue.match_resting()
    assert [(f.price, f.count, f.is_taker) for f in late] == [(3900, 500, False)]
    done = await venue.get_order(order.order_id)
    assert (done.status, done.fill_count, done.maker_fees, done.taker_fees) == (OrderStatus.EXECUTED, 1000, 600, 0)
    assert await venue.balance() == START - 39_000 - 600
    assert [s.bps for s in venue.slippage] == [0.0, 0.0]


async def test_cancel_a_resting_order_and_not_twice(sim):
    venue, ticker = paper(sim), sim.tickers[0]
    order = await venue.place_order(intent(ticker, 3500, 1000, tif=TimeInForce.GTC))
    cancelled = await venue.cancel_order(order.order_id)
    assert (cancelled.status, cancelled.remaining_count) == (OrderStatus.CANCELED, 0)
    with pytest.raises(Rejected, match="canceled"):
        await venue.cancel_order(order.order_id)
    with pytest.raises(Rejected, match="not found"):
        await venue.get_order("paper-nope")
    sim.set_book(sim.tickers[0], [], [(6600, 1000)], clear=False)
    assert await venue.match_resting() == []  # a cancelled order never fills


async def test_selling_walks_the_bids_and_cash_follows_the_position(sim):
    venue, ticker = paper(sim), sim.tickers[0]
    await venue.place_order(intent(ticker, 4100, 3000))
    sale = await venue.place_order(intent(ticker, 3700, 2500, action=Action.SELL))
    assert (sale.status, sale.fill_count) == (OrderStatus.EXECUTED, 2500)
    sells = (await venue.fills())[2:]
    # 0.07·10·0.38·0.62 = $0.16492 → $0.17; 0.07·15·0.37·0.63 = $0.244755 → $0.25.
    assert [(f.price, f.count, f.fee) for f in sells] == [(3800, 1000, 1700), (3700, 1500, 2500)]
    assert await venue.balance() == START - 122_000 - 5_100 + 38_000 + 55_500 - 4_200
    position = venue.position(ticker)
    # Basis leaves pro rata per close: 122,000 − 40,666 (1000 of 3000) − 61,000 (1500 of 2000).
    assert (position.quantity, position.cost) == (500, 20_334)
    assert await venue.balance() == START + position.realized_pnl - position.cost  # cash agrees with P&L
    assert venue.slippage[-2].bps == pytest.approx(-100 / 3700 * 10_000)  # sold dearer: better


async def test_settlement_pays_exactly_once(sim):
    venue = paper(sim)
    yes_ticker, no_ticker = sim.tickers[0], sim.tickers[1]
    await venue.place_order(intent(yes_ticker, 4100, 3000))  # 30 YES for $1.22 + $0.051 fees
    await venue.place_order(intent(no_ticker, 6300, 1000, side=Side.NO))  # NO ask = 1 − 38¢ YES bid = 62¢
    assert await venue.settlements() == []  # nothing determined yet
    sim.determine(yes_ticker, Side.YES)
    sim.determine(no_ticker, Side.YES)
    settled = {s.ticker: s for s in await venue.settlements()}
    assert (settled[yes_ticker].result, settled[yes_ticker].yes_count, settled[yes_ticker].revenue) == (
        Side.YES, 3000, 300_000)
    assert (settled[no_ticker].no_count, settled[no_ticker].revenue) == (1000, 0)
    no_fee = 1700  # 0.07·10·0.62·0.38 = $0.16492 → $0.17
    assert await venue.balance() == START - 122_000 - 5_100 + 300_000 - 62_000 - no_fee
    assert venue.position(yes_ticker).realized_pnl == 300_000 - 122_000 - 5_100
    assert venue.position(no_ticker).realized_pnl == -62_000 - no_fee
    assert await venue.positions() == []
    assert len(await venue.settlements()) == 2 and await venue.balance() == START - 122_000 - 5_100 + 300_000 - 62_000 - no_fee
    with pytest.raises(Rejected, match="settled"):
        await venue.place_order(intent(yes_ticker, 4100, 100))


async def test_profit_fee_schedule_charges_winners_at_settlement(sim):
    venue, ticker = paper(sim, fees=schedule_from_name("profit")), sim.tickers[2]
    order = await venue.place_order(intent(ticker, 4000, 1000))
    assert (order.fill_count, order.taker_fees) == (1000, 0)  # no trade fee on this schedule
    sim.determine(ticker, Side.YES)
    (settlement,) = await venue.settlements()
    assert settlement.revenue == 100_000
    assert venue.settlement_fees[ticker] == 4_200  # 7% of the $6.00 profit
    assert await venue.balance() == START - 40_000 + 100_000 - 4_200
    assert venue.position(ticker).realized_pnl == 60_000 - 4_200


async def test_same_client_order_id_is_one_order_even_in_flight(sim):
    venue, ticker = paper(sim), sim.tickers[0]
    first = intent(ticker, 4000, 500)
    a, b = await asyncio.gather(venue.place_order(first), venue.place_order(first))
    c = await venue.place_order(first)
    assert a == b == c
    assert len(await venue.orders()) == 1 and len(await venue.fills()) == 1
    assert await venue.order_by_client_id(first.client_order_id) == a
    assert await venue.order_by_client_id("ew-unknown") is None


async def test_refusals_post_only_balance_reduce_only(sim):
    ticker = sim.tickers[0]
    venue = paper(sim)
    with pytest.raises(Rejected, match="post_only"):
        await venue.place_order(intent(ticker, 4000, 100, tif=TimeInForce.GTC, post_only=True))
    resting = await venue.place_order(intent(ticker, 3900, 100, tif=TimeInForce.GTC, post_only=True))
    assert resting.status is OrderStatus.RESTING
    with pytest.raises(Rejected, match="reduce"):
        await venue.place_order(intent(ticker, 3700, 100, action=Action.SELL, reduce_only=True))
    poor = paper(sim, balance=40_000)  # $4: 10 YES at 40¢ is $4 plus a fee
    with pytest.raises(Rejected, match="insufficient_balance"):
        await poor.place_order(intent(ticker, 4000, 1000))
    assert await poor.fills() == [] and await poor.balance() == 40_000


async def test_market_data_passes_through_from_the_wrapped_venue(sim):
    venue = paper(sim)
    status = await venue.exchange_status()
    assert status.trading_active is True
    markets = await venue.markets()
    assert sorted(m.ticker for m in markets) == sorted(sim.tickers)
    market = await venue.market(sim.tickers[0])
    assert (market.yes_bid, market.yes_ask) == (3800, 4000)
    book = await venue.orderbook(sim.tickers[0])
    assert book.best_bid(Side.YES).price == 3800 and book.best_ask(Side.YES).price == 4000
    seen = sim.exchange.requests_by_path
    assert seen["GET /trade-api/v2/exchange/status"] == 1
    assert seen[f"GET /trade-api/v2/markets/{sim.tickers[0]}/orderbook"] == 1


def test_starting_balance_must_be_integer_money(keypair):
    with pytest.raises(ValueError, match="starting balance"):
        PaperVenue(None, 1000.0)  # type: ignore[arg-type]
