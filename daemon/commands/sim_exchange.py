"""`edgewarden sim-exchange --port 8700`: the built-in Kalshi-compatible exchange, standalone.

It writes the private key a client must sign with (``--key-dir``, mode 0600) and prints how
to point a daemon at it, so the exchange can outlive daemon restarts (reconciliation drills).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sim-exchange", help="run the built-in Kalshi-compatible exchange on loopback")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8700, help="port (default 8700, 0 = any free)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--markets", type=int, default=40, help="open markets (default 40)")
    parser.add_argument("--tick-ms", type=int, default=250, help="book update interval (default 250)")
    parser.add_argument("--market-life", type=float, default=120.0, help="seconds a market trades (default 120)")
    parser.add_argument("--key-dir", type=Path, default=None,
                        help="where to write sim-kalshi-key.pem, mode 0600 (default: the data directory, "
                             "never the current one, where a key is easy to commit)")
    parser.add_argument("--frozen-books", action="store_true", help="fault: books stop moving")
    parser.add_argument("--trading-paused", action="store_true", help="fault: trading paused")
    parser.add_argument("--hold-orders", action="store_true",
                        help="drill: our orders never match, a good-till-cancelled one rests until cancelled")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvloop

    from daemon.logs import configure_logging

    configure_logging("INFO", "auto")
    return uvloop.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from config import load_settings, resolved_data_dir
    from daemon.venue_factory import SIM_KEY_ID
    from daemon.venues.kalshi_auth import generate_keypair
    from daemon.venues.sim.exchange import Faults, SimExchange

    private_pem, public_pem = generate_keypair()
    key_dir = args.key_dir if args.key_dir is not None else Path(resolved_data_dir(load_settings(None)))
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = key_dir / "sim-kalshi-key.pem"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    sim = SimExchange(public_pem, SIM_KEY_ID, seed=args.seed, markets=args.markets, tick_ms=args.tick_ms,
                      market_life_s=args.market_life,
                      faults=Faults(frozen_books=args.frozen_books, trading_paused=args.trading_paused,
                                    hold_orders=args.hold_orders))
    port = await sim.start(args.host, args.port)
    url = f"http://{args.host}:{port}/trade-api/v2"
    print(f"built-in exchange at {url}", flush=True)
    print(f"point a daemon at it: EDGEWARDEN_VENUE__SIM__URL={url} "
          f"EDGEWARDEN_VENUE__KALSHI__PRIVATE_KEY_FILE={key_file.resolve()} edgewarden run", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()
    return 0
