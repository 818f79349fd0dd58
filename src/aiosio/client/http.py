"""A minimal HTTP/1.1 client for the Engine.IO transports, over asyncio streams.

Long-polling needs two keep-alive connections (one holds the GET, the other carries POSTs)
and the WebSocket transport needs one Upgrade request; nothing more, so there is no
dependency on an HTTP library. Bodies are read by ``Content-Length``, chunked coding, or up
to the end of the connection (RFC 9112, section 6.3).

Errors: the connection's own (:class:`OSError`, :class:`EOFError` when the server closes
it) and :class:`~aiosio.exceptions.RemoteProtocolError` for a response that is not HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiosio.client.cookies import CookieJar
from aiosio.client.proxy import Proxy, check_connect, connect_request
from aiosio.exceptions import RemoteProtocolError
from aiosio.websocket.handshake import (
    DeflateParameters,
    check_server_response,
    client_handshake_request,
)

__all__ = ["Address", "HTTPConnection", "Response", "open_websocket"]

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024
_NO_BODY = frozenset({101, 204, 304})
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Address:
    """Where a server is and how to reach it.

    Attributes:
        host: Host name or IP address to connect to.
        port: TCP port.
        ssl: TLS context for ``https``/``wss``; ``None`` for plain TCP.
        max_body: The largest response body accepted, in bytes.
        proxy: The HTTP proxy to go through (:mod:`aiosio.client.proxy`), or None.
    """

    host: str
    port: int
    ssl: ssl.SSLContext | None = None
    max_body: int = 64 * 1024 * 1024
    proxy: Proxy | None = None

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the port is left out when it is the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.ssl is not None else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def forward(self) -> bool:
        """Whether requests go to the proxy in absolute form (plain HTTP through a proxy)
        rather than through a tunnel or directly."""
        return self.proxy is not None and self.ssl is None

    async def connect(
        self, *, tunnel: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a TCP (or TLS) connection to the server, or to its proxy.

        Through a proxy, TLS (and, with ``tunnel``, plain TCP too: WebSocket) goes through
        a ``CONNECT`` tunnel; plain HTTP without ``tunnel`` talks to the proxy itself.

        Raises:
            ConnectionError: The proxy refused the tunnel.
        """
        proxy = self.proxy
        if proxy is None:
            return await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.ssl is not None else None,
                limit=_MAX_HEAD,
            )
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port, limit=_MAX_HEAD)
        if self.ssl is None and not tunnel:
            return reader, writer
        try:
            writer.write(connect_request(proxy, self.host, self.port))
            await writer.drain()
            status, _ = await read_head(reader)
            check_connect(status)
            if self.ssl is not None:
                await writer.start_tls(self.ssl, server_hostname=self.host)
        except BaseException:
            writer.close()
            raise
        return reader, writer


@dataclass(frozen=True, slots=True)
class Response:
    """One HTTP response; header names are lower-cased."""

    status: int
    headers: dict[str, str]
    body: bytes


