"""Closing the server ends the standalone front door's HTTP connections.

asyncio's ``Server.close()`` stops accepting but leaves accepted connections open: a
kept-alive HTTP connection between requests stayed open after ``io.close()`` until its
client went (an "unclosed transport" warning in tests that end their loop). Now an idle
connection is closed at once and one with an answer owed is closed after that answer, as
Node's ``httpServer.close()`` does with idle connections.
"""

from __future__ import annotations

import asyncio

import aiosio
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


async def test_an_idle_kept_alive_connection_is_closed_with_the_server() -> None:
    io = aiosio.Server()
    port = await io.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_HANDSHAKE)
        answer = await within(_answer(reader), 5)
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"connection: close" not in answer.lower()
        await within(io.close(), 10)
        assert await within(reader.read(), 5) == b""  # the server's FIN
    finally:
        writer.close()
        await io.close()


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
    io = aiosio.Server()
    port = await io.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_HANDSHAKE)
        opened = await within(_answer(reader), 5)
        sid = opened.split(b'"sid":"', 1)[1].split(b'"', 1)[0].decode()
        poll = f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: t\r\n\r\n"
        writer.write(poll.encode())
        session = io.engine.sessions[sid]

        async def held() -> None:  # no event tells that the server holds the GET: look
            while session.poll is None:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0)

        await within(held(), 5)
        closing = asyncio.ensure_future(io.close())
        answer = await within(_answer(reader), 5)
        assert b"connection: close" in answer.lower()
        assert answer.endswith(b"1")  # the close packet
        assert await within(reader.read(), 5) == b""
        await within(closing, 10)
    finally:
        writer.close()
        await io.close()
