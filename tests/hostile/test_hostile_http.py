"""Hostile HTTP over raw sockets, against both front doors: limits, deadlines, malformed
requests, prototype-named parameters, upgrades that are not WebSocket ones, and sockets
reset or half-closed at each stage. Every test ends with a healthy server.

Under ASGI, uvicorn parses the request head: head limits and the head deadline are its
business there, so those tests only check that the attack is answered or closed and that
the server stays healthy.
"""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

from aiosio.serve import HTTPConnection, WebSocketConnection
from tests.hostile.hostile_support import Serve, Served, assert_healthy, echo_server, wait_for
from tests.support.peers import (
    Peer,
    engine_target,
    http_request,
    open_polling,
    polling,
    post,
    request,
    websocket,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMIT = 1000  # max_http_buffer_size in these tests


def engine_error(code: int, message: str) -> dict[str, object]:
    return {"code": code, "message": message}


async def session_gone(served: Served, sid: str) -> None:
    await wait_for(lambda: sid not in served.io.engine.sessions)


# -- body limits and deadlines -------------------------------------------------------------


async def test_post_over_the_limit_is_refused_from_content_length_alone(serve: Serve) -> None:
    served = await serve(echo_server(max_http_buffer_size=LIMIT))
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    # The head announces one byte too many; not a byte of the body is ever sent.
    peer.send(http_request("POST", polling(sid), length=LIMIT + 1))
    assert (await peer.response()).status == 413
    await session_gone(served, sid)
    answer = await request(served.port, "GET", polling(sid))
    assert (answer.status, answer.json()) == (400, engine_error(1, "Session ID unknown"))
    await assert_healthy(served.port)


async def test_chunked_post_is_refused_as_soon_as_it_goes_over(serve: Serve) -> None:
    served = await serve(echo_server(max_http_buffer_size=LIMIT))
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    head = f"POST {polling(sid)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"258\r\n" + b"6" * 600 + b"\r\n"
    # Two chunks: over the limit, and the body never ends.
    peer.send(head.encode() + chunk + chunk)
    assert (await peer.response()).status == 413
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_stalled_body_gets_408_and_closes_its_session(serve: Serve) -> None:
    served = await serve(echo_server(http_body_timeout=0.3))
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    peer.send(http_request("POST", polling(sid), length=100) + b"4" * 10)
    assert (await peer.response()).status == 408
    assert await peer.closed()
    await session_gone(served, sid)
    await assert_healthy(served.port)


@pytest.mark.parametrize("how", ["reset", "half-close"])
async def test_client_leaving_mid_body_closes_its_session(serve: Serve, how: str) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    peer.send(http_request("POST", polling(sid), length=100) + b"4" * 10)
    await asyncio.sleep(0)  # let the head reach the server before we leave
    if how == "reset":
        peer.reset()
    else:
        peer.half_close()
    await session_gone(served, sid)
    await assert_healthy(served.port)


# -- head limits and deadline ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (http_request("GET", "/socket.io/?" + "a" * 9000), 414),
        (http_request("GET", polling(), b"", "X-Big: " + "b" * 9000), 431),
        (http_request("GET", polling(), b"", *(f"X-{i}: {'c' * 200}" for i in range(99))), 431),
        (http_request("GET", polling(), b"", *(f"X-{i}: 1" for i in range(101))), 431),
        (
            http_request(
                "GET",
                websocket(),
                b"",
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                *(f"X-{i}: 1" for i in range(101)),
            ),
            431,
        ),
    ],
    ids=["414-target", "431-line", "431-total", "431-count", "431-upgrade"],
)
async def test_head_limits(serve: Serve, raw: bytes, status: int) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    peer.send(raw)
    # uvicorn reads any head, and the ASGI app answers as the standalone server does.
    assert (await peer.response()).status == status
    assert await peer.closed()
    await assert_healthy(served.port)


async def test_slowloris_head_is_cut_at_the_deadline(serve: Serve) -> None:
    served = await serve(echo_server(http_header_timeout=0.3))
    if not served.standalone:
        pytest.skip("uvicorn reads the head under ASGI; its deadlines are its own")
    peer = await Peer.connect(served.port)
    peer.send(b"GET " + polling().encode() + b" HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        # One header byte every 50 ms: data must not push the deadline back.
        while True:
            await asyncio.sleep(0.05)
            peer.send(b"X")

    task = asyncio.create_task(trickle())
    try:
        assert await peer.closed(timeout=3)
    finally:
        task.cancel()
    await assert_healthy(served.port)


async def test_idle_kept_alive_connection_is_closed(serve: Serve) -> None:
    served = await serve(echo_server(http_header_timeout=0.3))
    if not served.standalone:
        pytest.skip("uvicorn's keep-alive timeout applies under ASGI")
    peer = await Peer.connect(served.port)
    peer.send(http_request("GET", polling()))
    assert (await peer.response()).status == 200
    assert await peer.closed(timeout=3)
    await assert_healthy(served.port)


# -- malformed requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # a TLS ClientHello
        b"GET /socket.io/\x00?EIO=4 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    ],
    ids=[
        "tls",
        "nul-in-target",
        "two-lengths",
        "length-and-chunked",
        "negative-length",
        "huge-length",
        "space-in-name",
        "http-9",
    ],
)
async def test_malformed_requests_are_refused(serve: Serve, raw: bytes) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    peer.send(raw)
    try:
        response = await peer.response()
    except (asyncio.IncompleteReadError, ConnectionError):
        assert not served.standalone, "the standalone server answers before it closes"
    else:
        assert 400 <= response.status < 500
    assert await peer.closed()
    await assert_healthy(served.port)


