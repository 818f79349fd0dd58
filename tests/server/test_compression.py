"""Compression on the wire: permessage-deflate frames and gzip/deflate polling answers.

A raw WebSocket client (our framing on asyncio streams) shows each frame as it arrives,
RSV1 included, against the standalone server; the official ``socket.io-client`` (Node)
checks that compressed broadcasts decode; raw HTTP requests show the polling answers'
``Content-Encoding`` behind both front doors. Every server runs on a port of its own and
is closed at the end of its test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import os
import shutil
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import aiosio
from aiosio.websocket.deflate import Deflater, Inflater, codecs_for
from aiosio.websocket.frames import BINARY, CLOSE, TEXT, encode_frame, parse_close
from aiosio.websocket.handshake import (
    DeflateParameters,
    check_server_response,
    client_handshake_request,
)

BIG = "x" * 2000 + "y" * 2000  # compresses well, over the 1024-byte threshold
SMALL = "hi"
OFFER = "permessage-deflate; client_max_window_bits"
TIMEOUT = 5.0
INTEROP = Path(__file__).resolve().parents[1] / "interop"
NODE = shutil.which("node")

Start = Callable[..., Awaitable[tuple[aiosio.Server, int]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """``await start(**options)``: an aiosio.Server on the standalone front door.

    The servers and the raw WebSockets opened meanwhile are closed at the end.
    """
    servers: list[aiosio.Server] = []
    RawWebSocket.opened = []

    async def start(**options: Any) -> tuple[aiosio.Server, int]:
        server = aiosio.Server(**options)

        @server.on("connection")
        def on_connection(socket: aiosio.Socket) -> None:
            socket.on("echo", lambda data: data)  # acknowledged with the same data

        servers.append(server)
        port = await server.start("127.0.0.1", 0)
        return server, port

    yield start
    for ws in RawWebSocket.opened:
        await ws.close()
    for server in servers:
        await server.close()


class RawWebSocket:
    """A Socket.IO client by hand: our framing on asyncio streams, frames seen raw."""

    opened: list[RawWebSocket] = []  # closed by the ``start`` fixture

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parameters: DeflateParameters | None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.parameters = parameters
        self.deflater: Deflater | None = None
        self.inflater: Inflater | None = None
        if parameters is not None:
            self.deflater, self.inflater = codecs_for(parameters, client_side=True)

    @classmethod
    async def connect(cls, port: int, offer: str | None = OFFER) -> RawWebSocket:
        """Open the WebSocket, read the OPEN packet and join the main namespace."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = [("Sec-WebSocket-Extensions", offer)] if offer else []
        path = "/socket.io/?EIO=4&transport=websocket"
        writer.write(client_handshake_request(f"127.0.0.1:{port}", path, key, extra))
        async with asyncio.timeout(TIMEOUT):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *lines = head.strip().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        parameters = check_server_response(
            int(status_line.split()[1]), headers, key, extensions=offer
        )
        ws = cls(reader, writer, parameters)
        cls.opened.append(ws)
        _, opened = await ws.message()
        assert isinstance(opened, str) and opened.startswith("0{")
        ws.send("40")
        _, connected = await ws.message()
        assert isinstance(connected, str) and connected.startswith("40{")
        return ws

    async def frame(self) -> tuple[int, bytes]:
        """The next frame: its first header byte (FIN, RSV, opcode) and its payload."""
        async with asyncio.timeout(TIMEOUT):
            b0, b1 = await self.reader.readexactly(2)
            assert not b1 & 0x80, "a server does not mask"
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(await self.reader.readexactly(2), "big")
            elif length == 127:
                length = int.from_bytes(await self.reader.readexactly(8), "big")
            return b0, await self.reader.readexactly(length)

    async def message(self) -> tuple[bool, str | bytes]:
        """The next message (the server never fragments): (was it compressed, data)."""
        b0, payload = await self.frame()
        assert b0 & 0x80, "FIN"
        compressed = bool(b0 & 0x40)
        if compressed:
            assert self.inflater is not None, "RSV1 without permessage-deflate"
            payload = self.inflater.decompress(payload, fin=True, max_size=10**7)
        opcode = b0 & 0x0F
        assert opcode in (TEXT, BINARY), f"opcode {opcode}"
        return compressed, payload.decode() if opcode == TEXT else payload

    def send(self, data: str | bytes, *, compress: bool = False) -> None:
        payload = data.encode() if isinstance(data, str) else data
        opcode = TEXT if isinstance(data, str) else BINARY
        if compress:
            assert self.deflater is not None
            payload = self.deflater.compress(payload)
        self.writer.write(encode_frame(opcode, payload, mask=os.urandom(4), rsv1=compress))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def only_socket(server: aiosio.Server) -> aiosio.Socket:
    (socket,) = server.of("/").sockets.values()
    return socket


def event(name: str, *args: Any) -> str:
    return "42" + json.dumps([name, *args], separators=(",", ":"))


# --- permessage-deflate ------------------------------------------------------------------------


