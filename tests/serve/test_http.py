"""The standalone front door on raw sockets: what only it does (HTTP/1.1 parsing, limits,
pipelining). Its WebSocket connections are tested in test_websocket.py, engine behaviour in
tests/server/test_engine.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.serve.serve_support import Peer, get, open_polling, polling, post, watch_held_polls

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
    sid = await open_polling(server)
    held = watch_held_polls(server.engine)
    peer = await Peer.connect(server)
    peer.send(held_request(sid))
    async with asyncio.timeout(5):
        assert await held.get() == sid
    other = await Peer.connect(server)
    other.send(post(polling(sid), b"4later"))
    assert (await other.response())[2] == b"ok"
    status, headers, body = await peer.response()
    assert (status, body) == (200, b"4later")
    assert headers["connection"] == "close"
    assert await peer.at_eof()


async def test_bytes_after_a_closing_request_are_dropped_not_refused(server: Any) -> None:
    # What node-fetch may do: the next request on the socket it was told nothing about.
    sid = await open_polling(server)
    held = watch_held_polls(server.engine)
    peer = await Peer.connect(server)
    peer.send(get(polling(sid), "Connection: close") + post(polling(sid), b"4dropped"))
    async with asyncio.timeout(5):
        assert await held.get() == sid
    other = await Peer.connect(server)
    other.send(post(polling(sid), b"4kept"))
    assert (await other.response())[2] == b"ok"
    status, headers, body = await peer.response()
    assert (status, body, headers["connection"]) == (200, b"4kept", "close")
    assert await peer.at_eof()  # no 400 for the dropped POST


async def test_pipelined_answers_keep_their_own_keep_alive(server: Any) -> None:
    sid = await open_polling(server)
    held = watch_held_polls(server.engine)
    peer = await Peer.connect(server)
    # A held keep-alive GET, then a closing POST queued behind it.
    closing = f"POST {polling(sid)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    peer.send(get(polling(sid)) + (closing + "Content-Length: 1\r\n\r\n6").encode())
    async with asyncio.timeout(5):
        assert await held.get() == sid
    other = await Peer.connect(server)
    other.send(post(polling(sid), b"4first"))
    assert (await other.response())[2] == b"ok"
    status, headers, body = await peer.response()
    assert (body, "connection" in headers) == (b"4first", False)
    status, headers, body = await peer.response()
    assert (status, body, headers["connection"]) == (200, b"ok", "close")
    assert await peer.at_eof()
