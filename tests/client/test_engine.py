"""The Engine.IO client: heartbeat, dead servers, parse errors, maxPayload, TLS, path.

Misbehaving servers are scripted here (a fake polling server, raw TCP servers); the rest
runs against both real servers.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import aiosio
from aiosio.client import Client
from aiosio.client.engine import EngineClient
from aiosio.client.http import Address
from aiosio.client.transports import Endpoint
from aiosio.exceptions import ConnectionError
from aiosio.websocket.frames import FrameParser, Opcode, text_frame
from aiosio.websocket.handshake import accept_key
from tests.client.client_support import (
    FakePollingServer,
    StartServer,
    open_packet,
    raw_tcp_server,
)
from tests.support.recorders import EventRecorder as Recorder

MODES = {"polling": ["polling"], "websocket": ["websocket"]}


@pytest.mark.parametrize("mode", MODES)
async def test_heartbeat_is_answered(start_server: StartServer, mode: str) -> None:
    server = await start_server(ping_interval=0.1, ping_timeout=0.2)
    client = await aiosio.connect(server.url, transports=MODES[mode], force_new=True)
    pings = Recorder(client.io, "ping")
    await pings.wait("ping", 6)  # over six ping cycles the server never timed out
    assert client.connected
    assert await client.emit_with_ack("echo", "alive") == "alive"
    await client.disconnect()


def fake_socketio(
    after_connect: list[bytes | None],
) -> Any:
    """A polling peer: the OPEN packet, ``40`` to the CONNECT, then ``after_connect``
    answers to the next GETs (None: the GET is held for ever), "ok" to every POST."""
    answers = [open_packet().encode(), b'40{"sid":"socket-id"}', *after_connect]

    async def respond(method: str, target: str, body: bytes) -> bytes | None:
        if method == "POST":
            return b"ok"
        answer = answers.pop(0) if answers else None
        if answer is None:
            await asyncio.Event().wait()  # silence
        return answer

    return respond


async def test_dead_server_is_detected_by_the_heartbeat() -> None:
    async with FakePollingServer(fake_socketio([None])) as fake:  # then silence
        client = Client(fake.url, transports=["polling"], reconnection=False, force_new=True)
        events = Recorder(client, "disconnect")
        await client.connect()
        started = time.monotonic()
        reason, _ = await events.wait("disconnect")
        elapsed = time.monotonic() - started
        assert reason == "ping timeout"
        assert 0.3 <= elapsed < 2.0  # pingInterval + pingTimeout = 0.4 s
        assert client.active


async def test_dead_websocket_server_is_detected_by_the_heartbeat() -> None:
    async def handshake_then_silence(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        key = next(
            line.split(":", 1)[1].strip()
            for line in head.split("\r\n")
            if line.lower().startswith("sec-websocket-key:")
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(key).encode()
            + b"\r\n\r\n"
            + text_frame(open_packet())
        )
        parser = FrameParser()
        while data := await reader.read(4096):
            for opcode, payload in parser.feed(data):
                if opcode == Opcode.TEXT and payload == "40":
                    writer.write(text_frame('40{"sid":"socket-id"}'))

    listener = await raw_tcp_server(handshake_then_silence)
    port = listener.sockets[0].getsockname()[1]
    try:
        client = Client(
            f"http://127.0.0.1:{port}",
            transports=["websocket"],
            reconnection=False,
            force_new=True,
        )
        events = Recorder(client, "disconnect")
        await client.connect()
        started = time.monotonic()
        reason, _ = await events.wait("disconnect")
        assert reason == "ping timeout"
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(b'42["x"', "parse error", id="socketio-invalid-json"),
        pytest.param(b"x", "parse error", id="engineio-unknown-type"),
        pytest.param(b"1", "transport close", id="engineio-close-packet"),
    ],
)
async def test_bad_or_closing_packets(answer: bytes, reason: str) -> None:
    async with FakePollingServer(fake_socketio([answer])) as fake:
        client = Client(fake.url, transports=["polling"], reconnection=False, force_new=True)
        events = Recorder(client, "disconnect")
        await client.connect()
        assert (await events.wait("disconnect"))[0] == reason


async def test_http_errors_of_the_handshake() -> None:
    async def refuse(method: str, target: str, body: bytes) -> bytes | None:
        return b"not a WebSocket"  # 200 instead of 101

    async with FakePollingServer(refuse) as fake:
        port = int(fake.url.rsplit(":", 1)[1])
        endpoint = Endpoint(Address("127.0.0.1", port), "/socket.io/", {}, [], 1000)
        engine = EngineClient(endpoint, _NullHandler(), transports=["websocket"])
        with pytest.raises(ConnectionError, match="websocket error"):
            await engine.connect()
        with pytest.raises(aiosio.AiosioError):
            await engine.connect()  # an engine opens once
    with pytest.raises(ValueError, match="transports"):
        EngineClient(endpoint, _NullHandler(), transports=["carrier-pigeon"])


class _NullHandler:
    def on_message(self, data: str | bytes) -> None:
        pass

    def on_ping(self) -> None:
        pass

    def on_upgrade(self, transport: str) -> None:
        pass

    def on_close(self, reason: str, error: BaseException | None) -> None:
        pass


async def test_http_error_answer_is_a_connect_error(start_server: StartServer) -> None:
    server = await start_server(transports=("websocket",))
    with pytest.raises(ConnectionError) as info:
        await aiosio.connect(server.url, transports=["polling"], force_new=True)
    assert "HTTP 400" in info.value.message
    assert info.value.data["code"] == 0  # "Transport unknown"


async def test_polling_posts_respect_max_payload(start_server: StartServer) -> None:
    server = await start_server(max_http_buffer_size=2000)
    client = await aiosio.connect(server.url, transports=["polling"], force_new=True)
    engine = client.io.engine
    assert engine is not None and engine.max_payload == 2000
    answers: asyncio.Queue[Any] = asyncio.Queue()
    for index in range(40):  # 40 packets of ~220 bytes: far more than one POST may carry
        client.emit("echo", index, "x" * 200, callback=lambda i, _: answers.put_nowait(i))
    received = [await answers.get() for _ in range(40)]
    assert received == list(range(40))
    assert client.connected
    await client.disconnect()


async def test_custom_path(start_server: StartServer) -> None:
    server = await start_server()
    # Nothing at that path: ours answers 404; Node's server never answers a request for
    # another path, so there the timeout ends the attempt (and the test waits for it).
    with pytest.raises(ConnectionError):
        await aiosio.connect(server.url, path="/elsewhere", timeout=0.5, force_new=True)
    client = await aiosio.connect(server.url, path="/socket.io/", force_new=True)
    assert client.connected
    await client.disconnect()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command), one for the
    module: the tests only read it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_tls(certificate: tuple[Path, Path], transports: list[str]) -> None:
    cert, key = certificate
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    io = aiosio.Server()
    io.on("connection", lambda socket: socket.on("echo", lambda *args: args))
    port = await io.start("127.0.0.1", 0, ssl=server_context)
    try:
        client_context = ssl.create_default_context(cafile=str(cert))
        client = Client(
            f"https://127.0.0.1:{port}", transports=transports, ssl=client_context, force_new=True
        )
        upgraded = Recorder(client.io, "upgrade")
        await client.connect()
        if len(transports) == 2:
            await upgraded.wait("upgrade")
        assert await client.emit_with_ack("echo", "secret", b"\x00") == ("secret", b"\x00")
        await client.disconnect()
        untrusting = Client(f"wss://127.0.0.1:{port}", transports=["websocket"], force_new=True)
        with pytest.raises(ConnectionError):  # the system's trust store knows nothing of it
            await untrusting.connect()
    finally:
        await io.close()


async def test_websocket_large_and_binary_messages(start_server: StartServer) -> None:
    server = await start_server()
    client = await aiosio.connect(server.url, transports=["websocket"], force_new=True)
    big = os.urandom(300_000)
    text = base64.b64encode(os.urandom(100_000)).decode()
    assert await client.emit_with_ack("echo", big, text) == (big, text)
    await client.disconnect()
