"""Run the real daemon as a subprocess for end-to-end tests, on loopback only."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
STARTED: list[subprocess.Popen] = []
"""Every process a test started; tests/integration/conftest.py kills what is left after each test."""

FAST_CONFIG = """
mode = "sim"
[venue.sim]
markets = 12
tick_ms = 100
market_life_seconds = 6.0
bias_scale = 4.0
[engine]
tick_seconds = 0.2
[risk]
min_edge = 0.02
stale_book_seconds = 5
no_fills_scans = 1000
error_burst_per_hour = 1000
loss_streak = 1000
[odds]
poll_seconds = 1
[supervisor]
shutdown_timeout_seconds = 10
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EDGEWARDEN_", "NOTIFY_SOCKET", "WATCHDOG"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def write_config(tmp: Path, extra: str = "") -> Path:
    path = tmp / "edgewarden.toml"
    path.write_text(FAST_CONFIG + "\n" + extra)
    return path


class Daemon:
    """``edgewarden run`` in a subprocess, its JSON log lines collected."""

    def __init__(self, tmp: Path, config: Path, *args: str, env: dict[str, str] | None = None,
                 wrapper: str | None = None) -> None:
        self.data_dir = tmp / "data"
        self.metrics_port = free_port()
        self.log_path = tmp / f"daemon-{time.monotonic_ns()}.log"
        cli = ["-m", "daemon.cli"] if wrapper is None else ["-c", wrapper]
        command = [sys.executable, *cli, "run", "--config", str(config), "--data-dir", str(self.data_dir),
                   "--metrics-port", str(self.metrics_port), *args]
        env = env or clean_env()
        env.setdefault("EDGEWARDEN_SUPERVISOR__CONTROL_SOCKET", str(tmp / "control.sock"))
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        STARTED.append(self.proc)

    def events(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"event": "non_json", "line": line})
        return out

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode} waiting for {what}:\n{self.tail()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.tail()}")

    def wait_event(self, name: str, timeout: float = 60) -> dict:
        found: list[dict] = []

        def seen() -> bool:
            found[:] = [e for e in self.events() if e.get("event") == name]
            return bool(found)

        self.wait_for(seen, timeout, f"log event {name}")
        return found[0]

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/health", timeout=5) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        finally:
            self.log.close()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-n:])


class SimExchangeProcess:
    """`edgewarden sim-exchange` in its own process, so it outlives daemon restarts."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.tmp = tmp
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/trade-api/v2"
        self.key_file = tmp / "sim-kalshi-key.pem"

    def __enter__(self) -> SimExchangeProcess:
        self.log_path = self.tmp / "sim-exchange.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "sim-exchange", "--port", str(self.port),
             "--key-dir", str(self.tmp), "--markets", "12", "--tick-ms", "100", "--market-life", "30",
             *self.args],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=clean_env(),
        )
        STARTED.append(self.proc)
        deadline = time.monotonic() + 60
        while "built-in exchange at" not in self.log_path.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sim-exchange did not start:\n{self.log_path.read_text()}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()

    def env(self) -> dict[str, str]:
        return clean_env(EDGEWARDEN_VENUE__SIM__URL=self.url,
                         EDGEWARDEN_VENUE__KALSHI__PRIVATE_KEY_FILE=str(self.key_file))

    def _client(self):
        from daemon.venues.kalshi import KalshiClient

        return KalshiClient(self.url, "sim", self.key_file.read_bytes())

    def resting_orders(self) -> list:
        import asyncio

        async def query() -> list:
            async with self._client() as client:
                return await client.orders(status="resting")

        return asyncio.run(query())

    def place_resting(self, client_order_id: str) -> Any:
        """A good-till-cancelled buy at 1¢ in an open market, placed behind the daemon's back."""
        import asyncio

        from market.orders import Action, OrderIntent, Side, TimeInForce

        async def place() -> Any:
            async with self._client() as client:
                markets = await client.markets(status="open")
                market = max(markets, key=lambda m: m.close_time_ns or 0)  # rests the longest
                intent = OrderIntent(client_order_id, market.ticker, Side.YES, Action.BUY, 100, 100,
                                     TimeInForce.GTC, False, False, "operator", 0.5, time.time_ns())
                return await client.place_order(intent)

        return asyncio.run(place())

    def all_orders(self) -> list:
        import asyncio

        async def query() -> list:
            async with self._client() as client:
                return await client.orders()

        return asyncio.run(query())
