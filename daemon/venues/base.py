"""The Venue interface every exchange adapter implements, its values and its typed errors.

Values are in market units (``market.units``): prices and money int 1/10,000 dollar,
counts int 1/100 contract, times int ns UTC. The engine only ever sees this interface, so
the Kalshi client, the built-in exchange and the paper venue are interchangeable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Coroutine
from dataclasses import dataclass

from market.book import OrderBook
from market.orders import Fill, Order, OrderIntent, OrderStatus, Side

# ---------------------------------------------------------------------- errors


class VenueError(Exception):
    """Any failed venue call; ``kind`` is one of monitoring.metrics.ERROR_KINDS."""

    kind = "other"


class RateLimited(VenueError):
    kind = "rate_limited"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(VenueError):
    """5xx, timeouts, connection failures: the call may or may not have happened."""

    kind = "unavailable"


class Rejected(VenueError):
    """The venue understood the request and said no (4xx with its code and message)."""

    kind = "rejected"

    def __init__(self, code: str, message: str | None = None, status: int = 400) -> None:
        if message is None:  # Rejected("why"): a local refusal (paper venue) with no venue code
            code, message = "rejected", code
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class NotFound(Rejected):
    """404: no such market, order or series."""

    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(code, message, 404)


class AuthFailed(VenueError):
    kind = "auth_failed"


class BadResponse(VenueError):
    """An answer we cannot trust: names the endpoint, the field and the value."""

    kind = "bad_response"

    def __init__(self, endpoint: str, field: str, value: object, why: str = "") -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"{endpoint}: field {field!r} = {shown}{': ' + why if why else ''}")
        self.endpoint = endpoint
        self.field = field
        self.value = value


# ---------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ExchangeStatus:
    exchange_active: bool
    trading_active: bool


@dataclass(frozen=True, slots=True)
class Market:
    ticker: str
    event_ticker: str
    status: str
    """Kalshi market status: initialized, inactive, active, closed, determined, finalized, ..."""
    yes_bid: int
    yes_ask: int
    """0 when there is no level (the API sends "0.0000" then)."""
    yes_bid_size: int
    yes_ask_size: int
    last_price: int
    volume: int
    close_time_ns: int | None
    result: Side | None
    series_ticker: str | None = None
    updated_ns: int | None = None
    """The venue's ``updated_time``: when its data last changed (stale-book detection)."""
    yes_sub_title: str | None = None
    """What YES means, e.g. the team that must win (maps the market to sportsbook odds)."""
    no_sub_title: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in ("active", "open")


@dataclass(frozen=True, slots=True)
class Series:
    """A series' fee terms (``GET /series/{ticker}``); feed ``market.fees.schedule_from_name``."""

    ticker: str
    fee_type: str
    fee_multiplier: str
    """Decimal text, exact (``"0.5"``)."""


@dataclass(frozen=True, slots=True)
class VenuePosition:
    ticker: str
    quantity: int
    """Signed count units: + YES, − NO (Kalshi ``position_fp``)."""
    exposure: int
    realized_pnl: int
    fees_paid: int


@dataclass(frozen=True, slots=True)
class Settlement:
    ticker: str
    result: Side | None
    """YES or NO; None for a void or scalar market (paid ``revenue``) or no result yet."""
    yes_count: int
    no_count: int
    revenue: int
    ts_ns: int | None
    market_result: str = ""
    """The venue's word: yes, no, void, scalar, or empty (not settled)."""


# ---------------------------------------------------------------------- interface


class Venue(ABC):
    """Async exchange adapter. Every method raises a VenueError subclass on failure."""

    @abstractmethod
    async def exchange_status(self) -> ExchangeStatus: ...

    @abstractmethod
    async def markets(self, status: str | None = "open", series_ticker: str | None = None,
                      event_ticker: str | None = None,
                      tickers: list[str] | None = None) -> list[Market]:
        """Every matching market, across all pages."""

    @abstractmethod
    async def market(self, ticker: str) -> Market: ...

    @abstractmethod
    async def orderbook(self, ticker: str, depth: int = 10) -> OrderBook: ...

    @abstractmethod
    async def place_order(self, intent: OrderIntent) -> Order:
        """Send once; an ambiguous failure is resolved by client_order_id, never by a blind retry."""

    @abstractmethod
    async def cancel_order(self, order_id: str) -> Order: ...

    @abstractmethod
    async def get_order(self, order_id: str) -> Order: ...

    @abstractmethod
    async def orders(self, ticker: str | None = None,
                     status: OrderStatus | str | None = None) -> list[Order]: ...

    @abstractmethod
    async def order_by_client_id(self, client_order_id: str) -> Order | None: ...

    @abstractmethod
    async def fills(self, min_ts_ns: int | None = None, ticker: str | None = None) -> list[Fill]: ...

    @abstractmethod
    async def positions(self) -> list[VenuePosition]: ...

    @abstractmethod
    async def balance(self) -> int:
        """Cash balance in money units."""

    @abstractmethod
    async def settlements(self) -> list[Settlement]: ...

    def send_order(self, intent: OrderIntent) -> Coroutine[object, object, Order]:
        """``place_order``, with its request written before this returns where the venue can
        (Kalshi: a write token and a warm connection at hand); await the result. Raises
        nothing itself: every failure comes from awaiting (the engine's one path for them).
        Default: nothing is sent until it is awaited."""
        return self.place_order(intent)

    def orders_sendable_now(self) -> int | None:
        """Order requests that could leave now without waiting on a rate limit; None: no limit."""
        return None

    def prepare_orders(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Do now, before the books arrive, what every order request of the coming tick
        needs (Kalshi: its signature); default: nothing to prepare."""

    async def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release connections; default: nothing to release."""
