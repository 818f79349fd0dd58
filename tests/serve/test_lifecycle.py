"""aiosio.serve.lifecycle: an HTTP connection's answers and its end, on raw sockets.

Answers go out in the order the requests came (pipelining), each with the keep-alive its
own request was read with, also when it is deferred (a held long-poll answered later).

Closing the server ends the standalone front door's HTTP connections. asyncio's
``Server.close()`` stops accepting but leaves accepted connections open: a kept-alive HTTP
connection between requests stayed open after ``io.close()`` until its client went (an
"unclosed transport" warning in tests that end their loop). Now an idle connection is
closed, as Node's ``httpServer.close()`` does with idle connections, once the polling
clients have fetched their CLOSE packet (at most ``Limits.close_timeout``), and one with an
answer owed is closed after that answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

import aiosio
from aiosio.server import polling as long_polling
from tests.serve.serve_support import (
    Peer,
    answer_held_poll,
    get,
    poll_watched,
    polling,
    post,
)
from tests.support.waits import within

_HANDSHAKE = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: t\r\n\r\n"


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


@dataclass
class Opened:
    """A standalone server and one polling session opened on a kept-alive connection."""

    io: aiosio.Server
    port: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    answer: bytes  # the handshake's

    @property
    def sid(self) -> str:
        return self.answer.split(b'"sid":"', 1)[1].split(b'"', 1)[0].decode()

    def poll(self) -> bytes:
        target = f"/socket.io/?EIO=4&transport=polling&sid={self.sid}"
        return f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


@asynccontextmanager
async def opened(close_timeout: float = 5.0) -> AsyncIterator[Opened]:
    io = aiosio.Server()
    io.router.limits = dataclasses.replace(io.router.limits, close_timeout=close_timeout)
    port = await io.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_HANDSHAKE)
        yield Opened(io, port, reader, writer, await within(_answer(reader), 5))
    finally:
        writer.close()
        await io.close()


async def test_an_idle_kept_alive_connection_is_closed_with_the_server() -> None:
    async with opened() as conn:
        answer = conn.answer
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"connection: close" not in answer.lower()
        await within(conn.io.close(), 10)
        assert await within(conn.reader.read(), 5) == b""  # the server's FIN


async def test_a_connection_that_never_sent_a_request_is_closed_with_the_server() -> None:
    io = aiosio.Server()
    port = await io.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await within(io.close(), 10)
        assert await within(reader.read(), 5) == b""
    finally:
        writer.close()


async def test_a_held_long_poll_is_answered_then_its_connection_closed() -> None:
    async with opened() as conn:
        conn.writer.write(conn.poll())
        session = conn.io.engine.sessions[conn.sid]
        await within(_until(lambda: session.poll is not None), 5)  # the server holds it
        closing = asyncio.ensure_future(conn.io.close())
        answer = await within(_answer(conn.reader), 5)
        assert answer.endswith(b"\r\n\r\n1")  # the close packet
        assert await within(conn.reader.read(), 5) == b""
        await within(closing, 10)


@pytest.mark.parametrize("connection", ["kept-alive", "new"])
async def test_a_client_between_two_polls_gets_its_close_packet(connection: str) -> None:
    # The official client sends its next GET just after an answer, on a new connection
    # (Node's client opens one per request) or a kept-alive one: if the shutdown closed the
    # port or the connection first, the GET was cut and the client saw a transport error
    # instead of the CLOSE packet ("transport close").
    async with opened() as conn:
        io = conn.io
        closing = asyncio.ensure_future(io.close())
        # The sessions are closed and the shutdown waits for the client to take its CLOSE
        # (without the wait, the port and the connection were closed by now).
        await within(_until(lambda: io.engine.polling._taken is not None), 5)
        assert conn.sid in io.engine.polling.closing and not closing.done()
        # Meanwhile a new client is refused.
        assert (await _exchange(conn.port, _HANDSHAKE)).startswith(b"HTTP/1.1 503")
        if connection == "new":
            answer = await _exchange(conn.port, conn.poll())
        else:
            conn.writer.write(conn.poll())
            answer = await within(_answer(conn.reader), 5)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\n1")
        await within(closing, 10)
        assert await within(conn.reader.read(), 5) == b""  # then the connections are closed
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", conn.port)  # and the port


async def _exchange(port: int, request: bytes) -> bytes:
    """One request on a connection of its own, and its answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await within(_answer(reader), 5)
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("next_poll", "close_timeout"),
    [(60.0, 0.2), (0.0, 60.0)],
    ids=["bounded-by-close-timeout", "not-between-polls"],
)
async def test_a_polling_client_that_does_not_come_back_delays_the_close_boundedly(
    monkeypatch: pytest.MonkeyPatch, next_poll: float, close_timeout: float
) -> None:
    # Waiting 60 s would fail the 10 s bound: the close waits for a client that is
    # between two polls (last answered NEXT_POLL ago at most) and no longer than
    # close_timeout, never for one that is not (gone, or stalled).
    monkeypatch.setattr(long_polling, "NEXT_POLL", next_poll)
    async with opened(close_timeout) as conn:
        await within(conn.io.close(), 10)
        assert len(conn.io.engine.polling.closing) == 1  # its CLOSE was never fetched
        assert await within(conn.reader.read(), 5) == b""


async def _until(check: Callable[[], bool]) -> None:
    """Wait for a state the server sets no event for."""
    while not check():  # noqa: ASYNC110 (no event to wait on)
        await asyncio.sleep(0)


# -- answers in request order, each with its request's own keep-alive --------------------


async def test_pipelined_requests_are_answered_in_order(server: Any) -> None:
    sid, held, peer = await poll_watched(server)
    # A held GET, then a POST (a NOOP: nothing to echo) and a GET queued behind it.
    peer.send(get(polling(sid)) + post(polling(sid), b"6") + get(polling(sid)))
    await answer_held_poll(server, held, sid, b"4first")
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


# -- keep-alive is the request's own, read while it was parsed ----------------------------


def _get10(target: str) -> bytes:
    return f"GET {target} HTTP/1.0\r\nHost: x\r\n\r\n".encode()


@pytest.mark.parametrize(
    "held_request",
    [
        lambda sid: get(polling(sid), "Connection: close"),
        lambda sid: _get10(polling(sid)),
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_a_deferred_answer_ends_a_closing_request(server: Any, held_request: Any) -> None:
    # The regression: a held long-poll answered later was sent without Connection: close
    # and the connection stayed open (the parser had moved on by then).
    sid, held, peer = await poll_watched(server)
    peer.send(held_request(sid))
    await answer_held_poll(server, held, sid, b"4later")
    status, headers, body = await peer.response()
    assert (status, body) == (200, b"4later")
    assert headers["connection"] == "close"
    assert await peer.at_eof()


async def test_pipelined_answers_keep_their_own_keep_alive(server: Any) -> None:
    sid, held, peer = await poll_watched(server)
    # A held keep-alive GET, then a closing POST queued behind it.
    closing = f"POST {polling(sid)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    peer.send(get(polling(sid)) + (closing + "Content-Length: 1\r\n\r\n6").encode())
    await answer_held_poll(server, held, sid, b"4first")
    status, headers, body = await peer.response()
    assert (body, "connection" in headers) == (b"4first", False)
    status, headers, body = await peer.response()
    assert (status, body, headers["connection"]) == (200, b"ok", "close")
    assert await peer.at_eof()
