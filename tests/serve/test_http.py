"""The standalone front door on raw sockets: what only it does (HTTP/1.1 parsing, limits,
pipelining, its own WebSocket framing). Engine behaviour is in tests/server/test_engine.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from aiosio.serve import serve
from aiosio.websocket.frames import (
    CloseCode,
    FrameParser,
    Opcode,
    close_frame,
    encode_frame,
    parse_close,
)
from aiosio.websocket.handshake import client_handshake_request

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
MASK = b"\x01\x02\x03\x04"


@pytest.fixture
async def server(echo_router: Any) -> AsyncIterator[Any]:
    router = echo_router()
    listener = await serve(router, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    peers: list[Peer] = []
    yield SimpleNamespace(router=router, engine=router.engine, port=port, peers=peers)
    for peer in peers:
        await peer.close()
    listener.close()
    await router.engine.close()
    await listener.wait_closed()


def watch_held_polls(engine: Any) -> asyncio.Queue[str]:
    """A spy around ``engine.handle_request``: the sid of every GET the engine holds."""
    held: asyncio.Queue[str] = asyncio.Queue()
    handle_request = engine.handle_request

    def spy(request: Any, respond: Any) -> Any:
        abort = handle_request(request, respond)
        if abort is not None:
            held.put_nowait(request.query["sid"])
        return abort

    engine.handle_request = spy
    return held


class Peer:
    """A raw TCP client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameParser(client_side=True)
        self.messages: list[tuple[Opcode, str | bytes]] = []

    @classmethod
    async def connect(cls, server: Any) -> Peer:
        peer = cls(*await asyncio.open_connection("127.0.0.1", server.port))
        server.peers.append(peer)
        return peer

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        async with asyncio.timeout(5):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return int(lines[0].split()[1]), headers, body

    async def message(self) -> tuple[Opcode, str | bytes]:
        async with asyncio.timeout(5):
            while not self.messages:
                data = await self.reader.read(65536)
                assert data, "connection closed"
                self.messages += self.frames.feed(data)
        return self.messages.pop(0)

    async def at_eof(self) -> bool:
        async with asyncio.timeout(5):
            while await self.reader.read(65536):
                pass
        return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def get(target: str, *headers: str) -> bytes:
    return ("\r\n".join([f"GET {target} HTTP/1.1", "Host: x", *headers]) + "\r\n\r\n").encode()


def post(target: str, body: bytes) -> bytes:
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def polling(sid: str | None = None) -> str:
    return "/socket.io/?EIO=4&transport=polling" + (f"&sid={sid}" if sid else "")


async def open_polling(server: Any) -> str:
    peer = await Peer.connect(server)
    peer.send(get(polling()))
    sid: str = json.loads((await peer.response())[2][1:])["sid"]
    await peer.close()
    return sid


async def open_websocket(server: Any, glued: bytes = b"") -> tuple[Peer, str]:
    peer = await Peer.connect(server)
    path = "/socket.io/?EIO=4&transport=websocket"
    peer.send(client_handshake_request("x", path, KEY, []) + glued)
    async with asyncio.timeout(5):
        head = await peer.reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    opcode, opened = await peer.message()
    assert opcode is Opcode.TEXT and isinstance(opened, str)
    return peer, json.loads(opened[1:])["sid"]


def text(data: str) -> bytes:
    return encode_frame(Opcode.TEXT, data.encode(), mask=MASK)


# -- HTTP --------------------------------------------------------------------------------


async def test_pipelined_requests_are_answered_in_order(server: Any) -> None:
    sid = await open_polling(server)
    held = watch_held_polls(server.engine)
    peer = await Peer.connect(server)
    # A held GET, then a POST (a NOOP: nothing to echo) and a GET queued behind it.
    peer.send(get(polling(sid)) + post(polling(sid), b"6") + get(polling(sid)))
    async with asyncio.timeout(5):
        assert await held.get() == sid
    other = await Peer.connect(server)
    other.send(post(polling(sid), b"4first"))
    assert (await other.response())[2] == b"ok"
    assert (await peer.response())[2] == b"4first"
    assert (await peer.response())[2] == b"ok"
    # The last GET is held in turn, with its abort in place: dropping it closes the session.
    async with asyncio.timeout(5):
        assert await held.get() == sid
    await peer.close()
    assert await server.engine.handler.closed(sid) == "transport close"


