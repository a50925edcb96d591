"""The calibration registry on real files: immutable versions, the atomic ``active`` flip under
a concurrent reader, rollback byte for byte, tampering caught, the gate's rule, the fit."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from backtest.calibration_fit import FitOptions, NotEnoughData, fit_candidate, samples_from_dataset
from backtest.data import load
from daemon.calibration_registry import (
    ACTIVE,
    BASELINE_VERSION,
    PENDING_HASHES,
    Registry,
    RegistryError,
    ledger_rows,
)
from monitoring.calibration_gate import (
    Manifest,
    ManifestError,
    gate,
    price_region,
    series_family,
)
from strategies.flb import KALSHI_FLB_TABLE
from tests.calibration_history import add_version, biased, scores, write_history

NOW = 1_767_225_600 * 10**9


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    r = Registry.in_data_dir(tmp_path / "state")
    r.ensure_baseline(now_ns=NOW)
    return r


# ---------------------------------------------------------------------------------------------
# the gate


def test_the_gate_refuses_a_candidate_that_worsens_brier_even_with_a_better_ece() -> None:
    verdict = gate(scores(0.010, 0.0501), scores(0.020, 0.0500), "v1")
    assert not verdict.passed
    assert verdict.reasons == ("Brier 0.050100 is above the active version's 0.050000",)


def test_the_gate_needs_a_strictly_lower_ece_and_a_brier_not_higher() -> None:
    assert gate(scores(0.010, 0.0500), scores(0.020, 0.0500), "v1").passed  # equal Brier is fine
    tie = gate(scores(0.020, 0.0400), scores(0.020, 0.0500), "v1")
    assert not tie.passed and "ECE 0.020000 is not below" in tie.reasons[0]
    both = gate(scores(0.030, 0.06), scores(0.020, 0.05), "v1")
    assert not both.passed and len(both.reasons) == 2
    with pytest.raises(ValueError, match="different windows"):
        gate(scores(0.01, 0.05, n=100), scores(0.02, 0.05, n=200), "v1")


def test_segments_come_from_the_ticker_and_the_price() -> None:
    assert series_family("KXNBAGAME-26DEC04CHABKN0008-BKN") == "KXNBAGAME"
    assert (price_region(0.4999), price_region(0.5), price_region(0.97)) == ("longshot", "favourite", "favourite")


# ---------------------------------------------------------------------------------------------
# versions on disk


def test_the_baseline_is_written_and_active_on_first_use_and_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        registry = Registry.in_data_dir(tmp_path / "state")
        assert registry.ensure_baseline(now_ns=NOW) == BASELINE_VERSION
        add_version(registry, "v1")
        registry.promote("v1", "test")
    finally:
        os.umask(old)
    assert os.readlink(registry.root / ACTIVE) == "v1"
    baseline = registry.read(BASELINE_VERSION)
    assert baseline.manifest.status == "baseline" and baseline.manifest.gate_passed
    assert baseline.curve.prices.tolist() == [p for p, _ in KALSHI_FLB_TABLE]
    modes = {p.relative_to(tmp_path): stat.S_IMODE(p.lstat().st_mode) for p in tmp_path.rglob("*")
             if not p.is_symlink()}
    assert {p: m for p, m in modes.items() if m != (0o700 if (tmp_path / p).is_dir() else 0o600)} == {}
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".tmp")]


def test_a_version_is_immutable_and_its_manifest_hashes_every_file(registry: Registry) -> None:
    add_version(registry, "v1")
    v = registry.read("v1")
    for name, digest in v.manifest.files.items():
        assert hashlib.sha256((registry.root / "v1" / name).read_bytes()).hexdigest() == digest
    with pytest.raises(RegistryError, match="exists already; versions are immutable"):
        add_version(registry, "v1", shift=0.001)
    assert registry.read("v1").manifest_sha256 == v.manifest_sha256
    with pytest.raises(RegistryError, match="expected up to 80 letters"):
        registry.read("../etc")


@pytest.mark.parametrize(("tamper", "message"), [
    (lambda d: (d / "curve.json").write_text((d / "curve.json").read_text().replace("0.9382", "0.9482")),
     "curve.json has sha256"),
    (lambda d: (d / "CHANGES.md").unlink(), "CHANGES.md is missing"),
    (lambda d: (d / "extra.py").write_text("x = 1\n"), "extra.py is not in the manifest"),
    (lambda d: (d / "manifest.json").write_text((d / "manifest.json").read_text().replace('"test"', '"TEST"')),
     "manifest.json has changed since the version was written"),
])
def test_tampering_is_caught_on_promote(registry: Registry, tamper, message: str) -> None:
    add_version(registry, "v1")
    tamper(registry.root / "v1")
    with pytest.raises(RegistryError, match=message):
        registry.promote("v1", "ship it")
    assert registry.active() == BASELINE_VERSION
    assert [e["action"] for e in registry.audit()] == ["baseline"]  # nothing recorded either


def test_promote_needs_the_gate_or_force_and_a_reason(registry: Registry) -> None:
    add_version(registry, "bad", status="rejected")
    with pytest.raises(RegistryError, match="rejected by the gate .*ECE 0.030000 is not below.*--force"):
        registry.promote("bad", "try")
    with pytest.raises(RegistryError, match="a reason is required"):
        registry.promote("bad", " ", force=True)
    entry = registry.promote("bad", "operator knows better", who="alice", force=True)
    assert (entry["forced"], entry["who"], entry["previous"], registry.active()) == (True, "alice", BASELINE_VERSION, "bad")
    with pytest.raises(RegistryError, match="already active"):
        registry.promote("bad", "again", force=True)
    with pytest.raises(ManifestError, match="disagrees with gate.passed"):
        Manifest("x", "t", "passed", "s", "*", PENDING_HASHES, {"holdout": {"n": 1, "ece": 0, "brier": 0, "log_loss": 0}},
                 gate(scores(0.03, 0.05), scores(0.02, 0.05), "b").as_dict(), None)


def test_rollback_restores_the_previous_artifact_byte_for_byte(registry: Registry) -> None:
    add_version(registry, "v1", shift=0.002)
    registry.promote("v1", "first fit")
    before = files_of(registry.root / ACTIVE)  # read through the link, as the daemon does
    add_version(registry, "v2", shift=0.004)
    registry.promote("v2", "second fit")
    assert files_of(registry.root / ACTIVE) != before
    with pytest.raises(RegistryError, match="never been active"):
        add_version(registry, "v3")
        registry.rollback("v3", "no")
    entry = registry.rollback("v1", "v2 misbehaves", who="bob")
    assert files_of(registry.root / ACTIVE) == before
    assert registry.read_active().curve.excess.tolist() == registry.read("v1").curve.excess.tolist()
    assert (entry["action"], entry["previous"], entry["who"], entry["why"]) == ("rollback", "v2", "bob", "v2 misbehaves")
    assert [(e["action"], e["version"]) for e in registry.audit()] == [
        ("baseline", BASELINE_VERSION), ("promote", "v1"), ("promote", "v2"), ("rollback", "v1")]
    rows = ledger_rows(registry.audit())
    assert len({r["entry_id"] for r in rows}) == 4 and rows[-1]["previous"] == "v2"


def test_a_concurrent_reader_never_sees_a_half_written_version(registry: Registry) -> None:
    """Readers resolve ``active`` and check the whole version (and every version listed),
    again and again, while new versions are written and promoted as fast as they can be: every
    read is one complete version. (Held against two broken writers: an unlink-then-symlink flip
    and a version written in place both fail it.)"""
    stop = threading.Event()
    seen: list[str] = []
    failures: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                v = registry.read_active()  # the registry's checks: files, hashes, curve
                if v is None:
                    failures.append("no active version")
                    continue
                name = os.readlink(registry.root / ACTIVE)  # and by hand, independent of them
                where = registry.root / name
                manifest = json.loads((where / "manifest.json").read_bytes())
                for file, digest in manifest["files"].items():
                    if hashlib.sha256((where / file).read_bytes()).hexdigest() != digest:
                        failures.append(f"{name}/{file}: hash")
                seen.append(v.name)
                for listed in os.listdir(registry.root):  # and every version listed, even the newest
                    if not listed.startswith(".") and (registry.root / listed).is_dir() and listed != ACTIVE:
                        registry.read(listed)
            except Exception as exc:  # anything at all is a failure of the flip
                failures.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(60):
            add_version(registry, f"v{i}", shift=i * 1e-5)
            registry.promote(f"v{i}", f"flip {i}")
            if i % 10 == 9:
                registry.rollback(f"v{i - 5}", "flip back")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert len(set(seen)) > 5, "the reader saw the link move"
    assert registry.active() == "v54"  # the last flip was a rollback


# ---------------------------------------------------------------------------------------------
# the fit


def samples(tmp_path: Path, *parts: tuple[int, float, float, float]):
    """History from (markets, bias, start_day, days) parts, as fit samples."""
    dirs = [write_history(tmp_path / f"part{i}", n, biased(bias), seed=i, start_day=start, days=days)
            for i, (n, bias, start, days) in enumerate(parts)]
    return samples_from_dataset(load(dirs))[0]


def test_a_better_curve_passes_the_gate_on_the_held_out_window(tmp_path: Path) -> None:
    data = samples(tmp_path, (3000, 0.07, 0.0, 60.0))
    c = fit_candidate(data, KALSHI_FLB_TABLE, BASELINE_VERSION, FitOptions())
    assert c.verdict.passed, c.verdict.reasons
    held = c.metrics["holdout"]
    assert held["n"] == 600 and c.metrics["train"]["n"] == 2400
    assert held["start_ns"] > c.metrics["train"]["end_ns"]  # held out: the most recent, unseen
    assert held["ece"] < c.metrics["active_holdout"]["ece"]
    prices = [p for p, _ in c.curve["points"]]
    assert prices == sorted(prices) and all(b[4] >= 20 for b in c.curve["buckets"])
    assert {s["family"] for s in c.metrics["segments"]} == {"KXNBAGAME", "KXNFLGAME"}
    fitted = [s for s in c.curve["segments"] if s["calibrator"] is not None]
    assert len(fitted) == 4 and all(s["n"] >= 100 for s in fitted)


def test_a_candidate_that_would_worsen_brier_is_rejected(tmp_path: Path) -> None:
    """Fitted on a past that ran the other way (favourites losing), judged on a recent window
    that looks like the active table: worse Brier, refused."""
    data = samples(tmp_path, (2400, -0.05, 0.0, 48.0), (600, 0.015, 48.0, 12.0))
    c = fit_candidate(data, KALSHI_FLB_TABLE, BASELINE_VERSION, FitOptions())
    assert not c.verdict.passed
    assert c.verdict.candidate.brier > c.verdict.active.brier
    assert any(r.startswith("Brier") for r in c.verdict.reasons)


def test_too_few_markets_give_no_candidate(tmp_path: Path) -> None:
    data = samples(tmp_path, (400, 0.05, 0.0, 30.0))
    with pytest.raises(NotEnoughData, match="400 settled markets with a price; at least 500 needed"):
        fit_candidate(data, KALSHI_FLB_TABLE, BASELINE_VERSION, FitOptions())
    with pytest.raises(NotEnoughData, match="in the held-out window"):
        fit_candidate(data, KALSHI_FLB_TABLE, BASELINE_VERSION, FitOptions(min_samples=100, holdout_days=1.0))
    only_longshots = data.select(data.price < 5_000)
    with pytest.raises(NotEnoughData, match="favourite prices .*: 0 markets to fit on, 10 needed"):
        fit_candidate(only_longshots, KALSHI_FLB_TABLE, BASELINE_VERSION, FitOptions(min_samples=100, min_segment=10))


def test_samples_take_the_last_mid_before_the_close(tmp_path: Path) -> None:
    d = tmp_path / "h"
    d.mkdir()
    (d / "book.csv").write_text("ts,ticker,yes_bid,yes_ask,yes_bid_size,yes_ask_size\n"
                                "100,KXA-1,0.80,0.84,1.00,1.00\n200,KXA-1,0.90,0.94,1.00,1.00\n"
                                "400,KXA-1,0.10,0.12,1.00,1.00\n"  # after the close: not used
                                "100,KXB-1,,0.05,,1.00\n100,KXC-1,,,,\n")
    (d / "settlements.csv").write_text("ts,ticker,result\n500,KXA-1,yes\n250,KXB-1,no\n300,KXC-1,no\n")
    (d / "markets.csv").write_text("ticker,close_ts\nKXA-1,300\n")
    s, skipped = samples_from_dataset(load(d))
    assert s.price.tolist() == [500, 9_200] and s.y.tolist() == [0.0, 1.0]  # by close time
    assert s.family.tolist() == ["KXB", "KXA"] and skipped == {"no_price": 1}
    assert np.all(np.diff(s.ts) >= 0)
