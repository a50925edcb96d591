"""Fit a calibration candidate from files or the ledger, record it, and let the gate decide.

``edgewarden calibration fit`` and the daemon's weekly ``calibration-fit`` job both run
:func:`fit_and_record`: load the settled markets (``backtest.data``: CSV or Parquet history,
football-data files, a daemon ledger), fit (``backtest.calibration_fit``), write the version
(``daemon.calibration_registry``) with status ``passed`` or ``rejected`` and its numbers, and
make it active only when the gate passed it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backtest.calibration_fit import (
    Candidate,
    FitOptions,
    NotEnoughData,
    fit_candidate,
    samples_from_dataset,
)
from backtest.data import load
from backtest.events import DataError
from daemon.calibration_registry import PENDING_HASHES, Registry, RegistryError, iso, sha256
from monitoring.calibration_gate import Manifest, curve_points

__all__ = ["FitOutcome", "NotEnoughData", "fit_and_record"]


@dataclass(frozen=True, slots=True)
class FitOutcome:
    version: str
    status: str
    """``passed`` or ``rejected``."""
    activated: bool
    candidate: Candidate
    problems: int
    """Rows of the data that could not be used (reported by the loader)."""
    skipped: dict[str, int]

    def summary(self) -> dict[str, Any]:
        return {"version": self.version, "status": self.status, "activated": self.activated,
                "gate": self.candidate.verdict.as_dict(), "metrics": self.candidate.metrics,
                "data_problems": self.problems, "skipped": self.skipped}


def fit_and_record(registry: Registry, sources: Sequence[Path], options: FitOptions, *,
                   activate: bool = True, who: str | None = None, now_ns: int | None = None) -> FitOutcome:
    """Fit on ``sources``, write the version, activate it if the gate passed it (and ``activate``).
    Raises NotEnoughData (no version written), DataError, RegistryError."""
    from daemon.commands.backtest import open_ledger  # the daemon's reader for a ledger

    if not sources:
        raise DataError("no data: give --data FILE and/or --ledger")
    dataset = load(list(sources), open_ledger=open_ledger)
    samples, skipped = samples_from_dataset(dataset)
    registry.ensure_baseline()
    now_ns = time.time_ns() if now_ns is None else now_ns
    source = ", ".join(p.name for p in sources)
    with registry.locked():
        active = registry.read_active()
        if active is None:  # ensure_baseline made one active; someone removed the link since
            raise RegistryError(f"{registry.root}: no active version to gate against")
        candidate = fit_candidate(samples, curve_points(active.curve_doc), active.name, options)
        status = "passed" if candidate.verdict.passed else "rejected"
        curve_sha = sha256(repr(candidate.curve["points"]).encode())[:8]
        version = base = f"cal-{iso(now_ns)[:19].replace('-', '').replace(':', '')}Z-{curve_sha}"
        for k in range(2, 1000):  # the same fit twice in one second
            if not (registry.root / version).exists():
                break
            version = f"{base}-{k}"
        manifest = Manifest(version, iso(now_ns), status, source, options.family,
                            PENDING_HASHES, candidate.metrics,
                            candidate.verdict.as_dict(), active.name)
        registry.write_version(manifest, candidate.curve, changes_text(version, source, candidate, options))
        activated = bool(candidate.verdict.passed and activate)
        if activated:
            registry.activate(version, "gate", candidate.verdict.reasons[0], who, now_ns=now_ns)
    return FitOutcome(version, status, activated, candidate, len(dataset.problems), skipped)


def _when(ns: int | None) -> str:
    return "?" if ns is None else iso(ns)[:10]


def changes_text(version: str, source: str, c: Candidate, options: FitOptions) -> str:
    """CHANGES.md: what was fitted on what, how it scored against its parent, the buckets."""
    m, v = c.metrics, c.verdict
    train, held, theirs = m["train"], m["holdout"], m["active_holdout"]
    lines = [
        f"# {version}", "",
        f"Fitted from {source} (segment {options.family}): {train['n']} settled markets closing "
        f"{_when(train.get('start_ns'))} … {_when(train.get('end_ns'))}; held out the {held['n']} most recent, "
        f"closing {_when(held.get('start_ns'))} … {_when(held.get('end_ns'))}. Parent: {theirs['version']}.", "",
        "| held-out window | ECE | Brier | log loss |", "| --- | --- | --- | --- |",
        f"| this version | {held['ece']:.6f} | {held['brier']:.6f} | {held['log_loss']:.6f} |",
        f"| {theirs['version']} | {theirs['ece']:.6f} | {theirs['brier']:.6f} | {theirs['log_loss']:.6f} |", "",
        f"Gate: **{'passed' if v.passed else 'rejected'}**: {'; '.join(v.reasons)}.", "",
        "| price bucket | win rate | average price | markets |", "| --- | --- | --- | --- |",
        *(f"| {lo:.2f}–{hi:.2f} | {win:.4f} | {avg:.4f} | {n} |" for lo, hi, win, avg, n in c.curve["buckets"]),
        "",
    ]
    return "\n".join(lines)
