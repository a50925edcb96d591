"""Daily summaries: computed from a real ledger, written once per finished day."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from config import load_settings
from daemon.app import Daemon
from daemon.daemon_jobs import yesterday_summary
from daemon.ledger import Ledger, LedgerReader
from daemon.reports import daily_summary

NS = 1_000_000_000


async def test_yesterdays_summary_is_built_once(tmp_path: Path) -> None:
    now = int(dt.datetime(2026, 3, 11, 12, tzinfo=dt.UTC).timestamp()) * NS
    yesterday = now - 24 * 3600 * NS
    ledger = await Ledger.open(tmp_path / "edgewarden.sqlite")
    await ledger.write("order_intents", [{
        "client_order_id": "c1", "ticker": "KXNBA-A-X", "side": "yes", "action": "buy", "price": 9_200,
        "count": 2_000, "time_in_force": "immediate_or_cancel", "post_only": False, "reduce_only": False,
        "strategy": "odds_edge", "decision_ts_ns": yesterday,
    }])
    await ledger.write("fills", [{
        "fill_id": "f1", "order_id": "o1", "client_order_id": "c1", "ticker": "KXNBA-A-X", "side": "yes",
        "action": "buy", "count": 1_000, "price": 9_200, "is_taker": True, "fee": 5_200,
        "strategy": "odds_edge", "decision_price": 9_200, "venue_ts_ns": yesterday,
    }])
    await ledger.write("settlements", [{"ticker": "KXNBA-A-X", "result": "yes", "payout": 100_000, "fee": 0,
                                        "venue_ts_ns": yesterday + NS}])
    daemon = Daemon(load_settings(None, overrides={"data_dir": str(tmp_path)}, env={}))
    row = yesterday_summary(daemon, now)
    assert row is not None and row["day"] == "2026-03-10"
    body = json.loads(row["body"])
    assert (body["trades"], body["wins"], body["pnl"], body["fill_ratio"]) == (1, 1, 100_000 - 92_000 - 5_200, 0.5)
    await ledger.write("daily_summaries", [row])
    await ledger.close()
    assert yesterday_summary(daemon, now) is None  # written once
    with LedgerReader(tmp_path / "edgewarden.sqlite") as reader:
        assert daily_summary(reader, dt.date(2026, 3, 11)).trades == 0
