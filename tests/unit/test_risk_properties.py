"""Gate properties with buys and sells: the kernel equals the reference, and the orders it
approves, filled through ``market.orders.Position``, never break a cap or REDUCING."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from market.orders import Action, Fill, Position, Side
from risk.gate import RiskGate
from risk.reasons import Reason
from tests.risk_reference import decide
from tests.unit.test_risk_gate import N_SLOTS, NOW, build, limit_sets, limits, market, ref_limits

BUY, SELL = 0, 1
proposal = st.tuples(
    st.integers(-1, N_SLOTS), st.sampled_from([0, 1, 0, 1, 2]), st.integers(0, 10_000),
    st.floats(0.0, 1.0, allow_nan=False), st.integers(0, 10**6), st.sampled_from([BUY, SELL, BUY, 3]),
)


@st.composite
def good_proposal(draw) -> tuple:
    """Valid, with a clear edge, crowding a few slots: the cases where caps and REDUCING bind."""
    slot, side, action = draw(st.integers(0, 2)), draw(st.integers(0, 1)), draw(st.integers(0, 1))
    price, edge = draw(st.integers(500, 9_500)), draw(st.floats(0.02, 0.4))
    fair = price / 10_000 + (edge if action == BUY else -edge)
    return slot, side, price, min(max(fair, 0.001), 0.999), draw(st.integers(0, 10**6)), action


# Markets that hold something, so sells and reducing buys are common.
holding = st.tuples(
    st.integers(-(10**5), 10**5).filter(lambda q: abs(q) >= 100), st.integers(0, 10**7),
    st.integers(0, 10**6), st.integers(-1, 2), st.just(NOW), st.integers(-1, 300), st.just(0),
)


def run(gate: RiskGate, proposals: list[tuple]) -> tuple[list[int], list[Reason], np.ndarray, np.ndarray]:
    cols = list(zip(*proposals, strict=True)) if proposals else [[]] * 6
    slots, sides, prices, fairs, caps, actions = (np.array(c) for c in cols)
    v = gate.decide_batch(slots.astype(np.int64), sides.astype(np.int64), prices.astype(np.int64),
                          fairs.astype(np.float64), caps.astype(np.int64), NOW, actions.astype(np.int64))
    return v.count.tolist(), v.reasons(), v.reserved, v.reduced


@settings(max_examples=250, deadline=None)
@given(limit_sets, st.lists(st.one_of(market, holding), min_size=N_SLOTS, max_size=N_SLOTS),
       st.lists(st.one_of(proposal, good_proposal()), max_size=25),
       st.sampled_from(["ACTIVE", "ACTIVE", "REDUCING", "HALTED"]))
def test_kernel_agrees_with_reference_on_buys_and_sells(lim, markets, proposals, state) -> None:
    gate, ref = build(lim, markets, state)
    counts, reasons, reserved, reduced = run(gate, proposals)
    expected = [decide(ref, ref_limits(lim), slot, side, price, fair, cap, NOW, action)
                for slot, side, price, fair, cap, action in proposals]
    assert counts == [c for c, _ in expected]
    assert reasons == [r for _, r in expected]
    assert gate.reserved[:N_SLOTS].tolist() == ref.reserved and int(gate.total[0]) == ref.total
    assert gate.reducing[:N_SLOTS].tolist() == (ref.reducing or [0] * N_SLOTS)
    for (slot, _side, _p, _f, _c, action), count, reason, res, red in zip(
            proposals, counts, reasons, reserved.tolist(), reduced.tolist(), strict=True):
        assert (count > 0) == reason.approved
        if action == SELL and count:
            assert res == 0 and red == count  # a sell only closes
        if action not in (BUY, SELL) or not 0 <= slot < N_SLOTS:
            assert reason in (Reason.BAD_PROPOSAL, Reason.HALTED)


def fill_of(gate: RiskGate, slot: int, side: int, action: int, price: int, count: int, i: int) -> Fill:
    return Fill(f"f{i}", f"o{i}", gate.tickers[slot], Side.YES if side == 0 else Side.NO,
                Action.BUY if action == BUY else Action.SELL, count, price, True, 0, NOW)


@settings(max_examples=250, deadline=None)
@given(limit_sets, st.lists(st.one_of(market, holding), min_size=N_SLOTS, max_size=N_SLOTS),
       st.lists(st.one_of(proposal, good_proposal()), max_size=25), st.sampled_from(["ACTIVE", "REDUCING"]))
def test_filled_approvals_keep_caps_and_reducing(lim, markets, proposals, state) -> None:
    """Fill every approved order in full: no cap is passed (a level already over stays where it
    was) and in REDUCING no market's |position| or exposure grows — a whole batch together."""
    gate, _ = build(lim, markets, state)
    counts, _reasons, _res, _red = run(gate, proposals)
    positions = {s: Position(gate.tickers[s], int(gate.position[s]), int(gate.cost[s])) for s in range(N_SLOTS)}
    start = dict(positions)
    for i, ((slot, side, price, _fair, _cap, action), count) in enumerate(zip(proposals, counts, strict=True)):
        if count:
            positions[slot] = positions[slot].apply(fill_of(gate, slot, side, action, price, count, i))
    start_total = sum(m[1] + m[2] for m in markets)
    grown_total = sum(max(0, positions[s].cost - start[s].cost) for s in range(N_SLOTS))
    assert start_total + grown_total <= max(lim.total_cap, start_total)
    for s in range(N_SLOTS):
        grown = max(0, positions[s].cost - start[s].cost)
        begin = markets[s][1] + markets[s][2]
        assert begin + grown <= max(lim.position_cap, begin)
        if state == "REDUCING":
            assert abs(positions[s].quantity) <= abs(start[s].quantity)
            assert positions[s].cost <= start[s].cost
    for g in range(3):
        members = [s for s in range(N_SLOTS) if markets[s][3] == g]
        begin = sum(markets[s][1] + markets[s][2] for s in members)
        grown = sum(max(0, positions[s].cost - start[s].cost) for s in members)
        assert begin + grown <= max(lim.group_cap, begin)


