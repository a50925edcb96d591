"""Trade statistics on a hand-computed set of trades."""

from __future__ import annotations

import math

from market.orders import Side
from monitoring.collector import Trade, price_bucket, summarise


def test_hand_computed_summary() -> None:
    trades = [
        # 10 YES at 92¢ (fee 52¢) won: payout $10 − $9.20 − $0.52 = +$0.28
        Trade("KXNBA-A-X", "flb", Side.YES, 1_000, 9_200, 5_200, 9_200, Side.YES),
        # 5 NO at 94¢ (fee 20¢) lost: −$4.70 − $0.20 = −$4.90; filled 1¢ worse than decided
        Trade("KXNBA-B-Y", "flb", Side.NO, 500, 9_400, 2_000, 9_300, Side.YES),
        # 2 YES at 40¢, unsettled
        Trade("KXNFL-C-Z", "odds_edge", Side.YES, 200, 4_000, 0, 4_000, None),
    ]
    s = summarise(trades, ordered_count=2_000, filled_count=1_700)
    assert (s.trades, s.settled, s.wins) == (3, 2, 1)
    assert s.pnl == 2_800 - 49_000
    assert s.fees == 7_200
    assert s.cost == 92_000 + 47_000
    assert math.isclose(s.net_bps, (2_800 - 49_000) / 139_000 * 10_000)
    assert s.fill_ratio == 0.85
    assert [(b.bucket, b.trades, b.wins) for b in s.by_bucket] == [(18, 2, 1)]
    assert s.pnl_by_family == {"KXNBA": -46_200}
    assert s.pnl_by_strategy == {"flb": -46_200}
    assert sum(s.slippage_histogram) == 3
    assert math.isclose(trades[1].slippage_bps, 100 / 9_300 * 10_000)


def test_bucket_edges_are_exact_integers() -> None:
    assert price_bucket(9_499) == 18
    assert price_bucket(9_500) == 19
    assert price_bucket(9_999) == 19
    assert price_bucket(1) == 0


def test_empty_summary_is_nan_not_an_error() -> None:
    s = summarise([], 0, 0)
    assert s.trades == 0 and math.isnan(s.hit_rate) and math.isnan(s.net_bps)
