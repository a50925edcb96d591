"""Kalshi Trade API v2 wire formats for the built-in exchange (venues.md, appendix)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from market.orders import Action, Fill, Position, Side, TimeInForce
from market.units import (
    CENT,
    CONTRACT_PAYOUT,
    format_count,
    format_dollars,
    parse_count,
    parse_price,
)

from .matching import SimMarketBook, SimOrder, SimReject, SimSettlement

PAGE_LIMIT_MAX = 1000
STATUS_FILTER = {  # the GET /markets ``status`` filter → market statuses it selects
    "open": {"active"}, "unopened": {"initialized"}, "paused": {"inactive"},
    "closed": {"closed", "determined"}, "settled": {"finalized"},
}


def iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dollars(units: int) -> str:
    return format_dollars(units)


def count(units: int) -> str:
    return format_count(units)


def error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message, "details": ""}, status=status,
                             headers=dict(headers or {}))


def malformed(response: web.Response, rng: random.Random) -> web.Response:
    """The same answer made untrustworthy (fault injection): in the first object in it (a
    market, an order, the balance...), a field a trading client relies on is removed or
    given a bad value ("0.12.34" for a number); a body with no such field becomes invalid JSON."""
    body = json.loads(response.body or b"{}")
    target = _first_object(body) or {}
    garble = [k for k in target if k in _KEY_NUMBERS or k in _KEY_FIELDS]
    if not garble:
        return web.Response(status=response.status, text="{not json", content_type="application/json")
    key = rng.choice(garble)
    if rng.random() < 0.5 and key not in _HAS_FALLBACK:
        del target[key]
    else:
        value = target[key]
        target[key] = ("0.12.34" if key in _KEY_NUMBERS else "yes" if isinstance(value, bool)
                       else "12.00" if isinstance(value, int) else 12345)
    return web.json_response(body, status=response.status)


# Fields a trading client relies on: breaking one must be noticed.
_KEY_NUMBERS = frozenset({
    "yes_bid_dollars", "yes_ask_dollars", "yes_bid_size_fp", "yes_ask_size_fp", "last_price_dollars",
    "volume_fp", "initial_count_fp", "fill_count_fp", "remaining_count_fp", "taker_fees_dollars",
    "maker_fees_dollars", "count_fp", "position_fp", "market_exposure_dollars",
    "realized_pnl_dollars", "fees_paid_dollars", "yes_count_fp", "no_count_fp",
})
_KEY_FIELDS = frozenset({
    "ticker", "status", "order_id", "client_order_id", "side", "action", "fill_id", "is_taker",
    "market_result", "revenue", "balance", "exchange_active", "trading_active",
})
_HAS_FALLBACK = frozenset({"ticker", "fill_id", "client_order_id"})  # fills: market_ticker, trade_id


def _first_object(body: Any) -> dict[str, Any] | None:
    """The first JSON object inside the answer's fields (a market, an order...), else the body."""
    if not isinstance(body, dict):
        return None
    for value in body.values():
        inner = value[0] if isinstance(value, list) and value else value
        if isinstance(inner, dict) and inner:
            return inner
    return body if any(not isinstance(v, list | dict) for v in body.values()) else None


def status_matches(market_status: str, wanted: str | None) -> bool:
    if not wanted:
        return True
    if wanted not in STATUS_FILTER:
        raise ValueError(f"status filter {wanted!r}: expected one of {', '.join(STATUS_FILTER)}")
    return market_status in STATUS_FILTER[wanted]


def paginate(items: Sequence[Any], query: Mapping[str, str]) -> tuple[list[Any], str]:
    limit = int(query.get("limit", "100") or 100)
    if not 1 <= limit <= PAGE_LIMIT_MAX:
        raise ValueError(f"limit {limit}: expected 1..{PAGE_LIMIT_MAX}")
    start = int(query.get("cursor") or 0)
    page = list(items[start:start + limit])
    return page, str(start + limit) if start + limit < len(items) else ""


def ladder(levels: list[tuple[int, int]], depth: int) -> list[list[str]]:
    chosen = levels[:depth] if depth else levels
    return [[dollars(p), count(c)] for p, c in chosen]


def market(game: Any, book: SimMarketBook, updated_ns: int) -> dict[str, Any]:
    yes, no = book.levels(Side.YES), book.levels(Side.NO)
    yes_bid, yes_bid_size = yes[0] if yes else (0, 0)
    no_bid, no_bid_size = no[0] if no else (0, 0)
    yes_ask = CONTRACT_PAYOUT - no_bid if no else 0
    no_ask = CONTRACT_PAYOUT - yes_bid if yes else 0
    result = game.result.value if game.result is not None else ""
    return {
        "ticker": game.ticker, "event_ticker": game.event_ticker, "market_type": "binary",
        "yes_sub_title": game.home_team, "no_sub_title": game.away_team,
        "created_time": iso(game.open_ns), "updated_time": iso(updated_ns), "open_time": iso(game.open_ns),
        "close_time": iso(game.close_ns), "latest_expiration_time": iso(game.settle_ns),
        "settlement_timer_seconds": (game.settle_ns - game.close_ns) // 1_000_000_000,
        "status": game.status, "notional_value_dollars": "1.0000",
        "yes_bid_dollars": dollars(yes_bid), "yes_ask_dollars": dollars(yes_ask),
        "no_bid_dollars": dollars(no_bid), "no_ask_dollars": dollars(no_ask),
        "yes_bid_size_fp": count(yes_bid_size), "yes_ask_size_fp": count(no_bid_size),
        "last_price_dollars": dollars(book.last_price), "previous_yes_bid_dollars": dollars(yes_bid),
        "previous_yes_ask_dollars": dollars(yes_ask), "previous_price_dollars": dollars(book.last_price),
        "volume_fp": count(book.volume), "volume_24h_fp": count(book.volume), "liquidity_dollars": dollars(0),
        "open_interest_fp": count(0), "result": result, "can_close_early": False,
        "fractional_trading_enabled": False, "expiration_value": result,
        "rules_primary": f"If the {game.home_team} beat the {game.away_team}, the market resolves to Yes.",
        "rules_secondary": "", "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0100", "end": "0.9900", "step": "0.0100"}],
        "settlement_value_dollars": dollars(CONTRACT_PAYOUT if result == "yes" else 0) if result else None,
    }


