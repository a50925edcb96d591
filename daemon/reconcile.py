"""Start-up reconciliation: the ledger and the venue must tell the same story before we trade.

1. Intents written ahead but never answered (a crash between write and send, or a lost
   answer) are looked up by client_order_id: found → the order is recorded; not found →
   recorded as never sent. They are never re-sent: a new decision makes a new id.
2. Fills the venue has and the ledger lacks are pulled in, and so are settlements (a market
   that settled while the daemon was down is flat at the venue).
3. Positions derived from the ledger must equal the venue's, and every order resting at
   the venue must be one the ledger wrote ahead (an unknown one — say an intent lost to a
   power cut with ``intent_sync = "os"`` — holds exposure the gate cannot see). If not, or
   if the venue cannot be asked, trading is refused (a HALTED lock) with the reason — fail
   closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from daemon.ledger import Ledger, LedgerReader
from daemon.ledger.rows import order_row
from daemon.logs import get_logger
from daemon.venues.base import VenueError
from market.orders import OrderIntent

if TYPE_CHECKING:
    from daemon.engine import Engine

log = get_logger("edgewarden.reconcile")


@dataclass
class ReconcileReport:
    ok: bool = True
    reason: str = ""
    found_orders: int = 0
    never_sent: int = 0
    new_fills: int = 0
    settled: int = 0
    mismatches: list[str] = field(default_factory=list)


async def reconcile(engine: Engine, ledger: Ledger) -> ReconcileReport:
    report = ReconcileReport()
    await ledger.flush()
    pending, known = await asyncio.to_thread(_pending_intents, ledger)
    try:
        for intent in pending:
            coid, ticker = intent.client_order_id, intent.ticker
            order = await engine.venue.order_by_client_id(coid)
            if order is None:
                report.never_sent += 1
                ledger.append("orders", [{"client_order_id": coid, "ticker": ticker, "status": "failed",
                                          "event": "not_sent", "error": "not found at the venue on start-up"}])
                continue
            report.found_orders += 1
            engine.state.order_intents[order.order_id] = intent
            ledger.append("orders", [order_row(order, "reconciled")])
        report.new_fills = await engine.sync_fills()
        # Markets that settled while we were down are flat at the venue: settle them in the
        # ledger before comparing, or each one reads as a mismatch (a false halt).
        report.settled = await engine.sync_settlements()
        venue_positions = {p.ticker: p.quantity for p in await engine.venue.positions() if p.quantity}
        unknown = [o for o in await engine.venue.orders(status="resting") if o.client_order_id not in known]
    except VenueError as exc:
        report.ok = False
        report.reason = f"cannot reconcile with the venue: {exc}"
        log.critical("reconcile_failed", reason=report.reason)
        return report
    ours = {t: p.quantity for t, p in engine.risk.positions.items() if p.quantity}
    for ticker in sorted(set(ours) | set(venue_positions)):
        if ours.get(ticker, 0) != venue_positions.get(ticker, 0):
            report.mismatches.append(f"{ticker}: ledger {ours.get(ticker, 0)} vs venue {venue_positions.get(ticker, 0)}")
    for order in unknown:
        report.mismatches.append(f"resting order {order.order_id} ({order.client_order_id or 'no client id'}, "
                                 f"{order.ticker}) is not in the ledger")
    if report.mismatches:
        report.ok = False
        report.reason = "the venue differs from the ledger: " + "; ".join(report.mismatches[:10])
        log.critical("reconcile_mismatch", mismatches=report.mismatches)
    log.info("reconciled", ok=report.ok, found_orders=report.found_orders,
             never_sent=report.never_sent, new_fills=report.new_fills, settled=report.settled)
    return report


def _pending_intents(ledger: Ledger) -> tuple[list[OrderIntent], set[str]]:
    """Intents written ahead with no answer recorded, and every intent's client_order_id."""
    with LedgerReader(ledger.path) as reader:
        return reader.unanswered_intents(), reader.intent_ids()
