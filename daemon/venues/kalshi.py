"""Kalshi Trade API v2 REST client: the live and demo ``Venue``.

Every request is signed (``kalshi_auth``), paced by a read or write token bucket
(``rate_limit``), and its answer parsed strictly into market units (``kalshi_parse``).
Reads are retried with exponential backoff and jitter on 5xx, timeouts and 429 (which
honours ``Retry-After``). Writes are never retried blind: an order POST whose answer is
lost is resolved by looking its ``client_order_id`` up first, and only re-sent, with the
same id, when the venue has no such order; a cancel is resolved by reading the order back.
Order POSTs travel on connections of their own (``order_wire``), every other call on aiohttp.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import msgspec
from yarl import URL

from config.sections import KALSHI_DEMO_URL, KALSHI_PRODUCTION_URL
from daemon.logs import get_logger
from market.book import OrderBook
from market.orders import Fill, Order, OrderIntent, OrderStatus, Side
from market.units import CONTRACT_PAYOUT, format_count, format_dollars

from . import kalshi_parse as kp
from .base import (
    AuthFailed,
    BadResponse,
    ExchangeStatus,
    Market,
    NotFound,
    RateLimited,
    Rejected,
    Series,
    Settlement,
    Unavailable,
    Venue,
    VenueError,
    VenuePosition,
)
from .kalshi_auth import KeyFormatError, RequestSigner, load_private_key
from .order_wire import Answer, OrderWire, WireError
from .rate_limit import TokenBucket

__all__ = ["KALSHI_DEMO_URL", "KALSHI_PRODUCTION_URL", "KalshiClient", "order_body"]

T = TypeVar("T")
log = get_logger("edgewarden.kalshi")
WRITE_METHODS = frozenset({"POST", "DELETE", "PUT", "PATCH"})
ORDERS = "/portfolio/orders"
MAX_WARM_CONNECTIONS = 20
"""Order connections kept open ahead: as many as orders may be in flight (writes/s), at most this."""
ORDER_SIGNATURE_HORIZON_MS = 500
"""How long after ``prepare_orders`` a tick's orders may go out and still find the signature
ready: the refresh of the books (tens of ms, a few hundred when the venue is slow), the
decision and the intents. An order later than this signs afresh (~0.3 ms)."""


def order_body(intent: OrderIntent) -> dict[str, Any]:
    """CreateOrderRequest for an intent; the price goes in the field of the intent's side.
    The enums stay StrEnum members: msgspec writes their values (no ``str()`` call each)."""
    if not 0 < intent.price < CONTRACT_PAYOUT or intent.count <= 0:
        raise Rejected("invalid_order", f"order {intent.client_order_id}: price {intent.price} "
                       f"or count {intent.count} out of range", 0)
    price_field = "yes_price_dollars" if intent.side is Side.YES else "no_price_dollars"
    return {
        "ticker": intent.ticker,
        "client_order_id": intent.client_order_id,
        "side": intent.side,
        "action": intent.action,
        "count_fp": format_count(intent.count),
        price_field: format_dollars(intent.price),
        "time_in_force": intent.time_in_force,
        "post_only": intent.post_only,
        "reduce_only": intent.reduce_only,
    }


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds; the HTTP-date form (never seen from Kalshi) gives None."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


class KalshiClient(Venue):
    """Async Kalshi client; ``async with KalshiClient(...) as venue: ...``."""

    def __init__(self, base_url: str, key_id: str, private_key_pem: bytes,
                 reads_per_second: float = 20, writes_per_second: float = 10,
                 timeout_s: float = 10, max_retries: int = 3,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time,
                 page_limit: int = 1000, backoff_base_s: float = 0.25,
                 backoff_cap_s: float = 8.0, max_retry_after_s: float = 60.0,
                 signature_reuse_ms: int = 1000) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"kalshi base_url {base_url!r}: expected http(s)://host/trade-api/v2")
        if not 1 <= page_limit <= 1000:
            raise ValueError(f"kalshi page_limit {page_limit}: must be 1..1000")
        try:
            self._key = load_private_key(private_key_pem)
        except KeyFormatError as exc:
            raise AuthFailed(str(exc)) from None
        self._base = base_url.rstrip("/")
        self._prefix = urlsplit(self._base).path
        self._signer = RequestSigner(key_id, self._key, signature_reuse_ms)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.page_limit = page_limit
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clock = clock
        self._backoff_base = backoff_base_s
        self._backoff_cap = backoff_cap_s
        self._max_retry_after = max_retry_after_s
        self._reads = TokenBucket(reads_per_second, clock=clock, sleep=sleep)
        self._writes = TokenBucket(writes_per_second, clock=clock, sleep=sleep)
        self._retries = 0
        self._retry_seconds = 0.0
        self._session: aiohttp.ClientSession | None = None
        self._orders_wire = OrderWire(self._base, timeout_s)
        """Order placement's own kept-alive connections (order_wire.py: why not aiohttp)."""
        self._warm_connections = max(1, min(int(writes_per_second), MAX_WARM_CONNECTIONS))
        self._head = b""
        self._head_signed: tuple[int, dict[str, str]] | None = None
        """The signature ``_head`` was built with (``RequestSigner.signed``)."""
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> KalshiClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool; later calls fail (Unavailable) instead of opening one."""
        self._closed = True
        await self._orders_wire.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    @property
    def rate_waits(self) -> dict[str, float]:
        """Waits so far: token-bucket waits per bucket and backoff before retries (count, seconds)."""
        return {
            "read": self._reads.waits, "read_seconds": self._reads.wait_seconds,
            "write": self._writes.waits, "write_seconds": self._writes.wait_seconds,
            "retry": self._retries, "retry_seconds": self._retry_seconds,
        }

    # ------------------------------------------------------------------ transport

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def _request(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """One signed HTTP exchange without a body (reads, cancels) -> decoded JSON, or the
        VenueError its answer means. Order POSTs go on the order wire (``_post_order``)."""
        endpoint = f"{method} {path}"
        headers = await self._signed(method, path)
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None},
                          safe=",", quote_via=quote)
        url = URL(self._base + path + (f"?{query}" if query else ""), encoded=True)
        try:
            async with self._session_now().request(method, url, headers=headers,
                                                   allow_redirects=False) as resp:
                raw = await resp.read()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except TimeoutError:
            raise Unavailable(f"{endpoint}: no answer within {self.timeout_s}s") from None
        except aiohttp.ClientError as exc:
            raise Unavailable(f"{endpoint}: {type(exc).__name__}: {exc}") from None
        return self._decoded(endpoint, status, raw, retry_after)

    async def _post_order(self, payload: bytes, sent: Awaitable[Answer] | None = None) -> Any:
        """``_request("POST", ORDERS)`` on the order wire: same limits, signature and answers.
        ``sent``: the answer to a request ``_post_order_now`` already wrote."""
        endpoint = f"POST {ORDERS}"
        try:
            if sent is None:
                await self._token("POST")
                sent = self._orders_wire.post(self._order_head(), payload)
            answer = await sent
        except WireError as exc:
            raise Unavailable(f"{endpoint}: {exc}") from None
        return self._decoded(endpoint, answer.status, answer.body, answer.headers.get("retry-after"))

    def _post_order_now(self, payload: bytes) -> Awaitable[Answer] | None:
        """Write the order's POST now when nothing would make it wait (a write token and a
        warm connection at hand); its answer to await, or None: nothing was written."""
        if self._closed or not self._orders_wire.warm or not self._writes.take_now():
            return None
        return self._orders_wire.post_now(self._order_head(), payload)

    def _order_head(self) -> bytes:
        """The order POST's request head (signed), built once per signature, not per order."""
        signed = self._signer.signed(int(self._clock() * 1000), "POST", self._prefix + ORDERS)
        if signed is not self._head_signed:
            self._head = self._orders_wire.head(self._prefix + ORDERS, list(signed[1].items()))
            self._head_signed = signed
        return self._head

    async def _signed(self, method: str, path: str) -> dict[str, str]:
        """A token from the request's rate bucket, then the auth headers (a fresh dict)."""
        await self._token(method)
        return self._signer.headers(int(self._clock() * 1000), method, self._prefix + path)

    async def _token(self, method: str) -> None:
        """A token from the request's rate bucket (none once closed)."""
        if self._closed:  # a task still running at shutdown must not leak a new pool
            raise Unavailable("the Kalshi client is closed")
        await (self._writes if method in WRITE_METHODS else self._reads).acquire()

    def _decoded(self, endpoint: str, status: int, raw: bytes, retry_after: str | None) -> Any:
        if 200 <= status < 300:
            return kp.decode_json(raw, endpoint)
        raise self._error(endpoint, status, raw, retry_after)

    @staticmethod
    def _error(endpoint: str, status: int, raw: bytes, retry_after: str | None) -> VenueError:
        parsed = kp.parse_error(raw)
        code, message = parsed or (f"http_{status}", raw[:200].decode("utf-8", "replace"))
        text = f"{endpoint}: {status} {code}: {message}"
        if status in (401, 403):
            return AuthFailed(text)
        if status == 429:
            return RateLimited(text, _retry_after(retry_after))
        if status >= 500:
            return Unavailable(text)
        if status == 404:
            return NotFound(f"{endpoint}: {message}", code)
        if 400 <= status < 500:
            return Rejected(code, message, status)
        return BadResponse(endpoint, "<status>", status, "unexpected HTTP status")

    async def _backoff(self, attempt: int, exc: VenueError) -> None:
        """Sleep before retry ``attempt + 1``: Retry-After when given, else 2^n backoff with jitter."""
        wait = exc.retry_after_s if isinstance(exc, RateLimited) else None
        if wait is not None and wait > self._max_retry_after:
            raise exc
        if wait is None:
            ceiling = min(self._backoff_cap, self._backoff_base * 2 ** attempt)
            wait = ceiling * (0.5 + 0.5 * self._rng.random())
        self._retries += 1
        self._retry_seconds += wait
        await self._sleep(wait)

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A read, retried on Unavailable and RateLimited up to ``max_retries`` times."""
        attempt = 0
        while True:
            try:
                return await self._request("GET", path, params)
            except (Unavailable, RateLimited) as exc:
                if attempt >= self.max_retries:
                    raise
                log.debug("kalshi_read_retry", endpoint=f"GET {path}", attempt=attempt + 1, error=str(exc))
                await self._backoff(attempt, exc)
                attempt += 1

    async def _pages(self, path: str, params: dict[str, Any],
                     parse: Callable[[Any, str], tuple[list[T], str | None]]) -> list[T]:
        """Follow ``cursor`` to the last page (an empty cursor); a repeated cursor is refused."""
        items: list[T] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            body = await self._get(path, {**params, "limit": self.page_limit, "cursor": cursor})
            page, cursor = parse(body, f"GET {path}")
            items.extend(page)
            if cursor is None:
                return items
            if cursor in seen:
                raise BadResponse(f"GET {path}", "cursor", cursor, "repeats a cursor already followed")
            seen.add(cursor)

    # ------------------------------------------------------------------ market data

    async def exchange_status(self) -> ExchangeStatus:
        return kp.parse_exchange_status(await self._get("/exchange/status"))

    async def markets(self, status: str | None = "open", series_ticker: str | None = None,
                      event_ticker: str | None = None,
                      tickers: list[str] | None = None) -> list[Market]:
        if tickers is not None and not tickers:
            return []
        params = {"status": status, "series_ticker": series_ticker, "event_ticker": event_ticker,
                  "tickers": ",".join(tickers) if tickers else None}
        return await self._pages("/markets", params, kp.parse_markets_page)

    async def market(self, ticker: str) -> Market:
        path = f"/markets/{_segment(ticker)}"
        return kp.parse_market_response(await self._get(path), f"GET {path}")

    async def orderbook(self, ticker: str, depth: int = 10) -> OrderBook:
        path = f"/markets/{_segment(ticker)}/orderbook"
        body = await self._get(path, {"depth": depth})
        return kp.parse_orderbook(body, f"GET {path}", ticker, int(self._clock() * 1_000_000_000))

    async def series(self, series_ticker: str) -> Series:
        """A series' fee terms (not part of ``Venue``; the fee schedule comes from here)."""
        path = f"/series/{_segment(series_ticker)}"
        return kp.parse_series(await self._get(path), f"GET {path}")

    # ------------------------------------------------------------------ orders

    def orders_sendable_now(self) -> int | None:
        """Whole tokens in the write bucket: orders beyond them would wait for the limit."""
        return max(0, int(self._writes.available))

    def prepare_orders(self) -> None:
        """Sign the order endpoint ahead when the tick's orders could not reuse the signature
        held (an RSA signature, ~0.3 ms, would otherwise hold up the first order), and have
        connections open for them (opening one is a round trip, or a TLS handshake)."""
        if self._closed:
            return
        self._signer.prepare(int(self._clock() * 1000), "POST", self._prefix + ORDERS, ORDER_SIGNATURE_HORIZON_MS)
        self._order_head()
        self._orders_wire.keep_warm(self._warm_connections)

    def send_order(self, intent: OrderIntent) -> Coroutine[object, object, Order]:
        """The order's request is written before this returns when a write token and a warm
        connection are at hand (they are for what ``orders_sendable_now`` allowed, after
        ``prepare_orders``); otherwise the returned coroutine sends it, waiting as it must.
        A refusal (an out-of-range order) is raised by the coroutine, as the venue's would be."""
        try:
            payload = msgspec.json.encode(order_body(intent))
            sent = self._post_order_now(payload)
        except Exception as exc:  # raised where the order is awaited (its own task), not mid-tick
            return _raise(exc)
        return self._place_order(intent, payload, sent)

    async def place_order(self, intent: OrderIntent) -> Order:
        return await self.send_order(intent)

    async def _place_order(self, intent: OrderIntent, payload: bytes, sent: Awaitable[Answer] | None) -> Order:
        coid = intent.client_order_id
        olog = log.bind(client_order_id=coid, ticker=intent.ticker)
        attempt = 0
        while True:
            try:
                written, sent = sent, None  # a retry writes afresh
                answer = await self._post_order(payload, written)
                order = kp.parse_order_response(answer, f"POST {ORDERS}")
                # The engine logs the placed order (one event per fact); this is the wire's detail.
                olog.debug("order_answered", order_id=order.order_id, status=str(order.status),
                           attempt=attempt)
                return order
            except RateLimited as exc:  # refused before it was looked at: nothing was placed
                olog.warning("order_rate_limited", retry_after_s=exc.retry_after_s, attempt=attempt)
                if attempt >= self.max_retries:
                    raise
                failure: VenueError = exc
            except Rejected as exc:
                if exc.status != 409:  # a plain no
                    olog.warning("order_rejected", code=exc.code, status=exc.status, reason=exc.message)
                    raise
                existing = await self._lookup_after(coid, intent.ticker, exc, olog)
                if existing is None:
                    olog.warning("order_rejected", code=exc.code, status=exc.status, reason=exc.message)
                    raise
                olog.info("order_duplicate_resolved", order_id=existing.order_id,
                          status=str(existing.status))
                return existing
            except Unavailable as exc:  # the order may or may not exist: ask before re-sending
                olog.warning("order_answer_lost", error=str(exc), attempt=attempt)
                existing = await self._lookup_after(coid, intent.ticker, exc, olog)
                if existing is not None:
                    olog.info("order_resolved_by_lookup", order_id=existing.order_id,
                              status=str(existing.status))
                    return existing
                if attempt >= self.max_retries:
                    raise
                olog.info("order_not_found_resending", attempt=attempt + 1)
                failure = exc
            await self._backoff(attempt, failure)
            attempt += 1

    async def _lookup_after(self, coid: str, ticker: str, cause: VenueError, olog: Any) -> Order | None:
        """The order with ``coid``, or None; a failed lookup leaves the state unknown (Unavailable)."""
        try:
            return await self.order_by_client_id(coid, ticker=ticker)
        except VenueError as exc:
            olog.error("order_state_unknown", error=str(exc), cause=str(cause))
            raise Unavailable(f"order {coid}: {cause}; lookup by client_order_id failed too "
                              f"({exc}): state unknown, reconcile before trading") from exc

    async def cancel_order(self, order_id: str) -> Order:
        path = f"{ORDERS}/{_segment(order_id)}"
        attempt = 0
        while True:
            try:
                order = kp.parse_order_response(await self._request("DELETE", path), f"DELETE {path}")
                log.info("order_canceled", client_order_id=order.client_order_id,
                         order_id=order_id, status=str(order.status))
                return order
            except RateLimited as exc:
                if attempt >= self.max_retries:
                    raise
                failure: VenueError = exc
            except Unavailable as exc:  # maybe canceled: read the order back before re-sending
                try:
                    current = await self.get_order(order_id)
                except VenueError as lookup:
                    raise Unavailable(f"cancel {order_id}: {exc}; reading it back failed too "
                                      f"({lookup}): state unknown") from lookup
                log.warning("order_cancel_answer_lost", client_order_id=current.client_order_id,
                            order_id=order_id, status=str(current.status), attempt=attempt)
                if current.status is not OrderStatus.RESTING:
                    return current
                if attempt >= self.max_retries:
                    raise
                failure = exc
            await self._backoff(attempt, failure)
            attempt += 1

    async def get_order(self, order_id: str) -> Order:
        path = f"{ORDERS}/{_segment(order_id)}"
        return kp.parse_order_response(await self._get(path), f"GET {path}")

    async def orders(self, ticker: str | None = None,
                     status: OrderStatus | str | None = None) -> list[Order]:
        params = {"ticker": ticker, "status": str(status) if status is not None else None}
        return await self._pages(ORDERS, params, kp.parse_orders_page)

    async def order_by_client_id(self, client_order_id: str, ticker: str | None = None) -> Order | None:
        """Scan the orders (of ``ticker`` when known) for this ``client_order_id``."""
        matches = [o for o in await self.orders(ticker=ticker) if o.client_order_id == client_order_id]
        if len(matches) > 1:
            raise BadResponse(f"GET {ORDERS}", "client_order_id", client_order_id,
                              f"{len(matches)} orders share it")
        return matches[0] if matches else None

    # ------------------------------------------------------------------ portfolio

    async def fills(self, min_ts_ns: int | None = None, ticker: str | None = None) -> list[Fill]:
        """Fills at or after ``min_ts_ns`` (the API filters by whole seconds; we trim exactly)."""
        params = {"ticker": ticker,
                  "min_ts": min_ts_ns // 1_000_000_000 if min_ts_ns is not None else None}
        found = await self._pages("/portfolio/fills", params, kp.parse_fills_page)
        return found if min_ts_ns is None else [f for f in found if f.ts_ns >= min_ts_ns]

    async def positions(self) -> list[VenuePosition]:
        return await self._pages("/portfolio/positions", {}, kp.parse_positions_page)

    async def balance(self) -> int:
        return kp.parse_balance(await self._get("/portfolio/balance"))

    async def settlements(self) -> list[Settlement]:
        return await self._pages("/portfolio/settlements", {}, kp.parse_settlements_page)


async def _raise(exc: Exception) -> Order:
    raise exc


def _segment(value: str) -> str:
    """One URL path segment: tickers and ids are sent escaped, and signed as sent."""
    if not value or len(value) > 256:
        raise Rejected("invalid_argument", f"path segment {value!r} empty or too long", 0)
    return quote(value, safe="")
