"""What a kill switch is: a rule over one moment's measures that may leave a lock behind.

In the manner of freqtrade's protections: each rule is a small object in a file of its own,
reads only the :class:`SwitchContext` it is handed (no I/O, no clock) and returns the locks
it trips. A rule trips when its measure *reaches* its threshold. The lock's state follows
what the breach means: losses and broken plumbing halt; worse execution and a crowded group
only stop new risk (REDUCING); a stale book blocks one market. An operator lifts any lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from risk.limits import RiskLimits
from risk.locks import Lock


@dataclass(frozen=True, slots=True)
class SwitchContext:
    """Every measure the switches read at ``now_ns``: the risk engine's own, folded from its
    events, and the two facts only the caller can see (the environment and the kill file)."""

    now_ns: int
    limits: RiskLimits
    next_day_ns: int
    """When the current trading day ends (the daily-loss halt lasts until then)."""
    pnl_today: int = 0
    loss_streak: int = 0
    slippage_mean_bps: float = 0.0
    slippage_fills: int = 0
    errors_last_hour: int = 0
    scans_without_fill: int = 0
    exchange_trading: bool = True
    env_kill: bool = False
    """``EDGEWARDEN_KILL=1`` in the process environment."""
    kill_file: bool = False
    group_exposure: Mapping[str, int] = field(default_factory=dict)
    """Correlated group name → its exposure (money units)."""
    stale_books: Mapping[str, int] = field(default_factory=dict)
    """Ticker → book time of markets whose book is older than ``limits.stale_book_ns``."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A switch's measure against its threshold, in a person's units (``status``)."""

    value: float
    threshold: float
    unit: str

    def as_dict(self) -> dict[str, float | str]:
        return {"value": self.value, "threshold": self.threshold, "unit": self.unit}


class Switch(Protocol):
    rule: str
    """The rule name its locks carry (``locks.rule``)."""
    imposes: str
    """HALTED, REDUCING or BLOCKED."""
    summary: str
    """What trips it, in one line (``status``, the operator guide)."""

    def check(self, ctx: SwitchContext) -> list[Lock]: ...

    def reading(self, ctx: SwitchContext) -> Reading: ...
