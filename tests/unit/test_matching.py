"""The built-in exchange's matching engine: priority, order types, fees, settlement, money."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.venues.sim.matching import MatchingEngine, SimReject
from market.fees import KalshiQuadratic
from market.orders import Action, OrderStatus, Side, TimeInForce

GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
BUY, SELL = Action.BUY, Action.SELL
YES, NO = Side.YES, Side.NO
START = 1_000_000_000  # $100,000 in money units


def engine(maker_fees: bool = False) -> MatchingEngine:
    e = MatchingEngine(KalshiQuadratic(maker_fees=maker_fees))
    for name in ("a", "b", "c", "me"):
        e.add_account(name, START)
    e.open_market("T")
    return e


def test_price_then_time_priority_and_resting_price_stands() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 4_000, 500, GTC, False, 1)  # NO 40¢ → YES ask 60¢
    e.submit("b", "b1", "T", NO, BUY, 4_200, 500, GTC, False, 2)  # better: YES ask 58¢
    e.submit("c", "c1", "T", NO, BUY, 4_200, 500, GTC, False, 3)  # same price, later
    order = e.submit("me", "m1", "T", YES, BUY, 6_000, 1_200, IOC, False, 4)
    fills = [f for acct, f in e.fills if acct == "me"]
    assert [(f.count, f.price) for f in fills] == [(500, 5_800), (500, 5_800), (200, 6_000)]
    makers = [acct for acct, f in e.fills if not f.is_taker]
    assert makers == ["b", "c", "a"]
    assert order.status is OrderStatus.EXECUTED and order.fill_count == 1_200


def test_ioc_remainder_is_cancelled_gtc_rests_fok_all_or_nothing() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 5_000, 300, GTC, False, 1)
    fok = e.submit("me", "f", "T", YES, BUY, 5_000, 500, FOK, False, 2)
    assert fok.status is OrderStatus.CANCELED and fok.fill_count == 0
    ioc = e.submit("me", "i", "T", YES, BUY, 5_000, 500, IOC, False, 3)
    assert (ioc.status, ioc.fill_count, ioc.remaining) == (OrderStatus.CANCELED, 300, 0)
    gtc = e.submit("me", "g", "T", YES, BUY, 5_000, 500, GTC, False, 4)
    assert gtc.status is OrderStatus.RESTING and gtc.remaining == 500
    assert e.books["T"].levels(YES) == [(5_000, 500)]
    cancelled, reduced = e.cancel("me", gtc.order_id, 5)
    assert cancelled.status is OrderStatus.CANCELED and reduced == 500
    assert e.books["T"].levels(YES) == []


def test_post_only_and_rejections() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 5_000, 100, GTC, False, 1)
    with pytest.raises(SimReject) as cross:
        e.submit("me", "p", "T", YES, BUY, 5_000, 100, GTC, True, 2)
    assert cross.value.code == "post_only_cross"
    with pytest.raises(SimReject) as dup:
        e.submit("a", "a1", "T", NO, BUY, 5_000, 100, GTC, False, 3)
    assert dup.value.status == 409
    with pytest.raises(SimReject, match="needs"):
        e.submit("me", "big", "T", YES, BUY, 9_000, 10**9, GTC, False, 4)
    e.close_market("T", 5)
    with pytest.raises(SimReject) as closed:
        e.submit("me", "late", "T", YES, BUY, 5_000, 100, GTC, False, 6)
    assert closed.value.code == "market_closed"


def test_fees_to_the_cent_and_settlement_pays_exactly() -> None:
    e = engine(maker_fees=True)
    e.submit("a", "a1", "T", NO, BUY, 5_000, 10_000, GTC, False, 1)  # maker, 100 NO @ 50¢
    e.submit("me", "m1", "T", YES, BUY, 5_000, 10_000, IOC, False, 2)  # taker, 100 YES @ 50¢
    assert e.accounts["me"].balance == START - 500_000 - 17_500  # $50 + $1.75 taker fee
    assert e.accounts["a"].balance == START - 500_000 - 4_400  # $50 + $0.44 maker fee
    e.close_market("T", 3)
    assert e.settle("T", YES) == {"me": 1_000_000, "a": 0}
    assert e.accounts["me"].balance == START + 500_000 - 17_500


def test_selling_held_contracts_nets_out() -> None:
    e = engine()
    e.submit("a", "a1", "T", NO, BUY, 4_000, 1_000, GTC, False, 1)
    e.submit("me", "buy", "T", YES, BUY, 6_000, 1_000, IOC, False, 2)  # 10 YES @ 60¢
    e.submit("b", "b1", "T", YES, BUY, 7_000, 1_000, GTC, False, 3)  # YES bid 70¢
    sale = e.submit("me", "sell", "T", YES, SELL, 7_000, 1_000, IOC, False, 4)
    assert sale.fill_count == 1_000
    assert e.accounts["me"].quantity("T") == 0
    fees = sum(f.fee for acct, f in e.fills if acct == "me")
    assert e.accounts["me"].balance == START + 10_000 - fees  # 10 bought at 60¢, sold at 70¢


orders = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([YES, NO]), st.sampled_from([BUY, SELL]),
              st.integers(1, 99).map(lambda c: c * 100), st.integers(1, 20).map(lambda c: c * 100),
              st.sampled_from([GTC, IOC, FOK])),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(orders, st.sampled_from([YES, NO]))
def test_money_is_conserved_through_trading_and_settlement(flow, result) -> None:
    e = engine(maker_fees=True)
    for i, (acct, side, action, price, count, tif) in enumerate(flow):
        try:
            e.submit(acct, f"o{i}", "T", side, action, price, count, tif, False, i)
        except SimReject:
            pass
    yes = sum(a.quantity("T") for a in e.accounts.values() if a.quantity("T") > 0)
    no = -sum(a.quantity("T") for a in e.accounts.values() if a.quantity("T") < 0)
    assert yes == no  # every contract has a counterparty
    e.close_market("T", 10**6)
    e.settle("T", result)
    total = sum(a.balance for a in e.accounts.values())
    assert total + e.fees_collected == 4 * START
