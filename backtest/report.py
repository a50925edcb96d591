"""A backtest report as files in memory: ``summary.md`` and PNG plots (the caller writes them).

Plots: equity and drawdown, P&L and net bps by price bucket, the slippage histogram, and
price vs outcome reliability. matplotlib is imported only here, lazily, with the Agg backend.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from market.units import format_dollars

from .engine import BacktestResult
from .metrics import ReliabilityBin, Summary, drawdown, equity_curve

PLOTS = ("equity.png", "pnl_by_bucket.png", "slippage.png", "reliability.png")


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown(summary: Summary, result: BacktestResult, title: str = "Backtest",
             sweep: Sequence[dict[str, Any]] = (), walk: Sequence[dict[str, Any]] = (),
             problems: int = 0, plots: bool = True) -> str:
    s = summary
    lines = [
        f"# {title}", "",
        "| figure | value |", "| --- | --- |",
        f"| P&L after fees | ${format_dollars(s.pnl)} |",
        f"| gross P&L (before fees) | ${format_dollars(s.gross_pnl)} |",
        f"| fees | ${format_dollars(s.fees)} |",
        f"| fee drag (fees / gross P&L) | {_fmt(s.fee_drag_pct)} % |",
        f"| orders / fills / contracts | {s.orders} / {s.fills} / {s.contracts / 100:.2f} |",
        f"| fill ratio (contracts) | {_fmt(s.fill_ratio, 3)} |",
        f"| win rate (settled fills) | {_fmt(s.win_rate, 3)} |",
        f"| capital deployed (settled) | ${format_dollars(s.deployed)} |",
        f"| net bps | {_fmt(s.net_bps, 1)} |",
        f"| Sharpe (daily, annualised) | {_fmt(s.sharpe)} |",
        f"| max drawdown | ${format_dollars(s.max_drawdown)} ({_fmt(s.max_drawdown_pct)} %) |",
        f"| open exposure at the end | ${format_dollars(s.open_exposure)} |",
        f"| events / decisions | {result.events} / {result.decisions} |",
        f"| data problems reported | {problems} |",
        "", "## Gate verdicts", "", "| reason | count |", "| --- | --- |",
        *[f"| {name} | {count} |" for name, count in result.reasons.most_common()],
        "", "## By price bucket (price paid for the side bought)", "",
        "| bucket | fills | win rate | P&L | net bps |", "| --- | --- | --- | --- | --- |",
        *[f"| {b.label} | {b.trades} | {_fmt(b.hit_rate, 3)} | ${format_dollars(b.pnl)} | {_fmt(b.net_bps, 1)} |"
          for b in s.by_bucket],
    ]
    lines += ["", "## Kill switches", ""]
    if result.locks:
        lines += ["| when (UTC) | switch | imposes | until (UTC) | why |", "| --- | --- | --- | --- | --- |",
                  *[f"| {_when(lk.created_ns)} | {lk.rule} | {lk.state} | "
                    f"{_when(lk.until_ns) if lk.until_ns else 'an operator lifts it'} | {lk.reason} |"
                    for lk in result.locks]]
    else:
        lines.append("No kill switch fired (the daemon's switches run after every decision).")
    if s.slippage_bps:
        q = np.percentile(s.slippage_bps, [5, 50, 95])
        lines += ["", f"Slippage vs decision price (bps, worse positive): p5 {q[0]:.1f}, "
                  f"median {q[1]:.1f}, p95 {q[2]:.1f}, mean {np.mean(s.slippage_bps):.1f}."]
    if sweep:
        lines += ["", "## Threshold sweep", "", _table(sweep)]
    if walk:
        lines += ["", "## Walk-forward (thresholds fitted on train, scored on test)", "", _table(walk)]
    if plots:
        lines += ["", "## Plots", "", *[f"![{p}]({p})" for p in PLOTS]]
    return "\n".join(lines) + "\n"


def _when(ts_ns: int) -> str:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: Sequence[dict[str, Any]]) -> str:
    keys = list(rows[0])
    out = ["| " + " | ".join(keys) + " |", "| " + " | ".join("---" for _ in keys) + " |"]
    for row in rows:
        out.append("| " + " | ".join(_cell(row[k]) for k in keys) + " |")
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value)
    return str(value)


def plots(summary: Summary, result: BacktestResult, reliability: Sequence[ReliabilityBin]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files: dict[str, bytes] = {}

    def save(name: str, fig: Any) -> None:
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=90)
        plt.close(fig)
        files[name] = buffer.getvalue()

    ts, equity = equity_curve(result)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    x = (ts - ts[0]) / 86_400e9 if len(ts) else ts
    top.plot(x, equity / 10_000)
    top.set_ylabel("equity ($)")
    bottom.fill_between(x, -drawdown(equity, result.capital) / 10_000, 0, color="tab:red", step="post")
    bottom.set_ylabel("drawdown ($)")
    bottom.set_xlabel("days since first P&L event")
    save("equity.png", fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [b.label for b in summary.by_bucket]
    ax.bar(labels, [b.pnl / 10_000 for b in summary.by_bucket])
    ax.set_ylabel("P&L after fees ($)")
    ax.set_xlabel("price bucket")
    ax.tick_params(axis="x", rotation=45)
    save("pnl_by_bucket.png", fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(summary.slippage_bps or [0.0], bins=40)
    ax.set_xlabel("slippage vs decision price (bps, worse positive)")
    ax.set_ylabel("fills")
    save("slippage.png", fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
    if reliability:
        ax.scatter([r.mean_price for r in reliability], [r.outcome_rate for r in reliability],
                   s=[10 + 3 * math.sqrt(r.n) for r in reliability])
    ax.set_xlabel("price (last YES mid before settlement)")
    ax.set_ylabel("share settled YES")
    save("reliability.png", fig)
    return files
