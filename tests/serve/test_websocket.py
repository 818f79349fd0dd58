"""The standalone front door's WebSocket connections on raw sockets: frames glued to the
handshake, pings, the close handshake, bad frames and refused upgrades (moved out of
test_http.py, unchanged).
"""

from __future__ import annotations

from typing import Any

import pytest

from aiosio.websocket.frames import CloseCode, Opcode, close_frame, encode_frame, parse_close
from aiosio.websocket.handshake import client_handshake_request
from tests.serve.serve_support import KEY, MASK, Peer, open_websocket, text

# -- WebSocket ---------------------------------------------------------------------------


async def test_frames_glued_to_the_handshake(server: Any) -> None:
    peer, _ = await open_websocket(server, glued=text("4early"))
    assert await peer.message() == (Opcode.TEXT, "4early")
    await peer.close()


async def test_ping_frames_are_answered(server: Any) -> None:
    peer, _ = await open_websocket(server)
    peer.send(encode_frame(Opcode.PING, b"hb", mask=MASK))
    assert await peer.message() == (Opcode.PONG, b"hb")
    await peer.close()


async def test_close_handshake(server: Any) -> None:
    peer, sid = await open_websocket(server)
    peer.send(close_frame(CloseCode.NORMAL, mask=MASK))
    opcode, payload = await peer.message()
    assert opcode is Opcode.CLOSE and isinstance(payload, bytes)
    assert parse_close(payload)[0] == CloseCode.NORMAL
    assert await server.engine.handler.closed(sid) == "transport close"
    assert await peer.at_eof()


async def test_dropped_connection_closes_the_session(server: Any) -> None:
    peer, sid = await open_websocket(server)
    peer.writer.transport.abort()
    assert await server.engine.handler.closed(sid) in ("transport close", "transport error")


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (encode_frame(Opcode.TEXT, b"4unmasked"), CloseCode.PROTOCOL_ERROR, "transport error"),
        (encode_frame(Opcode.TEXT, b"4\xff", mask=MASK), CloseCode.INVALID_DATA, "parse error"),
    ],
    ids=["unmasked", "bad-utf8"],
)
async def test_bad_frames_fail_the_connection(
    server: Any, frame: bytes, code: int, reason: str
) -> None:
    peer, sid = await open_websocket(server)
    peer.send(frame)
    opcode, payload = await peer.message()
    assert opcode is Opcode.CLOSE and isinstance(payload, bytes)
    assert parse_close(payload)[0] == code
    assert await server.engine.handler.closed(sid) == reason
    assert await peer.at_eof()


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        ("/socket.io/?EIO=4&transport=websocket", "short", 400),
        ("/elsewhere", KEY, 404),
    ],
    ids=["bad-key", "not-the-engine-path"],
)
async def test_refused_upgrades(server: Any, path: str, key: str, status: int) -> None:
    peer = await Peer.connect(server)
    request = client_handshake_request("x", path, KEY, []).replace(KEY.encode(), key.encode())
    peer.send(request)
    assert (await peer.response())[0] == status
    assert await peer.at_eof()
