"""`edgewarden version`."""

from __future__ import annotations

import argparse
import platform
from importlib.metadata import PackageNotFoundError, version


def edgewarden_version() -> str:
    try:
        return version("edgewarden")
    except PackageNotFoundError:  # running from a checkout that was not installed
        return "0+unknown"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("version", help="print the version")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(f"edgewarden {edgewarden_version()} (Python {platform.python_version()})")
    return 0
