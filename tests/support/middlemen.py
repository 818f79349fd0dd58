"""Two small HTTP middlemen for the client's option tests, on real sockets.

:class:`ConnectProxy` is an HTTP proxy: ``CONNECT`` tunnels (WebSocket, TLS) and
absolute-form forwarding (plain-HTTP polling). It records each request line it served and
counts the bytes it carried each way (so a test sees compression on the wire).

:class:`StickyBalancer` spreads requests over several backends round-robin, one request
per connection, unless the request carries its ``sticky`` cookie, which it sets on the
first answer (as load balancers keep a client on one backend). Without a cookie jar a
long-polling client lands on another backend at its second request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from urllib.parse import urlsplit

_HEAD_END = b"\r\n\r\n"


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]]:
    raw = await reader.readuntil(_HEAD_END)
    first, *lines = raw[:-4].decode("latin-1").split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return first, headers


def _get(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def _head(first: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [first, *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Server:
    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def __aenter__(self) -> _Server:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self.serve(reader, writer)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(host, port)
        self._writers.add(writer)
        return reader, writer

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, counter: list[int]
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                counter[0] += len(data)
                sink.write(data)
                await sink.drain()
        with contextlib.suppress(OSError):
            if sink.can_write_eof():
                sink.write_eof()

    async def _splice(
        self,
        a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        up: list[int],
        down: list[int],
    ) -> None:
        await asyncio.gather(self._pipe(a[0], b[1], up), self._pipe(b[0], a[1], down))


class ConnectProxy(_Server):
    """An HTTP proxy: ``CONNECT`` tunnels and absolute-form forwarding."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []  # request lines, in order
        self.authorizations: list[str] = []  # Proxy-Authorization values seen
        self.up = [0]  # bytes client -> server (tunnels and forwarded bodies)
        self.down = [0]  # bytes server -> client

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            try:
                first, headers = await _read_head(reader)
            except asyncio.IncompleteReadError:
                return
            self.requests.append(first)
            if auth := _get(headers, "proxy-authorization"):
                self.authorizations.append(auth)
            method, target, version = first.split(" ", 2)
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                server = await self._open(host.strip("[]"), int(port))
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await self._splice((reader, writer), server, self.up, self.down)
                return
            url = urlsplit(target)
            if upstream is None:
                upstream = await self._open(url.hostname or "", url.port or 80)
            origin = url.path + (f"?{url.query}" if url.query else "")
            kept = [(k, v) for k, v in headers if k.lower() != "proxy-authorization"]
            length = int(_get(headers, "content-length") or 0)
            body = await reader.readexactly(length)
            upstream[1].write(_head(f"{method} {origin} {version}", kept) + body)
            self.up[0] += length
            status, answer = await _read_head(upstream[0])
            size = int(_get(answer, "content-length") or 0)
            payload = await upstream[0].readexactly(size)
            self.down[0] += size
            writer.write(_head(status, answer) + payload)
            await writer.drain()


class StickyBalancer(_Server):
    """Round-robin over ``backends`` (ports), kept on one by a ``sticky`` cookie."""

    def __init__(self, backends: list[int]) -> None:
        super().__init__()
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))
        self.routed: list[int] = []  # the backend index of each request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first, headers = await _read_head(reader)
        cookies = dict(
            part.strip().partition("=")[::2] for part in _get(headers, "cookie").split(";") if part
        )
        sticky = cookies.get("sticky", "")
        index = int(sticky) if sticky.isdigit() and int(sticky) < len(self.backends) else None
        if index is None:
            index = next(self._next)
        self.routed.append(index)
        server = await self._open("127.0.0.1", self.backends[index])
        upgrade = bool(_get(headers, "upgrade"))
        if not upgrade:  # one request per connection: the next may go elsewhere
            headers = [(k, v) for k, v in headers if k.lower() != "connection"]
            headers.append(("Connection", "close"))
        server[1].write(_head(first, headers))
        up = asyncio.ensure_future(self._pipe(reader, server[1], [0]))  # a POST's body
        try:
            status, answer = await _read_head(server[0])
            if "sticky" not in cookies:
                answer.append(("Set-Cookie", f"sticky={index}; Path=/"))
            if not upgrade:
                answer = [(k, v) for k, v in answer if k.lower() != "connection"]
                answer.append(("Connection", "close"))
            writer.write(_head(status, answer))
            await self._pipe(server[0], writer, [0])
            if upgrade:
                await up
        finally:
            up.cancel()
