"""The daemon follows the registry's active calibration without a restart: the
``calibration-watch`` job's function on a real Daemon object and a real registry directory."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from config import load_settings
from daemon.app import Daemon
from daemon.calibration_registry import BASELINE_VERSION, Registry, RegistryError
from daemon.daemon_jobs import calibration_watch, daemon_jobs
from daemon.tick_decision import TickDecider
from risk.limits import RiskLimits
from strategies.flb import FavouriteLongshot
from tests.calibration_history import add_version


def daemon_on(data_dir: Path, source: str) -> Daemon:
    settings = load_settings(None, overrides={"mode": "sim", "data_dir": str(data_dir),
                                              "strategies": {"flb": {"calibration_source": source}}}, env={})
    d = Daemon(settings)
    limits = RiskLimits.from_settings(settings.risk, settings.fees)
    d.risk = SimpleNamespace(limits=limits)  # what rebuild_strategies reads of the risk engine
    d.engine = SimpleNamespace(shadows=[])
    d.engine.strategies = d._strategies(limits)  # as Daemon.start hands them to the Engine
    return d


def flb(d: Daemon) -> FavouriteLongshot:
    return next(s for s in d.engine.strategies if isinstance(s, FavouriteLongshot))


async def test_the_strategy_trades_on_a_newly_promoted_version_at_the_next_watch(tmp_path: Path) -> None:
    d = daemon_on(tmp_path, "registry")
    assert flb(d).calibration_version == BASELINE_VERSION  # the baseline, written on first use
    assert await calibration_watch(d) == f"active {BASELINE_VERSION}"
    registry = Registry.in_data_dir(tmp_path)
    add_version(registry, "v1", shift=0.003)
    registry.promote("v1", "refit", who="test")
    assert flb(d).calibration_version == BASELINE_VERSION  # not before the job looks
    assert await calibration_watch(d) == "active v1"
    strategy = flb(d)
    assert strategy.calibration_version == "v1"
    assert strategy.curve.excess.tolist() == registry.read("v1").curve.excess.tolist()
    kernel_curve = TickDecider(d.engine.strategies)._flb_args[1]  # what the tick's kernel screens with
    assert kernel_curve[1].tolist() == strategy.curve.excess.tolist()
    registry.rollback(BASELINE_VERSION, "back", who="test")
    await calibration_watch(d)
    assert flb(d).calibration_version == BASELINE_VERSION


async def test_a_damaged_new_version_is_refused_and_the_old_one_kept(tmp_path: Path) -> None:
    d = daemon_on(tmp_path, "registry")
    registry = Registry.in_data_dir(tmp_path)
    add_version(registry, "v1", shift=0.003)
    registry.promote("v1", "refit")
    (registry.root / "v1" / "curve.json").write_text("{}")  # damaged after its promotion
    with pytest.raises(RegistryError, match="curve.json has sha256"):
        await calibration_watch(d)
    assert flb(d).calibration_version == BASELINE_VERSION
    with pytest.raises(RegistryError):  # and it says so at every run until someone acts
        await calibration_watch(d)
    registry.rollback(BASELINE_VERSION, "v1 damaged")
    assert await calibration_watch(d) == f"active {BASELINE_VERSION}"


async def test_with_the_default_config_source_the_registry_is_not_touched(tmp_path: Path) -> None:
    d = daemon_on(tmp_path, "config")
    assert flb(d).calibration_version == "config"
    assert await calibration_watch(d) == "calibration from config"
    assert not (tmp_path / "registry").exists()
    assert "calibration-watch" in {job.name for job in daemon_jobs(d)}
    assert "calibration-fit" not in {job.name for job in daemon_jobs(d)}
    assert "calibration-fit" in {job.name for job in daemon_jobs(daemon_on(tmp_path / "r", "registry"))}


def test_a_damaged_active_version_stops_the_start(tmp_path: Path) -> None:
    registry = Registry.in_data_dir(tmp_path)
    registry.ensure_baseline()
    (registry.root / BASELINE_VERSION / "CHANGES.md").write_text("edited\n")
    with pytest.raises(RegistryError, match="CHANGES.md has sha256"):
        daemon_on(tmp_path, "registry")
