"""Engine.IO over WebTransport on the standalone server: aioquic on both ends, real UDP.

Our client's ``webtransport`` transport opens sessions (alone, or as the upgrade from
polling); raw sessions send what a hostile client would. The browser's official client is
in tests/e2e (see docs/webtransport.md for what runs there).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

import aiosio
from aiosio.client import Client
from aiosio.client.http import Address, HTTPConnection
from aiosio.client.transports import Endpoint
from aiosio.client.webtransport import WebTransport
from aiosio.engineio.wt_framing import encode_packet
from aiosio.exceptions import ConnectionError
from aiosio.serve.webtransport import self_signed_certificate
from tests.support.waits import within


@dataclass
class Served:
    io: aiosio.Server
    port: int
    wt_port: int
    digest: bytes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **options: Any) -> Client:
        options.setdefault("reconnection", False)
        wt = {"port": self.wt_port, "certificate_hashes": [self.digest]}
        return Client(self.url, force_new=True, webtransport=wt, **options)

    def endpoint(self, max_message_size: int = 1_000_000) -> Endpoint:
        wt = {"port": self.wt_port, "certificate_hashes": [self.digest]}
        address = Address("127.0.0.1", self.port)
        return Endpoint(address, "/socket.io/", {}, [], max_message_size, webtransport=wt)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    cert, key, digest = self_signed_certificate()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    io = aiosio.Server(ping_interval=0.3, ping_timeout=0.5, max_http_buffer_size=10_000)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: args)
        socket.on("transport", lambda: socket.conn.session.transport)

    options = {
        "port": 0,
        "certfile": str(tmp_path / "cert.pem"),
        "keyfile": str(tmp_path / "key.pem"),
    }
    port = await io.start("127.0.0.1", 0, webtransport=options)
    assert io.webtransport_port is not None
    try:
        yield Served(io, port, io.webtransport_port, digest)
    finally:
        await io.close()


async def test_a_webtransport_session_carries_socketio(served: Served) -> None:
    client = served.client(transports=["webtransport"])
    await client.connect()
    try:
        assert await client.timeout(5).emit_with_ack("transport") == "webtransport"
        assert await client.timeout(5).emit_with_ack("echo", "é", b"\x00\xff", {"a": [1]}) == (
            "é",
            b"\x00\xff",
            {"a": [1]},
        )
        pings = 0
        pinged = asyncio.Event()

        def on_ping() -> None:
            nonlocal pings
            pings += 1
            if pings == 3:
                pinged.set()

        client.io.on("ping", on_ping)
        await within(pinged.wait(), 5)  # heartbeats flow: 3 pings, the session lives on
        assert client.connected
    finally:
        await client.disconnect()


async def test_polling_upgrades_to_webtransport(served: Served) -> None:
    http = HTTPConnection(Address("127.0.0.1", served.port))
    response = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
    refused = await http.request("GET", "/socket.io/?EIO=4&transport=webtransport")
    http.close()
    handshake = orjson.loads(response.body[1:])
    assert handshake["upgrades"] == ["websocket", "webtransport"]
    assert refused.status == 400 and orjson.loads(refused.body)["code"] == 0
    client = served.client(transports=["polling", "websocket", "webtransport"])
    upgraded = asyncio.Event()
    client.io.on("upgrade", lambda name: upgraded.set() if name == "webtransport" else None)
    await client.connect()
    try:
        await within(upgraded.wait(), 5)
        assert await client.timeout(5).emit_with_ack("transport") == "webtransport"
        assert await client.timeout(5).emit_with_ack("echo", "x" * 9000) == "x" * 9000
    finally:
        await client.disconnect()


async def test_a_wrong_certificate_is_refused(served: Served) -> None:
    client = Client(
        served.url,
        force_new=True,
        reconnection=False,
        transports=["webtransport"],
        webtransport={"port": served.wt_port, "certificate_hashes": [b"\x00" * 32]},
    )
    with pytest.raises(ConnectionError, match="webtransport"):
        await client.connect()
    await client.disconnect()


class RawSession(WebTransport):
    """A WebTransport session that sends ``hello`` as its first bytes."""

    def __init__(self, endpoint: Endpoint, hello: bytes) -> None:
        super().__init__(endpoint, "x")  # with a sid: open() does not wait for OPEN
        self.raw = hello

    def _hello(self) -> bytes:
        return self.raw


@pytest.mark.parametrize(
    "hello",
    [
        encode_packet("4hello"),  # not OPEN
        encode_packet('0{"sid":"unknown"}'),  # no such session
        b"\x7e\xff\xff",  # a length over max_http_buffer_size
        b"\x00",  # an empty packet
        encode_packet("0") + b"\x02\xc3\x28",  # text that is not UTF-8
    ],
)
async def test_hostile_first_bytes_close_the_session(served: Served, hello: bytes) -> None:
    session = RawSession(served.endpoint(), hello)
    await session.open()
    try:
        with pytest.raises(EOFError):
            async with asyncio.timeout(5):
                while True:
                    await session.receive()  # the OPEN packet, if any, then the end
    finally:
        session.close()
    assert not served.io.engine.sessions  # the server closed it before the client saw EOF


async def test_a_silent_client_is_dropped_after_the_upgrade_timeout(served: Served) -> None:
    served.io.engine.upgrade_timeout = 0.2
    session = RawSession(served.endpoint(), b"")  # opens the session, sends nothing
    await session.open()
    try:
        with pytest.raises(EOFError):
            await within(session.receive(), 5)
    finally:
        session.close()


async def test_wrong_path_is_not_found(served: Served) -> None:
    endpoint = served.endpoint()
    endpoint.path = "/elsewhere/"
    with pytest.raises(ConnectionError, match="404"):
        await WebTransport(endpoint).open()


def test_self_signed_certificate_fits_server_certificate_hashes() -> None:
    cert_pem, _key, digest = self_signed_certificate(days=14)
    certificate = x509.load_pem_x509_certificate(cert_pem)
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=14)
    from cryptography.hazmat.primitives.serialization import Encoding

    assert hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest() == digest
    with pytest.raises(ValueError, match="14 days"):
        self_signed_certificate(days=15)


async def test_an_oversized_packet_mid_session_closes_it(served: Served) -> None:
    session = WebTransport(served.endpoint())
    opened = await session.open()  # a new session: the OPEN packet comes back
    assert isinstance(opened[0], str) and opened[0].startswith("0{")
    assert len(served.io.engine.sessions) == 1
    try:
        await session.send(["4" + "x" * 10_001])  # over max_http_buffer_size (10 000)
        with pytest.raises(EOFError):
            async with asyncio.timeout(5):
                while True:
                    await session.receive()
    finally:
        session.close()
    assert not served.io.engine.sessions


async def test_a_second_stream_is_reset(served: Served) -> None:
    session = WebTransport(served.endpoint())
    await session.open()
    try:
        protocol = session._protocol
        assert protocol is not None and session._session_id is not None
        extra = protocol.http.create_webtransport_stream(session._session_id)
        protocol._quic.send_stream_data(extra, encode_packet("0"))
        protocol.transmit()
        # The first stream still works: a ping from the server arrives on it.
        assert await within(session.receive(), 5) == ["2"]
    finally:
        session.close()


async def test_allow_request_decides_even_with_a_sid_in_the_query(served: Served) -> None:
    served.io.engine.allow_request = lambda request: request.query.get("token") == "ok"
    refused = served.client(transports=["webtransport"])
    with pytest.raises(ConnectionError):
        await refused.connect()
    await refused.disconnect()
    endpoint = served.endpoint()
    endpoint.query = {"sid": "made-up"}  # a new session that claims a sid in its URL
    session = RawSession(endpoint, encode_packet("0"))
    await session.open()
    try:
        with pytest.raises(EOFError):
            await within(session.receive(), 5)
    finally:
        session.close()
    assert not served.io.engine.sessions
    allowed = served.client(transports=["webtransport"], query={"token": "ok"})
    await allowed.connect()
    try:
        assert await allowed.timeout(5).emit_with_ack("transport") == "webtransport"
    finally:
        await allowed.disconnect()


async def test_a_graceful_shutdown_says_goodbye_over_the_session(served: Served) -> None:
    client = served.client(transports=["webtransport"])
    got: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    client.on("bye", lambda text: got.done() or got.set_result(text))
    lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    client.io.on("close", lambda _reason, error: lost.done() or lost.set_result(error))
    await client.connect()
    try:
        served.io.emit("bye", "see you")
        await served.io.close()
        assert await within(got, 5) == "see you"
        # The session ended (its stream or CONNECT stream finished), not the connection.
        assert "QUIC connection closed" not in str(await within(lost, 5))
    finally:
        await client.disconnect()
