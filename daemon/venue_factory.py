"""Build the venue the settings ask for: sim (built-in exchange), demo or live Kalshi, and
the paper venue in front of any of them for ``--dry-run``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import Settings, kalshi_base_url
from daemon.logs import get_logger
from daemon.venues.base import Venue
from daemon.venues.kalshi import KalshiClient
from daemon.venues.kalshi_auth import generate_keypair
from daemon.venues.paper import PaperVenue
from daemon.venues.sim.exchange import Faults, SimExchange
from market.fees import schedule_from_name
from market.units import parse_dollars

log = get_logger("edgewarden.venue")
SIM_KEY_ID = "sim"


@dataclass
class VenueHandle:
    venue: Venue
    client: KalshiClient
    sim: SimExchange | None = None

    async def close(self) -> None:
        await self.venue.close()
        if self.venue is not self.client:
            await self.client.close()
        if self.sim is not None:
            await self.sim.stop()


async def build_venue(settings: Settings, data_dir: Path) -> VenueHandle:
    kalshi = settings.venue.kalshi
    sim = None
    if settings.mode == "sim" and settings.venue.sim.url is None:
        sim, base_url, key_id, private_pem = await _start_sim(settings)
    elif settings.mode == "sim":
        base_url = settings.venue.sim.url
        key_id = kalshi.key_id.get_secret_value() if kalshi.key_id else SIM_KEY_ID
        private_pem = _private_key(settings)
    else:
        base_url = kalshi_base_url(settings)
        key_id = kalshi.key_id.get_secret_value()  # check_startable made sure it is there
        private_pem = _private_key(settings)
    client = KalshiClient(base_url, key_id, private_pem, reads_per_second=kalshi.reads_per_second,
                          writes_per_second=kalshi.writes_per_second, timeout_s=kalshi.timeout_seconds,
                          max_retries=kalshi.max_retries, signature_reuse_ms=kalshi.signature_reuse_ms)
    venue: Venue = client
    if settings.dry_run:
        balance = parse_dollars(settings.venue.sim.starting_balance_dollars)
        venue = PaperVenue(client, balance, fees=schedule_from_name(
            settings.fees.schedule, settings.fees.multiplier, settings.fees.profit_fee_rate))
    log.info("venue_ready", mode=settings.mode, dry_run=settings.dry_run, base_url=base_url)
    return VenueHandle(venue, client, sim)


async def _start_sim(settings: Settings) -> tuple[SimExchange, str, str, bytes]:
    s = settings.venue.sim
    private_pem, public_pem = generate_keypair()
    sim = SimExchange(
        public_key_pem=public_pem, key_id=SIM_KEY_ID, seed=s.seed, markets=s.markets, tick_ms=s.tick_ms,
        market_life_s=s.market_life_seconds, bias_scale=s.bias_scale,
        starting_balance=parse_dollars(s.starting_balance_dollars),
        faults=Faults.from_settings(s.faults),
        odds_api_key=settings.odds.api_key.get_secret_value() if settings.odds.api_key else None,
    )
    port = await sim.start(s.host, s.port)
    return sim, f"http://{s.host}:{port}/trade-api/v2", SIM_KEY_ID, private_pem


def _private_key(settings: Settings) -> bytes:
    secret = settings.venue.kalshi.private_key
    if secret is None:
        raise ValueError("venue.kalshi.private_key is not set (file, environment or credentials)")
    return secret.get_secret_value().encode()
