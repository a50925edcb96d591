"""Markets simulated with the favourite–longshot curve: data whose answer is known.

Each market gets a base YES price; its true probability is the price plus the bias table's
excess (``strategies.flb.KALSHI_FLB_TABLE``) times ``bias_scale``, the same shape as the
built-in exchange's world; the outcome is drawn from it. Quotes move around the base price,
sizes change, trades print at the touch, and the market settles after its last quote. A
backtest of the FLB strategy on this data should recover the curve's per-bucket returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from strategies.flb import KALSHI_FLB_TABLE

from .events import BOOK, SETTLE, TRADE, Dataset, from_arrays

SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SyntheticMarkets:
    n_markets: int = 1000
    updates: int = 20
    """Book events per market."""
    trades_every: int = 0
    """A trade print after every this many book events (0 = none)."""
    bias_scale: float = 1.0
    spread: int = 200
    """YES ask − YES bid, price units (even; quotes sit spread/2 around the mid)."""
    jitter_ticks: int = 0
    """The mid moves by up to this many cents from the base price at each update."""
    size_min: int = 1_000
    size_max: int = 10_000
    """Displayed size range at the touch, count units."""
    step_ns: int = SECOND // 10
    life_ns: int = 60 * SECOND
    """Markets open staggered over the run; each lives about this long."""
    start_ns: int = 1_767_225_600 * SECOND  # 2026-01-01T00:00:00Z
    prices: tuple[int, ...] = ()
    """Base mids to draw from (price units, whole cents); default: 2¢..98¢ with extra weight
    at the ends where the bias is."""
    seed: int = 7


def true_probability(price: np.ndarray, bias_scale: float) -> np.ndarray:
    """Price (probability) → the probability the market settles YES under the biased curve."""
    table = np.asarray(KALSHI_FLB_TABLE)
    excess = (table[:, 1] - table[:, 0]) * bias_scale
    return np.clip(price + np.interp(price, table[:, 0], excess), 1e-6, 1 - 1e-6)


def default_prices() -> np.ndarray:
    ends = np.concatenate([np.arange(2, 16), np.arange(85, 99)]) * 100
    middle = np.arange(16, 85, 3) * 100
    return np.concatenate([ends, ends, middle])


def generate(spec: SyntheticMarkets) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """(dataset, base mid per market, outcome per market: 1 = YES)."""
    rng = np.random.default_rng(spec.seed)
    n, k = spec.n_markets, spec.updates
    if spec.spread % 2 or spec.spread <= 0:
        raise ValueError("spread must be a positive even number of price units")
    choices = np.asarray(spec.prices, np.int64) if spec.prices else default_prices()
    mids = rng.choice(choices, n)
    truth = true_probability(mids / 10_000, spec.bias_scale)
    outcome = (rng.random(n) < truth).astype(np.int64)

    opens = spec.start_ns + rng.integers(0, max(1, spec.life_ns), n)
    half = spec.spread // 2
    jitter = rng.integers(-spec.jitter_ticks, spec.jitter_ticks + 1, (n, k)) * 100
    mid = np.clip(mids[:, None] + jitter, half + 1, 10_000 - half - 1)
    bid, ask = mid - half, mid + half
    bsz = rng.integers(spec.size_min // 100, spec.size_max // 100 + 1, (n, k)) * 100
    asz = rng.integers(spec.size_min // 100, spec.size_max // 100 + 1, (n, k)) * 100
    times = opens[:, None] + np.arange(k)[None, :] * spec.step_ns + rng.integers(0, spec.step_ns, (n, k))
    slot = np.repeat(np.arange(n), k)
    columns = [times.ravel(), np.full(n * k, BOOK), slot, bid.ravel(), ask.ravel(), bsz.ravel(), asz.ravel()]

    if spec.trades_every > 0:
        at = np.arange(spec.trades_every - 1, k, spec.trades_every)
        m = len(at)
        taker = rng.integers(0, 2, (n, m))
        price = np.where(taker == 0, ask[:, at], bid[:, at])
        count = rng.integers(1, 20, (n, m)) * 100
        tts = times[:, at] + 1
        tcols = [tts.ravel(), np.full(n * m, TRADE), np.repeat(np.arange(n), m), price.ravel(),
                 count.ravel(), taker.ravel(), np.zeros(n * m, np.int64)]
        columns = [np.concatenate([x, y]) for x, y in zip(columns, tcols, strict=True)]

    settle_ts = times[:, -1] + spec.step_ns
    scols = [settle_ts, np.full(n, SETTLE), np.arange(n), 1 - outcome, np.zeros(n, np.int64),
             np.zeros(n, np.int64), np.zeros(n, np.int64)]
    columns = [np.concatenate([x, y]) for x, y in zip(columns, scols, strict=True)]
    order = np.lexsort((columns[1], columns[0]))
    columns = [x[order] for x in columns]
    tickers = tuple(f"SYN-{i:06d}" for i in range(n))
    return from_arrays(tickers, *columns), mids, outcome
