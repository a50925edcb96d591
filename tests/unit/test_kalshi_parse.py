"""Strict parsing of Kalshi answers: exact units, named bad fields, and fuzzing.

Every parse function gets random JSON and mutated valid answers; the only outcomes allowed
are a typed value or BadResponse (never a KeyError, TypeError, UnitError, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.venues import kalshi_parse as kp
from daemon.venues.base import BadResponse, ExchangeStatus, Market, Series
from market.book import OrderBook
from market.orders import Action, Fill, Order, OrderStatus, Side
from market.units import format_count, format_dollars
from tests.integration.test_kalshi_client import fill_payload, market_payload, order_payload

E = "GET /x"
POSITION = {"ticker": "T-A", "position_fp": "-3.00", "market_exposure_dollars": "1.6500",
            "realized_pnl_dollars": "-0.1200", "fees_paid_dollars": "0.0400",
            "total_traded_dollars": "2.0000", "resting_orders_count": 0, "last_updated_ts": "x"}
SETTLEMENT = {"ticker": "T-A", "market_result": "yes", "yes_count_fp": "3.00", "no_count": 0,
              "revenue": 300, "settled_time": "2026-03-01T12:00:00Z", "fee_cost": "0.04"}
BOOK = {"orderbook_fp": {"yes_dollars": [["0.4000", "5.00"], ["0.4500", "12.00"]],
                         "no_dollars": [["0.5300", "3.50"]]}}

VALID: dict[str, tuple[Callable[[Any], Any], Any, type]] = {
    "status": (lambda b: kp.parse_exchange_status(b), {"exchange_active": True, "trading_active": True},
               ExchangeStatus),
    "market": (lambda b: kp.parse_market_response(b, E), {"market": market_payload("EV-A")}, Market),
    "markets": (lambda b: kp.parse_markets_page(b)[0],
                {"markets": [market_payload("EV-A"), market_payload("EV-B")], "cursor": "c2"}, list),
    "book": (lambda b: kp.parse_orderbook(b, E, "EV-A", 1), BOOK, OrderBook),
    "order": (lambda b: kp.parse_order_response(b, E),
              {"order": order_payload("o1", "ew-1", "T-A", "no", "sell", 4400, "2.50")}, Order),
    "orders": (lambda b: kp.parse_orders_page(b)[0],
               {"orders": [order_payload("o1", "ew-1", "T-A", "yes", "buy", 4400, "1.00")], "cursor": ""},
               list),
    "fills": (lambda b: kp.parse_fills_page(b)[0], {"fills": [fill_payload(1, 1_772_366_400)]}, list),
    "positions": (lambda b: kp.parse_positions_page(b)[0],
                  {"market_positions": [POSITION], "event_positions": []}, list),
    "balance": (lambda b: kp.parse_balance(b), {"balance": 1234, "portfolio_value": 1, "updated_ts": 1}, int),
    "settlements": (lambda b: kp.parse_settlements_page(b)[0], {"settlements": [SETTLEMENT]}, list),
    "series": (lambda b: kp.parse_series(b, E),
               {"series": {"ticker": "S", "fee_type": "quadratic", "fee_multiplier": "0.5"}}, Series),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["0.5600", "10.00", "1.0000", "0", "-0.01", "yes", "no",
                                              "resting", "2026-03-01T12:00:00Z", "1e3", "NaN", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


# ------------------------------------------------------------------ exact values


def test_market_units_and_no_levels() -> None:
    m = kp.parse_market_response({"market": market_payload(
        "EV-A", yes_bid_dollars="0.0000", yes_ask_dollars="1.0000", yes_bid_size_fp="0.00",
        last_price_dollars="0.0000", result="no", close_time=None, series_ticker="KX")}, E)
    assert (m.yes_bid, m.yes_ask, m.yes_bid_size, m.last_price, m.result) == (0, 0, 0, 0, Side.NO)
    assert m.close_time_ns is None and m.series_ticker == "KX"
    m = kp.parse_market_response({"market": market_payload("EV-A", yes_bid_dollars="0.001500")}, E)
    assert m.yes_bid == 15  # sub-cent prices (deci_cent markets) are exact


@pytest.mark.parametrize("field,value", [
    ("yes_bid_dollars", "0.56001"), ("yes_bid_dollars", 0.56), ("yes_bid_dollars", "1.0000"),
    ("yes_ask_dollars", "-0.01"), ("yes_bid_size_fp", "1.005"), ("volume_fp", "-1.00"),
    ("ticker", ""), ("ticker", 7), ("status", None), ("close_time", "2026-03-01 12:00"),
    ("close_time", "2026-02-30T00:00:00Z"), ("result", "maybe"),
])
def test_market_bad_field_is_named(field: str, value: Any) -> None:
    with pytest.raises(BadResponse) as caught:
        kp.parse_markets_page({"markets": [{**market_payload("EV-A"), field: value}], "cursor": ""})
    assert caught.value.field == f"markets[0].{field}" and caught.value.endpoint == "GET /markets"


@pytest.mark.parametrize("field", ["ticker", "yes_ask_dollars", "last_price_dollars", "close_time"])
def test_market_missing_required_field(field: str) -> None:
    body = market_payload("EV-A")
    del body[field]
    with pytest.raises(BadResponse, match="missing") as caught:
        kp.parse_market(body, E)
    assert caught.value.field == f"market.{field}"


def test_orderbook_levels() -> None:
    book = kp.parse_orderbook(BOOK, E, "EV-A", 5)
    assert [(lv.price, lv.count) for lv in book.yes_bids] == [(4500, 1200), (4000, 500)]
    assert book.best_ask(Side.YES).price == 4700 and book.ts_ns == 5
    empty = kp.parse_orderbook({"orderbook_fp": {"yes_dollars": None, "no_dollars": []}}, E, "X", 1)
    assert empty.yes_bids == () and empty.no_bids == ()
    for bad, field in [([["0.0000", "1.00"]], "orderbook_fp.yes_dollars[0][0]"),
                       ([["0.5000", "-1.00"]], "orderbook_fp.yes_dollars[0][1]"),
                       ([["0.5000"]], "orderbook_fp.yes_dollars[0]")]:
        with pytest.raises(BadResponse) as caught:
            kp.parse_orderbook({"orderbook_fp": {"yes_dollars": bad, "no_dollars": []}}, E, "X", 1)
        assert caught.value.field == field


def test_order_price_is_its_sides_price() -> None:
    order = kp.parse_order_response(VALID["order"][1], E)
    assert (order.side, order.action, order.price, order.initial_count) == (Side.NO, Action.SELL, 4400, 250)
    assert order.status is OrderStatus.RESTING and order.created_ts_ns == 1_772_366_400_123_456_789
    body = copy.deepcopy(VALID["order"][1])
    body["order"]["status"] = "pending"
    with pytest.raises(BadResponse) as caught:
        kp.parse_order_response(body, E)
    assert caught.value.field == "order.status"


def test_fill_legacy_ids_and_fee() -> None:
    raw = fill_payload(2, 1_772_366_400, "no")
    del raw["fill_id"], raw["ticker"]
    fill = kp.parse_fill(raw, E)
    assert isinstance(fill, Fill)
    assert (fill.fill_id, fill.ticker, fill.price, fill.fee, fill.is_taker) == ("f2", "T-A", 5500, 200, True)


def test_positions_balance_settlements_series() -> None:
    (p,) = kp.parse_positions_page({"market_positions": [POSITION]})[0]
    assert (p.quantity, p.exposure, p.realized_pnl, p.fees_paid) == (-300, 16500, -1200, 400)
    assert kp.parse_balance({"balance": 1234}) == 123_400
    with pytest.raises(BadResponse):
        kp.parse_balance({"balance": True})
    (s,) = kp.parse_settlements_page({"settlements": [SETTLEMENT]})[0]
    assert (s.result, s.yes_count, s.no_count, s.revenue, s.ts_ns) == (Side.YES, 300, 0, 30_000,
                                                                      1_772_366_400 * 10**9)
    voided = kp.parse_settlement({**SETTLEMENT, "market_result": "void", "settled_time": None}, E)
    assert voided.result is None and voided.ts_ns is None
    series = kp.parse_series({"series": {"ticker": "S", "fee_type": "flat", "fee_multiplier": 1}}, E)
    assert series.fee_multiplier == "1"


def test_cursor_rules() -> None:
    assert kp.parse_orders_page({"orders": [], "cursor": ""})[1] is None
    assert kp.parse_orders_page({"orders": []})[1] is None
    assert kp.parse_orders_page({"orders": [], "cursor": "abc"})[1] == "abc"
    with pytest.raises(BadResponse):
        kp.parse_orders_page({"orders": [], "cursor": 5})


def test_errors_and_json() -> None:
    assert kp.parse_error(b'{"code":"x","message":"m","details":null}') == ("x", "m")
    assert kp.parse_error(b'{"error":{"code":"y","message":"n"}}') == ("y", "n")
    assert kp.parse_error(b"<html>") is None and kp.parse_error(b'{"message":"m"}') is None
    with pytest.raises(BadResponse) as caught:
        kp.decode_json(b"{", E)
    assert caught.value.field == "<body>"


@pytest.mark.parametrize("text,ns", [
    ("2026-03-01T12:00:00Z", 1_772_366_400 * 10**9),
    ("2026-03-01T12:00:00.5Z", 1_772_366_400 * 10**9 + 500_000_000),
    ("2026-03-01T14:00:00+02:00", 1_772_366_400 * 10**9),
    ("2026-03-01T12:00:00.000000001Z", 1_772_366_400 * 10**9 + 1),
    ("2026-03-01T12:00:00", None), ("2026-13-01T12:00:00Z", None), ("2026-03-01T24:00:00Z", None),
    ("1969-12-31T23:59:59Z", None), ("2026-03-01T12:00:00.1234567890Z", None), ("", None),
])
def test_iso_to_ns(text: str, ns: int | None) -> None:
    assert kp.iso_to_ns(text) == ns


# ------------------------------------------------------------------ properties and fuzzing


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)))
def test_iso_round_trip(when: datetime) -> None:
    aware = when.replace(tzinfo=UTC)
    expected = int(aware.timestamp()) * 10**9 + aware.microsecond * 1000
    assert kp.iso_to_ns(aware.isoformat().replace("+00:00", "Z")) == expected


@settings(max_examples=200, deadline=None)
@given(bid=st.integers(1, 9999), ask=st.integers(1, 9999), size=st.integers(0, 10**9))
def test_market_units_round_trip(bid: int, ask: int, size: int) -> None:
    m = kp.parse_market(market_payload("EV-A", yes_bid_dollars=format_dollars(bid),
                                       yes_ask_dollars=format_dollars(ask),
                                       yes_bid_size_fp=format_count(size)), E)
    assert (m.yes_bid, m.yes_ask, m.yes_bid_size) == (bid, ask, size)


def _outcome(name: str, body: Any) -> None:
    parse, _, kind = VALID[name]
    try:
        value = parse(body)
    except BadResponse:
        return
    assert isinstance(value, kind)


@pytest.mark.parametrize("name", sorted(VALID))
@settings(max_examples=150, deadline=None)
@given(body=json_values)
def test_fuzz_random_json(name: str, body: Any) -> None:
    _outcome(name, body)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@pytest.mark.parametrize("name", sorted(VALID))
@settings(max_examples=200, deadline=None)
@given(data=st.data(), replacement=json_values, delete=st.booleans())
def test_fuzz_mutated_valid_answers(name: str, data: st.DataObject, replacement: Any, delete: bool) -> None:
    body = copy.deepcopy(VALID[name][1])
    _outcome(name, body)  # the unmutated answer parses
    path = data.draw(st.sampled_from(_paths(body)))
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    _outcome(name, body)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64) | json_values.map(msgspec.json.encode))
def test_fuzz_decode_and_error_bodies(raw: bytes) -> None:
    result = kp.parse_error(raw)
    assert result is None or (isinstance(result[0], str) and isinstance(result[1], str))
    try:
        kp.decode_json(raw, E)
    except BadResponse as exc:
        assert exc.field == "<body>"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,10})?(Z|[+-]\d\d:\d\d)?",
                                             fullmatch=True))
def test_fuzz_iso(text: str) -> None:
    assert kp.iso_to_ns(text) is None or isinstance(kp.iso_to_ns(text), int)
