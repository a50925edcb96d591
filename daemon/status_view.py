"""JSON views of positions and locks, shared by the control socket and the CLI."""

from __future__ import annotations

from market.orders import Position
from market.units import format_count, format_dollars
from risk.locks import Lock


def position_json(p: Position) -> dict:
    return {"ticker": p.ticker, "quantity": format_count(abs(p.quantity)),
            "side": "yes" if p.quantity > 0 else "no", "cost": format_dollars(p.cost)}


def lock_json(lock: Lock) -> dict:
    return {"lock_id": lock.lock_id, "rule": lock.rule, "scope": lock.scope, "state": lock.state,
            "reason": lock.reason, "created_ns": lock.created_ns, "until_ns": lock.until_ns}
