"""Daily trade report: the collector's statistics over one trading day of the ledger."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from typing import Any

from daemon.ledger import LedgerReader
from market.orders import Side
from market.units import format_dollars
from monitoring.collector import Summary, Trade, summarise
from risk.calendar import day_bounds


def daily_summary(reader: LedgerReader, day: dt.date, tz: str = "UTC") -> Summary:
    """Buys filled during ``day`` (in ``tz``), joined with their markets' results."""
    start, end = day_bounds(day, tz)
    # A void market has no winner: its trades count as unsettled here (their refund is in P&L).
    results = {r["ticker"]: Side(r["result"]) for r in reader.rows("settlements") if r["result"] in ("yes", "no")}
    fills = reader.rows("fills", "COALESCE(venue_ts_ns, ts_ns) >= ? AND COALESCE(venue_ts_ns, ts_ns) < ?",
                        (start, end))
    trades = [
        Trade(f["ticker"], f["strategy"] or "unknown", Side(f["side"]), f["count"], f["price"],
              f["fee"], f["decision_price"] or f["price"], results.get(f["ticker"]))
        for f in fills if f["action"] == "buy"
    ]
    intents = reader.rows("order_intents", "decision_ts_ns >= ? AND decision_ts_ns < ?", (start, end))
    ordered = sum(i["count"] for i in intents)
    filled = sum(f["count"] for f in fills if f["client_order_id"] in {i["client_order_id"] for i in intents})
    return summarise(trades, ordered, filled)


def summary_row(day: dt.date, summary: Summary, now_ns: int) -> dict[str, Any]:
    body = asdict(summary)
    body["by_bucket"] = [asdict(b) for b in summary.by_bucket]
    return {"ts_ns": now_ns, "day": day.isoformat(), "body": json.dumps(body, allow_nan=True)}


def render_lines(day: dt.date, s: Summary) -> list[str]:
    """Plain lines (the CLI adds tables); money printed in dollars."""
    lines = [
        f"edgewarden daily report {day.isoformat()}",
        f"trades {s.trades}  settled {s.settled}  wins {s.wins}  hit rate {_pct(s.hit_rate)}",
        f"P&L after fees ${format_dollars(s.pnl)}  fees ${format_dollars(s.fees)}  "
        f"deployed ${format_dollars(s.cost)}  net {_num(s.net_bps)} bps  fill ratio {_pct(s.fill_ratio)}",
    ]
    for b in s.by_bucket:
        lines.append(f"  bucket {b.label:>8}: {b.trades} trades, hit {_pct(b.hit_rate)}, "
                     f"P&L ${format_dollars(b.pnl)}, net {_num(b.net_bps)} bps")
    for name, pnl in sorted(s.pnl_by_strategy.items()):
        lines.append(f"  strategy {name}: ${format_dollars(pnl)}")
    for name, pnl in sorted(s.pnl_by_family.items()):
        lines.append(f"  family {name}: ${format_dollars(pnl)}")
    return lines


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return "n/a" if x != x else f"{x:.0f}"
