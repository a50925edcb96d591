"""Operator control over a local unix socket: one JSON request per line, one JSON answer.

The socket is created mode 0600 (umask held around bind, so there is no window in which
another user could connect); only the daemon's own user can halt or resume it. Requests
are checked strictly: an unknown command or a bad field is answered with an error, never
guessed at.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from daemon.logs import get_logger

log = get_logger("edgewarden.control")

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_REQUEST_BYTES = 64 * 1024

# Which string fields each command accepts, and which of them it requires.
COMMAND_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "status": (frozenset(), frozenset()),
    "locks": (frozenset(), frozenset()),
    "halt": (frozenset({"reason", "who"}), frozenset({"reason"})),
    "resume": (frozenset({"reason", "who", "lock_id"}), frozenset({"reason"})),
}


class ControlError(Exception):
    """A request the daemon refused; the message says why."""


class NoDaemon(ControlError):
    """Nothing is listening on the control socket."""


def validate_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """Parse one request line into (command, fields) or raise ControlError saying what is wrong."""
    try:
        request = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(f"request is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ControlError("request must be a JSON object like {\"cmd\": \"status\"}")
    command = request.get("cmd")
    if command not in COMMAND_FIELDS:
        raise ControlError(f"cmd {command!r}: expected one of {', '.join(COMMAND_FIELDS)}")
    allowed, required = COMMAND_FIELDS[command]
    fields = {k: v for k, v in request.items() if k != "cmd"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ControlError(f"{command}: unknown field(s) {', '.join(unknown)}")
    for name in sorted(required - set(fields)):
        raise ControlError(f"{command}: field {name!r} is required")
    for name, value in fields.items():
        if value is not None and (not isinstance(value, str) or len(value) > 1000):
            raise ControlError(f"{command}: field {name!r} must be a string of at most 1000 characters")
    if "reason" in fields and not str(fields["reason"]).strip():
        raise ControlError(f"{command}: field 'reason' must not be empty")
    return command, fields


class ControlServer:
    def __init__(self, path: Path, handlers: Mapping[str, Handler]) -> None:
        self.path = path
        self.handlers = dict(handlers)
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if _is_live(self.path):
                raise ControlError(f"another daemon is already listening on {self.path}")
            self.path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        log.info("control_listening", path=str(self.path))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            answer = await self._answer(line)
        except (TimeoutError, ValueError, asyncio.LimitOverrunError):
            answer = {"ok": False, "error": "request too long or not terminated by a newline"}
        try:
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            command, fields = validate_request(line)
        except ControlError as exc:
            log.warning("control_request_refused", error=str(exc))
            return {"ok": False, "error": str(exc)}
        try:
            result = await self.handlers[command](fields)
        except ControlError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("control_handler_failed", cmd=command)
            return {"ok": False, "error": f"{command} failed inside the daemon: {exc!r}"}
        return {"ok": True, **result}


def _is_live(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


def control_request(path: Path, request: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """Blocking client for the CLI; raises NoDaemon when nobody listens at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NoDaemon(f"no daemon is running (nothing listens on {path})") from exc
        sock.sendall(json.dumps(request).encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = json.loads(b"".join(chunks) or b"{}")
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "the daemon gave no answer"))
    return answer
