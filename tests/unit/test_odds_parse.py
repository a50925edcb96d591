"""The Odds API v4 parser: typed values from good answers, named errors from bad ones."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from daemon.feeds.odds_parse import (
    OddsEvent,
    OddsParseError,
    ParsedOdds,
    h2h_fair,
    parse_event,
    parse_odds,
    parse_odds_payload,
)
from strategies.devig import devig


def _event(eid="e1", home="Boston Celtics", away="Los Angeles Lakers", sport="basketball_nba", draw=False):
    h2h = [{"name": home, "price": 1.62}, {"name": away, "price": 2.4}]
    if draw:
        h2h.append({"name": "Draw", "price": 3.6})
    return {
        "id": eid, "sport_key": sport, "sport_title": "NBA", "commence_time": "2026-01-20T00:10:00Z",
        "home_team": home, "away_team": away,
        "bookmakers": [
            {"key": "fanduel", "title": "FanDuel", "last_update": "2026-01-19T23:58:10Z",
             "markets": [
                 {"key": "h2h", "last_update": "2026-01-19T23:58:10Z", "outcomes": h2h},
                 {"key": "spreads", "last_update": "2026-01-19T23:58:10Z", "outcomes": [
                     {"name": home, "price": 1.91, "point": -4.5}, {"name": away, "price": 1.91, "point": 4.5}]},
                 {"key": "totals", "last_update": "2026-01-19T23:58:10Z", "outcomes": [
                     {"name": "Over", "price": 1.87, "point": 224.5}, {"name": "Under", "price": 1.95, "point": 224.5}]},
             ]},
            {"key": "draftkings", "title": "DraftKings", "last_update": "2026-01-19T23:57:00Z",
             "markets": [{"key": "h2h", "outcomes": [dict(o, price=o["price"] + 0.03) for o in h2h]},
                         {"key": "h2h_lay", "outcomes": [{"name": "anything", "price": 0.5}]}]},
        ],
    }


def test_good_answer_becomes_typed_values():
    parsed = parse_odds(json.dumps([_event("e1"), _event("e2", draw=True, sport="soccer_epl")]).encode())
    assert parsed.errors == ()
    e1, e2 = parsed.events
    assert isinstance(e1, OddsEvent)
    assert (e1.id, e1.sport_key, e1.home_team, e1.away_team) == ("e1", "basketball_nba", "Boston Celtics",
                                                                   "Los Angeles Lakers")
    assert e1.commence_ns == 1_768_867_800_000_000_000
    fanduel = e1.bookmakers[0]
    assert fanduel.last_update_ns == 1_768_867_090_000_000_000
    assert [m.key for m in fanduel.markets] == ["h2h", "spreads", "totals"]
    spreads = fanduel.market("spreads")
    assert spreads.outcome("Boston Celtics").point == -4.5
    assert spreads.outcome("Los Angeles Lakers").point == 4.5
    totals = fanduel.market("totals")
    assert (totals.outcome("Over").price, totals.outcome("Under").point) == (1.87, 224.5)
    assert fanduel.market("h2h").outcome("Boston Celtics").point is None
    assert [m.key for m in e1.bookmakers[1].markets] == ["h2h"]  # h2h_lay skipped, not an error
    assert [o.name for o in e2.bookmakers[0].market("h2h").outcomes] == ["Boston Celtics", "Los Angeles Lakers",
                                                                         "Draw"]


def test_one_bad_event_is_dropped_and_reported_the_rest_kept():
    bad = _event("bad")
    bad["bookmakers"][0]["markets"][0]["outcomes"][1]["price"] = 0.95
    parsed = parse_odds_payload([_event("ok1"), bad, _event("ok2")])
    assert [e.id for e in parsed.events] == ["ok1", "ok2"]
    (error,) = parsed.errors
    assert (error.event_id, error.bookmaker, error.market) == ("bad", "fanduel", "h2h")
    assert error.path == "$[1].bookmakers[0].markets[0].outcomes[1].price"
    assert "0.95" in str(error) and "'bad'" in str(error) and "'fanduel'" in str(error)


@pytest.mark.parametrize(
    ("mutate", "fragment", "path"),
    [
        (lambda e: e.pop("home_team"), "home_team", "$[0]"),
        (lambda e: e.update(commence_time="2026-01-20T00:10:00"), "timezone", "$[0].commence_time"),
        (lambda e: e.update(commence_time=1768867800), "datetime", "$[0].commence_time"),
        (lambda e: e.update(away_team=e["home_team"]), "both", "$[0].away_team"),
        (lambda e: e["bookmakers"][0]["markets"][0]["outcomes"][0].update(price="1.62"), "Expected `float`",
         "$[0].bookmakers[0].markets[0].outcomes[0].price"),
        (lambda e: e["bookmakers"][0]["markets"][0]["outcomes"][0].update(price=True), "Expected `float`",
         "$[0].bookmakers[0].markets[0].outcomes[0].price"),
        (lambda e: e["bookmakers"][0]["markets"][0]["outcomes"][0].update(price=1.0), "> 1",
         "$[0].bookmakers[0].markets[0].outcomes[0].price"),
        (lambda e: e["bookmakers"][0]["markets"][0]["outcomes"][0].update(name="Celtics"), "not the two teams",
         "$[0].bookmakers[0].markets[0].outcomes"),
        (lambda e: e["bookmakers"][0]["markets"][1]["outcomes"][0].update(point=-3.5), "opposite",
         "$[0].bookmakers[0].markets[1].outcomes"),
        (lambda e: e["bookmakers"][0]["markets"][1]["outcomes"][0].pop("point"), "opposite",
         "$[0].bookmakers[0].markets[1].outcomes"),
        (lambda e: e["bookmakers"][0]["markets"][2]["outcomes"][0].update(name="over"), "'Over'",
         "$[0].bookmakers[0].markets[2].outcomes"),
        (lambda e: e["bookmakers"][0]["markets"][2]["outcomes"][1].update(point=225.5), "one non-negative line",
         "$[0].bookmakers[0].markets[2].outcomes"),
        (lambda e: e["bookmakers"][0]["markets"].append(copy.deepcopy(e["bookmakers"][0]["markets"][0])),
         "repeated", "$[0].bookmakers[0].markets[3].key"),
        (lambda e: e["bookmakers"][1].update(key="fanduel"), "repeated", "$[0].bookmakers[1].key"),
        (lambda e: e["bookmakers"][0].pop("last_update"), "last_update", "$[0].bookmakers[0]"),
        (lambda e: e.update(bookmakers={}), "Expected `array`", "$[0].bookmakers"),
    ],
)
def test_malformed_event_names_what_and_where(mutate, fragment, path):
    event = _event("e9")
    mutate(event)
    with pytest.raises(OddsParseError) as caught:
        parse_event(event, 0)
    assert fragment in str(caught.value)
    assert caught.value.path == path
    assert caught.value.event_id == "e9"


def test_repeated_event_id_is_reported_once_and_first_kept():
    parsed = parse_odds_payload([_event("same"), _event("same")])
    assert [e.id for e in parsed.events] == ["same"]
    assert "repeats" in str(parsed.errors[0])


@pytest.mark.parametrize("body", [b"", b"{", b'{"message": "x"}', b"null", b"42"])
def test_an_unusable_answer_raises(body):
    with pytest.raises(OddsParseError, match="odds answer"):
        parse_odds(body)


def test_h2h_fair_is_the_consensus_of_devigged_bookmakers():
    event = parse_event(_event(), 0)
    fair = h2h_fair(event, "multiplicative")
    book1 = devig([1.62, 2.4], "multiplicative")
    book2 = devig([1.65, 2.43], "multiplicative")
    assert fair["Boston Celtics"] == pytest.approx((book1[0] + book2[0]) / 2, abs=1e-12)
    assert math.fsum(fair.values()) == pytest.approx(1.0)
    assert h2h_fair(event, "shin", bookmakers=["nobody"]) is None


# ------------------------------------------------------------------ fuzz

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["2026-01-20T00:10:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                     "2026-02-30T00:00:00Z", "Boston Celtics", "Los Angeles Lakers", "Over", "Under", "Draw", "h2h", "spreads", "totals"]),
)
_json_value = st.recursive(_json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated_payloads(draw):
    payload = [_event("a"), _event("b", draw=True, sport="soccer_epl")]
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(payload) if p]
        if not paths:  # every event was deleted: an empty list is a payload too
            break
        path = draw(st.sampled_from(paths))
        parent = payload
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = draw(_json_value)
    return payload


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
def test_fuzz_mutated_payloads_give_values_or_parse_errors(payload):
    parsed = parse_odds_payload(payload)  # any other exception fails the test
    assert isinstance(parsed, ParsedOdds)
    assert len(parsed.events) + len(parsed.errors) <= len(payload)
    for event in parsed.events:
        for book in event.bookmakers:
            for market in book.markets:
                assert all(math.isfinite(o.price) and o.price > 1 for o in market.outcomes)
    for error in parsed.errors:
        assert isinstance(error, OddsParseError) and error.path.startswith("$[")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_arbitrary_bytes(body):
    try:
        parse_odds(body)
    except OddsParseError:
        pass


valid_price = st.floats(min_value=1.01, max_value=1000, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(valid_price, valid_price, st.floats(min_value=0, max_value=400, allow_nan=False).map(lambda x: round(x * 2) / 2))
def test_valid_prices_and_lines_round_trip(home_price, away_price, line):
    event = _event()
    market = event["bookmakers"][0]["markets"]
    market[0]["outcomes"][0]["price"], market[0]["outcomes"][1]["price"] = home_price, away_price
    market[1]["outcomes"][0]["point"], market[1]["outcomes"][1]["point"] = -line, line
    market[2]["outcomes"][0]["point"] = market[2]["outcomes"][1]["point"] = line
    parsed = parse_odds(json.dumps([event]).encode())
    assert parsed.errors == ()
    book = parsed.events[0].bookmakers[0]
    assert book.market("h2h").outcome("Boston Celtics").price == home_price
    assert book.market("h2h").outcome("Los Angeles Lakers").price == away_price
    assert book.market("spreads").outcome("Los Angeles Lakers").point == line
    assert book.market("totals").outcome("Under").point == line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
def test_the_one_call_decode_agrees_with_event_by_event_conversion(payload):
    """``parse_odds`` decodes a whole answer in one typed call when it can; whatever the
    answer, it keeps and drops exactly the events that converting them one by one does."""
    try:
        body = json.dumps(payload, allow_nan=False).encode()
    except ValueError:
        assume(False)  # NaN and infinities have no JSON form: no answer body can hold them
    fast, slow = parse_odds(body), parse_odds_payload(payload)
    assert fast.events == slow.events
    assert [(e.event_id, e.path) for e in fast.errors] == [(e.event_id, e.path) for e in slow.errors]