async def test_garbage_pipelined_behind_a_good_request(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    peer.send(http_request("GET", polling()) + b"garbage garbage\r\n\r\n")
    if served.standalone:
        assert (await peer.response()).status == 200
        assert (await peer.response()).status == 400
    else:  # uvicorn parses both before it runs the app: one 400 for both
        assert (await peer.response()).status == 400
    assert await peer.closed()
    await assert_healthy(served.port)


PROTOTYPE_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"]


@pytest.mark.parametrize("name", PROTOTYPE_NAMES)
async def test_prototype_named_query_values(serve: Serve, name: str) -> None:
    served = await serve(echo_server())
    port = served.port
    answer = await request(port, "GET", engine_target(transport=name))
    assert (answer.status, answer.json()) == (400, engine_error(0, "Transport unknown"))
    answer = await request(port, "GET", engine_target(transport="polling", sid=name))
    assert (answer.status, answer.json()) == (400, engine_error(1, "Session ID unknown"))
    answer = await request(port, "GET", engine_target(EIO=name, transport="polling"))
    assert (answer.status, answer.json()) == (400, engine_error(5, "Unsupported protocol version"))
    answer = await request(port, "GET", engine_target(transport="polling", **{name: "1"}))
    assert answer.status == 200
    await assert_healthy(port)


async def test_prototype_named_headers(serve: Serve) -> None:
    served = await serve(echo_server())
    headers = [f"{name}: {name}" for name in PROTOTYPE_NAMES]
    answer = await request(served.port, "GET", polling(), b"", *headers)
    assert answer.status == 200
    sid = json.loads(answer.body[1:])["sid"]
    assert (await post(served.port, sid, "40")).body == b"ok"
    await assert_healthy(served.port)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "POST", "OPTIONS", "BREW"])
async def test_bad_handshake_methods(serve: Serve, method: str) -> None:
    served = await serve(echo_server())
    answer = await request(served.port, method, polling())
    if method == "BREW":  # not HTTP: refused by the HTTP parser
        assert answer.status == 400
    else:
        assert (answer.status, answer.json()) == (400, engine_error(2, "Bad handshake method"))
    await assert_healthy(served.port)


async def test_other_methods_on_a_session_are_bad_requests(serve: Serve) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    answer = await request(served.port, "PUT", polling(sid), b"40")
    assert (answer.status, answer.json()) == (400, engine_error(3, "Bad request"))
    await assert_healthy(served.port)


async def test_octet_stream_post_closes_the_session(serve: Serve) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    answer = await request(
        served.port, "POST", polling(sid), b"40", "Content-Type: application/octet-stream"
    )
    assert (answer.status, answer.json()) == (400, engine_error(3, "Bad request"))
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_two_concurrent_gets(serve: Serve) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    await post(served.port, sid, "40")
    assert (await request(served.port, "GET", polling(sid))).body.startswith(b"40{")
    first = await Peer.connect(served.port)
    first.send(http_request("GET", polling(sid)))
    session = served.io.engine.sessions[sid]
    await wait_for(lambda: session.poll is not None)  # the first GET is held
    second = await request(served.port, "GET", polling(sid))
    assert (second.status, second.json()) == (400, engine_error(3, "Bad request"))
    held = await first.response()
    assert (held.status, held.body) == (200, b"1")
    await session_gone(served, sid)
    await assert_healthy(served.port)


# -- reset and half-closed sockets ---------------------------------------------------------


@pytest.mark.parametrize("how", ["reset", "half-close"])
@pytest.mark.parametrize(
    "sent",
    [b"", b"GE", b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHo"],
    ids=["nothing", "method", "mid-head"],
)
async def test_leaving_during_the_head(serve: Serve, how: str, sent: bytes) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    peer.send(sent)
    if how == "reset":
        peer.reset()
    else:
        peer.half_close()
        assert await peer.closed()
    await assert_healthy(served.port)


async def test_half_close_after_a_handshake_still_gets_the_answer(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port)
    peer.send(http_request("GET", polling()))
    peer.half_close()
    assert (await peer.response()).status == 200
    assert await peer.closed()
    await assert_healthy(served.port)


@pytest.mark.parametrize("how", ["reset", "half-close"])
async def test_leaving_a_held_get_closes_the_session(serve: Serve, how: str) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    peer = await Peer.connect(served.port)
    peer.send(http_request("GET", polling(sid)))
    session = served.io.engine.sessions[sid]
    await wait_for(lambda: session.poll is not None)
    if how == "reset":
        peer.reset()
    else:
        peer.half_close()
    await session_gone(served, sid)
    await assert_healthy(served.port)


async def test_pipelined_requests_never_read_do_not_grow_the_server(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port, rcvbuf=4096)
    peer.writer.transport.pause_reading()  # type: ignore[attr-defined]
    # 7 MB of tiny requests: 20 MB of answers, never read (more than kernel buffers hold).
    peer.send(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n" * 200_000)
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
    peer.reset()
    await assert_healthy(served.port)


async def test_pipelined_requests_are_all_answered_to_a_slow_reader(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await Peer.connect(served.port, rcvbuf=4096)
    count = 20_000
    peer.send(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n" * count)
    peer.send(http_request("GET", "/nothing", b"", "Connection: close"))
    received = b""
    async with asyncio.timeout(30):
        while chunk := await peer.reader.read(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 404 ") == count + 1
    await assert_healthy(served.port)


@pytest.mark.parametrize("version", ["3", "04", "4.0", "", "4 ", "+4", "\u0664", "5"])
async def test_only_eio_4_is_spoken(serve: Serve, version: str) -> None:
    served = await serve(echo_server())
    answer = await request(served.port, "GET", engine_target(EIO=version, transport="polling"))
    assert (answer.status, answer.json()) == (400, engine_error(5, "Unsupported protocol version"))
    await assert_healthy(served.port)