def test_two_reducing_orders_cannot_close_the_same_contracts() -> None:
    gate, _ = build(limits(), [(500, 2_000_000, 0, -1, NOW, -1, 0)] * N_SLOTS, "REDUCING")
    first = gate.decide_one(0, 1, 800, 0.5, 10**6, NOW)  # buy NO against 5 YES held
    second = gate.decide_one(0, 1, 800, 0.5, 10**6, NOW)
    sell = gate.decide_one(0, 0, 9_200, 0.5, 10**6, NOW, action=SELL)
    assert first == (500, Reason.SHRUNK_REDUCING)
    assert second == (0, Reason.REDUCING_ONLY)
    assert sell == (0, Reason.NOTHING_TO_SELL)
    gate.set_position(0, 200, 800_000)  # 3 of the 5 filled: 2 held, 2 still promised
    assert gate.decide_one(0, 1, 800, 0.5, 10**6, NOW)[1] == Reason.REDUCING_ONLY
    gate.release(0, 0, reduced=200)  # the rest was cancelled
    assert gate.decide_one(0, 1, 800, 0.5, 10**6, NOW) == (200, Reason.SHRUNK_REDUCING)


def test_a_sell_is_sized_as_the_other_side_and_capped_at_what_is_held() -> None:
    lim = limits(fee_rate_ppm=0, max_order_count=10**9)
    gate, _ = build(lim, [(700, 4_000, 0, -1, NOW, -1, 0)] * N_SLOTS, "ACTIVE")
    # Selling YES at 60¢ with fair YES 50% is buying NO at 40¢ with fair NO 50%.
    assert gate.decide_one(0, 0, 6_000, 0.50, 10**6, NOW, action=SELL) == (700, Reason.SHRUNK_HELD)
    assert gate.decide_one(1, 0, 6_000, 0.595, 10**6, NOW, action=SELL) == (0, Reason.EDGE_BELOW_MIN)
    assert gate.decide_one(2, 1, 6_000, 0.10, 10**6, NOW, action=SELL) == (0, Reason.NOTHING_TO_SELL)
    # Small capital: Kelly for the NO purchase, f* = (0.5 − 0.4)/(1 − 0.4), sizes below the holding.
    small = limits(fee_rate_ppm=0, capital=100_000)
    gate, _ = build(small, [(10**5, 4_000, 0, -1, NOW, -1, 0)] * N_SLOTS, "ACTIVE")
    count, reason = gate.decide_one(0, 0, 6_000, 0.50, 10**6, NOW, action=SELL)
    assert (count, reason) == (int(0.25 * (0.1 / 0.6) * 100_000 / 4_000) * 100, Reason.APPROVED)
    assert gate.reserved[0] == 0 and gate.total[0] == gate.cost[:N_SLOTS].sum()


def test_buying_the_other_side_reduces_then_opens_within_the_caps() -> None:
    lim = limits(fee_rate_ppm=0, position_cap=10_000_000, max_order_count=10**9)
    gate, _ = build(lim, [(-300, 900_000, 0, -1, NOW, -1, 0)] * N_SLOTS, "ACTIVE")  # 3 NO held
    v = gate.decide_batch(np.zeros(1, np.int64), np.zeros(1, np.int64), np.full(1, 5_000),
                          np.full(1, 0.60), np.full(1, 10**6), NOW)
    count = int(v.count[0])
    assert count > 300 and int(v.reduced[0]) == 300
    assert int(v.reserved[0]) == (count - 300) * 5_000 // 100  # only the opening part is exposure
