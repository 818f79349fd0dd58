"""The client's minimal HTTP/1.1 connection against scripted raw servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from aiosio.client.http import Address, HTTPConnection
from aiosio.exceptions import RemoteProtocolError
from tests.client.client_support import raw_tcp_server


async def serving(*answers: bytes, close_after_each: bool = False) -> asyncio.Server:
    """A server that reads each request head and writes the next answer, verbatim; it
    closes the connection after the last answer (or after each one)."""
    queue = list(answers)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while queue:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(queue.pop(0))
            await writer.drain()
            if close_after_each:
                return

    return await raw_tcp_server(handle)


@pytest.fixture
async def servers() -> AsyncIterator[list[asyncio.Server]]:
    started: list[asyncio.Server] = []
    yield started
    for server in started:
        server.close()
        await server.wait_closed()


async def connection(servers: list[asyncio.Server], *answers: bytes, **kw: bool) -> HTTPConnection:
    server = await serving(*answers, **kw)
    servers.append(server)
    port = server.sockets[0].getsockname()[1]
    return HTTPConnection(Address("127.0.0.1", port, max_body=100), [("X-Extra", "1")])


async def test_bodies_by_length_chunks_and_end_of_stream(servers: list[asyncio.Server]) -> None:
    http = await connection(
        servers,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
    )
    first = await http.request("GET", "/")
    assert (first.status, first.body, first.headers["x-a"]) == (200, b"ok", "1, 2")
    assert (await http.request("POST", "/", b"data")).body == b"abcde"
    assert (await http.request("GET", "/")).body == b""
    response = await http.request("GET", "/")
    assert response.body == b"until the end"
    http.close()


async def test_stale_keep_alive_connection_is_reopened(servers: list[asyncio.Server]) -> None:
    http = await connection(
        servers,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nb",
        close_after_each=True,  # the server drops each connection after one answer
    )
    assert (await http.request("GET", "/")).body == b"a"
    assert (await http.request("GET", "/")).body == b"b"  # sent again on a new connection
    http.close()


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"SPDY/3 200 OK\r\n\r\n", id="status-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", id="header-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", id="too-long"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", id="negative-length"),
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 101, id="too-long-to-eof"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="chunk-size"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", id="chunk-too-long"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX", id="chunk-crlf"
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20_000, id="head-too-big"),
    ],
)
async def test_invalid_responses(servers: list[asyncio.Server], answer: bytes) -> None:
    http = await connection(servers, answer, close_after_each=True)
    with pytest.raises(RemoteProtocolError):
        await http.request("GET", "/")
    http.close()


async def test_the_connection_ends_mid_response(servers: list[asyncio.Server]) -> None:
    http = await connection(
        servers, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", close_after_each=True
    )
    with pytest.raises(EOFError):
        await http.request("GET", "/")
    http.close()


def test_host_header_leaves_out_default_ports() -> None:
    assert Address("example.com", 80).host_header == "example.com"
    assert Address("example.com", 8080).host_header == "example.com:8080"
    assert Address("::1", 80).host_header == "[::1]"