async def test_large_emit_is_deflated_small_and_compress_false_are_not(start: Start) -> None:
    server, port = await start(per_message_deflate=True)
    ws = await RawWebSocket.connect(port)
    assert ws.parameters == DeflateParameters(server_no_context_takeover=True)
    socket = only_socket(server)
    socket.emit("big", BIG)
    socket.emit("small", SMALL)
    socket.compress(False).emit("big", BIG)
    socket.compress(False).emit("big", BIG, callback=lambda *answer: None)
    socket.compress(True).emit("big", BIG)
    assert await ws.message() == (True, event("big", BIG))
    assert await ws.message() == (False, event("small", SMALL))
    assert await ws.message() == (False, event("big", BIG))
    compressed, data = await ws.message()  # with an ack id
    assert not compressed and isinstance(data, str) and data.endswith(event("big", BIG)[2:])
    assert await ws.message() == (True, event("big", BIG))


async def test_binary_attachments_are_deflated_too(start: Start) -> None:
    server, port = await start(per_message_deflate={"threshold": 100})
    ws = await RawWebSocket.connect(port)
    blob = bytes(5000)
    only_socket(server).emit("blob", blob)
    compressed, header = await ws.message()
    assert not compressed  # the packet's text part is under 100 bytes
    assert header == '451-["blob",{"_placeholder":true,"num":0}]'
    assert await ws.message() == (True, blob)


