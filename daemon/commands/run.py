"""`edgewarden run`: the daemon in the foreground (systemd runs exactly this)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from config import check_startable, resolved_data_dir

from .common import add_config_arg, add_data_dir_arg, positive_seconds, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run the trading daemon (default: sim mode, built-in exchange)")
    add_config_arg(parser)
    add_data_dir_arg(parser)
    parser.add_argument("--mode", choices=("sim", "demo", "live"), help="venue (default from config: sim)")
    parser.add_argument("--dry-run", action="store_true", help="real market data, paper fills, nothing sent")
    parser.add_argument("--metrics-port", type=int, metavar="N", help="Prometheus port on 127.0.0.1 (0 = off)")
    parser.add_argument("--duration", type=positive_seconds, metavar="SECONDS", help="stop gracefully after this long")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.mode:
        overrides["mode"] = args.mode
    if args.dry_run:
        overrides["dry_run"] = True
    if args.metrics_port is not None:
        overrides["monitoring"] = {"metrics_port": args.metrics_port}
    settings = settings_from_args(args, overrides)
    problems = check_startable(settings)
    if problems:
        print("edgewarden run: refusing to start:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    # numba reads its cache location when first imported, which is below: keep the compiled
    # kernels under the data dir so a read-only install still starts fast.
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(resolved_data_dir(settings)) / "numba-cache"))
    from daemon.app import run_daemon
    from daemon.logs import configure_logging

    configure_logging(settings.logging.level, settings.logging.format)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run_daemon(settings, args.config, overrides, args.duration))
