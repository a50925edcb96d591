"""sd_notify over a real unix datagram socket."""

from __future__ import annotations

import socket
from pathlib import Path

from daemon.sdnotify import Notifier, watchdog_interval_s


def test_messages_arrive_in_order(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(2)
        notifier = Notifier(str(path))
        assert notifier.enabled
        assert notifier.ready("trading ACTIVE")
        assert notifier.watchdog()
        assert notifier.reloading()
        assert notifier.stopping()
        got = [receiver.recv(4096).decode() for _ in range(4)]
        notifier.close()
    assert got[0] == "READY=1\nSTATUS=trading ACTIVE"
    assert got[1] == "WATCHDOG=1"
    assert got[2].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert got[3] == "STOPPING=1"


def test_without_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier("")
    assert not notifier.enabled and not notifier.ready() and not notifier.watchdog()


def test_abstract_socket_address() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0edgewarden-test-notify")
        receiver.settimeout(2)
        Notifier("@edgewarden-test-notify").status("hello")
        assert receiver.recv(100) == b"STATUS=hello"


def test_watchdog_interval(monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval_s() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")  # someone else's watchdog
    assert watchdog_interval_s() is None
