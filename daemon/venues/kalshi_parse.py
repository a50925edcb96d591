"""Strict parsing of Kalshi Trade API v2 answers into market units.

Bodies are decoded with msgspec into plain JSON values, then read field by field: every
field we use must be present and well formed, or the answer is refused with
``BadResponse(endpoint, "markets[3].yes_bid_dollars", value)``. Fields we do not use are
ignored, so an API that grows new fields keeps working. Conversions go through
``market.units`` (exact, no rounding): a price we cannot represent exactly is refused, never
rounded into a wrong order.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from market.book import BookError, OrderBook
from market.orders import Action, Fill, Order, OrderStatus, Side
from market.units import (
    CONTRACT_PAYOUT,
    COUNT_SCALE,
    UnitError,
    cents_to_money,
    parse_count,
    parse_dollars,
    parse_price,
)

from .base import (
    BadResponse,
    ExchangeStatus,
    Market,
    Series,
    Settlement,
    VenuePosition,
)

T = TypeVar("T")
Obj = dict[str, Any]

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,
)
_DECIMAL = re.compile(r"[0-9]{1,6}(\.[0-9]{1,12})?", re.ASCII)
_NO_RESULT = ("", "scalar", "void")
_MAX_TEXT = 256

_decoder = msgspec.json.Decoder()
# Exact Decimal conversion costs ~4 µs a field, and answers repeat the same few hundred
# strings ("0.4500", "10.00"): memoised, a page of markets parses several times faster.
# Failures are not cached, so a bad value is refused every time it is seen.
_dollars = lru_cache(maxsize=16384)(parse_dollars)
_price = lru_cache(maxsize=16384)(parse_price)
_count = lru_cache(maxsize=16384)(parse_count)
_MISSING: Any = object()


def decode_json(raw: bytes, endpoint: str) -> Any:
    """Bytes -> JSON value; anything that is not JSON is a BadResponse."""
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise BadResponse(endpoint, "<body>", raw[:80], f"not JSON ({exc})") from None


# ------------------------------------------------------------------ field readers


class _Fields:
    """One JSON object at ``where`` inside the answer of ``endpoint``."""

    __slots__ = ("endpoint", "where", "obj")

    def __init__(self, value: Any, endpoint: str, where: str) -> None:
        if not isinstance(value, dict):
            raise BadResponse(endpoint, where or "<body>", value, "expected a JSON object")
        self.endpoint, self.where, self.obj = endpoint, where, value

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def bad(self, key: str, value: Any, why: str) -> BadResponse:
        return BadResponse(self.endpoint, self.name(key), value, why)

    def get(self, key: str) -> Any:
        if key not in self.obj:
            raise self.bad(key, None, "missing")
        return self.obj[key]

    def sub(self, key: str) -> _Fields:
        return _Fields(self.get(key), self.endpoint, self.name(key))

    def text(self, key: str, allow_empty: bool = False) -> str:
        value = self.get(key)
        if not isinstance(value, str) or len(value) > _MAX_TEXT or (not value and not allow_empty):
            raise self.bad(key, value, "expected a non-empty string" if not allow_empty else "expected a string")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > _MAX_TEXT:
            raise self.bad(key, value, "expected a string")
        return value

    def boolean(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.bad(key, value, "expected true or false")
        return value

    def convert(self, key: str, convert: Callable[[Any], int], low: int | None = None,
                high: int | None = None, value: Any = _MISSING) -> int:
        value = self.get(key) if value is _MISSING else value
        if not isinstance(value, str):  # the API sends decimals as strings; a JSON number is a format change
            raise self.bad(key, value, "expected a decimal string")
        try:
            units = convert(value)
        except UnitError as exc:
            raise self.bad(key, value, exc.why) from None
        if (low is not None and units < low) or (high is not None and units > high):
            raise self.bad(key, value, f"outside {low}..{high} units")
        return units

    def dollars(self, key: str, low: int | None = None, high: int | None = None) -> int:
        return self.convert(key, _dollars, low, high)

    def price(self, key: str) -> int:
        return self.convert(key, _price)

    def count(self, key: str, low: int | None = 0) -> int:
        return self.convert(key, _count, low)

    def cents(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(key, value, "expected integer cents")
        return cents_to_money(value)

    def time_ns(self, key: str, optional: bool = False) -> int | None:
        value = self.obj.get(key) if optional else self.get(key)
        if optional and (value is None or value == ""):
            return None
        if not isinstance(value, str):
            raise self.bad(key, value, "expected an ISO-8601 time")
        ns = iso_to_ns(value)
        if ns is None:
            raise self.bad(key, value, "not an ISO-8601 UTC time with a zone")
        return ns

    def choice(self, key: str, kind: Callable[[str], T]) -> T:
        value = self.get(key)
        try:
            return kind(value)
        except (ValueError, TypeError):
            raise self.bad(key, value, f"not a valid {getattr(kind, '__name__', 'value')}") from None

    def items(self, key: str) -> list[tuple[Any, str]]:
        value = self.get(key)
        if not isinstance(value, list):
            raise self.bad(key, value, "expected a list")
        return [(item, f"{self.name(key)}[{i}]") for i, item in enumerate(value)]

    def cursor(self) -> str | None:
        """The next page's cursor; missing, null or empty means this is the last page."""
        value = self.obj.get("cursor")
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > 4096:
            raise self.bad("cursor", value, "expected a string")
        return value


