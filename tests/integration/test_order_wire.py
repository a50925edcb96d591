"""The order wire against real servers on 127.0.0.1: kept-alive reuse, answers in every
framing, and every way an answer can fail to be one."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httptools
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.venues.order_wire import Answer, OrderWire, WireError, _Connection


@asynccontextmanager
async def aiohttp_server(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/trade-api/v2/portfolio/orders", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/trade-api/v2"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def raw_server(answer: Callable[[bytes], bytes | None], hang_up: bool = False) -> AsyncIterator[str]:
    """Reads a request head and body (Content-Length), writes ``answer(request)`` (None, or
    ``hang_up``: then closes the connection), and so on."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                request = head + await reader.readexactly(length)
                reply = answer(request)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if hang_up:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/trade-api/v2"
    finally:
        server.close()


def _answers_after(seconds: float) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler that answers ``{}`` after ``seconds``."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(seconds)
        return web.json_response({})

    return handler


ORDERS = "/trade-api/v2/portfolio/orders"
SIGNED = [("KALSHI-ACCESS-KEY", "k"), ("KALSHI-ACCESS-TIMESTAMP", "1700000000000"),
          ("KALSHI-ACCESS-SIGNATURE", "c2ln+/=")]


async def test_one_connection_serves_request_after_request_and_the_server_sees_it_all() -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.json_response({"order": {"n": len(seen)}}, status=201, headers={"X-Trace": "t"})

    async with aiohttp_server(handler) as url:
        wire = OrderWire(url, timeout_s=5)
        answers = [await wire.post(wire.head(ORDERS, SIGNED), b'{"ticker":"T","count":%d}' % i) for i in range(20)]
        await wire.close()
    assert wire.connects == 1
    assert [a.status for a in answers] == [201] * 20
    assert answers[3].body == b'{"order": {"n": 4}}' and answers[3].headers["x-trace"] == "t"
    headers, body = seen[7]
    assert body == b'{"ticker":"T","count":7}' and headers["Content-Type"] == "application/json"
    assert headers["KALSHI-ACCESS-SIGNATURE"] == "c2ln+/=" and headers["Host"].startswith("127.0.0.1:")


async def test_chunked_answers_and_error_statuses_are_read_whole() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=409, headers={"Retry-After": "2"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b'{"error": ', b'{"code": "duplicate"', b"}}"):
            await response.write(part)
        await response.write_eof()
        return response

    async with aiohttp_server(handler) as url:
        wire = OrderWire(url, timeout_s=5)
        first = await wire.post(wire.head(ORDERS, SIGNED), b"{}")
        second = await wire.post(wire.head(ORDERS, SIGNED), b"{}")
        await wire.close()
    assert first == second == Answer(409, first.headers, b'{"error": {"code": "duplicate"}}')
    assert first.headers["retry-after"] == "2" and wire.connects == 1


async def test_an_answer_that_closes_the_connection_is_not_reused() -> None:
    reply = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}'
    async with raw_server(lambda _request: reply) as url:
        wire = OrderWire(url, timeout_s=5)
        for _ in range(3):
            assert (await wire.post(wire.head(ORDERS, SIGNED), b"{}")).body == b"{}"
        await wire.close()
    assert wire.connects == 3


@pytest.mark.parametrize(("reply", "why"), [
    (None, "closed the connection before answering"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "closed the connection before answering"),
    (b"SMTP ready\r\n\r\n", "malformed answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", None),
])
async def test_what_is_not_a_whole_answer_fails_the_request_and_the_connection(reply: bytes | None, why: str | None) -> None:
    async with raw_server(lambda _request: reply, hang_up=True) as url:
        wire = OrderWire(url, timeout_s=5)
        if why is None:  # a whole answer, then one nobody asked for: the answer counts, the connection goes
            assert (await wire.post(wire.head(ORDERS, SIGNED), b"{}")).body == b"{}"
            await asyncio.sleep(0.05)
            assert wire._take_idle() is None
        else:
            with pytest.raises(WireError, match=why):
                await wire.post(wire.head(ORDERS, SIGNED), b"{}")
        await wire.close()


async def test_no_answer_in_time_fails_and_drops_the_connection() -> None:
    async with aiohttp_server(_answers_after(2)) as url:
        wire = OrderWire(url, timeout_s=0.2)
        with pytest.raises(WireError, match="no answer within 0.2s"):
            await wire.post(wire.head(ORDERS, SIGNED), b"{}")
        assert wire._take_idle() is None
        await wire.close()


async def test_nothing_listening_is_a_wire_error() -> None:
    async with raw_server(lambda _request: None) as url:
        pass  # closed again: nothing listens on that port now
    wire = OrderWire(url, timeout_s=2)
    with pytest.raises(WireError, match="could not connect"):
        await wire.post(wire.head(ORDERS, SIGNED), b"{}")
    await wire.close()
    with pytest.raises(WireError, match="closed"):
        await wire.post(wire.head(ORDERS, SIGNED), b"{}")


async def test_warm_connections_carry_a_burst_without_opening_more() -> None:
    async with aiohttp_server(_answers_after(0.02)) as url:  # all five in flight at once
        wire = OrderWire(url, timeout_s=5)
        await _warmed(wire, 5)
        answers = await asyncio.gather(*(wire.post(wire.head(ORDERS, SIGNED), b"{}") for _ in range(5)))
        wire.keep_warm(5)  # all five came back: nothing to open
        await wire.close()
    assert [a.status for a in answers] == [200] * 5 and wire.connects == 5


