"""The calibration the daemon trades on, followed without a restart.

A favourite–longshot table with ``calibration_source = "registry"`` trades on the registry's
active version (``daemon.calibration_registry``); with ``"config"`` (the default) on its own
``calibration`` table, as before. The ``calibration-watch`` job reads the ``active`` link every
10 s (one ``readlink``); when it names another version, that version is read and checked
(hashes, curve) and the strategies are rebuilt with it between ticks. A version that fails its
checks is not used: the daemon keeps trading on the one it has, and the job reports the error
every run until the link is fixed (a rollback or a promote). At start-up the same failure
stops the start: nothing trades on an artifact that does not match its manifest.

Each flb strategy carries the version it trades on (``FavouriteLongshot.calibration_version``:
a registry version, or ``config``), which its model runs record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from daemon.calibration_registry import Registry, RegistryError, Version
from strategies.base import Strategy
from strategies.flb import FavouriteLongshot

WATCH_EVERY_S = 10.0
CONFIG_VERSION = "config"
"""``calibration_version`` of an flb strategy trading on its config table."""


def registry_tables(tables: Iterable[tuple[str, str, bool, Any]]) -> set[str]:
    """Names of the flb-kind tables that take their curve from the registry."""
    return {name for name, kind, _, params in tables
            if kind == "flb" and getattr(params, "calibration_source", CONFIG_VERSION) == "registry"}


class ActiveCalibration:
    """The registry's active version as loaded by the daemon (None until first needed)."""

    def __init__(self, data_dir: Path) -> None:
        self.registry = Registry.in_data_dir(data_dir)
        self.version: Version | None = None
        self.audit_in_ledger = False
        """Whether the audit entries up to the loaded version were copied into the ledger."""

    @property
    def name(self) -> str | None:
        return None if self.version is None else self.version.name

    def changed(self) -> bool:
        """Whether ``active`` names another version than the loaded one (a ``readlink``)."""
        return self.version is None or self.registry.active() != self.version.name

    def load(self) -> Version:
        """Read and check the active version (writing the baseline first if the registry is
        empty). On failure the loaded version stays and RegistryError says why."""
        if self.registry.active() is None:
            self.registry.ensure_baseline()
        version = self.registry.read_active()
        if version is None:
            raise RegistryError(f"{self.registry.root}: no active calibration version")
        self.version = version
        return version

    def apply(self, strategies: Sequence[Strategy], tables: Iterable[tuple[str, str, bool, Any]]) -> list[Strategy]:
        """``strategies`` with each registry-fed flb strategy on the active version's curve."""
        wanted = registry_tables(tables)
        out: list[Strategy] = []
        for s in strategies:
            if isinstance(s, FavouriteLongshot) and s.name in wanted:
                version = self.version or self.load()
                s = dataclasses.replace(s, curve=version.curve, calibration_version=version.name)
            out.append(s)
        return out
