"""Domain values ↔ ledger rows, in one place so every writer and reader agrees."""

from __future__ import annotations

from typing import Any

from market.orders import Action, Order, OrderIntent, Side, TimeInForce

INTENT_COLUMNS = (
    "ts_ns", "client_order_id", "ticker", "side", "action", "price", "count", "time_in_force",
    "post_only", "reduce_only", "strategy", "fair_probability", "decision_ts_ns",
)


def intent_values(intent: OrderIntent) -> tuple[Any, ...]:
    """An ``order_intents`` row as values in ``INTENT_COLUMNS`` order: the order path's form
    (``Ledger.write_ahead_intents``), with no dict per order. The enums are StrEnum members,
    which are their values as text to SQLite and to JSON (``.value`` is a Python call each)."""
    return (
        intent.decision_ts_ns, intent.client_order_id, intent.ticker, intent.side,
        intent.action, intent.price, intent.count, intent.time_in_force,
        intent.post_only, intent.reduce_only, intent.strategy, intent.fair_probability,
        intent.decision_ts_ns,
    )


def intent_row(intent: OrderIntent) -> dict[str, Any]:
    return dict(zip(INTENT_COLUMNS, intent_values(intent), strict=True))


def intent_from_row(row: dict[str, Any]) -> OrderIntent:
    return OrderIntent(
        row["client_order_id"], row["ticker"], Side(row["side"]), Action(row["action"]), row["price"],
        row["count"], TimeInForce(row["time_in_force"]), bool(row["post_only"]),
        bool(row["reduce_only"]), row["strategy"], row["fair_probability"] or 0.0, row["decision_ts_ns"],
    )


def order_row(order: Order, event: str) -> dict[str, Any]:
    return {
        "order_id": order.order_id, "client_order_id": order.client_order_id, "ticker": order.ticker,
        "side": order.side.value, "action": order.action.value, "status": order.status.value,
        "price": order.price, "initial_count": order.initial_count, "fill_count": order.fill_count,
        "remaining_count": order.remaining_count, "taker_fees": order.taker_fees,
        "maker_fees": order.maker_fees, "event": event,
    }
