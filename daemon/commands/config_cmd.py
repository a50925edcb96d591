"""`edgewarden config show|check`: the effective config (secrets masked) and validation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from config import ConfigError, check_startable, load_settings, settings_for_display

from .common import add_config_arg, add_data_dir_arg, print_config_error, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="show or check the configuration")
    config_sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    config_sub.required = True

    show = config_sub.add_parser("show", help="print the effective config, secrets masked")
    add_config_arg(show)
    add_data_dir_arg(show)
    show.set_defaults(handler=run_show)

    check = config_sub.add_parser("check", help="validate a config file; exit 2 when invalid")
    check.add_argument("file", type=Path, help="TOML file to check")
    check.set_defaults(handler=run_check)


def run_show(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    print(json.dumps(settings_for_display(settings), indent=2, sort_keys=False))
    return 0


def run_check(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        print(f"edgewarden: config file {args.file} does not exist")
        return 2
    try:
        settings = load_settings(args.file)
    except ConfigError as exc:
        print_config_error(exc)
        return 2
    problems = check_startable(settings)
    for problem in problems:
        print(f"warning: the daemon would refuse to start: {problem}")
    print(f"{args.file}: valid (mode {settings.mode})")
    return 0
