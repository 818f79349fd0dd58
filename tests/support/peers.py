"""Raw-socket clients: bytes we choose, written onto a real TCP connection.

:class:`Peer` speaks HTTP/1.1 and WebSocket framing by hand (masked or not, RSV bits, any
opcode, fragments), so a test can send exactly the malformed input it is about; the
functions below it open Engine.IO and Socket.IO sessions with peers (polling or
WebSocket). Every peer opened is listed in ``OPEN_PEERS`` until closed; :func:`close_peers`
closes those a test left open.

Deadlines, not sleeps: every wait is bounded by ``asyncio.timeout`` (5 s by default,
generous against the few milliseconds things take).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiosio.websocket.frames import (
    CloseCode,
    FrameParser,
    Opcode,
    WebSocketError,
    encode_frame,
    parse_close,
)
from aiosio.websocket.handshake import client_handshake_request

DEADLINE = 5.0
OPEN_PEERS: list[Peer] = []  # closed by close_peers (the hostile server fixture calls it)
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
PATH = "/socket.io/"


def engine_target(**query: str | None) -> str:
    """The Engine.IO path with ``query`` (``EIO=4`` unless given; None drops a key)."""
    params = {"EIO": "4", **query}
    return PATH + "?" + urlencode({k: v for k, v in params.items() if v is not None})


def polling(sid: str | None = None) -> str:
    return engine_target(transport="polling", sid=sid)


def websocket(sid: str | None = None) -> str:
    return engine_target(transport="websocket", sid=sid)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    method: str, target: str, body: bytes = b"", *headers: str, length: int | None = None
) -> bytes:
    """The bytes of one request; ``length`` overrides the Content-Length header."""
    lines = [f"{method} {target} HTTP/1.1", "Host: x", *headers]
    if body or method == "POST" or length is not None:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Peer:
    """One raw TCP connection to the server under test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.frames = FrameParser(client_side=True, max_message_size=64 * 1024 * 1024)
        self.messages: list[tuple[Opcode, str | bytes]] = []
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, port: int, *, rcvbuf: int | None = None) -> Peer:
        """Connect; ``rcvbuf`` shrinks the receive buffer (for clients that stop reading)."""
        if rcvbuf is None:
            peer = cls(*await asyncio.open_connection("127.0.0.1", port))
            OPEN_PEERS.append(peer)
            return peer
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
        peer = cls(reader, writer)
        OPEN_PEERS.append(peer)
        return peer

    # -- raw bytes ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def half_close(self) -> None:
        """Send FIN: no more bytes from us, but we still read."""
        self.writer.write_eof()

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        with contextlib.suppress(ValueError):
            OPEN_PEERS.remove(self)

    async def aclose(self) -> None:
        with contextlib.suppress(ValueError):
            OPEN_PEERS.remove(self)
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def closed(self, timeout: float = DEADLINE) -> bool:
        """Read to the end; True when the server ended the connection within ``timeout``.

        WebSocket frames read meanwhile are parsed, so :attr:`close_code` tells the code of
        a close frame, if one came.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        data = await self.reader.read(65536)
                    except ConnectionError:
                        return True
                    if not data:
                        return True
                    self._parse(data)
        except TimeoutError:
            return False

    # -- HTTP ---------------------------------------------------------------------------

    async def response(self, timeout: float = DEADLINE) -> Response:
        """Read one HTTP response (Content-Length or chunked body)."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding") == "chunked":
                body = b""
                while size := int((await self.reader.readuntil(b"\r\n"))[:-2], 16):
                    body += (await self.reader.readexactly(size + 2))[:-2]
                await self.reader.readuntil(b"\r\n")
            else:
                body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return Response(int(lines[0].split()[1]), headers, body)

    # -- WebSocket ----------------------------------------------------------------------

    def frame(
        self,
        opcode: int,
        payload: bytes,
        *,
        fin: bool = True,
        rsv: int = 0,
        mask: bool = True,
        length: int | None = None,
    ) -> None:
        """Send one frame, as broken as asked: any opcode, RSV bits (0-7), unmasked, or
        a header announcing ``length`` bytes whatever the payload."""
        b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | opcode
        n = len(payload) if length is None else length
        b1 = 0x80 if mask else 0
        if n < 126:
            header = bytes((b0, b1 | n))
        elif n < 65536:
            header = struct.pack("!BBH", b0, b1 | 126, n)
        else:
            header = struct.pack("!BBQ", b0, b1 | 127, n)
        if mask:
            key = os.urandom(4)
            masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            self.send(header + key + masked)
        else:
            self.send(header + payload)

    def text(self, data: str) -> None:
        self.send(encode_frame(Opcode.TEXT, data.encode(), mask=os.urandom(4)))

    def binary(self, data: bytes) -> None:
        self.send(encode_frame(Opcode.BINARY, data, mask=os.urandom(4)))

    def _parse(self, data: bytes) -> None:
        try:
            for opcode, payload in self.frames.feed(data):
                if opcode is Opcode.CLOSE and self.close_code is None:
                    assert isinstance(payload, bytes)
                    self.close_code = parse_close(payload)[0] if payload else CloseCode.NO_STATUS
                    # Answer it, as a client does: the server then ends the connection.
                    with contextlib.suppress(Exception):
                        self.send(encode_frame(Opcode.CLOSE, payload[:2], mask=os.urandom(4)))
                self.messages.append((opcode, payload))
        except WebSocketError:
            pass  # not WebSocket bytes (an HTTP answer after a refused upgrade, say)

    async def message(self, timeout: float = DEADLINE) -> tuple[Opcode, str | bytes]:
        """The next WebSocket message or control frame."""
        async with asyncio.timeout(timeout):
            while not self.messages:
                data = await self.reader.read(65536)
                assert data, "the server closed the connection"
                self._parse(data)
        return self.messages.pop(0)

    async def packet(self, timeout: float = DEADLINE) -> str | bytes:
        """The next Engine.IO packet; pings are answered and skipped."""
        while True:
            opcode, data = await self.message(timeout)
            if opcode is Opcode.TEXT and data == "2":
                self.text("3")
            elif opcode in (Opcode.TEXT, Opcode.BINARY):
                return data
            elif opcode is Opcode.CLOSE:
                raise AssertionError(f"closed by the server with {self.close_code}")

    async def close_frame(self, timeout: float = DEADLINE) -> int | None:
        """Read until the server ends the connection; the code of its close frame, if any."""
        assert await self.closed(timeout), "the server did not close the connection"
        return self.close_code

    async def upgrade(self, target: str, *headers: str, glued: bytes = b"") -> Response | None:
        """Send a WebSocket handshake (``glued`` bytes right behind it); None on 101, else
        the refusal."""
        extra = [tuple(h.split(": ", 1)) for h in headers]
        self.send(client_handshake_request("x", target, KEY, extra) + glued)  # type: ignore[arg-type]
        async with asyncio.timeout(DEADLINE):
            head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split()[1])
        if status == 101:
            return None
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                length = int(line.split(":")[1])
        async with asyncio.timeout(DEADLINE):
            body = await self.reader.readexactly(length)
        return Response(status, {}, body)


