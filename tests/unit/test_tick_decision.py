"""The fused tick decision against the separate steps it replaces, bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.market_board import MarketBoard
from daemon.tick_decision import ORDER_COLUMNS, TickDecider
from risk.gate import RiskGate
from risk.reasons import Reason
from strategies.base import Proposals
from strategies.flb import KALSHI_FLB_TABLE, CalibrationCurve, FavouriteLongshot
from strategies.odds_edge import OddsEdge
from tests.unit.test_risk_gate import limits

NOW = 10**18
CURVE = CalibrationCurve.from_points(KALSHI_FLB_TABLE)

quote = st.tuples(
    st.integers(0, 10_000),  # yes bid
    st.integers(0, 10_000),  # yes ask
    st.integers(0, 50_000),  # bid size
    st.integers(0, 50_000),  # ask size
    st.sampled_from([True, True, True, False]),  # open
    st.one_of(st.just(float("nan")), st.floats(0.01, 0.99)),  # external fair YES
    st.integers(-1, 2),  # group
    st.integers(-20_000, 20_000),  # position
    st.sampled_from([NOW, NOW - 31 * 10**9]),  # book time
)


def build(quotes) -> tuple[MarketBoard, RiskGate]:
    board = MarketBoard(capacity=4)
    gate = RiskGate(limits(min_edge=0.005), capacity=4, groups=3)
    for i, (bid, ask, bid_size, ask_size, is_open, fair, group, position, ts) in enumerate(quotes):
        slot = gate.register_market(f"M{i}", group)
        board.add(f"M{i}", slot)
        board.update(slot, bid, ask, bid_size, ask_size, ts, is_open)
        board.fair_yes[slot] = fair
        gate.update_book(slot, ts, board.spread(slot))
        gate.set_position(slot, position, abs(position) * 50)
    return board, gate


def separate(strategies, board: MarketBoard, gate: RiskGate, room: int):
    """The steps as the engine took them before: view, each strategy, concat, the gate."""
    view = board.view()
    parts = [(s.name, p) for s in strategies if s.enabled and len(p := s.propose(view))]
    p = Proposals.concat([part for _, part in parts])
    names = [name for name, part in parts for _ in range(len(part))]
    verdicts = gate.decide_batch(p.slot, p.side, p.price, p.fair, p.size_cap, NOW, max_orders=room)
    return p, names, verdicts


@settings(max_examples=300, deadline=None)
@given(st.lists(quote, max_size=12), st.booleans(), st.booleans(), st.integers(0, 6))
def test_the_fused_decision_equals_the_separate_steps(quotes, flb_on, odds_on, room) -> None:
    strategies = [FavouriteLongshot(8_000, 2_000, 0.005, 70_000, CURVE, enabled=flb_on),
                  OddsEdge(0.005, 70_000, enabled=odds_on)]
    board, gate = build(quotes)
    twin = copy.deepcopy(gate)
    p, names, verdicts = separate(strategies, board, twin, room)
    decider = TickDecider(strategies)
    got = decider.decide(board, gate, NOW, room)

    for column in ("slot", "side", "price", "size_cap"):
        assert got.column(column) == getattr(p, column).tolist(), column
    assert got.fair.tolist() == p.fair.tolist()
    assert [decider.names[c] for c in got.column("strategy")] == names
    for column in ("count", "reason", "reserved", "reduced"):
        assert got.column(column) == getattr(verdicts, column).tolist(), column
    for state in ("reserved", "reducing", "group_exposure", "total"):
        assert getattr(gate, state).tolist() == getattr(twin, state).tolist(), state
    approved = np.flatnonzero(verdicts.count).tolist()
    assert [row[ORDER_COLUMNS.index("row")] for row in got.orders] == approved
    for row, fair in zip(got.orders, got.order_fair, strict=True):
        i = row[0]
        assert row[1:] == [int(p.slot[i]), int(p.side[i]), int(p.price[i]), int(verdicts.count[i]),
                           int(verdicts.reserved[i]), int(verdicts.reduced[i]), decider.names.index(names[i])]
        assert fair == float(p.fair[i])


def test_the_in_flight_room_throttles_the_worse_edges() -> None:
    quotes = [(9_100, 9_200, 0, 10_000, True, float("nan"), -1, 0, NOW),
              (9_500, 9_600, 0, 10_000, True, float("nan"), -1, 0, NOW)]
    board, gate = build(quotes)
    got = TickDecider([FavouriteLongshot(9_000, 1_000, 0.0, 70_000, CURVE)]).decide(board, gate, NOW, 1)
    assert got.column("count")[0] > 0
    assert got.column("reason")[1] == Reason.THROTTLED
    assert len(got.orders) == 1


def test_a_strategy_it_cannot_screen_is_refused_when_built() -> None:
    class Custom:
        name, enabled = "custom", True

    with pytest.raises(ValueError, match="Custom"):
        TickDecider([Custom()])
    flb = FavouriteLongshot(9_000, 1_000, 0.0, 70_000, CURVE)
    with pytest.raises(ValueError, match="at most"):
        TickDecider([flb, flb])


def test_a_board_larger_than_the_result_arrays_grows_them() -> None:
    """The kernel writes into the decider's arrays (4 entries a market, first made for 256
    markets); a board of 700 gets larger ones, not a write past their end."""
    rng = np.random.default_rng(7)
    quotes = [(int(b), int(b) + 100, 5_000, 5_000, True, float(f), -1, 0, NOW)
              for b, f in zip(rng.integers(100, 9_800, 700), rng.uniform(0.02, 0.98, 700), strict=True)]
    strategies = [FavouriteLongshot(8_000, 2_000, 0.005, 70_000, CURVE), OddsEdge(0.005, 70_000)]
    board, gate = build(quotes)
    twin = copy.deepcopy(gate)
    decider = TickDecider(strategies)
    assert len(decider.decide(MarketBoard(capacity=1), gate, NOW, 0)) == 0
    p, _, verdicts = separate(strategies, board, twin, 10**6)
    got = decider.decide(board, gate, NOW, 10**6)
    assert len(got) == len(p) > 0
    assert got.column("slot") == p.slot.tolist()
    assert got.column("count") == verdicts.count.tolist()
    assert len(got.orders) == int(np.count_nonzero(verdicts.count))
