"""`edgewarden calibration ...`: the calibration command group (minimal: `report` only, until
the registry's commands — fit, list, show, promote, rollback — land here)."""

from __future__ import annotations

import argparse

from .calibration_report import register_report
from .calibration_shadow import register_shadow_report


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("calibration", help="calibration reports (and, later, the calibration registry)")
    calibration_sub = parser.add_subparsers(dest="calibration_command", metavar="COMMAND")
    calibration_sub.required = True
    register_report(calibration_sub)
    register_shadow_report(calibration_sub)
