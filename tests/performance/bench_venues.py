"""Kalshi client overhead: `python -m tests.performance.bench_venues`.

Against one loopback aiohttp server (same process, no signature checks, so the server's
work is identical for both), it prints the time per request of a bare aiohttp GET that
reads the body with ``json.loads`` (the baseline) and of ``KalshiClient`` doing the same
call (rate limiter, RSA-PSS signing, error mapping, strict parsing into units), and the
ratio. Then the pieces of the client's own cost: signing, and parsing answers with the
hand-written strict parser against plain ``json.loads`` and a typed msgspec Struct decode.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec
from aiohttp import web

from daemon.venues import kalshi_parse as kp
from daemon.venues.kalshi import KalshiClient
from daemon.venues.kalshi_auth import generate_keypair, load_private_key, sign_request
from tests.integration.test_kalshi_client import market_payload

PREFIX = "/trade-api/v2"
MARKET = msgspec.json.encode({"market": market_payload("KX-BENCH-A")})
PAGE = msgspec.json.encode({"markets": [market_payload(f"KX-BENCH-{i}") for i in range(100)], "cursor": ""})
BOOK = msgspec.json.encode({"orderbook_fp": {
    "yes_dollars": [[f"0.{40 + i:02d}00", f"{10 + i}.00"] for i in range(10)],
    "no_dollars": [[f"0.{30 + i:02d}00", f"{5 + i}.00"] for i in range(10)]}})


class MarketStruct(msgspec.Struct):
    """The typed-decode alternative: shape checked by msgspec, units still converted after."""

    ticker: str
    event_ticker: str
    status: str
    yes_bid_dollars: str
    yes_ask_dollars: str
    yes_bid_size_fp: str
    yes_ask_size_fp: str
    last_price_dollars: str
    volume_fp: str
    close_time: str | None
    result: str


class PageStruct(msgspec.Struct):
    markets: list[MarketStruct]
    cursor: str


async def serve() -> tuple[web.AppRunner, str]:
    async def market(_request: web.Request) -> web.Response:
        return web.Response(body=MARKET, content_type="application/json")

    async def markets(_request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="application/json")

    app = web.Application()
    app.router.add_get(f"{PREFIX}/markets/{{t}}", market)
    app.router.add_get(f"{PREFIX}/markets", markets)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}{PREFIX}"


async def per_call_us(call: Callable[[], Awaitable[object]], n: int, rounds: int = 5) -> float:
    """Median over rounds of the mean µs per sequential call."""
    for _ in range(50):
        await call()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            await call()
        results.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(results)


def sync_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(n, 100)):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    runner, url = await serve()
    private_pem, _ = generate_keypair()
    try:
        async with aiohttp.ClientSession() as session:
            async def bare(path: str) -> object:
                async with session.get(url + path) as resp:
                    return json.loads(await resp.read())

            async with KalshiClient(url, "bench", private_pem, reads_per_second=1e9,
                                    writes_per_second=1e9) as client:
                print("Kalshi client vs bare aiohttp GET, same loopback server, sequential calls")
                for label, path, call, n in [
                    ("GET /markets/{t} (1 market)", "/markets/KX-BENCH-A",
                     lambda: client.market("KX-BENCH-A"), 1000),
                    ("GET /markets (100 markets)", "/markets", lambda: client.markets(), 300),
                ]:
                    base = await per_call_us(lambda p=path: bare(p), n)
                    ours = await per_call_us(call, n)
                    print(f"  {label:30s} bare {base:8.1f} µs   client {ours:8.1f} µs   "
                          f"overhead {ours - base:7.1f} µs   ratio {ours / base:.2f}x")
    finally:
        await runner.cleanup()

    key = load_private_key(private_pem)
    print("Client pieces (µs per call)")
    sign = sync_us(lambda: sign_request(key, 1703123456789, "GET", "/trade-api/v2/markets/X"), 500)
    print(f"  RSA-PSS 2048 sign                         {sign:8.1f}")
    loads = sync_us(lambda: json.loads(MARKET), 20000)
    strict = sync_us(lambda: kp.parse_market_response(kp.decode_json(MARKET, "b"), "b"), 20000)
    print(f"  1 market:  json.loads {loads:6.1f}   strict parse (decode + units) {strict:6.1f}   "
          f"ratio {strict / loads:.1f}x")
    loads = sync_us(lambda: json.loads(PAGE), 500)
    strict = sync_us(lambda: kp.parse_markets_page(kp.decode_json(PAGE, "b")), 500)
    struct_decoder = msgspec.json.Decoder(PageStruct)
    typed = sync_us(lambda: struct_decoder.decode(PAGE), 500)
    print(f"  100 markets: json.loads {loads:6.1f}   msgspec Struct decode (shape only) {typed:6.1f}   "
          f"strict parse {strict:6.1f}   ratio to json.loads {strict / loads:.1f}x")
    loads = sync_us(lambda: json.loads(BOOK), 20000)
    strict = sync_us(lambda: kp.parse_orderbook(kp.decode_json(BOOK, "b"), "b", "X", 0), 20000)
    print(f"  book 2x10 levels: json.loads {loads:6.1f}   strict parse {strict:6.1f}   "
          f"ratio {strict / loads:.1f}x")


def bench_matching(n: int = 100_000, seed: int = 3) -> None:
    """Orders/s the built-in exchange's matching engine handles in-process: a stream of GTC
    orders resting near the middle and IOC orders crossing them, on one market, against the
    baseline of only building each order and queueing it (no matching, no money)."""
    import random
    from collections import deque

    from daemon.venues.sim.matching import MatchingEngine, SimOrder, SimReject
    from market.orders import Action, Side, TimeInForce

    rng = random.Random(seed)
    stream = []
    for i in range(n):
        side = rng.choice((Side.YES, Side.NO))
        if rng.random() < 0.6:  # a maker: rests 1-10¢ below the touch
            stream.append((f"m{i % 7}", side, 5_000 - 100 * rng.randint(1, 10), TimeInForce.GTC,
                           100 * rng.randint(1, 20)))
        else:  # a taker: crosses up to 5¢ through
            stream.append((f"t{i % 5}", side, 5_000 + 100 * rng.randint(0, 5), TimeInForce.IOC,
                           100 * rng.randint(1, 20)))
    engine = MatchingEngine()
    for name in {s[0] for s in stream}:
        engine.add_account(name, 10**15)
    engine.open_market("B")
    start = time.perf_counter()
    for i, (acct, side, price, tif, count) in enumerate(stream):
        try:
            order = engine.submit(acct, str(i), "B", side, Action.BUY, price, count, tif, False, i)
        except SimReject:
            continue
        engine.forget(order.order_id)  # as the background traders do
    engine_s = time.perf_counter() - start
    queue: deque[SimOrder] = deque()
    start = time.perf_counter()
    for i, (acct, side, price, tif, count) in enumerate(stream):
        queue.append(SimOrder(str(i), str(i), acct, "B", side, Action.BUY, price, count, tif, i,
                              remaining=count))
        if len(queue) > 1000:
            queue.popleft()
    base_s = time.perf_counter() - start
    fills = len(engine.fills) // 2  # one fill for each side of a trade
    print("Matching engine, in-process, one market (60% resting GTC, 40% crossing IOC)")
    print(f"  {n} orders, {fills} trades: {n / engine_s:,.0f} orders/s ({engine_s / n * 1e6:.1f} µs/order); "
          f"baseline build+queue {base_s / n * 1e6:.2f} µs/order; ratio {engine_s / base_s:.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
    bench_matching()