# -- Engine.IO and Socket.IO over raw sockets ---------------------------------------------


async def request(
    port: int, method: str, target: str, body: bytes = b"", *headers: str
) -> Response:
    """One HTTP request on a connection of its own."""
    peer = await Peer.connect(port)
    try:
        peer.send(http_request(method, target, body, *headers))
        return await peer.response()
    finally:
        await peer.aclose()


async def open_polling(port: int) -> str:
    """A polling handshake; the new sid."""
    response = await request(port, "GET", polling())
    assert response.status == 200, response
    return str(json.loads(response.body[1:])["sid"])


async def poll(port: int, sid: str) -> list[str]:
    """One GET; its packets, pings answered and left out."""
    response = await request(port, "GET", polling(sid))
    assert response.status == 200, response
    packets = response.body.decode().split("\x1e")
    if "2" in packets:
        await post(port, sid, "3")
    return [p for p in packets if p != "2"]


async def post(port: int, sid: str, *packets: str) -> Response:
    return await request(port, "POST", polling(sid), "\x1e".join(packets).encode())


async def open_websocket(port: int, *headers: str, glued: bytes = b"") -> tuple[Peer, str]:
    """A WebSocket-only Engine.IO session; the peer and the sid (OPEN read)."""
    peer = await Peer.connect(port)
    refused = await peer.upgrade(websocket(), *headers, glued=glued)
    assert refused is None, refused
    opened = await peer.packet()
    assert isinstance(opened, str) and opened.startswith("0"), opened
    return peer, str(json.loads(opened[1:])["sid"])


async def sio_websocket(port: int, namespace: str = "/", auth: Any = None) -> Peer:
    """A Socket.IO connection over WebSocket, joined to ``namespace``."""
    peer, _ = await open_websocket(port)
    await sio_connect(peer, namespace, auth)
    return peer


async def sio_connect(peer: Peer, namespace: str = "/", auth: Any = None) -> str:
    """Join ``namespace``; the socket id."""
    prefix = "" if namespace == "/" else namespace + ","
    peer.text("40" + prefix + ("" if auth is None else json.dumps(auth)))
    answer = await peer.packet()
    assert isinstance(answer, str) and answer.startswith("40" + prefix + "{"), answer
    return str(json.loads(answer[2 + len(prefix) :])["sid"])


async def close_peers() -> None:
    """Close every peer a test left open."""
    for peer in list(OPEN_PEERS):
        await peer.aclose()