@lru_cache(maxsize=4096)
def iso_to_ns(text: str) -> int | None:
    """``2026-03-01T12:00:00.5Z`` -> ns since the epoch, exactly; None if not that shape."""
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not (year >= 1970 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour < 24 and minute < 60 and second < 60):
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            return None
        seconds -= sign * (zh * 3600 + zm * 60)
    fraction = (m.group(7) or "").ljust(9, "0")
    return seconds * 1_000_000_000 + int(fraction)


# ------------------------------------------------------------------ values


def parse_exchange_status(body: Any, endpoint: str = "GET /exchange/status") -> ExchangeStatus:
    f = _Fields(body, endpoint, "")
    return ExchangeStatus(f.boolean("exchange_active"), f.boolean("trading_active"))


def _result(f: _Fields) -> Side | None:
    value = f.obj.get("result")
    if value is None or value in _NO_RESULT:
        return None
    if value in ("yes", "no"):
        return Side(value)
    raise f.bad("result", value, "expected yes, no, scalar or empty")


def parse_market(value: Any, endpoint: str, where: str = "market") -> Market:
    """A market; a bid of ``0.0000`` or an ask of ``1.0000`` means no level and becomes 0."""
    f = _Fields(value, endpoint, where)
    yes_bid = f.dollars("yes_bid_dollars", 0, CONTRACT_PAYOUT - 1)
    yes_ask = f.dollars("yes_ask_dollars", 0, CONTRACT_PAYOUT)
    f.get("close_time")  # required, though it may be null
    return Market(
        ticker=f.text("ticker"),
        event_ticker=f.text("event_ticker"),
        status=f.text("status"),
        yes_bid=yes_bid,
        yes_ask=0 if yes_ask == CONTRACT_PAYOUT else yes_ask,
        yes_bid_size=f.count("yes_bid_size_fp"),
        yes_ask_size=f.count("yes_ask_size_fp"),
        last_price=f.dollars("last_price_dollars", 0, CONTRACT_PAYOUT),
        volume=f.count("volume_fp"),
        close_time_ns=f.time_ns("close_time", optional=True),
        result=_result(f),
        series_ticker=f.optional_text("series_ticker"),
        updated_ns=f.time_ns("updated_time", optional=True),
        yes_sub_title=f.optional_text("yes_sub_title"),
        no_sub_title=f.optional_text("no_sub_title"),
    )


def parse_market_response(body: Any, endpoint: str) -> Market:
    return parse_market(_Fields(body, endpoint, "").get("market"), endpoint, "market")


