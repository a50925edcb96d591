"""The odds poller against the simulated Odds API v4, over real loopback HTTP."""

from __future__ import annotations

import random
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from daemon.feeds.odds_api import (
    OddsPoller,
    OddsPollerConfig,
    OddsRateLimited,
    OddsUnavailable,
    Quota,
)
from daemon.feeds.odds_parse import h2h_fair
from daemon.venues.sim.odds_feed import (
    STATE_KEY,
    add_odds_routes,
    create_odds_app,
    odds_event_id,
)
from daemon.venues.sim.world import SimWorld

KEY = "k-3f9a61c2e7d04b5a"
START_NS = 1_768_867_800_000_000_000


class FakeTime:
    """A monotonic clock the poller's sleep advances: the feed's rate limit sees the waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def world():
    return SimWorld(seed=11, n_markets=6, start_ns=START_NS)


async def serve(world, **options):
    options.setdefault("api_keys", [KEY])
    options.setdefault("clock_ns", lambda: START_NS)
    server = TestServer(create_odds_app(world, **options), host="127.0.0.1")
    await server.start_server()
    return server


def poller(server, fake: FakeTime | None = None, seed: int = 5, **overrides) -> OddsPoller:
    config = OddsPollerConfig(base_url=str(server.make_url("/v4")).rstrip("/"), api_key=overrides.pop("api_key", KEY),
                              sports=("basketball_nba",), **overrides)
    fake = fake or FakeTime()
    return OddsPoller(config, rng=random.Random(seed), sleep=fake.sleep, clock=lambda: START_NS + 1)


async def test_poller_parses_every_game_with_h2h_spreads_and_totals(world):
    server = await serve(world)
    try:
        p = poller(server)
        snapshot = await p.poll_sport("basketball_nba")
        await p.close()
    finally:
        await server.close()
    assert snapshot is not None and snapshot.errors == ()
    by_id = {e.id: e for e in snapshot.events}
    assert set(by_id) == {odds_event_id(g.game_id) for g in world.games}
    for game in world.games:
        event = by_id[odds_event_id(game.game_id)]
        assert (event.home_team, event.away_team) == (game.home_team, game.away_team)
        assert event.commence_ns == game.commence_ns // 10**9 * 10**9
        assert [b.key for b in event.bookmakers] == ["draftkings", "fanduel", "betmgm", "williamhill_us"]
        for book in event.bookmakers:
            assert [m.key for m in book.markets] == ["h2h", "spreads", "totals"]
            h2h = book.market("h2h")
            overround = sum(1 / o.price for o in h2h.outcomes) - 1
            assert 0.02 < overround < 0.08  # each book keeps a margin
            home_line = book.market("spreads").outcome(game.home_team).point
            assert (home_line < 0) == (game.true_home_prob > 0.5)
            totals = book.market("totals")
            assert totals.outcome("Over").point == totals.outcome("Under").point > 100
        fair = h2h_fair(event, "shin")
        assert fair[game.home_team] == pytest.approx(game.true_home_prob, abs=0.03)
    assert snapshot.quota == Quota(remaining=497, used=3, last=3)


async def test_quota_is_tracked_from_the_headers_of_every_answer(world):
    server = await serve(world, quota=100)
    try:
        p = poller(server, regions=("us", "uk"))
        assert p.config.cost == 6
        await p.poll_sport("basketball_nba")
        snapshot = await p.poll_sport("basketball_nba")
        assert p.quota == Quota(remaining=88, used=12, last=6)
        assert len(snapshot.events[0].bookmakers) == 6
        async with aiohttp.ClientSession() as session:
            async with session.get(server.make_url("/v4/sports"), params={"apiKey": KEY}) as resp:
                sports = await resp.json()
                assert resp.headers["x-requests-last"] == "0"
                assert resp.headers["x-requests-remaining"] == "88"
        assert [s["key"] for s in sports] == ["basketball_nba"]
        await p.close()
    finally:
        await server.close()


def expected_waits(seed: int, attempts: int, initial: float = 1.0, cap: float = 300.0) -> list[float]:
    rng = random.Random(seed)
    out = []
    for attempt in range(attempts):
        ceiling = min(cap, initial * 2.0**attempt)
        out.append(ceiling / 2 + rng.uniform(0, ceiling / 2))
    return out


async def test_backs_off_exponentially_with_seeded_jitter_on_429_until_the_feed_allows(world):
    fake = FakeTime()
    server = await serve(world, min_interval_s=10.0, monotonic=fake.monotonic)
    try:
        p = poller(server, fake, seed=5)
        assert await p.poll_sport("basketball_nba") is not None
        assert fake.waits == []
        snapshot = await p.poll_sport("basketball_nba")  # too soon: 429s until 10 s have passed
        state = server.app[STATE_KEY]
        await p.close()
    finally:
        await server.close()
    assert snapshot is not None
    waits = expected_waits(5, len(fake.waits))
    assert fake.waits == pytest.approx(waits, abs=1e-12)
    assert sum(waits[:-1]) < 10.0 <= sum(waits)  # stopped backing off as soon as it was allowed
    assert len(fake.waits) >= 3
    assert state.requests[("GET", "/v4/sports/basketball_nba/odds")] == 2 + len(fake.waits)
    assert p.quota.used == 6  # 429s cost nothing


async def test_backs_off_on_5xx_and_gives_up_after_max_attempts(world):
    fake = FakeTime()
    server = await serve(world)
    try:
        state = server.app[STATE_KEY]
        p = poller(server, fake, seed=9, max_attempts=4, backoff_initial_s=2.0)
        state.fail_next(503, 2)
        assert await p.poll_sport("basketball_nba") is not None
        assert fake.waits == pytest.approx(expected_waits(9, 2, initial=2.0))
        state.fail_next(500, 4)
        fake.waits.clear()
        with capture_logs() as logs:
            assert await p.poll_sport("basketball_nba") is None  # four 500s: wait for next round
        assert len(fake.waits) == 3
        assert [e["kind"] for e in logs if e["event"] == "odds_error"] == ["unavailable"] * 4
        assert p.stop_reason is None  # transient: the poller keeps going next round
        await p.close()
    finally:
        await server.close()


async def test_retry_after_header_is_honoured(world):
    app = web.Application()
    calls = []

    async def limited(request: web.Request) -> web.Response:
        calls.append(request.query["apiKey"])
        if len(calls) == 1:
            return web.json_response({"message": "slow down"}, status=429, headers={"Retry-After": "7"})
        return web.json_response([], headers={"x-requests-remaining": "10", "x-requests-used": "3",
                                               "x-requests-last": "3"})

    app.router.add_get("/v4/sports/{sport}/odds", limited)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake = FakeTime()
    try:
        p = poller(server, fake, min_quota_remaining=0)
        snapshot = await p.poll_sport("basketball_nba")
        await p.close()
    finally:
        await server.close()
    assert snapshot is not None and snapshot.events == ()
    assert fake.waits == [7.0]
    assert p.quota == Quota(10, 3, 3)


async def test_stops_before_the_quota_floor_and_says_why(world):
    fake = FakeTime()
    server = await serve(world, quota=20)
    try:
        p = poller(server, fake, min_quota_remaining=10, poll_seconds=60)
        with capture_logs() as logs:
            reason = await p.run()
        state = server.app[STATE_KEY]
    finally:
        await server.close()
    # 20 → 17 → 14 → 11; one more call (cost 3) would leave 8, under the floor of 10.
    assert state.requests[("GET", "/v4/sports/basketball_nba/odds")] == 3
    assert p.quota.remaining == 11
    assert reason.startswith("quota floor: 11 remaining")
    assert fake.waits == [60, 60, 60]
    assert any(e["event"] == "odds_poller_stopped" for e in logs)


async def test_bad_key_stops_the_poller_and_the_key_is_never_logged(world):
    server = await serve(world)
    secret = "wrong-key-0123456789abcdef"
    try:
        with capture_logs() as logs:
            p = poller(server, api_key=secret)
            reason = await p.run()
        async with aiohttp.ClientSession() as session:
            async with session.get(server.make_url("/v4/sports/basketball_nba/odds"),
                                   params={"apiKey": secret, "regions": "us"}) as resp:
                body = await resp.json()
                assert resp.status == 401
    finally:
        await server.close()
    assert body["error_code"] == "INVALID_KEY" and "API key" in body["message"]
    assert reason.startswith("auth_failed") and "apiKey=***" in reason
    assert secret not in reason and secret not in repr(logs)
    assert p.masked_url("x").count("***") == 1


async def test_network_failure_is_unavailable_and_masks_the_key():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    config = OddsPollerConfig(base_url=f"http://127.0.0.1:{port}/v4", api_key=KEY, sports=("basketball_nba",))
    p = OddsPoller(config, rng=random.Random(1), sleep=FakeTime().sleep)
    with pytest.raises(OddsUnavailable) as caught:
        await p.fetch("basketball_nba")
    await p.close()
    assert KEY not in str(caught.value) and "apiKey=***" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no chained URL


async def test_feed_errors_look_like_the_real_api(world):
    server = await serve(world)
    try:
        async with aiohttp.ClientSession() as session:
            async def get(path, **params):
                async with session.get(server.make_url(path), params={"apiKey": KEY, **params}) as resp:
                    return resp.status, await resp.json(), resp.headers
            status, body, headers = await get("/v4/sports/curling_world/odds", regions="us")
            assert (status, body["error_code"]) == (404, "UNKNOWN_SPORT")
            assert headers["x-requests-last"] == "0"
            status, body, _ = await get("/v4/sports/basketball_nba/odds", regions="us", markets="h2h,props")
            assert (status, body["error_code"]) == (422, "INVALID_MARKET")
            status, body, _ = await get("/v4/sports/basketball_nba/odds", regions="mars")
            assert (status, body["error_code"]) == (422, "INVALID_REGION")
            status, body, headers = await get("/v4/sports/basketball_nba/odds", regions="us",
                                              markets="h2h", oddsFormat="american", dateFormat="unix")
            assert status == 200 and headers["x-requests-last"] == "1"
            price = body[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"]
            assert isinstance(price, int) and abs(price) >= 100
            assert isinstance(body[0]["commence_time"], int)
    finally:
        await server.close()


async def test_out_of_credits_is_401_and_stops_the_poller(world):
    server = await serve(world, quota=2)
    try:
        p = poller(server, min_quota_remaining=0)
        # Quota unknown before the first answer: the call goes out, the feed refuses it.
        assert await p.poll_sport("basketball_nba") is None
        await p.close()
    finally:
        await server.close()
    assert p.stop_reason.startswith("auth_failed") and "OUT_OF_USAGE_CREDITS" in p.stop_reason
    assert p.quota == Quota(remaining=2, used=0, last=0)


async def test_the_poller_never_spends_past_what_is_left(world):
    server = await serve(world, quota=4)
    try:
        p = poller(server, min_quota_remaining=0)
        assert await p.poll_sport("basketball_nba") is not None  # 4 → 1
        assert await p.poll_sport("basketball_nba") is None  # 1 − 3 < 0: not sent
        state = server.app[STATE_KEY]
        await p.close()
    finally:
        await server.close()
    assert state.requests[("GET", "/v4/sports/basketball_nba/odds")] == 1
    assert p.stop_reason == "quota floor: 1 remaining, a call costs 3, floor 0"


async def test_routes_mount_beside_another_app_and_prices_are_deterministic(world):
    app = web.Application()

    async def exchange_status(request: web.Request) -> web.Response:
        return web.json_response({"exchange_active": True, "trading_active": True})

    app.router.add_get("/trade-api/v2/exchange/status", exchange_status)
    add_odds_routes(app, world, api_keys=[KEY], clock_ns=lambda: START_NS, seed=3)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    other = await serve(world, seed=3)
    third = await serve(world, seed=4)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.make_url("/trade-api/v2/exchange/status")) as resp:
                assert (await resp.json())["trading_active"] is True
            bodies = []
            for s in (server, other, third):
                async with session.get(s.make_url("/v4/sports/basketball_nba/odds"),
                                       params={"apiKey": KEY, "regions": "us"}) as resp:
                    bodies.append(await resp.read())
    finally:
        for s in (server, other, third):
            await s.close()
    assert bodies[0] == bodies[1]  # same seed, same world, same clock: same bytes
    assert bodies[0] != bodies[2]


async def test_soccer_h2h_has_a_draw(world):
    world.games[0].sport_key = "soccer_epl"
    server = await serve(world)
    try:
        config = OddsPollerConfig(base_url=str(server.make_url("/v4")).rstrip("/"), api_key=KEY,
                                  sports=("soccer_epl",))
        p = OddsPoller(config, rng=random.Random(1), sleep=FakeTime().sleep)
        snapshot = await p.poll_sport("soccer_epl")
        await p.close()
    finally:
        await server.close()
    (event,) = snapshot.events
    names = {o.name for o in event.bookmakers[0].market("h2h").outcomes}
    assert names == {world.games[0].home_team, world.games[0].away_team, "Draw"}
    fair = h2h_fair(event, "power")
    assert fair[world.games[0].home_team] == pytest.approx(world.games[0].true_home_prob, abs=0.03)


def test_rate_limited_error_carries_retry_after():
    assert OddsRateLimited("x", 3.0).retry_after_s == 3.0


def test_config_repr_hides_the_key():
    config = OddsPollerConfig(base_url="http://127.0.0.1:1/v4", api_key=KEY, sports=("basketball_nba",))
    assert KEY not in repr(config) and KEY not in str(config)


async def test_the_daemons_odds_job_stays_down_once_the_poller_stopped(world):
    """As a scheduled job: each run is one round; after the quota floor it only reports why."""
    from config import load_settings
    from daemon.app import Daemon
    from daemon.daemon_jobs import daemon_jobs
    from daemon.jobs import Scheduler

    server = await serve(world, quota=20)
    try:
        daemon = Daemon(load_settings(None, overrides={"mode": "sim"}, env={}))
        daemon.odds = poller(server, min_quota_remaining=10, poll_seconds=30)
        jobs = {job.name: job for job in daemon_jobs(daemon)}
        assert jobs["odds"].every_s == 30 and jobs["odds"].timeout_s > 30
        scheduler = Scheduler([jobs["odds"]])
        for _ in range(5):
            await scheduler.run_once("odds")
        state = server.app[STATE_KEY]
    finally:
        await server.close()
    assert state.requests[("GET", "/v4/sports/basketball_nba/odds")] == 3  # none after the stop
    odds = scheduler.states()["odds"]
    assert (odds["runs"], odds["failures"], odds["last_outcome"]) == (5, 0, "ok")
    assert odds["detail"].startswith("stopped: quota floor: 11 remaining")
