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
