"""The kill switches, one list: the daemon, the backtester and ``status`` all run these.

A new switch is a file beside these with a class that meets ``base.Switch``, added to
``SWITCHES``; nothing else changes (the risk engine evaluates the list, the recorder writes
what trips, ``status`` shows each reading).
"""

from __future__ import annotations

from .base import Reading, Switch, SwitchContext
from .correlation_breach import CorrelationBreach
from .daily_loss import DailyLoss
from .environment_kill import EnvironmentKill
from .error_burst import ErrorBurst
from .exchange_not_trading import ExchangeNotTrading
from .loss_streak import LossStreak
from .no_fills import NoFills
from .slippage import Slippage
from .stale_book import StaleBook

SWITCHES: tuple[Switch, ...] = (
    EnvironmentKill(), ExchangeNotTrading(), DailyLoss(), LossStreak(), Slippage(), ErrorBurst(),
    NoFills(), CorrelationBreach(), StaleBook(),
)
OPERATOR_RULES = ("operator_halt", "reconcile", "task_crashloop")
"""Rules whose locks come from a person or the daemon's plumbing, not from a switch."""


def by_rule(rule: str) -> Switch:
    for switch in SWITCHES:
        if switch.rule == rule:
            return switch
    raise KeyError(f"no kill switch {rule!r}; the switches: {', '.join(s.rule for s in SWITCHES)}")


__all__ = ["OPERATOR_RULES", "SWITCHES", "Reading", "Switch", "SwitchContext", "by_rule"]
