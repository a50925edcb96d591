"""`edgewarden ledger inspect`: what the ledger holds, without opening SQLite by hand."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from daemon.ledger import LedgerError, LedgerReader

from .common import add_config_arg, add_data_dir_arg, data_dir_from_args, fail, ledger_path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("ledger", help="look into the ledger")
    ledger_sub = parser.add_subparsers(dest="ledger_command", metavar="ACTION")
    ledger_sub.required = True
    inspect = ledger_sub.add_parser("inspect", help="row counts per table and the last rows")
    add_config_arg(inspect)
    add_data_dir_arg(inspect)
    inspect.add_argument("--rows", type=int, default=3, help="last rows to show per table (default 3)")
    inspect.add_argument("--table", help="show only this table")
    inspect.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    path = ledger_path(data_dir_from_args(args))
    try:
        reader = LedgerReader(path)
    except LedgerError as exc:
        return fail(f"{exc} (give --data-dir DIR, or run the daemon first)")
    console = Console()
    with reader:
        counts = reader.table_counts()
        if args.table and args.table not in counts:
            return fail(f"no table {args.table!r}; tables: {', '.join(counts)}", code=2)
        summary = Table(title=f"ledger {path}")
        summary.add_column("table")
        summary.add_column("rows", justify="right")
        for table, count in counts.items():
            summary.add_row(table, f"{count:,}")
        console.print(summary)
        for table, count in counts.items():
            if not count or (args.table and table != args.table) or args.rows <= 0:
                continue
            rows = reader.last_rows(table, args.rows)
            detail = Table(title=f"{table}: last {len(rows)}")
            for column in rows[0]:
                detail.add_column(column, overflow="fold")
            for row in rows:
                detail.add_row(*(_cell(v) for v in row.values()))
            console.print(detail)
    return 0


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
