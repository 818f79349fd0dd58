"""Hostile WebSocket and Engine.IO input over raw sockets, against both front doors:
broken frames (close codes of RFC 6455 and docs/limits.md), malformed Engine.IO packets on
either transport, upgrade abuse, and connections dropped at each stage of an upgrade.

Under ASGI, uvicorn's WebSocket implementation parses frames; where it has no such limit
(fragments per message) the test only checks that the server stays healthy.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json

import pytest

from aiosio.serve import HTTPConnection, WebSocketConnection
from aiosio.websocket.frames import CloseCode, Opcode, close_frame
from tests.hostile.hostile_support import Serve, Served, assert_healthy, echo_server, wait_for
from tests.support.peers import (
    Peer,
    engine_target,
    open_polling,
    open_websocket,
    poll,
    polling,
    post,
    request,
    websocket,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMIT = 1000  # max_http_buffer_size in these tests
TEXT, BINARY, CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
PING, CLOSE = Opcode.PING, Opcode.CLOSE


async def session_gone(served: Served, sid: str) -> None:
    await wait_for(lambda: sid not in served.io.engine.sessions)


# -- frames ------------------------------------------------------------------------------


def frames(peer: Peer, case: str) -> None:
    """Send the frames of one broken-framing case."""
    match case:
        case "too-big":
            peer.frame(TEXT, b"4" + b"x" * LIMIT)
        case "too-big-fragments":
            peer.frame(TEXT, b"4" + b"x" * 399, fin=False)
            peer.frame(CONT, b"x" * 400, fin=False)
            peer.frame(CONT, b"x" * 400)
        case "rsv1" | "rsv2" | "rsv3":
            peer.frame(TEXT, b"4x", rsv={"rsv1": 4, "rsv2": 2, "rsv3": 1}[case])
        case "unmasked":
            peer.frame(TEXT, b"4x", mask=False)
        case "bad-utf8":
            peer.frame(TEXT, b"4\xc3\x28")
        case "bad-utf8-fragmented":
            peer.frame(TEXT, b"4\xe2\x82", fin=False)
            peer.frame(CONT, b"\x28")
        case "long-ping":
            peer.frame(PING, b"p" * 126)
        case "fragmented-ping":
            peer.frame(PING, b"p", fin=False)
        case "opcode-3" | "opcode-7" | "opcode-11" | "opcode-15":
            peer.frame(int(case[7:]), b"4x")
        case "lone-continuation":
            peer.frame(CONT, b"4x")
        case "text-inside-fragments":
            peer.frame(TEXT, b"4x", fin=False)
            peer.frame(TEXT, b"4y")
        case "length-msb":
            peer.send(b"\x81\xff\x80" + b"\x00" * 7 + b"\x01\x02\x03\x04")
        case "close-1-byte":
            peer.frame(CLOSE, b"\x03")
        case "close-999" | "close-1005" | "close-1006" | "close-2999" | "close-5000":
            peer.frame(CLOSE, int(case[6:]).to_bytes(2, "big"))
        case "close-bad-utf8":
            peer.frame(CLOSE, b"\x03\xe8\xff")
        case _:
            raise AssertionError(case)


FRAME_CASES = {
    "too-big": CloseCode.MESSAGE_TOO_BIG,
    "too-big-fragments": CloseCode.MESSAGE_TOO_BIG,
    "rsv1": CloseCode.PROTOCOL_ERROR,
    "rsv2": CloseCode.PROTOCOL_ERROR,
    "rsv3": CloseCode.PROTOCOL_ERROR,
    "unmasked": CloseCode.PROTOCOL_ERROR,
    "bad-utf8": CloseCode.INVALID_DATA,
    "bad-utf8-fragmented": CloseCode.INVALID_DATA,
    "long-ping": CloseCode.PROTOCOL_ERROR,
    "fragmented-ping": CloseCode.PROTOCOL_ERROR,
    "opcode-3": CloseCode.PROTOCOL_ERROR,
    "opcode-7": CloseCode.PROTOCOL_ERROR,
    "opcode-11": CloseCode.PROTOCOL_ERROR,
    "opcode-15": CloseCode.PROTOCOL_ERROR,
    "lone-continuation": CloseCode.PROTOCOL_ERROR,
    "text-inside-fragments": CloseCode.PROTOCOL_ERROR,
    "length-msb": CloseCode.PROTOCOL_ERROR,
    "close-1-byte": CloseCode.PROTOCOL_ERROR,
    "close-999": CloseCode.PROTOCOL_ERROR,
    "close-1005": CloseCode.PROTOCOL_ERROR,
    "close-1006": CloseCode.PROTOCOL_ERROR,
    "close-2999": CloseCode.PROTOCOL_ERROR,
    "close-5000": CloseCode.PROTOCOL_ERROR,
    "close-bad-utf8": CloseCode.INVALID_DATA,
}
# uvicorn's WebSocket (websockets) answers these with another code of its own choosing.
ASGI_CODES = {"length-msb": CloseCode.MESSAGE_TOO_BIG}


@pytest.mark.parametrize("case", list(FRAME_CASES))
async def test_broken_frames_close_with_their_code(serve: Serve, case: str) -> None:
    served = await serve(echo_server(max_http_buffer_size=LIMIT))
    peer, sid = await open_websocket(served.port)
    frames(peer, case)
    code = FRAME_CASES[case] if served.standalone else ASGI_CODES.get(case, FRAME_CASES[case])
    assert await peer.close_frame() == code
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_oversize_message_refused_from_its_header_alone(serve: Serve) -> None:
    served = await serve(echo_server(max_http_buffer_size=LIMIT))
    if not served.standalone:
        pytest.skip("uvicorn reads a message whole before the ASGI app sees it")
    peer, sid = await open_websocket(served.port)
    peer.send(b"\x81\xfe" + (LIMIT + 1).to_bytes(2, "big") + b"\x01\x02\x03\x04")
    assert await peer.close_frame() == CloseCode.MESSAGE_TOO_BIG
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_too_many_fragments(serve: Serve) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port)
    peer.text("40")
    assert (await peer.packet()).startswith("40{")  # type: ignore[union-attr]
    message = '421["echo","' + "x" * 1020 + '"]'  # 1,034 one-byte fragments
    peer.frame(TEXT, message[:1].encode(), fin=False)
    for char in message[1:-1]:
        peer.frame(CONT, char.encode(), fin=False)
    peer.frame(CONT, message[-1:].encode())
    if served.standalone:
        assert await peer.close_frame() == CloseCode.POLICY_VIOLATION
        await session_gone(served, sid)
    else:  # uvicorn assembles any number of fragments: the event is answered
        assert await peer.packet() == '431["' + "x" * 1020 + '"]'
    await assert_healthy(served.port)


async def test_control_frames_between_fragments_are_fine(serve: Serve) -> None:
    served = await serve(echo_server())
    peer, _ = await open_websocket(served.port)
    peer.frame(TEXT, b"40", fin=False)
    peer.frame(PING, b"hb")
    peer.frame(CONT, b"")
    assert await peer.message() == (Opcode.PONG, b"hb")
    assert (await peer.packet()).startswith("40{")  # type: ignore[union-attr]
    await assert_healthy(served.port)


@pytest.mark.parametrize(
    "glued",
    [
        b"\x81\x02" + b"4x",  # an unmasked frame
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # another HTTP request
        b"\xc1\x82\x00\x00\x00\x004x",  # RSV1 without permessage-deflate
    ],
    ids=["unmasked", "http", "rsv1"],
)
async def test_invalid_frames_glued_to_the_handshake(serve: Serve, glued: bytes) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port, glued=glued)
    if served.standalone:
        assert await peer.close_frame() == CloseCode.PROTOCOL_ERROR
        await session_gone(served, sid)
    else:  # uvicorn drops what comes glued to the handshake: the socket goes on
        peer.text("40")
        assert (await peer.packet()).startswith("40{")  # type: ignore[union-attr]
    await assert_healthy(served.port)


async def test_ping_flood_is_answered_and_costs_no_task(serve: Serve) -> None:
    served = await serve(echo_server())
    peer, _ = await open_websocket(served.port)
    tasks = len(asyncio.all_tasks())
    for i in range(500):
        peer.frame(PING, str(i).encode())
    for i in range(500):
        assert await peer.message() == (Opcode.PONG, str(i).encode())
    assert len(asyncio.all_tasks()) <= tasks
    await assert_healthy(served.port)


# -- Engine.IO packets ---------------------------------------------------------------------

BAD_PACKETS = {
    "empty": "",
    "unknown-type": "9",
    "letter-type": "a",
    "nul": "\x00",
    "client-ping": "2",
    "open": "0",
    "upgrade": "5",
    "bad-base64": "b!!!!",
    "separator": "\x1e",
    "proto": "__proto__",
}


@pytest.mark.parametrize("case", list(BAD_PACKETS))
async def test_malformed_engine_packets_over_websocket(serve: Serve, case: str) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port)
    peer.text(BAD_PACKETS[case])
    assert await peer.closed()
    await session_gone(served, sid)
    await assert_healthy(served.port)


@pytest.mark.parametrize("case", [*BAD_PACKETS, "bad-utf8", "noop-then-bad"])
async def test_malformed_engine_packets_over_polling(serve: Serve, case: str) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    body = {"bad-utf8": b"4\xff\xfe", "noop-then-bad": b"6\x1e9"}.get(case)
    if body is None:
        body = BAD_PACKETS[case].encode()
    answer = await request(served.port, "POST", polling(sid), body)
    assert (answer.status, answer.body) == (200, b"ok")  # answered, as the reference does
    await session_gone(served, sid)
    answer = await request(served.port, "GET", polling(sid))
    assert (answer.status, answer.json()["code"]) == (400, 1)
    await assert_healthy(served.port)


async def test_binary_base64_packet_with_nothing_pending_is_a_parse_error(
    serve: Serve,
) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port)
    peer.text("40")
    assert (await peer.packet()).startswith("40{")  # type: ignore[union-attr]
    peer.text("b" + base64.b64encode(b"\x00\x01").decode())
    assert await peer.closed()
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_noops_and_pongs_in_bulk_are_harmless(serve: Serve) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    tasks = len(asyncio.all_tasks())
    assert (await post(served.port, sid, *(["6", "3"] * 5000))).body == b"ok"
    assert len(asyncio.all_tasks()) <= tasks + 1  # + the ASGI request being answered
    assert sid in served.io.engine.sessions
    await assert_healthy(served.port)


# -- upgrades ------------------------------------------------------------------------------


async def upgrading(served: Served) -> tuple[str, Peer]:
    """A polling session with a WebSocket that has sent its probe."""
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    assert await peer.upgrade(websocket(sid)) is None
    peer.text("2probe")
    assert await peer.packet() == "3probe"
    return sid, peer


async def still_polls(served: Served, sid: str) -> None:
    """The session goes on over polling: it joins "/" and gets its CONNECT ack."""
    assert (await post(served.port, sid, "40")).body == b"ok"
    async with asyncio.timeout(5):
        while not (packets := await poll(served.port, sid)) or packets == ["6"]:
            pass
    assert packets[0].startswith("40{"), packets


@pytest.mark.parametrize(
    "value", ["h2c", "websocket2", "__proto__", "WebSocket, h2c", "constructor"]
)
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_unknown_upgrade_values(serve: Serve, value: str, transport: str) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    headers = [
        f"Upgrade: {value}",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]
    target = engine_target(transport=transport)
    peer.send(("\r\n".join([f"GET {target} HTTP/1.1", "Host: x", *headers]) + "\r\n\r\n").encode())
    try:
        answer = await peer.response()
    except (asyncio.IncompleteReadError, ConnectionError):
        assert not served.standalone, "the standalone server answers before it closes"
    else:
        # Refused, or (uvicorn, polling) served as a plain request that ignores Upgrade.
        assert answer.status == 400 or (
            not served.standalone and transport == "polling" and answer.status == 200
        ), answer
    await assert_healthy(served.port)


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_websocket_handshake_must_be_a_get(serve: Serve, method: str) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    handshake = (
        f"{method} {websocket()} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n"
    )
    peer.send(handshake.encode())
    # uvicorn refuses with 405 before the ASGI app is asked
    assert (await peer.response()).status == (400 if served.standalone else 405)
    assert await peer.closed()
    await assert_healthy(served.port)


async def test_websocket_handshake_for_polling_is_refused(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    refused = await peer.upgrade(polling())
    assert refused is not None
    assert (refused.status, json.loads(refused.body)) == (
        400,
        {"code": 3, "message": "Bad request"},
    )
    assert not served.io.engine.sessions
    await assert_healthy(served.port)


async def test_second_websocket_for_a_session(serve: Serve) -> None:
    served = await serve(echo_server())
    sid, first = await upgrading(served)
    second = await Peer.connect(served.port)
    assert await second.upgrade(websocket(sid)) is None
    assert await second.closed()
    first.text("5")
    first.text("40")
    assert (await first.packet()).startswith("40{")  # type: ignore[union-attr]
    await assert_healthy(served.port)


async def test_upgrade_packet_without_probe_keeps_polling(serve: Serve) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    assert await peer.upgrade(websocket(sid)) is None
    peer.text("5")
    assert await peer.closed()
    await still_polls(served, sid)
    await assert_healthy(served.port)


async def test_probe_twice_keeps_polling(serve: Serve) -> None:
    served = await serve(echo_server())
    sid, peer = await upgrading(served)
    peer.text("2probe")
    assert await peer.closed()
    await still_polls(served, sid)
    await assert_healthy(served.port)


async def test_probe_for_a_websocket_session(serve: Serve) -> None:
    served = await serve(echo_server())
    owner, sid = await open_websocket(served.port)
    peer = await Peer.connect(served.port)
    assert await peer.upgrade(websocket(sid)) is None
    assert await peer.closed()
    owner.text("40")
    assert (await owner.packet()).startswith("40{")  # type: ignore[union-attr]
    await assert_healthy(served.port)


async def test_upgrade_without_upgrade_packet_expires(serve: Serve) -> None:
    served = await serve(echo_server(upgrade_timeout=0.2))
    sid, peer = await upgrading(served)
    assert await peer.closed()
    await still_polls(served, sid)
    await assert_healthy(served.port)


@pytest.mark.parametrize("stage", ["after-101", "after-probe", "mid-frame"])
@pytest.mark.parametrize("how", ["reset", "half-close"])
async def test_leaving_mid_upgrade_keeps_polling(serve: Serve, stage: str, how: str) -> None:
    served = await serve(echo_server())
    if stage == "after-101":
        sid = await open_polling(served.port)
        peer = await Peer.connect(served.port)
        assert await peer.upgrade(websocket(sid)) is None
    else:
        sid, peer = await upgrading(served)
    if stage == "mid-frame":
        peer.send(b"\x81\x85\x00\x00\x00\x0045")  # "5" announced as five bytes, two sent
    await asyncio.sleep(0)
    if how == "reset":
        peer.reset()
    else:
        peer.half_close()
    session = served.io.engine.sessions[sid]
    await wait_for(lambda: session.upgrade_ws is None)
    await still_polls(served, sid)
    await assert_healthy(served.port)


@pytest.mark.parametrize("stage", ["after-open", "mid-frame", "after-close-frame"])
@pytest.mark.parametrize("how", ["reset", "half-close"])
async def test_leaving_a_websocket_closes_its_session(serve: Serve, stage: str, how: str) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port)
    if stage == "mid-frame":
        peer.send(b"\x81\x85\x00\x00\x00\x004")
    elif stage == "after-close-frame":
        peer.send(close_frame(1000, mask=b"\x00\x00\x00\x00"))
    await asyncio.sleep(0)
    if how == "reset":
        peer.reset()
    else:
        peer.half_close()
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_ping_flood_never_read_does_not_grow_the_server(serve: Serve) -> None:
    served = await serve(echo_server(max_http_buffer_size=100_000))  # 400 kB buffered at most
    peer = await Peer.connect(served.port, rcvbuf=4096)
    assert await peer.upgrade(websocket()) is None
    await peer.packet()
    peer.writer.transport.pause_reading()  # type: ignore[attr-defined]
    ping = b"\x89\xfd\x00\x00\x00\x00" + b"p" * 125  # masked with zeros: payload as is
    peer.send(ping * 100_000)  # 12.7 MB of pongs, never read
    if served.standalone:

        def buffered() -> int:
            return max(
                (
                    obj.transport.get_write_buffer_size()
                    for obj in gc.get_objects()
                    if type(obj) in (HTTPConnection, WebSocketConnection)
                    and obj.transport is not None
                ),
                default=0,
            )

        # A measurement window, not a synchronisation: the buffer must stay bounded.
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        while loop.time() < end:
            assert buffered() < 1024 * 1024
            await asyncio.sleep(0.05)
        # Closed as a slow consumer: within the window on a quiet machine, and at most
        # DEADLINE later on a loaded one (the close waits on the pongs piling up).
        await wait_for(lambda: not served.io.engine.sessions)
    peer.reset()
    await assert_healthy(served.port)