async def test_broadcast_is_compressed_once_for_every_recipient(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = await start(per_message_deflate=True)
    clients = [await RawWebSocket.connect(port) for _ in range(3)]
    calls: list[int] = []
    original = Deflater.compress

    def counting(self: Deflater, data: bytes) -> bytes:
        calls.append(len(data))
        return original(self, data)

    monkeypatch.setattr(Deflater, "compress", counting)
    server.emit("news", BIG)
    server.emit("news", SMALL)
    server.compress(False).emit("news", BIG)
    frames = [[await ws.frame() for _ in range(3)] for ws in clients]
    assert frames[0] == frames[1] == frames[2]  # the very same bytes
    assert [b0 & 0x40 for b0, _ in frames[0]] == [0x40, 0, 0]
    assert len(calls) == 1  # one compression for three recipients
    inflated = zlib.decompressobj(-15).decompress(frames[0][0][1] + b"\x00\x00\xff\xff")
    assert inflated.decode() == event("news", BIG)


async def test_compressed_messages_from_the_client_are_inflated(start: Start) -> None:
    _, port = await start(per_message_deflate=True)
    ws = await RawWebSocket.connect(port)
    ws.send(event("echo", BIG)[:2] + "1" + event("echo", BIG)[2:], compress=True)  # ack id 1
    ws.send(event("echo", "short")[:2] + "2" + event("echo", "short")[2:], compress=True)
    assert await ws.message() == (True, "431" + json.dumps([BIG], separators=(",", ":")))
    assert await ws.message() == (False, '432["short"]')


async def test_decompression_bomb_closes_with_1009(start: Start) -> None:
    server, port = await start(per_message_deflate=True, max_http_buffer_size=100_000)
    ws = await RawWebSocket.connect(port)
    reason: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    only_socket(server).on("disconnect", reason.set_result)
    bomb = Deflater().compress(("4" + "0" * 10_000_000).encode())  # ~10 KB on the wire
    assert len(bomb) < 100_000
    ws.writer.write(encode_frame(TEXT, bomb, mask=os.urandom(4), rsv1=True))
    b0, payload = await ws.frame()
    assert b0 & 0x0F == CLOSE
    assert parse_close(payload)[0] == 1009
    async with asyncio.timeout(TIMEOUT):
        assert await reason == "transport error"


@pytest.mark.parametrize(
    ("options", "offer"),
    [
        pytest.param({}, OFFER, id="off-by-default"),
        pytest.param({"per_message_deflate": True}, None, id="not-offered"),
        pytest.param(
            {"per_message_deflate": True},
            "permessage-deflate; server_max_window_bits=8",
            id="offer-declined",
        ),
    ],
)
async def test_no_compression_unless_negotiated(
    start: Start, options: dict[str, Any], offer: str | None
) -> None:
    server, port = await start(**options)
    ws = await RawWebSocket.connect(port, offer)
    assert ws.parameters is None
    only_socket(server).emit("big", BIG)
    assert await ws.message() == (False, event("big", BIG))


async def test_window_and_context_options_are_negotiated(start: Start) -> None:
    server, port = await start(
        per_message_deflate={
            "threshold": 10,
            "server_max_window_bits": 10,
            "client_max_window_bits": 9,
            "client_no_context_takeover": True,
        }
    )
    offer = "permessage-deflate; server_max_window_bits=12; client_max_window_bits"
    ws = await RawWebSocket.connect(port, offer)
    assert ws.parameters == DeflateParameters(True, True, 10, 9)
    only_socket(server).emit("big", BIG)
    assert await ws.message() == (True, event("big", BIG))
    ws.send('421["echo","' + "z" * 500 + '"]', compress=True)
    assert await ws.message() == (True, '431["' + "z" * 500 + '"]')


@pytest.mark.skipif(
    NODE is None or not (INTEROP / "node_modules" / "socket.io-client").is_dir(),
    reason="node or tests/interop/node_modules (npm ci) is missing",
)
async def test_official_client_decodes_compressed_broadcasts(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = await start(per_message_deflate=True)
    calls: list[int] = []
    original = Deflater.compress

    def counting(self: Deflater, data: bytes) -> bytes:
        calls.append(len(data))
        return original(self, data)

    monkeypatch.setattr(Deflater, "compress", counting)
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(INTEROP / "compression_client.js"),
        f"http://127.0.0.1:{port}",
        "2",
        "4096",
        cwd=INTEROP,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            ready = json.loads(await process.stdout.readline() or b'{"ev": "none"}')
            assert ready["ev"] == "ready", ready
            blob = os.urandom(100) * 30
            server.emit("news", BIG)
            server.emit("news", SMALL, blob)
            server.compress(False).emit("news", BIG[::-1])
            server.emit("done")
            stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["ev"] == "result", (result, stderr.decode())
    assert (
        ready["extensions"]
        == [{"name": "permessage-deflate", "params": {"server_no_context_takeover": True}}] * 2
    )
    encoded_blob = {"$bin": base64.b64encode(blob).decode()}
    for client in result["clients"]:
        assert client["events"] == [[BIG], [SMALL, encoded_blob], [BIG[::-1]]]
        assert client["echo"]  # sent compressed by the client, inflated, answered compressed
    # BIG once for both clients, then the blob once; later the echo's ack, once per
    # client. Not the compress(False) broadcast, SMALL, nor the blob's text part.
    assert calls[:2] == [len(event("news", BIG)), len(blob)]
    assert len(calls) == 4


# --- HTTP compression of polling answers ---------------------------------------------------------


async def http(
    port: int,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 exchange on its own connection; the body exactly as sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines += ["Content-Type: text/plain;charset=UTF-8", f"Content-Length: {len(body)}"]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    try:
        async with asyncio.timeout(TIMEOUT):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            status_line, *header_lines = head.strip().split("\r\n")
            found: dict[str, str] = {}
            for line in header_lines:
                name, value = line.split(":", 1)
                key = name.strip().lower()
                found[key] = f"{found[key]}, {value.strip()}" if key in found else value.strip()
            data = await reader.readexactly(int(found["content-length"]))
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1]), found, data


async def test_polling_answers_are_gzipped_over_the_threshold(front_door: Any) -> None:
    server = aiosio.Server()
    running = await front_door(lambda: server.router)
    port = running.port
    path = "/socket.io/?EIO=4&transport=polling"
    gzip_ok = {"Accept-Encoding": "gzip, deflate, br"}
    status, headers, body = await http(port, "GET", path, headers=gzip_ok)
    assert status == 200 and "content-encoding" not in headers  # the OPEN packet is small
    sid = json.loads(body[1:])["sid"]
    target = f"{path}&sid={sid}"
    assert (await http(port, "POST", target, b"40"))[0] == 200
    assert (await http(port, "GET", target, headers=gzip_ok))[2].startswith(b"40{")
    socket = only_socket(server)
    expected = event("big", BIG).encode()

    socket.emit("big", BIG)
    status, headers, body = await http(port, "GET", target, headers=gzip_ok)
    assert (headers["content-encoding"], headers["vary"]) == ("gzip", "Accept-Encoding")
    assert int(headers["content-length"]) == len(body) < 200
    assert gzip.decompress(body) == expected

    socket.emit("big", BIG)
    status, headers, body = await http(port, "GET", target, headers={"Accept-Encoding": "deflate"})
    assert headers["content-encoding"] == "deflate"
    assert zlib.decompress(body) == expected

    socket.emit("big", BIG)
    status, headers, body = await http(port, "GET", target)  # no Accept-Encoding
    assert "content-encoding" not in headers and body == expected

    socket.compress(False).emit("big", BIG)
    status, headers, body = await http(port, "GET", target, headers=gzip_ok)
    assert "content-encoding" not in headers and body == expected

    socket.emit("small", SMALL)
    status, headers, body = await http(port, "GET", target, headers=gzip_ok)
    assert "content-encoding" not in headers and body == event("small", SMALL).encode()


async def test_http_compression_options(front_door: Any) -> None:
    off = aiosio.Server(http_compression=False)
    low = aiosio.Server(http_compression={"threshold": 10})
    gzip_ok = {"Accept-Encoding": "gzip"}
    path = "/socket.io/?EIO=4&transport=polling"
    _, headers, _ = await http(
        (await front_door(lambda: off.router)).port, "GET", path, headers=gzip_ok
    )
    assert "content-encoding" not in headers
    _, headers, body = await http(
        (await front_door(lambda: low.router)).port, "GET", path, headers=gzip_ok
    )
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body).startswith(b'0{"sid":')  # the handshake itself
