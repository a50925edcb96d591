"""`edgewarden calibration shadow-report`: does a shadow agree with the strategy it shadows?

Over the moments both recorded a fair value of the same market (the interval predictions:
``interval`` for the active strategy, ``shadow_interval`` for its shadow): the rank
correlation of the two (Spearman), the PSI of the shadow's probabilities against the
active one's (reference/statistics.md bands), and how often each would have traded.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from scipy import stats

from config import resolved_data_dir
from daemon.ledger import LedgerError, LedgerReader
from monitoring.drift import band, psi

from .common import add_config_arg, add_data_dir_arg, fail, ledger_path, settings_from_args


def register_shadow_report(calibration_sub: argparse._SubParsersAction) -> None:
    parser = calibration_sub.add_parser("shadow-report", help="agreement of each shadow strategy with the one it shadows")
    add_config_arg(parser)
    add_data_dir_arg(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run_shadow_report)


def agreement(reader: LedgerReader, shadow: str, active: str) -> dict[str, Any]:
    pairs = reader.conn.execute(
        "SELECT a.probability, s.probability FROM predictions a JOIN predictions s "
        "ON s.ts_ns = a.ts_ns AND s.ticker = a.ticker "
        "WHERE a.strategy = ? AND a.kind = 'interval' AND s.strategy = ? AND s.kind = 'shadow_interval'",
        (active, shadow)).fetchall()
    proposals = reader.conn.execute(
        "SELECT COUNT(*) FROM predictions WHERE strategy = ? AND kind = 'shadow'", (shadow,)).fetchone()[0]
    decisions = reader.conn.execute(
        "SELECT COUNT(*) FROM predictions WHERE strategy = ? AND kind = 'decision'", (active,)).fetchone()[0]
    out: dict[str, Any] = {"shadow": shadow, "active": active, "pairs": len(pairs), "shadow_proposals": proposals,
                           "active_proposals": decisions, "rank_correlation": None, "psi": None, "psi_band": None}
    if len(pairs) >= 2:
        a, s = [p[0] for p in pairs], [p[1] for p in pairs]
        rho = stats.spearmanr(a, s).statistic
        out["rank_correlation"] = None if math.isnan(rho) else float(rho)
        out["psi"] = psi(a, s)
        out["psi_band"] = band(out["psi"])
    return out


def run_shadow_report(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    shadows = settings.strategies.shadows()
    if not shadows:
        return fail("no shadow strategy is configured: give a [strategies.NAME] table shadow_of = \"ACTIVE\"", 2)
    try:
        with LedgerReader(ledger_path(Path(resolved_data_dir(settings)))) as reader:
            rows = [agreement(reader, shadow, active) for shadow, active in sorted(shadows.items())]
    except LedgerError as exc:
        return fail(f"{exc} (give --data-dir DIR, or run the daemon first)")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="shadow strategies against the active ones (interval predictions)")
    for column in ("shadow", "active", "pairs", "rank corr.", "PSI", "band", "proposals (shadow / active)"):
        table.add_column(column)
    for r in rows:
        rho = "n/a" if r["rank_correlation"] is None else f"{r['rank_correlation']:.3f}"
        value = "n/a" if r["psi"] is None else f"{r['psi']:.4f}"
        table.add_row(r["shadow"], r["active"], str(r["pairs"]), rho, value, r["psi_band"] or "n/a",
                      f"{r['shadow_proposals']} / {r['active_proposals']}")
    Console().print(table)
    return 0
