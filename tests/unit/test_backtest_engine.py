"""The backtest engine: hand-computed fills and P&L, latency, skew, slippage, the queue model,
and the favourite–longshot curve recovered from simulated markets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtest import fills as core
from backtest.engine import Execution, run_backtest
from backtest.events import RESULT_NO, RESULT_YES, DatasetBuilder
from backtest.latency import Latency, Slippage
from backtest.metrics import summarize
from backtest.synthetic import SyntheticMarkets, generate, true_probability
from market.fees import quadratic_fee
from market.orders import Side, TimeInForce
from risk.limits import RiskLimits
from strategies.flb import KALSHI_FLB_TABLE, CalibrationCurve, FavouriteLongshot

S = 1_000_000_000
T0 = 1_767_225_600 * S
DOLLAR = 10_000


def limits(**changes: object) -> RiskLimits:
    base = dict(capital=10_000 * DOLLAR, kelly_fraction=0.25, min_edge=0.01, position_cap=5_000 * DOLLAR,
                group_cap=5_000 * DOLLAR, total_cap=9_000 * DOLLAR, daily_loss=500 * DOLLAR, loss_streak=5,
                loss_streak_pause_ns=0, max_slippage_bps=50.0, slippage_window=20,
                error_burst_per_hour=10, stale_book_ns=30 * S, no_fills_scans=20, max_spread_bps=200.0,
                max_order_count=100_000, fee_rate_ppm=70_000)
    base.update(changes)
    return RiskLimits(**base)  # type: ignore[arg-type]


# fair YES = price + excess, the excess interpolated from -3 pp at 5¢ to +4 pp at 95¢
CURVE = CalibrationCurve.from_points([(0.05, 0.02), (0.95, 0.99)])
FLB = FavouriteLongshot(9_000, 1_000, 0.01, 70_000, CURVE)


def three_markets() -> DatasetBuilder:
    b = DatasetBuilder()
    b.book(T0, "A", 9_000, 9_200, 1_000, 1_000)  # favourite: YES ask 92¢, 10 contracts
    b.book(T0 + 60 * S, "B", 600, 800, 2_000, 500)  # longshot: NO ask = 1 − 6¢ = 94¢, 20 contracts
    b.book(T0 + 120 * S, "C", 9_300, 9_500, 500, 500)  # favourite: YES ask 95¢, 5 contracts
    b.settle(T0 + 600 * S, "A", RESULT_YES)
    b.settle(T0 + 660 * S, "B", RESULT_NO)
    b.settle(T0 + 720 * S, "C", RESULT_NO)
    return b


def test_three_trades_match_a_hand_computation_to_the_cent() -> None:
    result = run_backtest(three_markets().build(), [FLB], limits())
    got = [(f.ticker, f.side, f.count, f.price, f.fee, f.is_taker) for f in result.fills]
    # Fees: ceil_to_cent(0.07 × C × P × (1 − P)):
    #   A 0.07 × 10 × 0.92 × 0.08 = 0.05152 → $0.06; B 0.07 × 20 × 0.94 × 0.06 = 0.07896 → $0.08;
    #   C 0.07 × 5 × 0.95 × 0.05 = 0.016625 → $0.02.
    assert got == [("A", Side.YES, 1_000, 9_200, 600, True), ("B", Side.NO, 2_000, 9_400, 800, True),
                   ("C", Side.YES, 500, 9_500, 200, True)]
    # P&L: A +10.00 − 9.20 − 0.06 = 0.74; B +20.00 − 18.80 − 0.08 = 1.12; C −4.75 − 0.02 = −4.77.
    assert {t: p.realized_pnl for t, p in result.positions.items()} == {"A": 7_400, "B": 11_200, "C": -47_700}
    assert result.pnl == -29_100 and result.fees == 1_600
    s = summarize(result)
    assert s.gross_pnl == -27_500 and math.isnan(s.fee_drag_pct)
    assert s.orders == 3 and s.fills == 3 and s.win_rate == pytest.approx(2 / 3)
    assert s.deployed == 9_200 * 10 + 9_400 * 20 + 9_500 * 5  # $32.75
    assert s.net_bps == pytest.approx(-2.91 / 32.75 * 10_000)
    # Equity peaks at capital + 2.00 − 0.16 after B settles, then C loses 4.75.
    assert s.max_drawdown == 47_500
    # later decisions still see the older books, which the gate refuses as stale
    assert result.reasons == {"SHRUNK_LIQUIDITY": 3, "STALE_BOOK": 6}
    assert result.reserved_at_end == 0


def test_slippage_moves_taker_fills_against_us_and_the_fee_follows() -> None:
    execution = Execution(slippage=Slippage(base_bps=50.0, impact_bps=100.0))
    result = run_backtest(three_markets().build(), [FLB], limits(), execution)
    a = result.fills[0]
    # 50 bps + 100 bps × (10 ordered / 10 shown) = 150 bps of 92¢ = 138 units
    assert (a.touch_price, a.price, a.decision_price) == (9_200, 9_338, 9_200)
    assert a.fee == quadratic_fee(70_000, 1_000, 9_338)
    assert a.slippage_bps == pytest.approx(138 / 9_200 * 10_000)


def test_submit_latency_meets_the_book_after_it_moved() -> None:
    b = DatasetBuilder()
    b.book(T0, "A", 9_000, 9_200, 1_000, 1_000)
    b.book(T0 + S // 10, "A", 9_100, 9_300, 1_000, 1_000)  # the ask moves above our 92¢ limit
    b.settle(T0 + 60 * S, "A", RESULT_YES)
    data = b.build()
    fast = run_backtest(data, [FLB], limits(), Execution(latency=Latency(submit_ns=S // 20)))
    slow = run_backtest(data, [FLB], limits(), Execution(latency=Latency(submit_ns=S // 5)))
    assert [(f.price, f.ts_ns) for f in fast.fills][0] == (9_200, T0 + S // 20)
    # the slow order arrives after the move and fills nothing at 92¢ (later decisions at 93¢ may)
    assert all(f.price != 9_200 for f in slow.fills)
    assert slow.orders[0].price == 9_200 and slow.orders[0].filled == 0


def test_clock_skew_makes_books_look_stale_to_the_gate() -> None:
    data = three_markets().build()
    ahead = run_backtest(data, [FLB], limits(), Execution(latency=Latency(clock_skew_ns=31 * S)))
    assert ahead.fills == [] and ahead.reasons == {"STALE_BOOK": 9}
    assert len(run_backtest(data, [FLB], limits(), Execution(latency=Latency(clock_skew_ns=29 * S))).fills) == 3


def test_profit_fee_schedule_charges_winners_at_settlement() -> None:
    from market.fees import ProfitFee

    result = run_backtest(three_markets().build(), [FLB], limits(), Execution(fees=ProfitFee()))
    assert [f.fee for f in result.fills] == [0, 0, 0]
    # winners pay 7% of profit: A 0.07 × 0.80 = 0.056 → $0.06; B 0.07 × 1.20 = 0.084 → $0.09
    assert result.settlement_fees == {"A": 600, "B": 900, "C": 0}
    assert result.pnl == 8_000 - 600 + 12_000 - 900 - 47_500


# ---------------------------------------------------------------------- queue model (the core)
class Core:
    """The numba core driven directly with hand-placed orders."""

    def __init__(self, events: DatasetBuilder) -> None:
        self.data = events.build()
        self.book = core.new_book_state(self.data.n_markets)
        self.fair = np.full(self.data.n_markets, np.nan)
        self.orders = np.zeros((8, core.O_FIELDS), np.int64)
        self.active = np.zeros(8, np.int64)
        self.n_orders = self.n_active = self.pos = 0
        self.records: list[list[int]] = []

    def order(self, side: int, price: int, count: int, arrive: int, tif: int = core.TIF_GTC,
              cancel: int = core.NEVER) -> int:
        o = self.n_orders
        self.orders[o] = 0
        self.orders[o, [core.O_SLOT, core.O_SIDE, core.O_PRICE, core.O_COUNT, core.O_ARRIVE, core.O_CANCEL,
                        core.O_TIF, core.O_QUEUE]] = [0, side, price, count, arrive, cancel, tif, -1]
        self.active[self.n_active] = o
        self.book[0, core.B_ACTIVE] += 1
        self.n_orders += 1
        self.n_active += 1
        return o

    def run(self, end: int) -> list[tuple[int, int, int, int]]:
        """(kind, ts, count, price) of the records written up to ``end``."""
        out = np.zeros((64, core.R_FIELDS), np.int64)
        d = self.data
        self.pos, n, self.n_active = core.run_until(
            d.ts, d.kind, d.slot, d.a, d.b, d.c, d.d, d.fair, self.pos, end, self.book, self.fair,
            self.orders, self.active, self.n_active, out, 0, 0.0, 0.0)
        return [(int(r[core.R_KIND]), int(r[core.R_TS]), int(r[core.R_COUNT]), int(r[core.R_PRICE]))
                for r in out[:n]]


FILL, DONE = core.OUT_FILL, core.OUT_DONE


def test_a_resting_bid_waits_behind_the_displayed_queue_then_trades_at_its_level_fill_it() -> None:
    b = DatasetBuilder()
    b.book(T0, "M", 4_000, 4_200, 3_000, 1_000)  # 30 contracts bid at 40¢ ahead of us
    b.trade(T0 + 2, "M", 4_000, 2_000, 1)  # a taker sells 20 YES at 40¢: queue ahead 30 → 10
    b.trade(T0 + 3, "M", 4_000, 1_500, 1)  # 15 more: 10 ahead, then 5 to us
    b.trade(T0 + 4, "M", 4_200, 5_000, 0)  # a YES buyer lifts the ask: not our side
    b.trade(T0 + 5, "M", 3_900, 9_000, 1)  # trades through 40¢: we fill the rest
    c = Core(b)
    c.order(core.SIDE_YES, 4_000, 1_000, arrive=T0 + 1)
    assert c.run(T0 + 2) == []
    assert c.orders[0, core.O_QUEUE] == 1_000
    assert c.run(T0 + 4) == [(FILL, T0 + 3, 500, 4_000)]
    assert c.run(T0 + 5) == [(FILL, T0 + 5, 500, 4_000), (DONE, T0 + 5, 1_000, 0)]


def test_cancels_ahead_only_shrink_the_queue_and_a_crossing_quote_fills_us_as_maker() -> None:
    b = DatasetBuilder()
    b.book(T0, "M", 4_000, 4_200, 3_000, 1_000)
    b.book(T0 + 2, "M", 4_000, 4_200, 5_000, 1_000)  # size grows behind us: queue stays 30
    b.book(T0 + 3, "M", 4_000, 4_200, 800, 1_000)  # size falls to 8: at most 8 ahead
    b.book(T0 + 4, "M", 3_900, 4_000, 700, 300)  # an ask at our 40¢: fills us 3 as maker
    c = Core(b)
    c.order(core.SIDE_YES, 4_000, 1_000, arrive=T0 + 1)
    c.run(T0 + 2)
    assert c.orders[0, core.O_QUEUE] == 3_000
    c.run(T0 + 3)
    assert c.orders[0, core.O_QUEUE] == 800
    assert c.run(T0 + 4) == [(FILL, T0 + 4, 300, 4_000)]


def test_a_no_buy_rests_as_a_yes_ask_and_fills_when_yes_buyers_come() -> None:
    b = DatasetBuilder()
    b.book(T0, "M", 4_000, 4_200, 1_000, 2_000)  # NO bid at 58¢ = YES ask at 42¢, 20 ahead
    b.trade(T0 + 2, "M", 4_200, 2_500, 0)  # YES buyers take 25 at 42¢: 20 ahead, 5 to us
    c = Core(b)
    c.order(core.SIDE_NO, 5_800, 1_000, arrive=T0 + 1)
    assert c.run(T0 + 2) == [(FILL, T0 + 2, 500, 5_800)]


def test_a_cancel_takes_effect_only_after_its_latency() -> None:
    b = DatasetBuilder()
    b.book(T0, "M", 4_000, 4_200, 0, 1_000)
    b.book(T0 + 5, "M", 4_000, 4_000, 1_000, 200)  # a seller at 40¢ before the cancel lands
    b.book(T0 + 20, "M", 3_500, 3_900, 1_000, 5_000)
    c = Core(b)
    c.order(core.SIDE_YES, 4_000, 1_000, arrive=T0 + 1, cancel=T0 + 10)
    assert c.run(core.NEVER - 1) == [(FILL, T0 + 5, 200, 4_000), (DONE, T0 + 10, 200, 0)]


def test_ioc_takes_the_touch_once_and_the_same_unchanged_level_is_not_taken_twice() -> None:
    b = DatasetBuilder()
    b.book(T0, "M", 4_000, 4_200, 1_000, 1_000)
    c = Core(b)
    c.order(core.SIDE_YES, 4_300, 1_500, arrive=T0 + 1, tif=core.TIF_IOC)
    c.order(core.SIDE_YES, 4_300, 1_500, arrive=T0 + 2, tif=core.TIF_IOC)
    c.order(core.SIDE_YES, 4_300, 100, arrive=T0 + 3, tif=core.TIF_FOK)
    assert c.run(T0 + 3) == [(FILL, T0 + 1, 1_000, 4_200), (DONE, T0 + 1, 1_000, 0), (DONE, T0 + 2, 0, 0),
                             (DONE, T0 + 3, 0, 0)]


def test_gtc_orders_through_the_engine_rest_and_release_their_reservation_when_done() -> None:
    b = DatasetBuilder()
    b.book(T0, "A", 9_000, 9_200, 1_000, 300)  # 3 shown; the gate sizes to 3 (liquidity)
    b.book(T0 + S, "A", 9_100, 9_200, 1_000, 300)  # same ask and size: still taken
    b.trade(T0 + 2 * S, "A", 9_200, 300, 0)
    b.settle(T0 + 60 * S, "A", RESULT_YES)
    execution = Execution(time_in_force=TimeInForce.GTC, order_ttl_ns=10 * S)
    result = run_backtest(b.build(), [FLB], limits(), execution)
    assert sum(f.count for f in result.fills) == 300
    assert all(o.done for o in result.orders) and result.reserved_at_end == 0


# ---------------------------------------------------------------------- the bias, recovered
def test_flb_backtest_recovers_the_curves_per_bucket_returns_within_sampling_error() -> None:
    scale = 3.0
    spec = SyntheticMarkets(n_markets=3_000, updates=3, bias_scale=scale, spread=200, size_min=1_000,
                            size_max=1_000, seed=11)
    data, mids, _ = generate(spec)
    curve = CalibrationCurve.from_points([(p, p + (w - p) * scale) for p, w in KALSHI_FLB_TABLE])
    flb = FavouriteLongshot(8_500, 1_500, 0.005, 70_000, curve)
    result = run_backtest(data, [flb], limits(total_cap=10**6 * DOLLAR, group_cap=10**6 * DOLLAR),
                          Execution(decision_interval_ns=S // 20))
    summary = summarize(result)
    truth = dict(zip(data.tickers, true_probability(mids / 10_000, scale), strict=True))
    checked = 0

    def within_error(fills: list, realized: int, what: str) -> None:
        # expected P&L: per fill, count × (P(side wins) − price) − fee; and its standard error
        p_win = np.array([truth[f.ticker] if f.side is Side.YES else 1 - truth[f.ticker] for f in fills])
        count = np.array([f.count / 100 for f in fills])
        price = np.array([f.price / 10_000 for f in fills])
        fee = np.array([f.fee / 10_000 for f in fills])
        expected = float(np.sum(count * (p_win - price) - fee))
        se = float(np.sqrt(np.sum(count**2 * p_win * (1 - p_win))))
        assert abs(realized / 10_000 - expected) < 4 * se, (what, realized, expected, se)

    for bucket in summary.by_bucket:  # the report's buckets (price paid, both sides together)
        within_error([f for f in result.fills if min(f.price * 20 // 10_000, 19) == bucket.bucket],
                     bucket.pnl, bucket.label)
    for side in Side:  # favourites (YES) and longshots (NO) apart: six curve buckets
        for b in range(20):
            fills = [f for f in result.fills if f.side is side and f.price * 20 // 10_000 == b]
            if len(fills) >= 50:
                realized = sum(result.positions[t].realized_pnl for t in {f.ticker for f in fills})
                within_error(fills, realized, f"{side} {b}")
                checked += 1
    assert checked >= 5
    assert summary.pnl > 0  # the bias (×3) pays more than the fees


def test_the_daemons_kill_switches_run_in_the_replay_and_their_locks_bind() -> None:
    """Two losing markets with ``loss_streak = 2``: the streak switch fires when the second
    settles, and a market that appears during the pause is refused as HALTED; the pause runs
    out by itself and trading resumes. The result lists the lock, and the report shows it."""
    b = DatasetBuilder()
    b.book(T0, "A", 9_000, 9_200, 1_000, 1_000)
    b.book(T0 + 10 * S, "B", 9_000, 9_200, 1_000, 1_000)
    b.settle(T0 + 100 * S, "A", RESULT_NO)
    b.settle(T0 + 110 * S, "B", RESULT_NO)
    b.book(T0 + 200 * S, "C", 9_000, 9_200, 1_000, 1_000)  # during the pause
    b.book(T0 + 4_000 * S, "D", 9_000, 9_200, 1_000, 1_000)  # after it
    lim = limits(loss_streak=2, loss_streak_pause_ns=3_600 * S)
    result = run_backtest(b.build(), [FLB], lim)
    assert [(lk.rule, lk.state, lk.created_ns) for lk in result.locks] == [("loss_streak", "HALTED", T0 + 110 * S)]
    assert result.locks[0].until_ns == T0 + 110 * S + 3_600 * S
    assert sorted({f.ticker for f in result.fills}) == ["A", "B", "D"]
    assert result.reasons["HALTED"] >= 1

    from backtest.report import markdown

    text = markdown(summarize(result), result, plots=False)
    assert "| loss_streak | HALTED |" in text and "2 losses in a row" in text
    quiet = run_backtest(b.build(), [FLB], limits())
    assert quiet.locks == [] and "No kill switch fired" in markdown(summarize(quiet), quiet, plots=False)
