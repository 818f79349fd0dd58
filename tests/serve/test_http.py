"""The standalone front door on raw sockets: what only it does (HTTP/1.1 parsing, limits).
Its answers in order (pipelining, keep-alive) are tested in test_lifecycle.py, its WebSocket
connections are tested in test_websocket.py, engine behaviour in
tests/server/test_engine.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.serve_support import (
    Peer,
    answer_held_poll,
    get,
    poll_watched,
    polling,
    post,
)

# -- HTTP --------------------------------------------------------------------------------


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


async def test_bytes_after_a_closing_request_are_dropped_not_refused(server: Any) -> None:
    # What node-fetch may do: the next request on the socket it was told nothing about.
    sid, held, peer = await poll_watched(server)
    peer.send(get(polling(sid), "Connection: close") + post(polling(sid), b"4dropped"))
    await answer_held_poll(server, held, sid, b"4kept")
    status, headers, body = await peer.response()
    assert (status, body, headers["connection"]) == (200, b"4kept", "close")
    assert await peer.at_eof()  # no 400 for the dropped POST