class HTTPConnection:
    """One keep-alive HTTP/1.1 connection, opened on first use and re-opened when needed.

    Requests on one connection are sequential: the caller awaits each response.
    """

    def __init__(
        self,
        address: Address,
        headers: Sequence[tuple[str, str]] = (),
        jar: CookieJar | None = None,
    ) -> None:
        self.address = address
        self._headers = list(headers)
        self._jar = jar
        if address.forward:
            assert address.proxy is not None
            self._headers.extend(address.proxy.headers())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, target: str, body: bytes | None = None) -> Response:
        """Send one request and read its response.

        A reused connection that the server closed while idle (its keep-alive timeout)
        fails before any byte of a response arrives: the request is then sent once more
        on a fresh connection.

        Raises:
            OSError: The connection failed.
            EOFError: The server closed the connection before the response was complete.
            RemoteProtocolError: The response is not valid HTTP/1.1.
        """
        reused = self._reader is not None and not self._reader.at_eof()
        if not reused:
            self.close()
        try:
            return await self._exchange(method, target, body)
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as exc:
            self.close()
            stale = not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial
            if not (reused and stale):
                raise
        return await self._exchange(method, target, body)

    async def _exchange(self, method: str, target: str, body: bytes | None) -> Response:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await self.address.connect()
        reader, writer = self._reader, self._writer
        writer.write(self._request_bytes(method, target, body))
        await writer.drain()
        status, headers = await read_head(reader)
        if self._jar is not None:
            self._jar.update(set_cookies(headers))
        body_bytes = await self._read_body(reader, method, status, headers)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body_bytes)

    def _request_bytes(self, method: str, target: str, body: bytes | None) -> bytes:
        address = self.address
        if address.forward:  # through a proxy: the absolute form (RFC 9112, 3.2.2)
            target = f"http://{address.host_header}{target}"
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {address.host_header}",
            "Accept: */*",
            "Connection: keep-alive",
        ]
        lines.extend(f"{name}: {value}" for name, value in self._headers)
        cookie = self._jar.header() if self._jar is not None else None
        if cookie is not None:
            lines.append(f"Cookie: {cookie}")
        if body is not None:
            lines.append("Content-Type: text/plain;charset=UTF-8")
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head + body if body else head

    async def _read_body(
        self, reader: asyncio.StreamReader, method: str, status: int, headers: Mapping[str, str]
    ) -> bytes:
        limit = self.address.max_body
        if method == "HEAD" or status in _NO_BODY or 100 <= status < 200:
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked(reader, limit)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > limit:
                raise RemoteProtocolError(f"invalid or too large Content-Length {length[:20]!r}")
            return await reader.readexactly(int(length))
        body = await reader.read(limit + 1)  # no length: the body ends with the connection
        while not reader.at_eof() and len(body) <= limit:
            body += await reader.read(limit + 1 - len(body))
        self.close()
        if len(body) > limit:
            raise RemoteProtocolError(f"response body larger than {limit} bytes")
        return body

    def close(self) -> None:
        """Close the connection (without waiting); the next request opens a new one."""
        writer = self._writer
        self._reader = self._writer = None
        if writer is not None:
            writer.close()


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Read a status line and headers; return the status and the lower-cased headers.

    Raises:
        EOFError: The connection ended first.
        RemoteProtocolError: The head is not HTTP/1.x or is larger than 64 KiB.
    """
    try:
        raw = await reader.readuntil(_HEAD_END)
    except asyncio.LimitOverrunError:
        raise RemoteProtocolError("response head larger than 64 KiB") from None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise RemoteProtocolError(f"invalid status line {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise RemoteProtocolError(f"invalid header line {line[:60]!r}")
        key = name.strip().lower()
        value = value.strip()
        # Set-Cookie values may hold commas (Expires): they are joined by a newline,
        # which no header value can hold (see set_cookies).
        joiner = "\n" if key == "set-cookie" else ", "
        headers[key] = f"{headers[key]}{joiner}{value}" if key in headers else value
    return int(parts[1]), headers


def set_cookies(headers: Mapping[str, str]) -> list[str]:
    """The ``Set-Cookie`` values of a head read by :func:`read_head`."""
    value = headers.get("set-cookie")
    return value.split("\n") if value else []


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        size_field = line.split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise RemoteProtocolError("invalid chunk size") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailer fields are ignored
            return bytes(body)
        if len(body) + size > limit:
            raise RemoteProtocolError(f"response body larger than {limit} bytes")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise RemoteProtocolError("chunk not followed by CRLF")


async def open_websocket(
    address: Address,
    target: str,
    headers: Sequence[tuple[str, str]],
    *,
    jar: CookieJar | None = None,
    extensions: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, DeflateParameters | None]:
    """Open a connection and perform the WebSocket opening handshake (RFC 6455, 4.1).

    ``jar`` gives the ``Cookie`` header and keeps the answer's ``Set-Cookie``;
    ``extensions`` is a permessage-deflate offer (``Sec-WebSocket-Extensions``).

    Returns:
        The streams, positioned at the first frame (bytes after the head stay buffered),
        and the agreed permessage-deflate parameters (None without compression).

    Raises:
        OSError, EOFError: The connection failed.
        RemoteProtocolError: The server refused or answered incorrectly.
    """
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    extra = list(headers)
    cookie = jar.header() if jar is not None else None
    if cookie is not None:
        extra.append(("Cookie", cookie))
    if extensions is not None:
        extra.append(("Sec-WebSocket-Extensions", extensions))
    request = client_handshake_request(address.host_header, target, key, extra)
    reader, writer = await address.connect(tunnel=True)
    try:
        writer.write(request)
        await writer.drain()
        status, response_headers = await read_head(reader)
        if jar is not None:
            jar.update(set_cookies(response_headers))
        deflate = check_server_response(status, response_headers, key, extensions=extensions)
    except BaseException:
        writer.close()
        raise
    return reader, writer, deflate
