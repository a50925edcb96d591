"""Poller of The Odds API v4: one GET per sport per round, quota kept above a floor.

Each call costs ``len(markets) × len(regions)`` of a monthly quota, and the answer's
``x-requests-remaining`` / ``x-requests-used`` / ``x-requests-last`` headers are the only
truth about what is left, so they are read on every answer (errors included). The poller
stops for good, and says why, before a call would take the remaining quota under
``min_quota_remaining`` (the operator's reserve), or when the key is refused.

429, 5xx and network failures are retried with exponential backoff and jitter drawn from
an injectable ``random.Random`` and slept through an injectable ``sleep``, so tests check
the exact waits without waiting. The API key travels only as a query parameter; every URL
or error text that leaves this module has it masked.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

from daemon.logs import get_logger

from .odds_parse import MARKET_KEYS, OddsEvent, OddsParseError, parse_odds

log = get_logger("edgewarden.odds")

MASK = "***"
QUOTA_HEADERS = ("x-requests-remaining", "x-requests-used", "x-requests-last")


class OddsFeedError(Exception):
    """A failed odds call; ``kind`` is one of monitoring.metrics.ERROR_KINDS."""

    kind = "other"
    retryable = False


class OddsRateLimited(OddsFeedError):
    kind, retryable = "rate_limited", True

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OddsUnavailable(OddsFeedError):
    kind, retryable = "unavailable", True


class OddsAuthFailed(OddsFeedError):
    """Bad key or no credits left: polling again cannot help."""

    kind = "auth_failed"


class OddsBadAnswer(OddsFeedError):
    kind = "bad_response"


@dataclass(frozen=True, slots=True)
class Quota:
    remaining: int | None = None
    used: int | None = None
    last: int | None = None

    def updated(self, headers: Mapping[str, str]) -> Quota:
        """This quota with whatever quota headers ``headers`` carries (absent ones keep their value)."""
        values: dict[str, int] = {}
        for header, name in zip(QUOTA_HEADERS, ("remaining", "used", "last"), strict=True):
            raw = headers.get(header)
            if raw is not None:
                values[name] = _quota_number(header, raw)
        return replace(self, **values)


def _quota_number(header: str, raw: str) -> int:
    try:
        number = Decimal(raw.strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0 or number != number.to_integral_value():
        raise OddsBadAnswer(f"header {header}={raw[:40]!r}: expected a whole number >= 0")
    return int(number)


@dataclass(frozen=True, slots=True)
class OddsPollerConfig:
    base_url: str
    api_key: str = field(repr=False)
    sports: tuple[str, ...]
    regions: tuple[str, ...] = ("us",)
    markets: tuple[str, ...] = MARKET_KEYS
    poll_seconds: float = 60.0
    min_quota_remaining: int = 50
    timeout_seconds: float = 10.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    max_attempts: int = 6
    """Tries per sport per round before that sport waits for the next round."""

    @property
    def cost(self) -> int:
        """Quota one odds call uses: markets × regions."""
        return len(self.markets) * len(self.regions)

    @classmethod
    def from_settings(cls, odds: Any, api_key: str, **overrides: Any) -> OddsPollerConfig:
        """From ``config.sections.OddsSettings`` plus the key (read from its Secret by the caller)."""
        return cls(base_url=odds.base_url.rstrip("/"), api_key=api_key, sports=tuple(odds.sports),
                   regions=tuple(odds.regions), markets=tuple(odds.markets),
                   poll_seconds=odds.poll_seconds, min_quota_remaining=odds.min_quota_remaining,
                   **overrides)


@dataclass(frozen=True, slots=True)
class OddsSnapshot:
    sport: str
    ts_ns: int
    events: tuple[OddsEvent, ...]
    errors: tuple[OddsParseError, ...]
    """Events dropped as malformed (the rest are in ``events``)."""
    quota: Quota
    body: bytes = b""
    """The answer as received: the ledger keeps each bookmaker's part of it, so a change of
    the provider's schema can be replayed."""


Sleep = Callable[[float], Awaitable[Any]]
SnapshotSink = Callable[[OddsSnapshot], Awaitable[None] | None]


