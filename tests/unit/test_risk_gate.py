"""The gate's kernels against the pure-Python reference, and its invariants as properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.gate import RiskGate
from risk.limits import RiskLimits
from risk.reasons import Reason, reason_table_markdown
from tests.risk_reference import RefLimits, RefState, decide

NOW = 10**18
N_SLOTS = 6
N_GROUPS = 3


def limits(**over) -> RiskLimits:
    base = dict(
        capital=100_000_000, kelly_fraction=0.25, min_edge=0.01, position_cap=5_000_000,
        group_cap=15_000_000, total_cap=20_000_000, daily_loss=5_000_000, loss_streak=5,
        loss_streak_pause_ns=4 * 3600 * 10**9, max_slippage_bps=50.0, slippage_window=20,
        error_burst_per_hour=10, stale_book_ns=30 * 10**9, no_fills_scans=20,
        max_spread_bps=200.0, max_order_count=100_000, fee_rate_ppm=70_000,
    )
    base.update(over)
    return RiskLimits(**base)


def ref_limits(lim: RiskLimits) -> RefLimits:
    return RefLimits(lim.capital, lim.kelly_fraction, lim.min_edge, lim.position_cap,
                     lim.group_cap, lim.total_cap, lim.max_order_count, lim.fee_rate_ppm,
                     lim.stale_book_ns, lim.max_spread_bps)


limit_sets = st.builds(
    limits,
    capital=st.integers(10**6, 10**10),
    kelly_fraction=st.sampled_from([0.1, 0.25, 0.5, 1.0]),
    min_edge=st.sampled_from([0.0, 0.005, 0.01, 0.03]),
    position_cap=st.integers(0, 10**8),
    group_cap=st.integers(0, 2 * 10**8),
    total_cap=st.integers(0, 3 * 10**8),
    max_order_count=st.integers(0, 10**6),
    fee_rate_ppm=st.sampled_from([0, 35_000, 70_000]),
    max_spread_bps=st.sampled_from([50.0, 200.0, 300.0]),
)

market = st.tuples(
    st.integers(-(10**5), 10**5),  # position (count units)
    st.integers(0, 10**7),  # cost
    st.integers(0, 10**6),  # reserved
    st.integers(-1, N_GROUPS - 1),  # group
    st.sampled_from([NOW, NOW - 29 * 10**9, NOW - 31 * 10**9]),  # book time
    st.integers(-1, 500),  # spread
    st.sampled_from([0, 0, 0, 1]),  # blocked
)
proposal = st.tuples(
    st.integers(-1, N_SLOTS), st.sampled_from([0, 1, 0, 1, 2]), st.integers(0, 10_000),
    st.floats(0.0, 1.0, allow_nan=False), st.integers(0, 10**6),
)


def build(lim: RiskLimits, markets, state: str) -> tuple[RiskGate, RefState]:
    gate = RiskGate(lim, capacity=N_SLOTS, groups=N_GROUPS)
    for i, (pos, cost, reserved, group, ts, spread, blocked) in enumerate(markets):
        slot = gate.register_market(f"M{i}", group)
        gate.position[slot], gate.cost[slot], gate.reserved[slot] = pos, cost, reserved
        gate.update_book(slot, ts, None if spread < 0 else spread)
        gate.blocked[slot] = blocked
    gate._recompute_exposure()
    gate.set_trading_state(state)
    ref = RefState(
        position=[m[0] for m in markets], cost=[m[1] for m in markets],
        reserved=[m[2] for m in markets], group=[m[3] for m in markets],
        book_ts=[m[4] for m in markets], spread=[m[5] for m in markets],
        blocked=[m[6] for m in markets], group_exposure=[int(x) for x in gate.group_exposure],
        total=int(gate.total[0]), state=state,
    )
    return gate, ref


@settings(max_examples=300, deadline=None)
@given(limit_sets, st.lists(market, min_size=N_SLOTS, max_size=N_SLOTS),
       st.lists(proposal, max_size=25), st.sampled_from(["ACTIVE", "ACTIVE", "REDUCING", "HALTED"]))
def test_kernel_agrees_with_reference_and_keeps_invariants(lim, markets, proposals, state) -> None:
    gate, ref = build(lim, markets, state)
    before = [abs(m[0]) for m in markets]
    cols = list(zip(*proposals, strict=True)) if proposals else [[]] * 5
    slots, sides, prices, fairs, caps = (np.array(c) for c in cols)
    verdicts = gate.decide_batch(slots.astype(np.int64), sides.astype(np.int64),
                                 prices.astype(np.int64), fairs.astype(np.float64),
                                 caps.astype(np.int64), NOW)
    expected = [decide(ref, ref_limits(lim), *p, NOW) for p in proposals]
    assert verdicts.count.tolist() == [c for c, _ in expected]
    assert verdicts.reasons() == [r for _, r in expected]
    assert gate.reserved[:N_SLOTS].tolist() == ref.reserved and int(gate.total[0]) == ref.total

    for (slot, side, _price, _fair, _cap), count, reason in zip(proposals, verdicts.count, verdicts.reasons(), strict=True):
        assert (count > 0) == reason.approved
        if count:
            assert count % 100 == 0
            if state == "REDUCING":  # only the reducing part may pass
                assert count <= before[slot]
                assert (markets[slot][0] > 0) == (side == 1)
    if state == "HALTED":
        assert not verdicts.count.any()
    # No approval pushed any exposure over its cap (a level already over stays where it was).
    start_total = sum(m[1] + m[2] for m in markets)
    assert gate.total[0] <= max(lim.total_cap, start_total)
    for slot in range(N_SLOTS):
        start = markets[slot][1] + markets[slot][2]
        assert gate.cost[slot] + gate.reserved[slot] <= max(lim.position_cap, start)


def test_single_call_equals_batch_call() -> None:
    lim = limits()
    gate_a, _ = build(lim, [(0, 0, 0, 0, NOW, 100, 0)] * N_SLOTS, "ACTIVE")
    gate_b, _ = build(lim, [(0, 0, 0, 0, NOW, 100, 0)] * N_SLOTS, "ACTIVE")
    one = [gate_a.decide_one(0, 0, 9_200, 0.95, 10**6, NOW) for _ in range(3)]
    batch = gate_b.decide_batch(np.zeros(3, np.int64), np.zeros(3, np.int64),
                                np.full(3, 9_200), np.full(3, 0.95), np.full(3, 10**6), NOW)
    assert [c for c, _ in one] == batch.count.tolist()
    assert [r for _, r in one] == batch.reason.tolist()


def test_kelly_size_matches_the_formula() -> None:
    lim = limits(fee_rate_ppm=0, position_cap=10**12, group_cap=10**12, total_cap=10**12,
                 max_order_count=10**9)
    gate, _ = build(lim, [(0, 0, 0, -1, NOW, -1, 0)] * N_SLOTS, "ACTIVE")
    count, reason = gate.decide_one(0, 0, 6_000, 0.70, 10**9, NOW)
    f_star = (0.70 - 0.60) / (1 - 0.60)  # buy YES at 60¢ with fair 70%: f* = 0.25
    assert reason == Reason.APPROVED
    assert count == int(0.25 * f_star * lim.capital / 6_000) * 100
    # NO side: price and fair are of NO; at NO 30¢ with fair NO 40%, f* = (0.4 − 0.3)/(1 − 0.3).
    count, _ = gate.decide_one(1, 1, 3_000, 0.40, 10**9, NOW)
    assert count == int(0.25 * (0.10 / 0.70) * lim.capital / 3_000) * 100


def test_a_fee_that_eats_the_edge_gives_zero() -> None:
    free = limits(fee_rate_ppm=0, min_edge=0.01)
    taxed = limits(fee_rate_ppm=70_000, min_edge=0.01)
    for lim, expected in ((free, Reason.APPROVED), (taxed, Reason.EDGE_BELOW_MIN)):
        gate, _ = build(lim, [(0, 0, 0, -1, NOW, -1, 0)] * N_SLOTS, "ACTIVE")
        count, reason = gate.decide_one(0, 0, 5_000, 0.515, 10**6, NOW)  # 1.5pp edge, fee 1.75pp
        assert Reason(reason) == expected
        assert (count > 0) == (expected == Reason.APPROVED)


def test_rounded_up_fee_on_a_tiny_order_can_refuse_it() -> None:
    # One contract at 50¢ pays a full 2¢ fee (1.75¢ rounded up): an edge of 2.5pp − 2pp < 1pp.
    lim = limits(min_edge=0.01, capital=20_000)
    gate, _ = build(lim, [(0, 0, 0, -1, NOW, -1, 0)] * N_SLOTS, "ACTIVE")
    count, reason = gate.decide_one(0, 0, 5_000, 0.5275, 10**6, NOW)
    assert (count, Reason(reason)) == (0, Reason.EDGE_BELOW_MIN)


@pytest.mark.parametrize(
    ("market", "state", "expected"),
    [
        ((0, 0, 0, -1, NOW, -1, 1), "ACTIVE", Reason.MARKET_LOCKED),
        ((0, 0, 0, -1, NOW - 31 * 10**9, -1, 0), "ACTIVE", Reason.STALE_BOOK),
        # exactly at the staleness limit the book is still fresh: sized, then held to the position cap
        ((0, 0, 0, -1, NOW - 30 * 10**9, -1, 0), "ACTIVE", Reason.SHRUNK_POSITION_CAP),
        ((0, 0, 0, -1, NOW, 201, 0), "ACTIVE", Reason.SPREAD_TOO_WIDE),  # 2.01¢ > 200 bps of $1
        ((0, 0, 0, -1, NOW, 200, 0), "ACTIVE", Reason.SHRUNK_POSITION_CAP),  # 2¢ is allowed
        ((0, 0, 0, -1, NOW, -1, 0), "REDUCING", Reason.REDUCING_ONLY),
        ((-500, 0, 0, -1, NOW, -1, 0), "REDUCING", Reason.SHRUNK_REDUCING),
        ((0, 0, 0, -1, NOW, -1, 0), "HALTED", Reason.HALTED),
    ],
)
def test_each_refusal_reason(market, state, expected) -> None:
    gate, _ = build(limits(), [market] * N_SLOTS, state)
    count, reason = gate.decide_one(0, 0, 9_200, 0.95, 10**6, NOW)
    assert Reason(reason) == expected
    if expected == Reason.SHRUNK_REDUCING:
        assert count == 500


def test_reason_table_documents_every_reason() -> None:
    table = reason_table_markdown()
    for reason in Reason:
        assert f"`{reason.name}`" in table
    assert "per-position exposure cap" in table


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(100, 9_900), st.floats(0.01, 0.99),
                          st.integers(0, 50_000)), max_size=14),
       st.lists(st.integers(-3_000, 3_000), min_size=4, max_size=4), st.integers(0, 6))
def test_the_in_flight_cap_keeps_the_best_edges_and_gives_the_rest_back(proposals, held, room):
    """decide_batch(max_orders=room) leaves exactly what deciding without the cap and then
    releasing every approval but the ``room`` best edges (ties in batch order) leaves."""
    gates = []
    for _ in range(2):
        gate = RiskGate(limits(min_edge=0.0, position_cap=2_000_000))
        for i in range(4):
            gate.register_market(f"M{i}", group=i % 2)
            gate.update_book(i, NOW, 100)
            gate.set_position(i, held[i] // 100 * 100, abs(held[i]) * 50)
        gates.append(gate)
    capped, uncapped = gates
    columns = [np.array([p[k] for p in proposals], dtype) for k, dtype in
               enumerate((np.int64, np.int8, np.int64, np.float64, np.int64))]
    got = capped.decide_batch(*columns, NOW, max_orders=room)
    want = uncapped.decide_batch(*columns, NOW)
    approved = np.flatnonzero(want.count > 0).tolist()
    edge = {i: proposals[i][3] - proposals[i][2] / 10_000 for i in approved}
    best = sorted(approved, key=lambda i: -edge[i])[:room]  # sorted() is stable: ties in batch order
    for i in approved:
        if i not in best:
            uncapped.release(int(columns[0][i]), int(want.reserved[i]), int(want.reduced[i]))
            want.count[i], want.reason[i], want.reserved[i], want.reduced[i] = 0, Reason.THROTTLED, 0, 0
    for name in ("count", "reason", "reserved", "reduced"):
        assert getattr(got, name).tolist() == getattr(want, name).tolist(), name
    for name in ("reserved", "reducing", "group_exposure", "total"):
        assert getattr(capped, name).tolist() == getattr(uncapped, name).tolist(), name
    assert np.count_nonzero(got.count) == min(room, len(approved))
