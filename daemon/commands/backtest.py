"""`edgewarden backtest`: replay history through the live strategies and gate, with fees.

    edgewarden backtest --data PATH --strategy flb [--sweep 0.85,0.9,0.95:0.05,0.1,0.15]
        [--walk-forward 30d:7d] [--report DIR] [--scheduler tcp://HOST:PORT]

Defaults (risk limits, fee schedule, strategy thresholds) come from the config, as for
``run``. Heavy modules are imported inside the handler.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from market.units import DAY_NS, HOUR_NS, SECOND_NS

from .common import add_config_arg, fail, settings_from_args

_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_NS = {"ms": 10**6, "s": SECOND_NS, "m": 60 * SECOND_NS, "h": HOUR_NS, "d": DAY_NS}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="replay history through the strategies and gate, after fees")
    add_config_arg(p)
    p.add_argument("--data", type=Path, action="append", required=True, metavar="PATH",
                   help="CSV/Parquet file, ledger (.sqlite), football-data CSV, or a directory (repeatable)")
    p.add_argument("--strategy", default="flb", metavar="NAME",
                   help="a [strategies.NAME] table of the config (flb, odds_edge, a plugin's), or all")
    p.add_argument("--sweep", metavar="FAVS:LONGS",
                   help="threshold grid in dollars, e.g. 0.85,0.90,0.95:0.05,0.10,0.15")
    p.add_argument("--walk-forward", metavar="TRAIN:TEST[:STEP]",
                   help="rolling windows, e.g. 60d:14d (needs --sweep for the grid to fit)")
    p.add_argument("--objective", default="pnl", choices=("pnl", "net_bps", "sharpe"),
                   help="what the walk-forward fit maximises (default pnl)")
    p.add_argument("--report", type=Path, metavar="DIR", help="write summary.md and PNG plots here")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the sweep on this Dask cluster")
    p.add_argument("--workers", type=int, default=0, help="local sweep processes (0 = one per CPU)")
    x = p.add_argument_group("simulated venue")
    x.add_argument("--tif", choices=("ioc", "gtc", "fok"), help="default: the config's order_time_in_force")
    x.add_argument("--order-ttl", type=_duration, default=0, metavar="DUR", help="GTC: cancel after")
    x.add_argument("--decision-interval", type=_duration, default=0, metavar="DUR",
                   help="decide on this clock grid (default: after every event time)")
    x.add_argument("--submit-latency", type=_duration, default=0, metavar="DUR")
    x.add_argument("--cancel-latency", type=_duration, default=0, metavar="DUR")
    x.add_argument("--data-latency", type=_duration, default=0, metavar="DUR")
    x.add_argument("--clock-skew", type=_signed_duration, default=0, metavar="DUR",
                   help="our clock minus the exchange's (may be negative)")
    x.add_argument("--slippage-bps", type=float, default=0.0, help="base slippage on taker fills")
    x.add_argument("--impact-bps", type=float, default=0.0, help="extra bps × order size / shown size")
    x.add_argument("--close-guard", type=_duration, default=2 * 10**9, metavar="DUR",
                   help="no orders this close to a market's close (default 2s, as the daemon)")
    f = p.add_argument_group("sportsbook files")
    f.add_argument("--spread", type=int, default=2, metavar="CENTS", help="quoted spread (default 2)")
    f.add_argument("--price-from", default="Avg,B365", help="bookmaker prefixes for the price")
    f.add_argument("--fair-from", default="PS,B365", help="bookmaker prefixes for fair_yes")
    f.add_argument("--devig", default="multiplicative", help="de-vig method for both")
    p.add_argument("--strict", action="store_true", help="stop at the first bad row")
    p.add_argument("--show-problems", type=int, default=10, metavar="N", help="print the first N (default 10)")
    p.set_defaults(handler=run_backtest_command)


def _duration(text: str) -> int:
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration like 500ms, 2s, 5m, 1h, 7d")
    return int(float(match.group(1)) * _UNIT_NS[match.group(2)])


def _signed_duration(text: str) -> int:
    text = text.strip()
    return -_duration(text[1:]) if text.startswith("-") else _duration(text)


def _prices(text: str) -> list[int]:
    from market.units import parse_price

    return [parse_price(v.strip()) for v in text.split(",") if v.strip()]


def build_strategies(settings: Any, limits: Any, which: str) -> list:
    """The config's strategy ``which`` (a table name, or "all"), enabled; ValueError if none."""
    from strategies.base import StrategyDefaults
    from strategies.registry import build_strategies as build

    return build(settings.strategies.tables(), StrategyDefaults(limits.min_edge, limits.fee_rate_ppm), which)


