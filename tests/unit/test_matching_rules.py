"""More rules of the built-in exchange's matching engine: partial fills, whole-order fees,
reservations for resting orders, the tick, self-trade prevention, settlement records, and
money conservation with cancels and closes at every step."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.venues.sim.matching import MatchingEngine, SimReject
from market.fees import KalshiQuadratic, quadratic_fee
from market.orders import Action, OrderStatus, Side, TimeInForce
from market.units import CONTRACT_PAYOUT

GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
BUY, SELL = Action.BUY, Action.SELL
YES, NO = Side.YES, Side.NO
START = 1_000_000_000
C = 100  # one contract in count units


def engine(maker_fees: bool = True, balance: int = START) -> MatchingEngine:
    e = MatchingEngine(KalshiQuadratic(maker_fees=maker_fees))
    for name in ("a", "b", "c", "me"):
        e.add_account(name, balance)
    e.open_market("T")
    return e


def fills_of(e: MatchingEngine, account: str) -> list:
    return [f for acct, f in e.fills if acct == account]


def test_partial_fills_leave_the_maker_resting_then_executed() -> None:
    e = engine()
    maker = e.submit("a", "a1", "T", NO, BUY, 4_000, 5 * C, GTC, False, 1)
    first = e.submit("me", "m1", "T", YES, BUY, 6_000, 2 * C, IOC, False, 2)
    assert (first.status, first.fill_count) == (OrderStatus.EXECUTED, 2 * C)
    assert (maker.status, maker.fill_count, maker.remaining) == (OrderStatus.RESTING, 2 * C, 3 * C)
    assert e.books["T"].levels(NO) == [(4_000, 3 * C)]
    e.submit("b", "b1", "T", YES, BUY, 6_000, 3 * C, IOC, False, 3)
    assert (maker.status, maker.remaining) == (OrderStatus.EXECUTED, 0)
    assert e.books["T"].levels(NO) == []
    assert fills_of(e, "me")[0].price == 6_000  # YES at 1 − 40¢: the resting price stands


def test_price_improvement_goes_to_the_taker() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 4_500, C, GTC, False, 1)  # YES ask 55¢
    e.submit("me", "m1", "T", YES, BUY, 6_000, C, IOC, False, 2)  # willing to pay 60¢
    (fill,) = fills_of(e, "me")
    assert fill.price == 5_500
    assert e.accounts["me"].balance == START - 5_500 - quadratic_fee(70_000, C, 5_500)


def test_taker_fee_is_rounded_once_per_order_and_price() -> None:
    e = engine()
    for name in ("a", "b", "c", "a"):
        e.submit(name, f"{name}{len(e.orders)}", "T", NO, BUY, 5_000, C, GTC, False, 1)
    order = e.submit("me", "m1", "T", YES, BUY, 5_000, 4 * C, IOC, False, 2)
    fees = [f.fee for f in fills_of(e, "me")]
    assert len(fees) == 4
    assert sum(fees) == order.taker_fees == quadratic_fee(70_000, 4 * C, 5_000) == 700  # $0.07
    assert sum(fees) < 4 * quadratic_fee(70_000, C, 5_000)  # not $0.02 per one-contract fill


def test_maker_fee_is_on_the_whole_resting_order() -> None:
    e = engine(maker_fees=True)
    maker = e.submit("a", "a1", "T", NO, BUY, 5_000, 4 * C, GTC, False, 1)
    for i in range(4):
        e.submit("me", f"m{i}", "T", YES, BUY, 5_000, C, IOC, False, 2 + i)
    assert maker.maker_fees == quadratic_fee(17_500, 4 * C, 5_000) == 200
    assert sum(f.fee for f in fills_of(e, "a")) == 200
    no_maker_fees = engine(maker_fees=False)
    m = no_maker_fees.submit("a", "a1", "T", NO, BUY, 5_000, C, GTC, False, 1)
    no_maker_fees.submit("me", "m", "T", YES, BUY, 5_000, C, IOC, False, 2)
    assert m.maker_fees == 0


def test_resting_buys_reserve_cash_until_filled_or_canceled() -> None:
    e = engine(balance=1_000_000)  # $100
    big = e.submit("me", "m1", "T", YES, BUY, 6_000, 150 * C, GTC, False, 1)  # $90 + fee
    reserved = e.accounts["me"].reserved
    assert reserved == 900_000 + quadratic_fee(70_000, 150 * C, 6_000)
    with pytest.raises(SimReject) as caught:
        e.submit("me", "m2", "T", YES, BUY, 6_000, 20 * C, GTC, False, 2)  # another $12
    assert caught.value.code == "insufficient_balance"
    e.submit("a", "a1", "T", NO, BUY, 4_000, 50 * C, IOC, False, 3)  # fills 50 of the 150
    assert big.remaining == 100 * C
    assert e.accounts["me"].reserved == 600_000 + quadratic_fee(70_000, 100 * C, 6_000)
    e.cancel("me", big.order_id, 4)
    assert e.accounts["me"].reserved == 0
    e.submit("me", "m3", "T", YES, BUY, 6_000, 20 * C, GTC, False, 5)
    e.close_market("T", 6)
    assert e.accounts["me"].reserved == 0


def test_prices_must_be_on_the_cent_tick() -> None:
    e = engine()
    with pytest.raises(SimReject) as caught:
        e.submit("me", "m1", "T", YES, BUY, 5_050, C, GTC, False, 1)
    assert caught.value.code == "invalid_price"
    with pytest.raises(SimReject):
        e.submit("me", "m2", "T", YES, BUY, 5_000, 50, GTC, False, 1)  # half a contract


def test_own_resting_orders_are_never_hit() -> None:
    e = engine()
    own = e.submit("me", "m1", "T", NO, BUY, 4_500, C, GTC, False, 1)  # YES ask 55¢, mine
    e.submit("a", "a1", "T", NO, BUY, 4_000, C, GTC, False, 2)  # YES ask 60¢, theirs
    taker = e.submit("me", "m2", "T", YES, BUY, 6_000, 2 * C, IOC, False, 3)
    assert taker.fill_count == C and fills_of(e, "me")[0].price == 6_000
    assert own.status is OrderStatus.RESTING and own.remaining == C
    assert e.accounts["me"].quantity("T") == C


def test_fok_fills_entirely_when_it_can() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 5_000, 2 * C, GTC, False, 1)
    e.submit("b", "b1", "T", NO, BUY, 4_900, 2 * C, GTC, False, 2)
    order = e.submit("me", "f", "T", YES, BUY, 5_100, 4 * C, FOK, False, 3)
    assert (order.status, order.fill_count) == (OrderStatus.EXECUTED, 4 * C)
    assert [f.price for f in fills_of(e, "me")] == [5_000, 5_100]


def test_settlement_records_counts_cost_and_revenue() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 3_000, 10 * C, GTC, False, 1)
    e.submit("me", "m1", "T", YES, BUY, 7_000, 10 * C, IOC, False, 2)
    e.close_market("T", 3)
    payouts = e.settle("T", NO, now_ns=4)
    assert payouts == {"a": 100_000, "me": 0}  # $1 a winning contract, nothing for the losers
    records = {acct: s for acct, s in e.settlements}
    assert (records["me"].yes_count, records["me"].no_count, records["me"].revenue) == (10 * C, 0, 0)
    assert (records["a"].no_count, records["a"].revenue, records["a"].cost) == (10 * C, 100_000, 30_000)
    assert records["a"].ts_ns == 4
    maker_fee = quadratic_fee(17_500, 10 * C, 3_000)
    assert maker_fee == 400 and records["a"].fees_paid == maker_fee
    assert e.accounts["a"].balance == START - 30_000 - maker_fee + 100_000


actions = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.sampled_from(["a", "b", "c", "me"]), st.sampled_from([YES, NO]),
                  st.sampled_from([BUY, SELL]), st.integers(1, 99).map(lambda c: c * 100),
                  st.integers(1, 30).map(lambda c: c * C), st.sampled_from([GTC, IOC, FOK]),
                  st.booleans()),
        st.tuples(st.just("cancel"), st.integers(0, 200)),
    ),
    max_size=60,
)


def _collateral(e: MatchingEngine) -> int:
    yes = sum(max(a.quantity("T"), 0) for a in e.accounts.values())
    return yes * CONTRACT_PAYOUT // 100


@settings(max_examples=150, deadline=None)
@given(actions, st.sampled_from([YES, NO]), st.integers(2_000_000, 20_000_000))
def test_money_conserved_and_never_overdrawn_at_every_step(flow, result, balance) -> None:
    e = engine(maker_fees=True, balance=balance)
    total = 4 * balance
    for i, step in enumerate(flow):
        try:
            if step[0] == "order":
                _, acct, side, action, price, count, tif, post_only = step
                e.submit(acct, f"o{i}", "T", side, action, price, count, tif, post_only, i)
            else:
                ids = list(e.orders)
                if ids:
                    order = e.orders[ids[step[1] % len(ids)]]
                    e.cancel(order.account, order.order_id, i)
        except SimReject:
            pass
        assert sum(a.balance for a in e.accounts.values()) + e.fees_collected + _collateral(e) == total
        for a in e.accounts.values():
            assert a.reserved >= 0
            assert a.balance >= 0, (a.name, a.balance)
    e.close_market("T", 10**6)
    assert all(a.reserved == 0 for a in e.accounts.values())
    e.settle("T", result, 10**6)
    assert sum(a.balance for a in e.accounts.values()) + e.fees_collected == total
    assert _collateral(e) == 0


def test_reduce_only_orders_may_only_shrink_a_position() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 4_000, 3 * C, GTC, False, 1)
    e.submit("me", "m1", "T", YES, BUY, 6_000, 3 * C, IOC, False, 2)  # hold 3 YES
    with pytest.raises(SimReject) as caught:
        e.submit("me", "m2", "T", YES, BUY, 6_000, C, GTC, False, 3, reduce_only=True)
    assert caught.value.code == "reduce_only_violation"
    with pytest.raises(SimReject):
        e.submit("me", "m3", "T", YES, SELL, 5_000, 4 * C, GTC, False, 4, reduce_only=True)  # > held
    e.submit("b", "b1", "T", YES, BUY, 5_000, 2 * C, GTC, False, 5)
    sold = e.submit("me", "m4", "T", YES, SELL, 5_000, 2 * C, IOC, False, 6, reduce_only=True)
    assert sold.fill_count == 2 * C and e.accounts["me"].quantity("T") == C
    e.submit("me", "m5", "T", NO, BUY, 1_000, C, GTC, False, 7, reduce_only=True)  # buying NO nets YES
