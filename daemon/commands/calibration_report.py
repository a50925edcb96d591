"""`edgewarden calibration report`: how well do fair probabilities predict what happened?

``--data FILE`` (repeatable): football-data.co.uk CSVs. Each match gives three graded
predictions (home win, draw, away win) at the market-average prices de-vigged
multiplicatively (``strategies/devig.py``): ``AvgCH/AvgCD/AvgCA`` with ``--prices closing``
(the default), ``AvgH/AvgD/AvgA`` with ``--prices opening``. A row without a result (``FTR``
H/D/A) or without the three prices is skipped and counted. Columns are found by name, the
byte-order mark is stripped (``utf-8-sig``), as ``backtest/football.py`` reads these files.
A file that cannot be read, or is not a football-data CSV, stops the command with its name
(exit 2).

Prints n, ECE, AECE, DECE, Brier and log loss (``reference/statistics.md``,
``monitoring/calibration.py``) and the reliability table; ``--json`` one object with all of
it; ``--plot FILE.png`` a reliability diagram (matplotlib, imported only then).

The daemon's own graded predictions (``--ledger``) plug in at :func:`run_report`: a source
produces a :class:`Graded` and :func:`emit` prints it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backtest.football import FOOTBALL_COLUMNS, is_football_header
from monitoring import calibration
from strategies.devig import DevigError, devig

from .common import fail, positive_int

PRICE_COLUMNS = {"closing": ("AvgCH", "AvgCD", "AvgCA"), "opening": ("AvgH", "AvgD", "AvgA")}
"""Market-average decimal odds of home win, draw, away win (``Max*`` has outliers; the
Pinnacle columns are blank for half of 2025/26)."""
RESULTS = ("H", "D", "A")
NO_RESULT, NO_PRICES = "no result (FTR not H, D or A)", "no prices"


class ReportInputError(Exception):
    """A data file the report cannot use; the message names the file."""


@dataclass
class Graded:
    """Probabilities with their outcomes, and what was left out on the way."""

    source: str
    p: np.ndarray
    y: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)


def register_report(calibration_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``calibration report`` under the ``calibration`` group's subparsers."""
    parser = calibration_sub.add_parser(
        "report", help="calibration of fair probabilities against results: ECE, Brier, reliability",
        description="Calibration (ECE, AECE, DECE, Brier, log loss, reliability table) of "
                    "de-vigged bookmaker probabilities in football-data.co.uk CSV files.")
    # --data is checked in run_report, not by argparse, so that --ledger can stand in for it
    parser.add_argument("--data", action="append", type=Path, metavar="FILE", default=[],
                        help="a football-data.co.uk CSV (repeat for several seasons)")
    parser.add_argument("--prices", choices=tuple(PRICE_COLUMNS), default="closing",
                        help="market-average closing (AvgC*, default) or opening (Avg*) odds")
    parser.add_argument("--bins", type=positive_int, default=calibration.DEFAULT_BINS,
                        help=f"equal-width (and equal-mass) bins (default {calibration.DEFAULT_BINS})")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="write a reliability diagram PNG")
    parser.set_defaults(handler=run_report)
    return parser


def run_report(args: argparse.Namespace) -> int:
    # Hook for `--ledger`: build a Graded from the ledger's grades here and pass it to emit().
    if not args.data:
        return fail("calibration report: give --data FILE (a football-data.co.uk CSV; repeatable)", 2)
    try:
        graded = football_graded(args.data, args.prices)
    except ReportInputError as exc:
        return fail(f"calibration report: {exc}", 2)
    return emit(args, graded)


def football_graded(paths: list[Path], prices: str = "closing") -> Graded:
    """Three predictions (home, draw, away) per match of every file, in file order."""
    columns = PRICE_COLUMNS[prices]
    p: list[float] = []
    y: list[float] = []
    graded = Graded("football-data", np.empty(0), np.empty(0),
                    {"prices": prices, "columns": list(columns), "files": []})
    for path in paths:
        before, skipped = len(p), Counter[str]()
        for fair, result in _matches(path, columns, skipped):
            p.extend(fair)
            y.extend(1.0 if result == r else 0.0 for r in RESULTS)
        graded.meta["files"].append({"file": str(path), "matches": (len(p) - before) // 3,
                                     "skipped": sum(skipped.values())})
        graded.skipped.update(skipped)
    graded.p, graded.y = np.array(p), np.array(y)
    graded.meta["matches"] = len(p) // 3
    return graded