async def test_connection_close_is_honoured(server: Any) -> None:
    peer = await Peer.connect(server)
    peer.send(get(polling(), "Connection: close"))
    status, headers, _ = await peer.response()
    assert status == 200
    assert headers["connection"] == "close"
    assert await peer.at_eof()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (get("/" + "a" * 9000), 414),
        (get("/", "X-Big: " + "b" * 9000), 431),
        (get("/", *(f"X-{i}: {'c' * 100}" for i in range(170))), 431),
        (get("/", *(f"X-{i}: 1" for i in range(101))), 431),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
    ],
    ids=["414-url", "431-line", "431-total", "431-count", "400-garbage"],
)
async def test_head_limits(server: Any, request_bytes: bytes, status: int) -> None:
    peer = await Peer.connect(server)
    peer.send(request_bytes)
    assert (await peer.response())[0] == status
    assert await peer.at_eof()


async def test_not_found(server: Any) -> None:
    peer = await Peer.connect(server)
    peer.send(get("/elsewhere"))
    assert (await peer.response())[0] == 404
    await peer.close()


# -- WebSocket ---------------------------------------------------------------------------


async def test_frames_glued_to_the_handshake(server: Any) -> None:
    peer, _ = await open_websocket(server, glued=text("4early"))
    assert await peer.message() == (Opcode.TEXT, "4early")
    await peer.close()


async def test_ping_frames_are_answered(server: Any) -> None:
    peer, _ = await open_websocket(server)
    peer.send(encode_frame(Opcode.PING, b"hb", mask=MASK))
    assert await peer.message() == (Opcode.PONG, b"hb")
    await peer.close()


async def test_close_handshake(server: Any) -> None:
    peer, sid = await open_websocket(server)
    peer.send(close_frame(CloseCode.NORMAL, mask=MASK))
    opcode, payload = await peer.message()
    assert opcode is Opcode.CLOSE and isinstance(payload, bytes)
    assert parse_close(payload)[0] == CloseCode.NORMAL
    assert await server.engine.handler.closed(sid) == "transport close"
    assert await peer.at_eof()


async def test_dropped_connection_closes_the_session(server: Any) -> None:
    peer, sid = await open_websocket(server)
    peer.writer.transport.abort()
    assert await server.engine.handler.closed(sid) in ("transport close", "transport error")


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (encode_frame(Opcode.TEXT, b"4unmasked"), CloseCode.PROTOCOL_ERROR, "transport error"),
        (encode_frame(Opcode.TEXT, b"4\xff", mask=MASK), CloseCode.INVALID_DATA, "parse error"),
    ],
    ids=["unmasked", "bad-utf8"],
)
async def test_bad_frames_fail_the_connection(
    server: Any, frame: bytes, code: int, reason: str
) -> None:
    peer, sid = await open_websocket(server)
    peer.send(frame)
    opcode, payload = await peer.message()
    assert opcode is Opcode.CLOSE and isinstance(payload, bytes)
    assert parse_close(payload)[0] == code
    assert await server.engine.handler.closed(sid) == reason
    assert await peer.at_eof()


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        ("/socket.io/?EIO=4&transport=websocket", "short", 400),
        ("/elsewhere", KEY, 404),
    ],
    ids=["bad-key", "not-the-engine-path"],
)
async def test_refused_upgrades(server: Any, path: str, key: str, status: int) -> None:
    peer = await Peer.connect(server)
    request = client_handshake_request("x", path, KEY, []).replace(KEY.encode(), key.encode())
    peer.send(request)
    assert (await peer.response())[0] == status
    assert await peer.at_eof()
