"""`edgewarden trace CLIENT_ORDER_ID`: why an order exists, from its fills back to the data."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.tree import Tree

from daemon.ledger import LedgerError, LedgerReader
from market.units import format_count, format_dollars

from .common import add_config_arg, add_data_dir_arg, data_dir_from_args, fail, ledger_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("trace", help="an order's lineage: fill → order → intent → decision → "
                                          "prediction → model run → snapshots")
    parser.add_argument("client_order_id", help="the order's client_order_id (in the trade CSV and the logs)")
    add_config_arg(parser)
    add_data_dir_arg(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = ledger_path(data_dir_from_args(args))
    try:
        with LedgerReader(path) as reader:
            lineage = reader.trace(args.client_order_id)
    except LedgerError as exc:
        return fail(f"{exc} (give --data-dir DIR, or run the daemon first)")
    if lineage is None:
        return fail(f"no order intent {args.client_order_id!r} in {path}", code=2)
    if args.json:
        print(json.dumps(lineage, indent=2))
        return 0
    Console().print(tree(lineage))
    return 0


def tree(t: dict[str, Any]) -> Tree:
    intent = t["intent"]
    root = Tree(f"[bold]{t['client_order_id']}[/]  {intent['ticker']} buy {intent['side']} "
                f"{format_count(intent['count'])} @ ${format_dollars(intent['price'])} ({intent['strategy']})")
    fills = root.add(f"fills: {len(t['fills'])}")
    for f in t["fills"]:
        fills.add(f"{f['fill_id']}: {format_count(f['count'])} @ ${format_dollars(f['price'])}, "
                  f"fee ${format_dollars(f['fee'])}")
    orders = root.add(f"order answers: {len(t['orders'])}")
    for o in t["orders"]:
        orders.add(f"{o['event']}: {o['status']} order {o['order_id'] or '-'} {o['error'] or ''}".rstrip())
    root.add(f"intent: written ahead at {intent['ts_ns']}, fair {intent['fair_probability']:.4f}, "
             f"{intent['time_in_force']}")
    for d in t["decisions"]:
        root.add(f"decision: {d['reason']}, approved {format_count(d['approved_count'])} of "
                 f"{format_count(d['proposed_count'])}")
    for item in t["predictions"]:
        p, run = item["prediction"], item["model_run"]
        node = root.add(f"prediction {p['prediction_id']}: P({p['side']}) = {p['probability']:.4f}, "
                        f"edge after fees {p['edge']:+.4f}" + (f", event {p['event_id']}" if p["event_id"] else ""))
        if run is not None:
            runs = node.add(f"model run {run['run_id']}: {run['strategy']} v{run['strategy_version']}, "
                            f"calibration {run['calibration_version'] or 'config'}, policy {run['policy_version']}, "
                            f"{run['trigger']}, {(run['duration_ns'] or 0) / 1000:.0f} µs over {run['markets']} markets")
            for i in item["inputs"]:
                leaf = runs.add(f"input {i['source']} {i['ref']}: {i['body']}")
                for snap in i["snapshots"]:
                    leaf.add(f"snapshot row {snap['id']} ({snap.get('bookmaker') or 'book'})")
    for g in t["grades"]:
        root.add(f"grade: {g['outcome']}" + (f", Brier {g['brier']:.4f}, CLV {g['clv']:+.4f}"
                                             if g["brier"] is not None and g["clv"] is not None else ""))
    return root
