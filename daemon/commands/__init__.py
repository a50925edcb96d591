"""Command modules; each exposes ``register(subparsers)`` and sets ``handler`` on its parser."""

from __future__ import annotations

import argparse
import importlib

COMMAND_MODULES = (
    "version",
    "config_cmd",
    "fees",
    "ledger_cmd",
    "operator",
    "status",
    "report",
    "devig",
    "sim_exchange",
    "run",
    "backtest",
    "trace",
    "calibration",
)


def register_all(sub: argparse._SubParsersAction) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"daemon.commands.{name}").register(sub)
