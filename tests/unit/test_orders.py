"""Orders: API enum strings, deterministic client order ids, positions with exact P&L."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.orders import (
    Action,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    Position,
    Side,
    TimeInForce,
    make_client_order_id,
)
from market.units import CONTRACT_PAYOUT, COUNT_SCALE, parse_dollars


def test_enums_speak_the_api_strings() -> None:
    assert [s.value for s in Side] == ["yes", "no"]
    assert [a.value for a in Action] == ["buy", "sell"]
    assert {t.name: t.value for t in TimeInForce} == {
        "GTC": "good_till_canceled", "IOC": "immediate_or_cancel", "FOK": "fill_or_kill"}
    assert [s.value for s in OrderStatus] == ["resting", "canceled", "executed"]
    assert Side("no") is Side.NO and f"{Side.YES}" == "yes"
    assert Side.YES.opposite is Side.NO and Side.NO.opposite is Side.YES
    with pytest.raises(ValueError):
        Side("YES")


# ------------------------------------------------------------------ client order ids

decisions = st.tuples(
    st.text(max_size=12), st.text(max_size=20), st.sampled_from(list(Side)),
    st.sampled_from(list(Action)), st.integers(1, 9_999), st.integers(1, 10**9),
    st.integers(0, 2**63 - 1),
)
ID_FORM = re.compile(r"ew-[A-Za-z0-9-]{1,61}")


@settings(max_examples=300)
@given(decisions)
def test_client_order_id_is_deterministic_and_well_formed(decision) -> None:
    coid = make_client_order_id(*decision)
    assert coid == make_client_order_id(*decision)
    assert ID_FORM.fullmatch(coid) and len(coid) <= 64


@settings(max_examples=300)
@given(decisions, st.integers(0, 6), st.data())
def test_any_field_change_changes_the_id(decision, index, data) -> None:
    new_value = data.draw(decisions.map(lambda d: d[index]).filter(lambda v: v != decision[index]))
    changed = list(decision)
    changed[index] = new_value
    assert make_client_order_id(*changed) != make_client_order_id(*decision)


def test_fields_cannot_bleed_into_each_other() -> None:
    """A separator inside a field must not make two different decisions collide."""
    a = make_client_order_id("flb|KX", "A", Side.YES, Action.BUY, 1, 1, 1)
    b = make_client_order_id("flb", "KX|A", Side.YES, Action.BUY, 1, 1, 1)
    assert a != b
    assert make_client_order_id("s", "T", Side.YES, Action.BUY, 12, 3, 4) != \
        make_client_order_id("s", "T", Side.YES, Action.BUY, 1, 23, 4)


def test_intent_create_computes_the_id() -> None:
    intent = OrderIntent.create("KX-1", Side.NO, Action.BUY, 3_500, 1_000, "flb", 0.7, 99)
    assert intent.client_order_id == make_client_order_id("flb", "KX-1", Side.NO, Action.BUY, 3_500, 1_000, 99)
    assert intent.time_in_force is TimeInForce.IOC and not intent.post_only and not intent.reduce_only
    again = OrderIntent.create("KX-1", Side.NO, Action.BUY, 3_500, 1_000, "flb", 0.7, 99,
                               time_in_force=TimeInForce.GTC, post_only=True)
    assert again.client_order_id == intent.client_order_id  # id depends on the decision fields
    with pytest.raises(ValueError, match="KX-1: price 10000"):
        OrderIntent.create("KX-1", Side.NO, Action.BUY, 10_000, 1, "flb", 0.7, 99)
    with pytest.raises(ValueError, match="KX-1: count 0"):
        OrderIntent.create("KX-1", Side.NO, Action.BUY, 5_000, 0, "flb", 0.7, 99)
    with pytest.raises(AttributeError):
        intent.count = 5  # type: ignore[misc]


def test_order_value() -> None:
    order = Order("o1", "ew-x", "KX", Side.YES, Action.BUY, OrderStatus.RESTING, 5_000,
                  1_000, 400, 600, 100, 0, 7)
    assert order.fill_count + order.remaining_count == order.initial_count


# ------------------------------------------------------------------ positions

def fill(side: Side, action: Action, contracts: str, price: str, fee: str = "0", ticker: str = "T") -> Fill:
    count = int(Fraction(contracts) * COUNT_SCALE)
    return Fill("f", "o", ticker, side, action, count, parse_dollars(price), True, parse_dollars(fee), 0)


def test_buy_yes_then_sell_part_realizes_exact_pnl() -> None:
    p = Position("T").apply(fill(Side.YES, Action.BUY, "10", "0.40", fee="0.17"))
    assert (p.quantity, p.cost, p.exposure, p.side) == (1_000, 40_000, 40_000, Side.YES)
    assert (p.realized_pnl, p.fees_paid) == (-1_700, 1_700)  # fees are in realized P&L
    p = p.apply(fill(Side.YES, Action.SELL, "4", "0.55", fee="0.07"))
    assert (p.quantity, p.cost) == (600, 24_000)
    assert p.realized_pnl == 4 * 1_500 - 1_700 - 700
    assert p.fees_paid == 2_400


def test_buy_no_is_negative_and_buying_yes_nets_it_out() -> None:
    p = Position("T").apply(fill(Side.NO, Action.BUY, "10", "0.50"))
    assert (p.quantity, p.side, p.cost) == (-1_000, Side.NO, 50_000)
    # Holding NO and buying YES: each YES+NO pair is $1 guaranteed, so they net.
    p = p.apply(fill(Side.YES, Action.BUY, "10", "0.40"))
    assert (p.quantity, p.cost, p.side) == (0, 0, None)
    assert p.realized_pnl == parse_dollars("1.00")  # 10 × (1 − 0.50 − 0.40)


def test_crossing_through_zero_opens_the_other_side() -> None:
    p = Position("T").apply(fill(Side.YES, Action.BUY, "3", "0.20"))
    p = p.apply(fill(Side.NO, Action.BUY, "5", "0.70"))
    assert (p.quantity, p.cost) == (-200, 14_000)  # 2 NO left at 0.70
    assert p.realized_pnl == 3 * (10_000 - 7_000) - 6_000  # 3 pairs: $3 − 0.60 − 2.10
    p = p.apply(fill(Side.NO, Action.SELL, "2", "0.90"))  # selling NO reduces the NO holding
    assert (p.quantity, p.cost) == (0, 0)
    assert p.realized_pnl == 3_000 + 2 * (9_000 - 7_000)


def test_sell_without_holding_is_a_short_of_that_side() -> None:
    p = Position("T").apply(fill(Side.YES, Action.SELL, "1", "0.30"))
    assert (p.quantity, p.cost) == (-100, 7_000)  # = 1 NO bought at 0.70


def test_settle_pays_winners_only() -> None:
    p = Position("T").apply(fill(Side.YES, Action.BUY, "2.5", "0.60", fee="0.04"))
    flat, payout = p.settle(Side.YES)
    assert payout == 25_000 and (flat.quantity, flat.cost) == (0, 0)
    assert flat.realized_pnl == 25_000 - 15_000 - 400 and flat.fees_paid == 400
    lost, zero = p.settle(Side.NO)
    assert zero == 0 and lost.realized_pnl == -15_000 - 400
    assert Position("T").settle(Side.NO) == (Position("T"), 0)


def test_fractional_sub_cent_rounds_against_us() -> None:
    p = Position("T").apply(Fill("f", "o", "T", Side.YES, Action.BUY, 1, 5_601, True, 0, 0))
    assert p.cost == 57  # 0.01 contract × $0.5601 = 56.01 units → 57


def test_apply_rejects_foreign_and_impossible_fills() -> None:
    with pytest.raises(ValueError, match="fill f is for U, not T"):
        Position("T").apply(fill(Side.YES, Action.BUY, "1", "0.5", ticker="U"))
    for count, price in ((0, 5_000), (-100, 5_000), (100, 0), (100, 10_000)):
        with pytest.raises(ValueError, match=f"count {count} .*price {price}"):
            Position("T").apply(Fill("f", "o", "T", Side.YES, Action.BUY, count, price, True, 0, 0))


trades = st.lists(
    st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Side)),
              st.integers(1, 5_000), st.integers(1, 99).map(lambda c: c * 100), st.integers(0, 300)),
    max_size=20,
)


def _check_invariants(p: Position) -> None:
    assert p.cost >= 0
    assert (p.quantity == 0) == (p.cost == 0)
    if p.quantity:  # cost per contract lies strictly inside (0, $1]
        assert 0 < p.cost <= abs(p.quantity) * CONTRACT_PAYOUT // COUNT_SCALE


@settings(max_examples=300)
@given(trades, st.sampled_from(list(Side)))
def test_pnl_conservation_at_cent_prices(history, result) -> None:
    """After settlement, realized P&L = Σ cash flows, to the unit (fractional counts too)."""
    p, cash, quantity = Position("T"), 0, 0
    for i, (action, side, count, price, fee) in enumerate(history):
        p = p.apply(Fill(str(i), "o", "T", side, action, count, price, False, fee, i))
        _check_invariants(p)
        bought = side if action is Action.BUY else side.opposite
        paid = price if action is Action.BUY else CONTRACT_PAYOUT - price
        cash -= count * paid // COUNT_SCALE + fee
        delta = count if bought is Side.YES else -count
        if quantity and (quantity > 0) != (delta > 0):  # netted YES+NO pairs pay $1 each now
            cash += min(abs(quantity), count) * CONTRACT_PAYOUT // COUNT_SCALE
        quantity += delta
        assert p.quantity == quantity
    flat, payout = p.settle(result)
    assert payout == (abs(quantity) * 100 if (quantity > 0) == (result is Side.YES) and quantity else 0)
    assert flat.quantity == flat.cost == 0
    assert flat.realized_pnl == cash + payout
    assert flat.fees_paid == sum(t[4] for t in history)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Side)),
                         st.integers(1, 5_000), st.integers(1, 9_999), st.integers(0, 300)), max_size=20),
       st.sampled_from(list(Side)))
def test_pnl_at_sub_cent_prices_never_overstated(history, result) -> None:
    """With sub-unit amounts, rounding goes against us and by less than 2 units per fill."""
    p, exact, quantity = Position("T"), Fraction(0), 0
    for i, (action, side, count, price, fee) in enumerate(history):
        p = p.apply(Fill(str(i), "o", "T", side, action, count, price, True, fee, i))
        _check_invariants(p)
        bought = side if action is Action.BUY else side.opposite
        paid = price if action is Action.BUY else CONTRACT_PAYOUT - price
        exact -= Fraction(count * paid, COUNT_SCALE) + fee
        delta = count if bought is Side.YES else -count
        if quantity and (quantity > 0) != (delta > 0):
            exact += min(abs(quantity), count) * 100
        quantity += delta
    flat, payout = p.settle(result)
    exact += payout
    assert 0 <= exact - flat.realized_pnl < 2 * max(len(history), 1)


@settings(max_examples=300)
@given(decisions.filter(lambda d: all(name.isascii() and name.isprintable() for name in d[:2])))
def test_ids_of_ascii_decisions_are_the_json_dumps_ids_of_earlier_versions(decision) -> None:
    """Ids already in a ledger stay valid: for printable ASCII names (every ticker and
    strategy) the key bytes did not change; json.dumps escapes DEL and non-ASCII, msgspec not."""
    import hashlib
    import json

    strategy, ticker, side, action, price, count, ts = decision
    key = json.dumps([strategy, ticker, str(side), str(action), price, count, ts], separators=(",", ":"))
    assert make_client_order_id(*decision) == "ew-" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
