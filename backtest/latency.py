"""How the simulated venue differs from an instant, frictionless one: time and price.

Times: the data is stamped with the exchange's clock; our clock runs ``clock_skew_ns``
ahead of it (negative: behind). A quote stamped t reaches our strategies at our time
t + skew + ``data_ns``; an order sent at our time T reaches the exchange at exchange time
T − skew + ``submit_ns``; a cancel takes ``cancel_ns``. Skew shows where our clock is
compared with exchange stamps: the gate's stale-book check sees books skew older.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Latency:
    submit_ns: int = 0
    cancel_ns: int = 0
    data_ns: int = 0
    clock_skew_ns: int = 0

    def __post_init__(self) -> None:
        for name in ("submit_ns", "cancel_ns", "data_ns"):
            if getattr(self, name) < 0:
                raise ValueError(f"latency {name} must not be negative")

    def exchange_time(self, our_ns: int) -> int:
        return our_ns - self.clock_skew_ns

    def our_time(self, exchange_ns: int) -> int:
        return exchange_ns + self.clock_skew_ns


@dataclass(frozen=True, slots=True)
class Slippage:
    """Taker fills pay the touch price moved against us by ``base_bps`` plus ``impact_bps`` ×
    (order count / displayed size), rounded up to a whole price unit. It stands for what
    latency and depth beyond the top of book cost, so it is not capped at the order's limit;
    0/0 (the default) is exact limit-order semantics. Maker fills have no slippage."""

    base_bps: float = 0.0
    impact_bps: float = 0.0

    def __post_init__(self) -> None:
        if self.base_bps < 0 or self.impact_bps < 0:
            raise ValueError("slippage bps must not be negative")
