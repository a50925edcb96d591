"""Each bookmaker's part of an odds answer, as received, for the ledger's ``odds_snapshots``.

The consensus the strategies trade on is derived; the raw parts are the facts. Kept per
bookmaker (one row each, ``market = "raw"``) so a provider's schema change, or a de-vig bug,
can be replayed from what the feed really said.
"""

from __future__ import annotations

from typing import Any

import msgspec

from daemon.feeds.odds_api import OddsSnapshot


def raw_bookmaker_rows(snapshot: OddsSnapshot) -> list[dict[str, Any]]:
    """Rows for every event's every bookmaker in the answer; nothing when it is not a list
    of events (the parser has already reported that)."""
    if not snapshot.body:
        return []
    try:
        events = msgspec.json.decode(snapshot.body)
    except msgspec.DecodeError:
        return []
    if not isinstance(events, list):
        return []
    rows = []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            continue
        for book in event.get("bookmakers") or ():
            if isinstance(book, dict):
                rows.append({"ts_ns": snapshot.ts_ns, "event_id": event["id"],
                             "sport_key": str(event.get("sport_key", snapshot.sport)),
                             "bookmaker": str(book.get("key", "")), "market": "raw",
                             "body": msgspec.json.encode(book).decode()})
    return rows