def parse_markets_page(body: Any, endpoint: str = "GET /markets") -> tuple[list[Market], str | None]:
    f = _Fields(body, endpoint, "")
    return [parse_market(item, endpoint, where) for item, where in f.items("markets")], f.cursor()


def parse_orderbook(body: Any, endpoint: str, ticker: str, ts_ns: int) -> OrderBook:
    """``orderbook_fp.{yes,no}_dollars``: ``[[price, count], ...]`` bids; null = an empty side."""
    book = _Fields(body, endpoint, "").sub("orderbook_fp")
    ladders: list[list[tuple[int, int]]] = []
    for key in ("yes_dollars", "no_dollars"):
        levels = book.get(key)
        if levels is None:
            ladders.append([])
            continue
        if not isinstance(levels, list):
            raise book.bad(key, levels, "expected a list")
        ladders.append([_level(book, key, i, level) for i, level in enumerate(levels)])
    try:
        return OrderBook.from_ladders(ticker, ladders[0], ladders[1], ts_ns)
    except BookError as exc:  # unreachable after the checks above; kept so no other error escapes
        raise BadResponse(endpoint, "orderbook_fp", None, str(exc)) from None


def _level(book: _Fields, key: str, i: int, level: Any) -> tuple[int, int]:
    """One ``[price, count]`` level; names are only built when the level is bad."""
    if type(level) is list and len(level) == 2 and type(level[0]) is str and type(level[1]) is str:
        try:
            price, count = _price(level[0]), _count(level[1])
        except UnitError:
            pass
        else:
            if count >= 0:
                return price, count
    if not isinstance(level, list) or len(level) != 2:
        raise book.bad(f"{key}[{i}]", level, "expected [price, count]")
    book.convert(f"{key}[{i}][0]", _price, value=level[0])
    book.convert(f"{key}[{i}][1]", _count, 0, value=level[1])
    raise book.bad(f"{key}[{i}]", level, "not a valid level")  # unreachable: one of the above failed


def parse_order(value: Any, endpoint: str, where: str = "order") -> Order:
    """An order; its price is the price of its own side (``no_price_dollars`` for a NO order)."""
    f = _Fields(value, endpoint, where)
    side = f.choice("side", Side)
    return Order(
        order_id=f.text("order_id"),
        client_order_id=f.text("client_order_id", allow_empty=True),
        ticker=f.text("ticker"),
        side=side,
        action=f.choice("action", Action),
        status=f.choice("status", OrderStatus),
        price=f.price("yes_price_dollars" if side is Side.YES else "no_price_dollars"),
        initial_count=f.count("initial_count_fp"),
        fill_count=f.count("fill_count_fp"),
        remaining_count=f.count("remaining_count_fp"),
        taker_fees=f.dollars("taker_fees_dollars", 0),
        maker_fees=f.dollars("maker_fees_dollars", 0),
        created_ts_ns=f.time_ns("created_time"),  # type: ignore[arg-type]
    )


def parse_order_response(body: Any, endpoint: str) -> Order:
    """``{order: Order}`` (create, get and cancel answers)."""
    return parse_order(_Fields(body, endpoint, "").get("order"), endpoint, "order")


def parse_orders_page(body: Any, endpoint: str = "GET /portfolio/orders") -> tuple[list[Order], str | None]:
    f = _Fields(body, endpoint, "")
    return [parse_order(item, endpoint, where) for item, where in f.items("orders")], f.cursor()


def parse_fill(value: Any, endpoint: str, where: str = "fill") -> Fill:
    f = _Fields(value, endpoint, where)
    side = f.choice("side", Side)
    fill_id = f.optional_text("fill_id") or f.text("trade_id")
    ticker = f.optional_text("ticker") or f.text("market_ticker")
    return Fill(
        fill_id=fill_id,
        order_id=f.text("order_id"),
        ticker=ticker,
        side=side,
        action=f.choice("action", Action),
        count=f.count("count_fp", low=1),
        price=f.price("yes_price_dollars" if side is Side.YES else "no_price_dollars"),
        is_taker=f.boolean("is_taker"),
        fee=f.dollars("fee_cost", 0),
        ts_ns=f.time_ns("created_time"),  # type: ignore[arg-type]
        client_order_id=f.optional_text("client_order_id"),
    )


