"""`edgewarden calibration ...`: the calibration command group: `report`, `shadow-report`, and
the registry's `fit`, `list`, `show`, `promote`, `rollback` (calibration_registry_cmd.py)."""

from __future__ import annotations

import argparse

from .calibration_registry_cmd import register_registry
from .calibration_report import register_report
from .calibration_shadow import register_shadow_report


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("calibration", help="calibration reports and the versioned calibration registry")
    calibration_sub = parser.add_subparsers(dest="calibration_command", metavar="COMMAND")
    calibration_sub.required = True
    register_report(calibration_sub)
    register_shadow_report(calibration_sub)
    register_registry(calibration_sub)