async def _warmed(wire: OrderWire, count: int) -> None:
    wire.keep_warm(count)
    for _ in range(200):
        if len(wire._idle) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} connections did not open")


async def test_post_now_writes_before_returning_and_only_on_a_warm_connection() -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.json_response({"n": 1})

    async with aiohttp_server(handler) as url:
        wire = OrderWire(url, timeout_s=5)
        assert not wire.warm and wire.post_now(wire.head(ORDERS, SIGNED), b"{}") is None  # nothing written
        await _warmed(wire, 1)
        assert wire.warm
        answer = wire.post_now(wire.head(ORDERS, SIGNED), b"{}")
        assert answer is not None and not wire.warm  # its connection is taken
        await asyncio.wait_for(arrived.wait(), 5)  # the server has it, nobody awaited the answer yet
        release.set()
        assert (await answer).body == b'{"n": 1}'
        assert wire.warm and wire.connects == 1  # back in the pool for the next order
        await wire.close()
        assert not wire.warm


async def test_closing_the_wire_closes_a_connection_whose_answer_nobody_awaits() -> None:
    async with aiohttp_server(_answers_after(5)) as url:
        wire = OrderWire(url, timeout_s=5)
        await _warmed(wire, 1)
        answer = wire.post_now(wire.head(ORDERS, SIGNED), b"{}")
        assert answer is not None
        connection = next(iter(wire._busy))
        await wire.close()
        await asyncio.sleep(0)
        assert connection.transport is None or connection.transport.is_closing()
        with pytest.raises(WireError):
            await answer


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def test_https_verifies_the_venue_and_keeps_the_connection(tmp_path: Path) -> None:
    """Live and demo are https: the certificate is checked, then one connection serves all."""
    cert_file, key_file = _self_signed(tmp_path)
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert_file, key_file)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"ok": await request.text()})

    app = web.Application()
    app.router.add_post(ORDERS, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0, ssl_context=server_ssl)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        trusting = ssl.create_default_context(cafile=str(cert_file))
        wire = OrderWire(f"https://localhost:{port}/trade-api/v2", timeout_s=5, ssl_context=trusting)
        for _ in range(3):
            assert (await wire.post(wire.head(ORDERS, SIGNED), b"{}")).body == b'{"ok": "{}"}'
        assert wire.connects == 1
        await wire.close()
        stranger = OrderWire(f"https://localhost:{port}/trade-api/v2", timeout_s=5)  # system CAs only
        with pytest.raises(WireError, match="CERTIFICATE_VERIFY_FAILED"):
            await stranger.post(stranger.head(ORDERS, SIGNED), b"{}")
        await stranger.close()
    finally:
        await runner.cleanup()


def test_headers_and_targets_that_would_break_the_request_are_refused() -> None:
    wire = OrderWire("http://127.0.0.1:9/trade-api/v2", timeout_s=1)
    with pytest.raises(ValueError, match="would break the request"):
        wire.head(ORDERS, [("X-Evil", "a\r\nHost: other")])
    with pytest.raises(ValueError, match="'X-Evil'"):
        wire.head(ORDERS, [("X-Good", "a"), ("X-Evil", "b\nc")])
    with pytest.raises(ValueError, match="'Host: x'"):
        wire.head(ORDERS, [("Host: x", "y")])
    with pytest.raises(ValueError, match="request target"):
        wire.head("/orders HTTP/1.0\r\n", [])
    with pytest.raises(ValueError, match="expected http"):
        OrderWire("ftp://127.0.0.1/x", timeout_s=1)


class _HeadersSeen:
    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body


_NAMES = st.text("abXY-:\r\n", min_size=1, max_size=6)
_VALUES = st.text("ab =/+:\r\n", max_size=8).map(str.strip)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=4))
def test_headers_reach_the_venue_exactly_as_given_or_are_refused(headers: list[tuple[str, str]]) -> None:
    wire = OrderWire("http://127.0.0.1:9/trade-api/v2", timeout_s=1)
    breaking = any("\r" in n or "\n" in n or ":" in n or "\r" in v or "\n" in v for n, v in headers)
    try:
        data = wire._request(wire.head(ORDERS, headers), b'{"a":1}')
    except ValueError:
        assert breaking
        return
    assert not breaking
    seen = _HeadersSeen()
    httptools.HttpRequestParser(seen).feed_data(data)
    assert seen.headers[-len(headers) - 1:-1] == headers  # (Content-Length comes last)
    assert seen.body == b'{"a":1}'


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(1, 50), max_size=8))
def test_any_bytes_in_any_pieces_end_in_an_answer_or_a_wire_error(data: bytes, cuts: list[int]) -> None:
    async def feed() -> None:
        connection = _Connection()
        connection.connection_made(_Transport())  # type: ignore[arg-type]
        future = connection.request(b"POST / HTTP/1.1\r\n\r\n")
        rest = data
        for cut in cuts:
            piece, rest = rest[:cut], rest[cut:]
            connection.data_received(piece)  # never raises
        connection.data_received(rest)
        connection.connection_lost(None)
        assert future.done()
        error = future.exception()
        assert error is None or isinstance(error, WireError)
        if error is None:
            assert isinstance(future.result(), Answer)

    asyncio.run(feed())