def parse_fills_page(body: Any, endpoint: str = "GET /portfolio/fills") -> tuple[list[Fill], str | None]:
    f = _Fields(body, endpoint, "")
    return [parse_fill(item, endpoint, where) for item, where in f.items("fills")], f.cursor()


def parse_position(value: Any, endpoint: str, where: str = "market_position") -> VenuePosition:
    f = _Fields(value, endpoint, where)
    return VenuePosition(
        ticker=f.text("ticker"),
        quantity=f.count("position_fp", low=None),
        exposure=f.dollars("market_exposure_dollars", 0),
        realized_pnl=f.dollars("realized_pnl_dollars"),
        fees_paid=f.dollars("fees_paid_dollars", 0),
    )


def parse_positions_page(body: Any, endpoint: str = "GET /portfolio/positions"
                         ) -> tuple[list[VenuePosition], str | None]:
    f = _Fields(body, endpoint, "")
    items = f.items("market_positions")
    return [parse_position(item, endpoint, where) for item, where in items], f.cursor()


def parse_balance(body: Any, endpoint: str = "GET /portfolio/balance") -> int:
    """Cash balance: integer cents in the API, money units here."""
    return _Fields(body, endpoint, "").cents("balance")


def _settlement_count(f: _Fields, side: str) -> int:
    if f.obj.get(f"{side}_count_fp") is not None:
        return f.count(f"{side}_count_fp")
    value = f.get(f"{side}_count")  # legacy whole contracts
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise f.bad(f"{side}_count", value, "expected a whole non-negative count")
    return value * COUNT_SCALE


def parse_settlement(value: Any, endpoint: str, where: str = "settlement") -> Settlement:
    f = _Fields(value, endpoint, where)
    result = f.get("market_result")
    if result not in ("yes", "no", *_NO_RESULT):
        raise f.bad("market_result", result, "expected yes, no, scalar or void")
    return Settlement(
        ticker=f.text("ticker"),
        result=Side(result) if result in ("yes", "no") else None,
        yes_count=_settlement_count(f, "yes"),
        no_count=_settlement_count(f, "no"),
        revenue=f.cents("revenue"),
        ts_ns=f.time_ns("settled_time", optional=True),
        market_result=result,
    )


def parse_settlements_page(body: Any, endpoint: str = "GET /portfolio/settlements"
                           ) -> tuple[list[Settlement], str | None]:
    f = _Fields(body, endpoint, "")
    items = f.items("settlements")
    return [parse_settlement(item, endpoint, where) for item, where in items], f.cursor()


def parse_series(body: Any, endpoint: str) -> Series:
    """``{series: {ticker, fee_type, fee_multiplier}}``; the multiplier kept as exact decimal text."""
    f = _Fields(body, endpoint, "").sub("series")
    multiplier = f.get("fee_multiplier")
    if isinstance(multiplier, int | float) and not isinstance(multiplier, bool):
        multiplier = repr(multiplier)  # shortest round-trip text: 0.5 -> "0.5"
    if not isinstance(multiplier, str) or not _DECIMAL.fullmatch(multiplier):
        raise f.bad("fee_multiplier", f.get("fee_multiplier"), "expected a non-negative decimal")
    return Series(ticker=f.text("ticker"), fee_type=f.text("fee_type"), fee_multiplier=multiplier)


def parse_error(raw: bytes) -> tuple[str, str] | None:
    """``(code, message)`` from ``{"code", "message", "details"}`` (or ``{"error": {...}}``)."""
    try:
        body = _decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if not isinstance(body, dict):
        return None
    code, message = body.get("code"), body.get("message")
    if not isinstance(code, str) or not code:
        return None
    return code[:_MAX_TEXT], (message if isinstance(message, str) else "")[:1000]
