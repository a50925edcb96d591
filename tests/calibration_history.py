"""Settled-market history for the calibration registry's tests, as the backtest CSV layouts.

Each market: one book snapshot a minute before it closes (YES bid and ask a cent either side
of its price) and its settlement; prices at the extremes (2–15¢, 85–98¢), where the
favourite–longshot strategy trades. Outcomes are drawn from ``true_rate(price)``. Also
versions made by hand (``add_version``), for the registry's tests.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from daemon.calibration_registry import BASELINE_VERSION, PENDING_HASHES, Registry
from monitoring.calibration_gate import CURVE_KIND, SCHEMA_VERSION, Manifest, Scores, gate
from strategies.flb import KALSHI_FLB_TABLE

T0_NS = 1_767_225_600 * 10**9
DAY_NS = 86_400 * 10**9
PRICES = np.r_[np.arange(2, 16), np.arange(85, 99)]


def biased(bias: float) -> Callable[[float], float]:
    """Favourites win ``bias`` more often than priced; longshots lose up to ``bias`` more (at 15¢)."""
    def rate(p: float) -> float:
        return float(np.clip(p + bias if p > 0.5 else p - bias * p / 0.15, 0.001, 0.999))
    return rate


def write_history(directory: Path, n: int, true_rate: Callable[[float], float], seed: int = 0,
                  start_day: float = 0.0, days: float = 60.0,
                  families: tuple[str, ...] = ("KXNBAGAME", "KXNFLGAME")) -> Path:
    """``n`` markets closing evenly over ``days`` from ``start_day``: book.csv and settlements.csv."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "book.csv").open("w", newline="") as fb, (directory / "settlements.csv").open("w", newline="") as fs:
        book, settle = csv.writer(fb), csv.writer(fs)
        book.writerow(["ts", "ticker", "yes_bid", "yes_ask", "yes_bid_size", "yes_ask_size"])
        settle.writerow(["ts", "ticker", "result"])
        for i in range(n):
            cents = int(rng.choice(PRICES))
            won = rng.random() < true_rate(cents / 100)
            close = T0_NS + round((start_day + i * days / n) * DAY_NS)
            ticker = f"{families[i % len(families)]}-{seed:03d}{i:06d}"
            book.writerow([close - 60 * 10**9, ticker, f"{(cents - 1) / 100:.2f}", f"{(cents + 1) / 100:.2f}",
                           "10.00", "10.00"])
            settle.writerow([close, ticker, "yes" if won else "no"])
    return directory


def curve_doc(points: list[list[float]]) -> dict:
    return {"schema": SCHEMA_VERSION, "kind": CURVE_KIND, "segment": "*", "points": points,
            "buckets": [], "calibrators": {}, "segments": []}


def scores(ece: float, brier: float, n: int = 200) -> Scores:
    return Scores(n, ece, brier, 0.1)


def add_version(registry: Registry, name: str, shift: float = 0.0, status: str = "passed") -> None:
    """A fitted version whose curve is the shipped table's with win rates moved by ``shift``."""
    points = [[p, w + shift] for p, w in KALSHI_FLB_TABLE]
    verdict = gate(scores(0.01, 0.05), scores(0.02, 0.05), BASELINE_VERSION).as_dict()
    if status == "rejected":
        verdict = gate(scores(0.03, 0.05), scores(0.02, 0.05), BASELINE_VERSION).as_dict()
    k = len(registry.versions())
    manifest = Manifest(name, f"2026-01-01T00:{k // 60:02d}:{k % 60:02d}.000000Z", status, "test", "*",
                        PENDING_HASHES, {"holdout": {"n": 200, "ece": 0.01, "brier": 0.05, "log_loss": 0.1}},
                        verdict, registry.active())
    registry.write_version(manifest, curve_doc(points), f"# {name}\n\nshift {shift}\n")