class OddsPoller:
    def __init__(
        self,
        config: OddsPollerConfig,
        session: aiohttp.ClientSession | None = None,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], int] = time.time_ns,
        on_snapshot: SnapshotSink | None = None,
        metrics: Any | None = None,
    ) -> None:
        if not config.api_key:
            raise ValueError("odds poller: an API key is required")
        self.config = config
        self._session = session
        self._owns_session = session is None
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.clock = clock
        self.on_snapshot = on_snapshot
        self.metrics = metrics
        self.quota = Quota()
        self.stop_reason: str | None = None
        self.last_snapshot: dict[str, OddsSnapshot] = {}

    # ------------------------------------------------------------------ one call
    def url(self, sport: str) -> str:
        return f"{self.config.base_url}/sports/{sport}/odds"

    def masked_url(self, sport: str) -> str:
        """The request URL as it may be logged: the key replaced by ``***``."""
        c = self.config
        return (f"{self.url(sport)}?apiKey={MASK}&regions={','.join(c.regions)}"
                f"&markets={','.join(c.markets)}&oddsFormat=decimal&dateFormat=iso")

    def mask(self, text: str) -> str:
        return text.replace(self.config.api_key, MASK)

    async def fetch(self, sport: str) -> OddsSnapshot:
        """One GET; quota updated from the headers whatever the status; OddsFeedError on failure."""
        c = self.config
        params = {"apiKey": c.api_key, "regions": ",".join(c.regions), "markets": ",".join(c.markets),
                  "oddsFormat": "decimal", "dateFormat": "iso"}
        session = await self._get_session()
        try:
            async with session.get(self.url(sport), params=params,
                                   timeout=aiohttp.ClientTimeout(total=c.timeout_seconds)) as resp:
                body = await resp.read()
                status, headers = resp.status, resp.headers
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # str(exc) of some aiohttp errors holds the full URL, key included: mask, no chaining.
            raise OddsUnavailable(self.mask(f"{self.masked_url(sport)}: {type(exc).__name__}: {exc}")) from None
        self.quota = self.quota.updated(headers)
        if self.metrics is not None and self.quota.remaining is not None:
            self.metrics.odds_quota.set(self.quota.remaining)
        if status != 200:
            raise self._status_error(sport, status, headers, body)
        try:
            parsed = parse_odds(body)
        except OddsParseError as exc:
            raise OddsBadAnswer(self.mask(f"{self.masked_url(sport)}: {exc}")) from None
        return OddsSnapshot(sport, self.clock(), parsed.events, parsed.errors, self.quota, bytes(body))

    def _status_error(self, sport: str, status: int, headers: Mapping[str, str], body: bytes) -> OddsFeedError:
        text = self.mask(body[:300].decode("utf-8", "replace"))
        where = f"{self.masked_url(sport)}: HTTP {status}: {text}"
        if status == 429:
            return OddsRateLimited(where, _retry_after(headers.get("Retry-After")))
        if status in (401, 403):
            return OddsAuthFailed(where)
        if status >= 500:
            return OddsUnavailable(where)
        return OddsBadAnswer(where)

    # ------------------------------------------------------------------ rounds
    def backoff_delay(self, attempt: int) -> float:
        """Exponential delay for retry ``attempt`` (0-based), half of it jittered ("equal jitter")."""
        cap = min(self.config.backoff_max_s, self.config.backoff_initial_s * 2.0 ** attempt)
        return cap / 2.0 + self.rng.uniform(0.0, cap / 2.0)

    def quota_allows_call(self) -> bool:
        """False when the next call would take the remaining quota under the floor."""
        remaining = self.quota.remaining
        return remaining is None or remaining - self.config.cost >= self.config.min_quota_remaining

    async def poll_sport(self, sport: str) -> OddsSnapshot | None:
        """Fetch one sport, retrying transient failures; None when it gave up or stopped."""
        for attempt in range(self.config.max_attempts):
            if self.stop_reason is not None:
                return None
            if not self.quota_allows_call():
                self.stop(f"quota floor: {self.quota.remaining} remaining, a call costs "
                          f"{self.config.cost}, floor {self.config.min_quota_remaining}")
                return None
            try:
                snapshot = await self.fetch(sport)
            except OddsFeedError as exc:
                self._record_error(sport, exc)
                if isinstance(exc, OddsAuthFailed):
                    self.stop(f"auth_failed: {exc}")
                    return None
                if not exc.retryable or attempt + 1 == self.config.max_attempts:
                    return None
                wait = self.backoff_delay(attempt)
                if isinstance(exc, OddsRateLimited) and exc.retry_after_s is not None:
                    wait = max(wait, exc.retry_after_s)
                log.warning("odds_backoff", sport=sport, attempt=attempt + 1, wait_s=round(wait, 3),
                            kind=exc.kind)
                await self.sleep(wait)
                continue
            await self._deliver(snapshot)
            return snapshot
        return None

    async def poll_once(self) -> list[OddsSnapshot]:
        """One round over every configured sport."""
        snapshots = []
        for sport in self.config.sports:
            snapshot = await self.poll_sport(sport)
            if snapshot is not None:
                snapshots.append(snapshot)
            if self.stop_reason is not None:
                break
        return snapshots

    async def run(self) -> str:
        """Poll every ``poll_seconds`` until stopped; returns why it stopped."""
        try:
            while self.stop_reason is None:
                await self.poll_once()
                if self.stop_reason is None:
                    await self.sleep(self.config.poll_seconds)
        finally:
            await self.close()
        return self.stop_reason

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            log.error("odds_poller_stopped", reason=self.mask(reason), remaining=self.quota.remaining)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ helpers
    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _deliver(self, snapshot: OddsSnapshot) -> None:
        self.last_snapshot[snapshot.sport] = snapshot
        for error in snapshot.errors:
            log.warning("odds_event_dropped", sport=snapshot.sport, error=str(error))
        log.info("odds_polled", sport=snapshot.sport, events=len(snapshot.events),
                 dropped=len(snapshot.errors), remaining=snapshot.quota.remaining)
        if self.metrics is not None:
            for _ in snapshot.errors:
                self.metrics.api_error("odds", "bad_response")
        if self.on_snapshot is not None:
            result = self.on_snapshot(snapshot)
            if result is not None:
                await result

    def _record_error(self, sport: str, exc: OddsFeedError) -> None:
        log.warning("odds_error", sport=sport, kind=exc.kind, error=self.mask(str(exc)))
        if self.metrics is not None:
            self.metrics.api_error("odds", exc.kind)


def _retry_after(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None