def build_execution(settings: Any, args: argparse.Namespace) -> Any:
    from backtest.engine import Execution
    from backtest.latency import Latency, Slippage
    from market.fees import schedule_from_name
    from market.orders import TimeInForce

    tif = {"ioc": TimeInForce.IOC, "gtc": TimeInForce.GTC, "fok": TimeInForce.FOK}.get(
        args.tif or "", TimeInForce(settings.engine.order_time_in_force))
    fees = settings.fees
    return Execution(
        time_in_force=tif, order_ttl_ns=args.order_ttl,
        latency=Latency(args.submit_latency, args.cancel_latency, args.data_latency, args.clock_skew),
        slippage=Slippage(args.slippage_bps, args.impact_bps),
        fees=schedule_from_name(fees.schedule, fees.multiplier, fees.profit_fee_rate),
        decision_interval_ns=args.decision_interval, close_guard_ns=args.close_guard,
        max_orders_per_decision=max(1, int(settings.venue.kalshi.writes_per_second)),
    )


@contextmanager
def open_ledger(path: Path) -> Iterator[Any]:
    """The ledger at ``path`` for ``backtest.data``; a file that is not one is a DataError."""
    from backtest.events import DataError
    from daemon.ledger import LedgerError, LedgerReader

    try:
        with LedgerReader(path) as reader:
            yield reader
    except (LedgerError, OSError) as exc:
        raise DataError(f"{path.name}: not a readable ledger ({exc})") from None


def load_dataset(paths: Path | Iterable[Path], football: Any = None, strict: bool = False) -> Any:
    """``backtest.data.load`` with the daemon's ledger reader for any ledger among ``paths``."""
    from backtest.data import load

    return load(paths, football, strict, open_ledger)


def dask_backend(address: str) -> Any:
    """A Dask backend connected to ``address`` (the only socket a backtest opens, here)."""
    from dask.distributed import Client

    from backtest.sweep import DaskBackend

    return DaskBackend(Client(address))


def run_backtest_command(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from backtest.engine import run_backtest
    from backtest.events import DataError
    from backtest.football import FootballOptions
    from backtest.metrics import reliability, summarize
    from backtest.report import markdown, plots
    from backtest.sweep import LocalBackend, SweepJob, grid, sweep
    from backtest.walkforward import walk_forward
    from risk.limits import RiskLimits

    settings = settings_from_args(args)
    limits = RiskLimits.from_settings(settings.risk, settings.fees)
    try:
        strategies = build_strategies(settings, limits, args.strategy)
        football = FootballOptions(
            price_from=tuple(s.strip() for s in args.price_from.split(",") if s.strip()),
            fair_from=tuple(s.strip() for s in args.fair_from.split(",") if s.strip()),
            devig_method=args.devig, spread=args.spread * 100)
        points = None
        if args.sweep:
            favs, sep, longs = args.sweep.partition(":")
            if not sep:
                raise ValueError("--sweep needs FAVOURITES:LONGSHOTS, e.g. 0.9,0.95:0.05,0.1")
            points = grid(_prices(favs), _prices(longs))
            if not points:
                raise ValueError("--sweep: no pair has its longshot threshold below its favourite one")
        walk = None
        if args.walk_forward:
            parts = [_duration(p) for p in args.walk_forward.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError("--walk-forward needs TRAIN:TEST or TRAIN:TEST:STEP")
            if points is None:
                raise ValueError("--walk-forward needs --sweep: the grid the thresholds are fitted on")
            walk = parts + [0] * (3 - len(parts))
        data = load_dataset(args.data, football, strict=args.strict)
    except (ValueError, argparse.ArgumentTypeError, DataError, OSError) as exc:
        return fail(str(exc), 2)

    for problem in data.problems[: args.show_problems]:
        print(f"data: {problem}", file=sys.stderr)
    if len(data.problems) > args.show_problems:
        print(f"data: ... {len(data.problems) - args.show_problems} more problems", file=sys.stderr)
    execution = build_execution(settings, args)
    job = SweepJob(tuple(strategies), limits, execution)
    backend = dask_backend(args.scheduler) if args.scheduler else LocalBackend(args.workers)

    with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("replay", total=len(data))
        result = run_backtest(data, strategies, limits, execution,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))
        sweep_rows: list = []
        walk_rows: list = []
        if points is not None:
            task = bar.add_task("sweep", total=len(points))
            sweep_rows = sweep(data, job, points, backend,
                               progress=lambda done, total: bar.update(task, completed=done))
        if walk is not None:
            task = bar.add_task("walk-forward", total=None)
            walk_rows = walk_forward(data, job, points or [], walk[0], walk[1], walk[2], args.objective,
                                     backend, progress=lambda done, total: bar.update(
                                         task, completed=done, total=total))
    summary = summarize(result)
    text = markdown(summary, result, f"Backtest: {args.strategy} on {', '.join(map(str, args.data))}",
                    sweep_rows, walk_rows, len(data.problems), plots=args.report is not None)
    print(text)
    if args.report is not None:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "summary.md").write_text(text)
        for name, body in plots(summary, result, reliability(data)).items():
            (args.report / name).write_bytes(body)
        print(f"report written to {args.report}", file=sys.stderr)
    return 0
