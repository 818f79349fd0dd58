"""The Engine.IO transports of the client: HTTP long-polling and WebSocket (and
WebTransport, in :mod:`aiosio.client.webtransport`, with the ``webtransport`` extra).

A transport only moves encoded Engine.IO packets: :meth:`receive` waits for the next ones
(one long-poll GET, or the next WebSocket frames) and :meth:`send` writes a batch (one POST,
or one frame per packet). :class:`~aiosio.client.engine.EngineClient` owns the loops, the
state and the decoding.

Errors: :class:`EOFError` when the server closed the transport in an orderly way (a
WebSocket close frame or end of stream), anything else in :data:`TRANSPORT_ERRORS` when it
failed; :class:`~aiosio.exceptions.ConnectionError` carries an HTTP error answer.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeAlias
from urllib.parse import urlencode

import orjson

from aiosio.client.cookies import CookieJar
from aiosio.client.http import Address, HTTPConnection, Response, open_websocket
from aiosio.engineio.packets import SEPARATOR, encode_payload
from aiosio.exceptions import ConnectionError, ProtocolError, RemoteProtocolError
from aiosio.websocket.deflate import Deflater, codecs_for
from aiosio.websocket.frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    CloseCode,
    FrameParser,
    close_frame,
    encode_frame,
)
from aiosio.websocket.handshake import deflate_offer

__all__ = [
    "TRANSPORT_ERRORS",
    "Endpoint",
    "Polling",
    "Transport",
    "TransportFactory",
    "WebSocket",
    "create",
]

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ProtocolError,
    ConnectionError,
    asyncio.LimitOverrunError,
)
"""What a transport raises when it fails."""

_READ_SIZE = 64 * 1024


class Endpoint:
    """The Engine.IO endpoint of one server: address, path, query, extra headers, and
    what every transport to it shares.

    Attributes:
        jar: The cookie jar (``with_credentials``), or None to keep no cookies.
        deflate_threshold: permessage-deflate on our WebSockets: messages of this many
            bytes or more are compressed once the server agrees; None offers no
            compression.
        webtransport: Options of the WebTransport transport (``port``,
            ``certificate_hashes``...; see :mod:`aiosio.client.webtransport`).
    """

    def __init__(
        self,
        address: Address,
        path: str,
        query: Mapping[str, str],
        headers: Sequence[tuple[str, str]],
        max_message_size: int,
        *,
        jar: CookieJar | None = None,
        deflate_threshold: int | None = None,
        webtransport: Mapping[str, object] | None = None,
    ) -> None:
        self.address = address
        self.path = path
        self.query = dict(query)
        self.headers = list(headers)
        self.max_message_size = max_message_size
        self.jar = jar
        self.deflate_threshold = deflate_threshold
        self.webtransport = dict(webtransport or {})

    def target(self, transport: str, sid: str | None, *, cache_buster: bool = False) -> str:
        """The request target: the path and the query (``EIO=4``, transport, sid...)."""
        query = {**self.query, "EIO": "4", "transport": transport}
        if cache_buster:  # as engine.io-client's timestampRequests ("t")
            query["t"] = secrets.token_urlsafe(6)
        if sid is not None:
            query["sid"] = sid
        return f"{self.path}?{urlencode(query)}"


class Transport(Protocol):
    """What :class:`~aiosio.client.engine.EngineClient` needs of a transport."""

    name: str
    sid: str | None

    async def open(self) -> list[str | bytes]:
        """Connect; without a sid, return the handshake packets (OPEN first)."""
        ...

    async def receive(self) -> list[str | bytes]:
        """Wait for the next encoded packets from the server."""
        ...

    async def send(self, packets: list[str | bytes]) -> None:
        """Write encoded packets (text ones with their type digit, binary ones as bytes)."""
        ...

    def close(self) -> None:
        """Release the connections at once; no close packet is sent."""
        ...


TransportFactory: TypeAlias = Callable[[str, Endpoint, str | None], Transport]
"""What makes a connection attempt's transport from its name, the endpoint and the sid
(None for a new session): :func:`create`, over the network, unless a Manager is given
another (``transport_factory``; :mod:`aiosio.testing` connects in memory with it)."""


class Polling:
    """HTTP long-polling: a held GET brings packets, a POST carries ours (``\\x1e``-joined)."""

    name = "polling"

    def __init__(self, endpoint: Endpoint, sid: str | None = None) -> None:
        self.endpoint = endpoint
        self.sid = sid
        self._get = HTTPConnection(endpoint.address, endpoint.headers, endpoint.jar)
        self._post = HTTPConnection(endpoint.address, endpoint.headers, endpoint.jar)

    async def open(self) -> list[str | bytes]:
        return await self.receive()

    async def receive(self) -> list[str | bytes]:
        target = self.endpoint.target(self.name, self.sid, cache_buster=True)
        response = await self._get.request("GET", target)
        _check(response)
        try:
            text = response.body.decode()
        except UnicodeDecodeError:
            raise RemoteProtocolError("polling payload is not UTF-8") from None
        return list(text.split(SEPARATOR))

    async def send(self, packets: list[str | bytes]) -> None:
        target = self.endpoint.target(self.name, self.sid, cache_buster=True)
        response = await self._post.request("POST", target, encode_payload(packets).encode())
        _check(response)

    def close(self) -> None:
        self._get.close()
        self._post.close()


def _check(response: Response) -> None:
    """Turn an HTTP error answer into :class:`ConnectionError` (with its JSON, if any)."""
    if response.status == 200:
        return
    data: object = None
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            data = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            data = None
    raise ConnectionError(f"HTTP {response.status} from the polling endpoint", data)


class WebSocket:
    """One WebSocket (RFC 6455); each Engine.IO packet is one frame, masked by us.

    With ``endpoint.deflate_threshold`` set, the handshake offers permessage-deflate
    (RFC 7692); if the server agrees, messages of that many bytes or more are compressed
    (the window kept between messages unless the server asked otherwise), and the
    server's compressed messages are inflated within ``max_message_size``.
    """

    name = "websocket"

    def __init__(self, endpoint: Endpoint, sid: str | None = None) -> None:
        self.endpoint = endpoint
        self.sid = sid
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = FrameParser(client_side=True, max_message_size=endpoint.max_message_size)
        self._pending: list[str | bytes] = []
        self._closing = False
        self._deflater: Deflater | None = None

    @property
    def compressed(self) -> bool:
        """Whether permessage-deflate was agreed."""
        return self._deflater is not None

    async def open(self) -> list[str | bytes]:
        endpoint = self.endpoint
        target = endpoint.target(self.name, self.sid)
        offer = None if endpoint.deflate_threshold is None else deflate_offer()
        self._reader, self._writer, agreed = await open_websocket(
            endpoint.address, target, endpoint.headers, jar=endpoint.jar, extensions=offer
        )
        if agreed is not None:
            self._deflater, inflater = codecs_for(agreed, client_side=True)
            self._parser = FrameParser(
                client_side=True, max_message_size=endpoint.max_message_size, compression=inflater
            )
        if self.sid is None:
            return await self.receive()
        return []

    async def receive(self) -> list[str | bytes]:
        reader = self._reader
        if reader is None:
            raise EOFError("the WebSocket is not open")
        while not self._pending:
            data = await reader.read(_READ_SIZE)
            if not data:
                raise EOFError("the server closed the connection")
            self._on_messages(data)
        packets, self._pending = self._pending, []
        return packets

    def _on_messages(self, data: bytes) -> None:
        for opcode, payload in self._parser.feed(data):
            if opcode in (TEXT, BINARY):
                self._pending.append(payload)
            elif opcode == PING:
                assert isinstance(payload, bytes)
                self._write(encode_frame(PONG, payload, mask=os.urandom(4)))
            elif opcode == CLOSE:
                self._write_close(CloseCode.NORMAL)
                if not self._pending:
                    raise EOFError("the server closed the WebSocket")

    async def send(self, packets: list[str | bytes]) -> None:
        writer = self._writer
        if writer is None or self._closing:
            raise EOFError("the WebSocket is closed")
        frames = []
        deflater = self._deflater
        threshold = self.endpoint.deflate_threshold or 0
        for packet in packets:
            opcode, payload = (
                (TEXT, packet.encode()) if isinstance(packet, str) else (BINARY, packet)
            )
            if deflater is not None and len(payload) >= threshold:
                payload = deflater.compress(payload)
                frames.append(encode_frame(opcode, payload, mask=os.urandom(4), rsv1=True))
            else:
                frames.append(encode_frame(opcode, payload, mask=os.urandom(4)))
        writer.write(b"".join(frames))
        await writer.drain()

    def _write(self, frame: bytes) -> None:
        if self._writer is not None and not self._closing:
            self._writer.write(frame)

    def _write_close(self, code: int) -> None:
        self._write(close_frame(code, mask=os.urandom(4)))
        self._closing = True

    def close(self) -> None:
        writer = self._writer
        if writer is None:
            return
        if not writer.is_closing():
            self._write_close(CloseCode.NORMAL)
        self._reader = self._writer = None
        writer.close()


def create(name: str, endpoint: Endpoint, sid: str | None = None) -> Transport:
    """A transport by its Engine.IO name.

    Raises:
        ValueError: For a name other than ``polling``, ``websocket`` and ``webtransport``.
        ImportError: For ``webtransport`` without aioquic (the ``webtransport`` extra).
    """
    if name == "polling":
        return Polling(endpoint, sid)
    if name == "websocket":
        return WebSocket(endpoint, sid)
    if name == "webtransport":
        from aiosio.client.webtransport import WebTransport

        return WebTransport(endpoint, sid)
    raise ValueError(f"unknown transport {name!r}")
