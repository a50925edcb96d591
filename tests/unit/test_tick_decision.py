"""The fused tick decision against the separate steps it replaces, bit for bit."""

from __future__ import annotations

import copy

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.tick_decision import ORDER_COLUMNS, TickDecider
from risk.gate import RiskGate
from risk.reasons import Reason
from strategies.base import MarketView, Proposals, StrategyDefaults
from strategies.flb import KALSHI_FLB_TABLE, CalibrationCurve, FavouriteLongshot
from strategies.market_board import MarketBoard
from strategies.odds_edge import OddsEdge
from strategies.registry import build_strategies
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


PREMIUM = "strategies.examples.favourite_premium:FavouritePremium"


def premium(min_price: float = 0.7, premium: float = 0.05):
    table = ("premium", PREMIUM, True, {"min_price": min_price, "premium": premium})
    return build_strategies([table], StrategyDefaults(0.005, 70_000))[0]


def compare_fallback(builtins, extra, quotes, room):
    """The decider with ``extra`` strategies against the one without them and, for the
    extras' rows, against their own propose + decide_batch after the built-ins' decision."""
    board, gate = build(quotes)
    alone_gate, twin = copy.deepcopy(gate), copy.deepcopy(gate)
    alone = TickDecider(builtins).decide(board, alone_gate, NOW, room)
    decider = TickDecider([*builtins, *extra])
    got = decider.decide(board, gate, NOW, room)
    k = len(alone)
    # The built-ins' rows and orders, bit for bit as without the fallback strategies.
    assert got.table[:k].tobytes() == alone.table.tobytes()
    assert got.fair[:k].tobytes() == alone.fair.tobytes()
    assert got.orders[:len(alone.orders)] == alone.orders
    assert got.order_fair[:len(alone.orders)] == alone.order_fair
    # The fallback rows: the separate steps on the state the built-ins left.
    TickDecider(builtins).decide(board, twin, NOW, room)
    p, names, verdicts = separate(extra, board, twin, max(0, room) - len(alone.orders))
    assert [decider.names[c] for c in got.column("strategy")[k:]] == names
    for column in ("slot", "side", "price", "size_cap"):
        assert got.column(column)[k:] == getattr(p, column).tolist(), column
    for column in ("count", "reason", "reserved", "reduced"):
        assert got.column(column)[k:] == getattr(verdicts, column).tolist(), column
    assert got.fair[k:].tolist() == p.fair.tolist()
    for state in ("reserved", "reducing", "group_exposure", "total"):
        assert getattr(gate, state).tolist() == getattr(twin, state).tolist(), state
    extra_orders = got.orders[len(alone.orders):]
    assert [row[0] - k for row in extra_orders] == np.flatnonzero(verdicts.count).tolist()
    assert all(decider.names[row[-1]] in {s.name for s in extra} for row in extra_orders)
    return got, decider


@settings(max_examples=200, deadline=None)
@given(st.lists(quote, max_size=12), st.booleans(), st.integers(0, 6))
def test_a_plugin_falls_back_and_leaves_the_built_ins_bit_for_bit(quotes, flb_on, room) -> None:
    builtins = [FavouriteLongshot(8_000, 2_000, 0.005, 70_000, CURVE, enabled=flb_on), OddsEdge(0.005, 70_000)]
    compare_fallback(builtins, [premium()], quotes, room)


def test_the_plugins_approvals_carry_its_name() -> None:
    quotes = [(9_100, 9_200, 0, 10_000, True, float("nan"), -1, 0, NOW),   # flb's and the plugin's
              (7_400, 7_500, 0, 10_000, True, float("nan"), -1, 0, NOW),   # the plugin's only
              (4_000, 4_100, 0, 10_000, True, float("nan"), -1, 0, NOW)]   # nobody's
    builtins = [FavouriteLongshot(9_000, 1_000, 0.0, 70_000, CURVE), OddsEdge(0.005, 70_000)]
    got, decider = compare_fallback(builtins, [premium()], quotes, 10)
    by = [(decider.names[row[-1]], row[1]) for row in got.orders]
    assert by == [("flb", 0), ("premium", 0), ("premium", 1)]
    assert decider.names == ["flb", "odds_edge", "premium"]


def test_a_second_instance_of_a_built_in_kind_falls_back() -> None:
    quotes = [(9_100, 9_200, 0, 10_000, True, float("nan"), -1, 0, NOW),
              (9_600, 9_700, 0, 10_000, True, float("nan"), -1, 0, NOW),
              (500, 600, 10_000, 0, True, float("nan"), -1, 0, NOW)]
    first = FavouriteLongshot(9_000, 1_000, 0.0, 70_000, CURVE)
    second = FavouriteLongshot(9_500, 800, 0.0, 70_000, CURVE, name="flb_tight")
    got, decider = compare_fallback([first], [second], quotes, 10)
    assert decider.flb is first and decider.fallback == [second]
    assert "flb_tight" in [decider.names[c] for c in got.column("strategy")]


def test_no_fallback_means_the_fused_call_alone() -> None:
    decider = TickDecider([FavouriteLongshot(9_000, 1_000, 0.0, 70_000, CURVE), OddsEdge(0.005, 70_000)])
    assert "decide" not in vars(decider) and decider.fallback == []
    disabled = premium()
    disabled.enabled = False
    assert TickDecider([disabled]).fallback == [] and not TickDecider([disabled]).enabled


class Sprayer:
    """A careless plugin: nine rows a market, and one naming no market."""

    name, enabled = "sprayer", True

    def propose(self, view: MarketView) -> Proposals:
        slots = np.concatenate([np.repeat(np.arange(view.n), 9), [view.n + 3]]).astype(np.int64)
        n = len(slots)
        return Proposals(slots, np.zeros(n, np.int8), np.full(n, 9_200, np.int64), np.full(n, 0.99),
                         np.full(n, 100, np.int64))


def test_fallback_rows_beyond_the_result_arrays_grow_them_and_bad_slots_are_dropped() -> None:
    """300 markets: arrays for 2,400 rows; flb's 300 and the plugin's 2,700 need more."""
    board, gate = build([(9_100, 9_200, 0, 5_000, True, float("nan"), -1, 0, NOW)] * 300)
    flb = FavouriteLongshot(9_000, 1_000, 0.0, 70_000, CURVE)
    alone = TickDecider([flb]).decide(board, copy.deepcopy(gate), NOW, 10**6)
    decider = TickDecider([flb, Sprayer()])
    got = decider.decide(board, gate, NOW, 10**6)
    assert len(alone) == 300 and len(got) == 3_000
    assert got.table[:300].tobytes() == alone.table.tobytes()
    assert got.column("slot")[300:] == np.repeat(np.arange(300), 9).tolist()
    assert [decider.names[c] for c in got.column("strategy")] == ["flb"] * 300 + ["sprayer"] * 2_700
    assert len(got.orders) == int(np.count_nonzero(got.column("count"))) > 0
