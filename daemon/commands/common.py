"""Arguments and look-ups that several commands share."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from config import ConfigError, load_settings, resolved_data_dir

LEDGER_FILE = "edgewarden.sqlite"


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, metavar="FILE", help="TOML config file (defaults < file < env < flags)"
    )


def add_data_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where the ledger and trade CSVs live (default: the config's data_dir, "
        "else $STATE_DIRECTORY or ~/.local/state/edgewarden)",
    )


def settings_from_args(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Any:
    """Load Settings for a command, or exit 2 with every config error listed."""
    merged = dict(overrides or {})
    if getattr(args, "data_dir", None) is not None:
        merged["data_dir"] = str(args.data_dir)
    try:
        return load_settings(getattr(args, "config", None), overrides=merged)
    except ConfigError as exc:
        print_config_error(exc)
        raise SystemExit(2) from None


def print_config_error(exc: ConfigError) -> None:
    print(f"edgewarden: invalid configuration ({len(exc.errors)} error(s)):", file=sys.stderr)
    for path, message in exc.errors:
        print(f"  {path}: {message}", file=sys.stderr)


def data_dir_from_args(args: argparse.Namespace) -> Path:
    """``--data-dir`` (an override of the settings), else the config's or the default."""
    return Path(resolved_data_dir(settings_from_args(args)))


def ledger_path(data_dir: Path) -> Path:
    return data_dir / LEDGER_FILE


def fail(message: str, code: int = 1) -> int:
    print(f"edgewarden: {message}", file=sys.stderr)
    return code


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a duration in seconds above 0 (a finite number)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number of seconds above 0")
    return value


def reason_text(text: str) -> str:
    """An argparse type: a reason a person will read later in the ledger, so not blank."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a reason cannot be empty: say why (it is kept in the ledger)")
    return text.strip()
