"""A gate verdict as a value, and as a row of the ledger's ``decisions`` table.

Every proposal gets one, approved or not (DESIGN.md principle 1: every decision is
recorded), so an operator can ask the ledger why an order was small or never sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .reasons import Reason

DECISION_COLUMNS = (
    "ts_ns", "client_order_id", "ticker", "side", "action", "price", "proposed_count",
    "approved_count", "reason", "strategy", "fair_probability",
)
SIDES = ("yes", "no")
ACTIONS = ("buy", "sell")


@dataclass(frozen=True, slots=True)
class Decision:
    ts_ns: int
    ticker: str
    side: str
    """``yes`` or ``no``: the side bought or sold (``price`` and ``fair_probability`` are of it)."""
    action: str
    price: int
    proposed_count: int
    """What the strategy asked for (count units): the book's size at the price, or its own cap."""
    approved_count: int
    reason: Reason
    strategy: str | None = None
    fair_probability: float | None = None
    client_order_id: str | None = None
    """Set when an order was sent for this decision."""

    def __post_init__(self) -> None:
        if self.side not in SIDES or self.action not in ACTIONS:
            raise ValueError(f"decision for {self.ticker}: side {self.side!r} / action {self.action!r}")
        if self.approved_count < 0 or (self.approved_count > 0) != self.reason.approved:
            raise ValueError(f"decision for {self.ticker}: approved {self.approved_count} "
                             f"contradicts reason {self.reason.name}")

    @property
    def approved(self) -> bool:
        return self.approved_count > 0

    def to_row(self) -> dict[str, Any]:
        return {"ts_ns": self.ts_ns, "client_order_id": self.client_order_id, "ticker": self.ticker,
                "side": self.side, "action": self.action, "price": self.price,
                "proposed_count": self.proposed_count, "approved_count": self.approved_count,
                "reason": self.reason.name, "strategy": self.strategy,
                "fair_probability": self.fair_probability}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Decision:
        """From a ledger row; an unknown reason name is an error naming the row."""
        try:
            reason = Reason[row["reason"]]
        except KeyError:
            raise ValueError(f"decisions row {row.get('id')}: unknown reason {row.get('reason')!r}") from None
        return cls(row["ts_ns"], row["ticker"], row["side"], row["action"], row["price"],
                   row["proposed_count"], row["approved_count"], reason, row["strategy"],
                   row["fair_probability"], row["client_order_id"])
