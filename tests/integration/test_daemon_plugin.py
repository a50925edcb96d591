"""A plugin strategy in the real daemon: configured by a table, trading beside the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.daemon_harness import Daemon, write_config
from tests.integration.test_daemon import count, ledger

pytestmark = pytest.mark.slow

PLUGIN_TABLE = """
[strategies.premium]
kind = "strategies.examples.favourite_premium:FavouritePremium"
min_price = 0.75
premium = 0.05
"""


def test_a_plugin_strategy_trades_in_the_sim_daemon_under_its_name(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, write_config(tmp_path, PLUGIN_TABLE), "--duration", "25")
    daemon.wait_event("daemon_ready")
    daemon.wait_for(lambda: count(daemon, "fills", "strategy = 'premium'") >= 1, 40, "a fill of the plugin's")
    assert daemon.proc.wait(60) == 0, daemon.tail()
    with ledger(daemon) as conn:
        decided = {r[0] for r in conn.execute("SELECT DISTINCT strategy FROM decisions")}
        intents = {r[0] for r in conn.execute("SELECT DISTINCT strategy FROM order_intents")}
        approved = conn.execute("SELECT COUNT(*) FROM decisions WHERE strategy = 'premium' "
                                "AND approved_count > 0 AND client_order_id IS NOT NULL").fetchone()[0]
    assert "premium" in decided and "premium" in intents and approved >= 1
    assert decided <= {"flb", "odds_edge", "premium"}
