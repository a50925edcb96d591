"""Control socket: 0600, strict requests with clear errors, a clear answer when no daemon runs."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.control import (
    ControlError,
    ControlServer,
    NoDaemon,
    control_request,
    validate_request,
)


async def _status(fields: dict[str, Any]) -> dict[str, Any]:
    return {"state": "ACTIVE"}


async def _halt(fields: dict[str, Any]) -> dict[str, Any]:
    return {"lock_id": "halt-1", "reason": fields["reason"]}


def _raw(path: Path, payload: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return json.loads(data)


async def test_socket_is_0600_and_answers(tmp_path: Path) -> None:
    path = tmp_path / "run" / "control.sock"
    server = ControlServer(path, {"status": _status, "halt": _halt})
    await server.start()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        answer = await asyncio.to_thread(control_request, path, {"cmd": "status"})
        assert answer == {"ok": True, "state": "ACTIVE"}
        answer = await asyncio.to_thread(
            control_request, path, {"cmd": "halt", "reason": "news", "who": "ops"}
        )
        assert answer["lock_id"] == "halt-1"
    finally:
        await server.stop()
    assert not path.exists()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"not json\n", "not JSON"),
        (b"[1, 2]\n", "JSON object"),
        (b'{"cmd": "explode"}\n', "expected one of"),
        (b'{"cmd": "halt"}\n', "'reason' is required"),
        (b'{"cmd": "halt", "reason": "  "}\n', "must not be empty"),
        (b'{"cmd": "status", "extra": 1}\n', "unknown field"),
        (b'{"cmd": "resume", "reason": 5}\n', "must be a string"),
    ],
)
async def test_malformed_requests_are_refused_with_an_error(
    tmp_path: Path, payload: bytes, expected: str
) -> None:
    path = tmp_path / "control.sock"
    server = ControlServer(path, {"status": _status, "halt": _halt, "resume": _halt})
    await server.start()
    try:
        answer = await asyncio.to_thread(_raw, path, payload)
    finally:
        await server.stop()
    assert answer["ok"] is False
    assert expected in answer["error"]


def test_no_daemon_is_said_clearly(tmp_path: Path) -> None:
    with pytest.raises(NoDaemon, match="no daemon is running"):
        control_request(tmp_path / "absent.sock", {"cmd": "status"})


async def test_stale_socket_file_is_replaced_but_a_live_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # a socket file left behind by a killed daemon
    first = ControlServer(path, {"status": _status})
    await first.start()
    try:
        with pytest.raises(ControlError, match="already listening"):
            await ControlServer(path, {"status": _status}).start()
    finally:
        await first.stop()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_validate_request_fuzz_never_raises_anything_else(raw: bytes) -> None:
    try:
        command, fields = validate_request(raw)
    except ControlError:
        return
    assert command in {"status", "locks", "halt", "resume"}
    assert all(isinstance(v, str) or v is None for v in fields.values())