def _matches(path: Path, columns: tuple[str, ...], skipped: Counter[str]) -> list[tuple[Any, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or not is_football_header(header):
                raise ReportInputError(f"{path}: not a football-data.co.uk CSV (the header needs "
                                       f"{', '.join(FOOTBALL_COLUMNS)})")
            missing = [c for c in columns if c not in header]
            if missing:
                raise ReportInputError(f"{path}: no {', '.join(missing)} column (market-average odds)")
            index = {name: i for i, name in enumerate(header)}
            out = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                match = _match(row, index, columns)
                if isinstance(match, str):
                    skipped[match] += 1
                else:
                    out.append(match)
            return out
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ReportInputError(f"{path}: not a text CSV ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise ReportInputError(f"{path}: not a readable CSV ({exc})") from None


def _match(row: list[str], index: dict[str, int], columns: tuple[str, ...]) -> tuple[Any, str] | str:
    """(fair probabilities of H, D, A; the result), or why the row is skipped."""
    def cell(name: str) -> str:
        i = index[name]
        return row[i].strip() if i < len(row) else ""

    result = cell("FTR")
    if result not in RESULTS:
        return NO_RESULT
    odds = []
    for name in columns:
        try:
            value = float(cell(name))
        except ValueError:
            return NO_PRICES
        if not math.isfinite(value) or value <= 1.0:  # blank, 0 ("no price") or not a price
            return NO_PRICES
        odds.append(value)
    try:
        return devig(odds, "multiplicative"), result
    except DevigError:
        return NO_PRICES


def report(graded: Graded, bins: int) -> dict[str, Any]:
    """The JSON object: n, the statistics, skipped rows, the reliability table."""
    stats = calibration.summary(graded.p, graded.y, bins)
    table = calibration.reliability(graded.p, graded.y, bins)
    return {"source": graded.source, **graded.meta, **stats, "log_loss_eps": calibration.EPS,
            "skipped": sum(graded.skipped.values()), "skipped_by_reason": dict(graded.skipped),
            "reliability": [row.as_dict() for row in table]}


def emit(args: argparse.Namespace, graded: Graded) -> int:
    """Print (``--json`` or tables) and plot one report; exit status."""
    if not len(graded.p):
        skipped = sum(graded.skipped.values())
        return fail(f"calibration report: no graded predictions ({skipped} rows skipped: "
                    f"{_reasons(graded.skipped) or 'no rows'})", 2)
    out = report(graded, args.bins)
    if args.plot is not None:
        try:
            args.plot.write_bytes(reliability_png(out))
        except ImportError:
            return fail("calibration report: --plot needs matplotlib (pip install -e '.[backtest]')")
        except OSError as exc:
            return fail(f"calibration report: cannot write {args.plot} ({exc.strerror or exc})")
        out["plot"] = str(args.plot)
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        print_tables(out)
    return 0


def _reasons(skipped: Counter[str]) -> str:
    return ", ".join(f"{n} {why}" for why, n in skipped.most_common())


def print_tables(out: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    files = out.get("files", [])
    what = f"from {out['matches']:,} matches in {len(files)} file(s), {out['prices']} prices " \
           f"({'/'.join(out['columns'])})" if "matches" in out else f"({out['source']})"
    console.print(f"[bold]Calibration[/]: {out['n']:,} predictions {what}", soft_wrap=True)
    summary = Table(show_header=False)
    summary.add_column("statistic")
    summary.add_column("value", justify="right")
    for key, label in (("ece", f"ECE ({out['bins']} equal-width bins)"),
                       ("aece", f"AECE ({out['bins']} equal-mass bins)"), ("dece", "DECE (debiased)"),
                       ("brier", "Brier"), ("log_loss", "log loss (eps 1e-15)")):
        summary.add_row(label, f"{out[key]:.4f}")
    summary.add_row("rows skipped", f"{out['skipped']:,}" + (f" ({_reasons(Counter(out['skipped_by_reason']))})"
                                                              if out["skipped"] else ""))
    console.print(summary)
    table = Table(title="Reliability (non-empty bins)")
    for name in ("bin", "n", "mean p", "outcome rate", "gap"):
        table.add_column(name, justify="right")
    for row in out["reliability"]:
        table.add_row(f"[{row['lower']:.3f}, {row['upper']:.3f})", f"{row['n']:,}", f"{row['mean_p']:.4f}",
                      f"{row['mean_y']:.4f}", f"{row['gap']:+.4f}")
    console.print(table)
    if out.get("plot"):
        console.print(f"reliability diagram: {out['plot']}")


def reliability_png(out: dict[str, Any]) -> bytes:
    """The reliability diagram of a report: outcome rate against mean p per bin (marker area
    by count), the diagonal, and the count per bin below."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = out["reliability"]
    mean_p = [r["mean_p"] for r in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 7), sharex=True, height_ratios=(3, 1))
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    top.plot(mean_p, [r["mean_y"] for r in rows], color="tab:blue", linewidth=1)
    top.scatter(mean_p, [r["mean_y"] for r in rows], s=[12 + 4 * math.sqrt(r["n"]) for r in rows],
                color="tab:blue", zorder=3, label="bins (area ~ count)")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("outcome rate")
    top.set_title(f"{out['source']}: n={out['n']:,}  ECE={out['ece']:.4f}  Brier={out['brier']:.4f}")
    top.legend(loc="upper left")
    width = 1 / out["bins"]
    bottom.bar([r["lower"] for r in rows], [r["n"] for r in rows], width=width * 0.9, align="edge")
    bottom.set_xlabel("predicted probability (mean p per bin)")
    bottom.set_ylabel("predictions")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
