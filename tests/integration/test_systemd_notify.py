"""sd_notify from the real daemon: READY after reconciliation, STATUS, WATCHDOG while ticks are
healthy (and not when they stall), STOPPING on shutdown — over a real datagram socket."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.integration.daemon_harness import Daemon, clean_env, write_config

pytestmark = pytest.mark.slow

WRAPPER_STALLING_ENGINE = """
import asyncio, os, sys
from daemon.engine import Engine
original = Engine.tick
async def tick(self):
    if self.state.ticks >= int(os.environ["STALL_AFTER_TICKS"]):
        await asyncio.Event().wait()  # the engine hangs; the event loop itself stays alive
    return await original(self)
Engine.tick = tick
from daemon.cli import main
sys.exit(main(sys.argv[1:]))
"""


class NotifySocket:
    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))
            except TimeoutError:
                pass

    def kinds(self) -> list[str]:
        return [m.split("\n")[0].split("=")[0] for _, m in self.messages]

    def close(self) -> None:
        self.sock.close()


def test_notify_sequence_ready_status_watchdog_stopping(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path)
    env = clean_env(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="1000000")
    daemon = Daemon(tmp_path, write_config(tmp_path), env=env)
    try:
        daemon.wait_event("daemon_ready")
        notify.drain(3)
        assert daemon.stop() == 0
        notify.drain(1)
    finally:
        notify.close()
    kinds = notify.kinds()
    assert kinds[0] == "READY", notify.messages[:3]
    assert "STATUS" in kinds and "WATCHDOG" in kinds
    assert kinds[-1] == "STOPPING"
    ready = notify.messages[0][1]
    assert "STATUS=trading ACTIVE" in ready
    # Nothing before READY: the daemon reports ready only after reconciliation.
    assert kinds.index("READY") == 0


def test_watchdog_pings_stop_when_the_engine_stalls(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path)
    env = clean_env(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="1000000", STALL_AFTER_TICKS="5")
    config = write_config(tmp_path)
    daemon = Daemon(tmp_path, config, env=env, wrapper=WRAPPER_STALLING_ENGINE)
    try:
        daemon.wait_event("daemon_ready")
        notify.drain(14)  # ticks stall after ~1 s; the health window is 10 s
        drained_until = time.monotonic()
        assert daemon.stop() == 0
    finally:
        notify.close()
    pings = [t for t, m in notify.messages if m == "WATCHDOG=1"]
    assert pings, "the watchdog was never pinged while healthy"
    start = notify.messages[0][0]
    assert all(t - start < 12.5 for t in pings), "pings went on although the engine had stalled"
    # Several ping intervals (0.5 s) passed at the end with no ping at all.
    assert drained_until - pings[-1] > 1.5
