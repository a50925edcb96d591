"""`edgewarden status`: trading state, positions, P&L today, last tick, locks."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from config import resolved_control_socket, resolved_data_dir
from daemon.control import ControlError, NoDaemon, control_request
from daemon.ledger import LedgerError, LedgerReader
from daemon.status_view import lock_json, position_json
from market.units import format_dollars
from risk.engine import RiskEngine
from risk.limits import RiskLimits

from .common import add_config_arg, add_data_dir_arg, fail, ledger_path, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="state, positions, P&L, last tick and locks")
    add_config_arg(parser)
    add_data_dir_arg(parser)
    parser.add_argument("--socket", type=Path, help="control socket (default from config)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    socket = args.socket or resolved_control_socket(settings)
    try:
        status = control_request(socket, {"cmd": "status"})
        status.pop("ok", None)
        status["source"] = "running daemon"
    except NoDaemon:
        try:
            limits = RiskLimits.from_settings(settings.risk, settings.fees)
            status = _from_ledger(ledger_path(resolved_data_dir(settings)), limits)
        except LedgerError as exc:
            return fail(f"no daemon is running (nothing listens on {socket}) and {exc}")
        status["source"] = f"ledger (no daemon is running; nothing listens on {socket})"
    except ControlError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"trading state: {status['state']}   [{status['source']}]")
    age = status.get("last_tick_age_s")
    print(f"last tick: {'never' if age is None else f'{age:.1f} s ago'}")
    print(f"realized P&L today: ${status['pnl_today']}")
    positions = status.get("positions", [])
    print(f"positions: {len(positions)}")
    for p in positions:
        print(f"  {p['ticker']}: {p['quantity']} {p['side']} contracts, cost ${p['cost']}")
    locks = status.get("locks", [])
    print(f"locks: {len(locks) or 'none'}")
    for lock in locks:
        print(f"  {lock['lock_id']} {lock['state']} scope={lock['scope']} {lock['rule']}: {lock['reason']}")
    switches = status.get("switches", [])
    if switches:
        print("kill switches (measure / threshold):")
        for sw in switches:
            mark = "LOCKED" if sw["locked"] else "ok"
            print(f"  {sw['rule']:<21} {mark:<6} {sw['value']:g} / {sw['threshold']:g} {sw['unit']}"
                  f"  → {sw['imposes']}")
    return 0


def _from_ledger(path: Path, limits: RiskLimits) -> dict:
    """What the daemon would know on a restart: the ledger replayed through the risk engine."""
    now = time.time_ns()
    with LedgerReader(path) as reader:
        risk = reader.replay_into(RiskEngine(limits), now)
        last = reader.conn.execute("SELECT MAX(ts_ns) FROM decisions").fetchone()[0]
    return {
        "state": risk.state,
        "last_tick_age_s": None if last is None else (now - last) / 1e9,
        "pnl_today": format_dollars(risk.pnl_today(now)),
        "positions": [position_json(p) for p in risk.positions.values() if p.quantity],
        "locks": [lock_json(lock) for lock in risk.active],
        "switches": risk.readings(now, stale_books={}),
    }