def order(o: SimOrder) -> dict[str, Any]:
    yes_price = o.price if o.side is Side.YES else CONTRACT_PAYOUT - o.price
    return {
        "order_id": o.order_id, "user_id": o.account, "client_order_id": o.client_order_id,
        "ticker": o.ticker, "side": o.side.value, "action": o.action.value, "type": "limit",
        "status": o.status.value, "yes_price_dollars": dollars(yes_price),
        "no_price_dollars": dollars(CONTRACT_PAYOUT - yes_price),
        "fill_count_fp": count(o.fill_count), "remaining_count_fp": count(o.remaining),
        "initial_count_fp": count(o.initial_count), "taker_fees_dollars": dollars(o.taker_fees),
        "maker_fees_dollars": dollars(o.maker_fees), "taker_fill_cost_dollars": dollars(o.taker_fill_cost),
        "maker_fill_cost_dollars": dollars(o.maker_fill_cost), "created_time": iso(o.created_ns),
        "last_update_time": iso(o.last_update_ns), "time_in_force": o.time_in_force.value,
    }


def fill(f: Fill) -> dict[str, Any]:
    yes_price = f.price if f.side is Side.YES else CONTRACT_PAYOUT - f.price
    return {
        "fill_id": f.fill_id, "trade_id": f.fill_id, "order_id": f.order_id, "ticker": f.ticker,
        "market_ticker": f.ticker, "side": f.side.value, "action": f.action.value,
        "count_fp": count(f.count), "yes_price_dollars": dollars(yes_price),
        "no_price_dollars": dollars(CONTRACT_PAYOUT - yes_price), "is_taker": f.is_taker,
        "fee_cost": dollars(f.fee), "created_time": iso(f.ts_ns), "client_order_id": f.client_order_id,
    }


def position(p: Position, resting: int, now_ns: int) -> dict[str, Any]:
    return {
        "ticker": p.ticker, "total_traded_dollars": dollars(p.cost), "position_fp": count(p.quantity),
        "market_exposure_dollars": dollars(p.cost), "realized_pnl_dollars": dollars(p.realized_pnl),
        "resting_orders_count": resting, "fees_paid_dollars": dollars(p.fees_paid),
        "last_updated_ts": iso(now_ns),
    }


def settlement(s: SimSettlement, event_ticker: str) -> dict[str, Any]:
    """A settled position: counts held at settlement, their cost, and the payout (``revenue``,
    integer cents, like ``balance``)."""
    return {
        "ticker": s.ticker, "event_ticker": event_ticker, "market_result": s.result.value,
        "yes_count_fp": count(s.yes_count), "no_count_fp": count(s.no_count),
        "yes_total_cost_dollars": dollars(s.cost if s.yes_count else 0),
        "no_total_cost_dollars": dollars(s.cost if s.no_count else 0),
        "revenue": s.revenue // CENT, "fee_cost": dollars(s.fees_paid), "settled_time": iso(s.ts_ns),
    }


def parse_create_order(body: Any) -> dict[str, Any]:
    """A CreateOrderRequest → engine arguments; SimReject(400) naming the bad field."""
    if not isinstance(body, dict):
        raise SimReject("invalid_parameters", "body must be a JSON object")

    def need(name: str) -> Any:
        if name not in body:
            raise SimReject("invalid_parameters", f"missing field {name}")
        return body[name]

    try:
        side, action = Side(need("side")), Action(need("action"))
        tif = TimeInForce(body.get("time_in_force") or "good_till_canceled")
    except ValueError as exc:
        raise SimReject("invalid_parameters", str(exc)) from None
    if "count_fp" in body:
        quantity = parse_count(body["count_fp"])
    elif isinstance(body.get("count"), int) and not isinstance(body.get("count"), bool):
        quantity = body["count"] * 100
    else:
        raise SimReject("invalid_parameters", "missing field count or count_fp")
    if "yes_price_dollars" in body:
        yes_price = parse_price(body["yes_price_dollars"])
        price = yes_price if side is Side.YES else CONTRACT_PAYOUT - yes_price
    elif "no_price_dollars" in body:
        no_price = parse_price(body["no_price_dollars"])
        price = no_price if side is Side.NO else CONTRACT_PAYOUT - no_price
    else:
        raise SimReject("invalid_parameters", "missing field yes_price_dollars or no_price_dollars")
    coid = need("client_order_id")
    if not isinstance(coid, str) or not coid:
        raise SimReject("invalid_parameters", "client_order_id must be a non-empty string")
    return {"client_order_id": coid, "ticker": str(need("ticker")), "side": side, "action": action,
            "price": price, "count": quantity, "tif": tif, "post_only": bool(body.get("post_only")),
            "reduce_only": bool(body.get("reduce_only"))}
