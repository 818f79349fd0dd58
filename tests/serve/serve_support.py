"""Raw-socket helpers of the standalone server's tests: a minimal :class:`Peer` (HTTP
responses as tuples, frames as parsed, nothing answered for it) and the requests it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiosio.websocket.frames import FrameParser, Opcode, encode_frame
from aiosio.websocket.handshake import client_handshake_request

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
MASK = b"\x01\x02\x03\x04"


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


async def poll_watched(server: Any) -> tuple[str, asyncio.Queue[str], Peer]:
    """A new polling session, the engine watched for the GETs it holds
    (:func:`watch_held_polls`), and a connection to poll on."""
    sid = await open_polling(server)
    return sid, watch_held_polls(server.engine), await Peer.connect(server)


async def answer_held_poll(server: Any, held: asyncio.Queue[str], sid: str, body: bytes) -> None:
    """Wait until the engine holds ``sid``'s GET (``held`` from :func:`watch_held_polls`),
    then answer it: ``body`` POSTed on another connection, which gets its ``ok``."""
    async with asyncio.timeout(5):
        assert await held.get() == sid
    other = await Peer.connect(server)
    other.send(post(polling(sid), body))
    assert (await other.response())[2] == b"ok"


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
