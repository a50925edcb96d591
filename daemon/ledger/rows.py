"""Domain values ↔ ledger rows, in one place so every writer and reader agrees."""

from __future__ import annotations

from typing import Any

from market.orders import Action, Order, OrderIntent, Side, TimeInForce


def intent_row(intent: OrderIntent) -> dict[str, Any]:
    return {
        "ts_ns": intent.decision_ts_ns, "client_order_id": intent.client_order_id,
        "ticker": intent.ticker, "side": intent.side.value, "action": intent.action.value,
        "price": intent.price, "count": intent.count, "time_in_force": intent.time_in_force.value,
        "post_only": intent.post_only, "reduce_only": intent.reduce_only, "strategy": intent.strategy,
        "fair_probability": intent.fair_probability, "decision_ts_ns": intent.decision_ts_ns,
    }


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
