"""`edgewarden report daily`: the day's trades, hit rate by price bucket, P&L after fees."""

from __future__ import annotations

import argparse
import datetime as dt

from daemon.ledger import LedgerError, LedgerReader
from daemon.reports import daily_summary, render_lines

from .common import add_config_arg, add_data_dir_arg, data_dir_from_args, fail, ledger_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="trade reports from the ledger")
    report_sub = parser.add_subparsers(dest="report_command", metavar="REPORT")
    report_sub.required = True
    daily = report_sub.add_parser("daily", help="one day's trades and statistics")
    add_config_arg(daily)
    add_data_dir_arg(daily)
    daily.add_argument("--date", type=dt.date.fromisoformat, help="YYYY-MM-DD (default: today)")
    daily.add_argument("--tz", default="UTC", help="time zone of the trading day (default UTC)")
    daily.set_defaults(handler=run_daily)


def run_daily(args: argparse.Namespace) -> int:
    path = ledger_path(data_dir_from_args(args))
    day = args.date or dt.datetime.now(dt.UTC).date()
    try:
        with LedgerReader(path) as reader:
            summary = daily_summary(reader, day, args.tz)
    except LedgerError as exc:
        return fail(str(exc))
    print("\n".join(render_lines(day, summary)))
    return 0
