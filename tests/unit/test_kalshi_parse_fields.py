"""Every Kalshi parser, field by field: the exact value of a valid answer, and a
``BadResponse`` naming the path of every field it needs when that field is missing
(fuzzing lives in test_kalshi_parse.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from daemon.venues import kalshi_parse as kp
from daemon.venues.base import BadResponse, ExchangeStatus, Series, Settlement, VenuePosition
from market.book import OrderBook
from market.orders import Action, Fill, Order, OrderStatus, Side
from tests.integration.test_kalshi_client import market_payload

TS = "2026-03-01T12:00:00Z"
TS_NS = 1_772_366_400 * 10**9
MARKET = market_payload("KXNBAGAME-26MAR01LALBOS-BOS")
ORDER = {
    "order_id": "0c0ffee0-0000-4000-8000-000000000001", "user_id": "u1", "client_order_id": "ew-abc",
    "ticker": MARKET["ticker"], "side": "no", "action": "buy", "type": "limit", "status": "resting",
    "yes_price_dollars": "0.4500", "no_price_dollars": "0.5500", "fill_count_fp": "1.00",
    "remaining_count_fp": "2.00", "initial_count_fp": "3.00", "taker_fees_dollars": "0.0200",
    "maker_fees_dollars": "0.0000", "taker_fill_cost_dollars": "0.5500",
    "maker_fill_cost_dollars": "0.0000", "created_time": "2026-03-01T12:00:00.5Z", "last_update_time": TS,
}
FILL = {
    "fill_id": "f1", "trade_id": "f1", "order_id": ORDER["order_id"], "ticker": MARKET["ticker"],
    "market_ticker": MARKET["ticker"], "side": "yes", "action": "sell", "count_fp": "2.00",
    "yes_price_dollars": "0.6100", "no_price_dollars": "0.3900", "is_taker": True,
    "fee_cost": "0.0400", "created_time": TS, "ts": 1_772_366_400,
}
POSITION = {
    "ticker": MARKET["ticker"], "total_traded_dollars": "2.0000", "position_fp": "-3.00",
    "market_exposure_dollars": "1.6500", "realized_pnl_dollars": "-0.1200", "resting_orders_count": 1,
    "fees_paid_dollars": "0.0400", "last_updated_ts": TS,
}
SETTLEMENT = {
    "ticker": MARKET["ticker"], "event_ticker": MARKET["event_ticker"], "market_result": "yes",
    "yes_count_fp": "4.00", "no_count_fp": "0.00", "yes_total_cost_dollars": "1.8000",
    "no_total_cost_dollars": "0.0000", "revenue": 400, "settled_time": TS, "fee_cost": "0.0700",
}

# name -> (parse of the decoded body, a valid body, the value it must give or None)
CASES: dict[str, tuple[Callable[[Any], Any], dict[str, Any], Any]] = {
    "exchange_status": (kp.parse_exchange_status,
                        {"exchange_active": True, "trading_active": False,
                         "exchange_estimated_resume_time": None}, ExchangeStatus(True, False)),
    "market": (lambda b: kp.parse_market_response(b, "GET /markets/T"), {"market": MARKET}, None),
    "markets": (kp.parse_markets_page, {"markets": [dict(MARKET), dict(MARKET)], "cursor": "abc"}, None),
    "orderbook": (lambda b: kp.parse_orderbook(b, "GET /markets/T/orderbook", "T", 7),
                  {"orderbook_fp": {"yes_dollars": [["0.4000", "5.00"], ["0.4500", "12.00"]],
                                    "no_dollars": [["0.5300", "3.50"]]}},
                  OrderBook.from_ladders("T", [(4000, 500), (4500, 1200)], [(5300, 350)], 7)),
    "order": (lambda b: kp.parse_order_response(b, "POST /portfolio/orders"), {"order": ORDER},
              Order(ORDER["order_id"], "ew-abc", MARKET["ticker"], Side.NO, Action.BUY,
                    OrderStatus.RESTING, 5500, 300, 100, 200, 200, 0, TS_NS + 500_000_000)),
    "orders": (kp.parse_orders_page, {"orders": [ORDER], "cursor": ""}, None),
    "fills": (kp.parse_fills_page, {"fills": [FILL], "cursor": None},
              ([Fill("f1", ORDER["order_id"], MARKET["ticker"], Side.YES, Action.SELL, 200, 6100, True,
                     400, TS_NS)], None)),
    "positions": (kp.parse_positions_page,
                  {"market_positions": [POSITION], "event_positions": [], "cursor": ""},
                  ([VenuePosition(MARKET["ticker"], -300, 16_500, -1_200, 400)], None)),
    "balance": (kp.parse_balance, {"balance": 123_456, "portfolio_value": 5_000,
                                   "updated_ts": 1_703_123_456}, 12_345_600),
    "settlements": (kp.parse_settlements_page, {"settlements": [SETTLEMENT], "cursor": ""},
                    ([Settlement(MARKET["ticker"], Side.YES, 400, 0, 40_000, TS_NS, "yes")], None)),
    "series": (lambda b: kp.parse_series(b, "GET /series/KXNBAGAME"),
               {"series": {"ticker": "KXNBAGAME", "title": "NBA", "fee_type": "quadratic_with_maker_fees",
                           "fee_multiplier": 0.5}}, Series("KXNBAGAME", "quadratic_with_maker_fees", "0.5")),
}

# Paths each parser needs: deleting one must be a BadResponse naming exactly that path.
REQUIRED = {
    "exchange_status": ["exchange_active", "trading_active"],
    "market": [f"market.{k}" for k in ("ticker", "event_ticker", "status", "yes_bid_dollars",
                                       "yes_ask_dollars", "yes_bid_size_fp", "yes_ask_size_fp",
                                       "last_price_dollars", "volume_fp", "close_time")],
    "markets": ["markets", "markets[1].ticker", "markets[0].yes_ask_dollars"],
    "orderbook": ["orderbook_fp", "orderbook_fp.yes_dollars", "orderbook_fp.no_dollars"],
    "order": [f"order.{k}" for k in ("order_id", "client_order_id", "ticker", "side", "action",
                                     "status", "no_price_dollars", "initial_count_fp",
                                     "fill_count_fp", "remaining_count_fp", "taker_fees_dollars",
                                     "maker_fees_dollars", "created_time")],
    "orders": ["orders", "orders[0].order_id"],
    "fills": ["fills", "fills[0].order_id", "fills[0].count_fp", "fills[0].is_taker",
              "fills[0].fee_cost", "fills[0].yes_price_dollars", "fills[0].created_time"],
    "positions": ["market_positions", "market_positions[0].ticker", "market_positions[0].position_fp",
                  "market_positions[0].market_exposure_dollars", "market_positions[0].realized_pnl_dollars",
                  "market_positions[0].fees_paid_dollars"],
    "balance": ["balance"],
    "settlements": ["settlements", "settlements[0].ticker", "settlements[0].market_result",
                    "settlements[0].revenue"],
    "series": ["series", "series.ticker", "series.fee_type", "series.fee_multiplier"],
}


def _delete(body: dict[str, Any], path: str) -> dict[str, Any]:
    keys: list[str | int] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        keys.append(name)
        if index:
            keys.append(int(index.rstrip("]")))
    body = copy.deepcopy(body)
    target: Any = body
    for key in keys[:-1]:
        target = target[key]
    del target[keys[-1]]
    return body


@pytest.mark.parametrize("name", list(CASES))
def test_valid_answer_parses_to_exact_units(name: str) -> None:
    parse, body, expected = CASES[name]
    value = parse(copy.deepcopy(body))
    if expected is not None:
        assert value == expected
    if name == "markets":
        markets, cursor = value
        assert cursor == "abc" and [m.yes_ask for m in markets] == [4700, 4700]


@pytest.mark.parametrize("name,path", [(n, p) for n, paths in REQUIRED.items() for p in paths])
def test_missing_field_is_named_with_its_path(name: str, path: str) -> None:
    parse, body, _ = CASES[name]
    with pytest.raises(BadResponse) as caught:
        parse(_delete(body, path))
    assert caught.value.field == path and path in str(caught.value)
    assert caught.value.endpoint.startswith(("GET ", "POST "))
