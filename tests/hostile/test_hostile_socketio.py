"""Hostile Socket.IO input over raw sockets, against both front doors.

Every malformed packet closes the whole connection (docs/limits.md, "Socket.IO"), over
WebSocket and over polling; well-formed but unexpected input (unknown namespaces, prototype
names, numbers for names, events named ``error``, unknown ack ids) is answered or ignored
and the connection stays. Limits: attachments, nesting depth
(decoded and written back), ack ids, namespaces per connection.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

import aiosio
from tests.hostile.hostile_support import Serve, Served, assert_healthy, echo_server, wait_for
from tests.support.peers import (
    Peer,
    open_polling,
    open_websocket,
    poll,
    post,
    sio_connect,
    sio_websocket,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROTOTYPE_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"]


def nested(depth: int, leaf: str = "1") -> str:
    """JSON of ``depth`` nested arrays around ``leaf``."""
    return "[" * depth + leaf + "]" * depth


def placeholder(num: Any) -> str:
    return json.dumps({"_placeholder": True, "num": num}, separators=(",", ":"))


# Each case: the Engine.IO messages a client joined to "/" sends (str: text, bytes: binary).
PARSE_ERRORS: dict[str, list[str | bytes]] = {
    "empty": ["4"],
    "unknown-type": ["47"],
    "letter-type": ["4x"],
    "bad-json": ['42["echo"'],
    "nan": ['42["echo",NaN]'],
    "infinity": ['42["echo",Infinity]'],
    "overflow": ['42["echo",1e400]'],
    "object-payload": ['42{"echo":1}'],
    "string-payload": ['42"echo"'],
    "null-payload": ["42null"],
    "empty-array": ["42[]"],
    "null-name": ["42[null]"],
    "bool-name": ["42[true]"],
    "object-name": ["42[{}]"],
    "array-name": ['42[["echo"]]'],
    "empty-name": ['42[""]'],
    **{f"reserved-{name}": [f'42["{name}"]'] for name in ("connect", "connect_error")},
    **{
        f"reserved-{name}": [f'42["{name}"]']
        for name in ("disconnect", "disconnecting", "newListener", "removeListener")
    },
    "ack-id-2**53": ['429007199254740992["echo"]'],
    "ack-id-1000-digits": ["42" + "9" * 1000 + '["echo"]'],
    "ack-id-negative": ['42-1["echo"]'],
    "ack-without-id": ['43["x"]'],
    "ack-object": ['431{"a":1}'],
    "ack-without-payload": ["431"],
    "ack-null": ["431null"],
    "disconnect-payload": ['41{"a":1}'],
    "connect-error-from-client": ['44{"message":"x"}'],
    "second-connect": ["40"],
    "event-namespace-not-joined": ['42/other,["echo"]'],
    "namespace-257-bytes": ["40/" + "a" * 256 + ","],
    "namespace-nul": ["40/a\x00b,"],
    "namespace-newline": ["40/a\nb,"],
    "namespace-del": ["40/a\x7fb,"],
    "namespace-c1": ["40/a\x85b,"],
    "depth-65": ['42["echo",' + nested(64) + "]"],
    "depth-5000": ['42["echo",' + nested(5000) + "]"],
    "depth-100000-unclosed": ['42["echo",' + "[" * 100_000],
    "binary-with-nothing-pending": [b"\x00\x01"],
    "text-while-attachment-awaited": [f'451-["echo",{placeholder(0)}]', '42["echo"]'],
    "attachments-0": ['450-["echo"]'],
    "attachments-negative": [f'45-1-["echo",{placeholder(0)}]'],
    "attachments-huge": [f'4599999999999-["echo",{placeholder(0)}]'],
    "attachments-11": ['4511-["echo",' + ",".join(placeholder(i) for i in range(11)) + "]"],
    "attachments-letters": [f'45a-["echo",{placeholder(0)}]'],
    "attachments-no-dash": [f'451["echo",{placeholder(0)}]'],
    "placeholder-missing": [f'452-["echo",{placeholder(0)}]', b"a", b"b"],
    "placeholder-out-of-range": [f'451-["echo",{placeholder(5)}]', b"a"],
    "placeholder-negative": [f'451-["echo",{placeholder(-1)}]', b"a"],
    "placeholder-string-num": [f'451-["echo",{placeholder("0")}]', b"a"],
    "placeholder-float-num": [f'451-["echo",{placeholder(0.5)}]', b"a"],
    "placeholder-extra-key": ['451-["echo",{"_placeholder":true,"num":0,"x":1}]', b"a"],
    "placeholder-twice": [f'452-["echo",{placeholder(0)},{placeholder(0)}]', b"a", b"b"],
    "binary-depth-65": ['451-["echo",' + nested(64, placeholder(0)) + "]", b"a"],
    "binary-ack-with-nothing-pending": [f"461-7[{placeholder(0)}]", b"a", b"b"],
}


@pytest.mark.parametrize("case", list(PARSE_ERRORS))
async def test_parse_errors_close_the_connection(serve: Serve, case: str) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port)
    await sio_connect(peer)
    for message in PARSE_ERRORS[case]:
        if isinstance(message, str):
            peer.text(message)
        else:
            peer.binary(message)
    assert await peer.closed()
    await wait_for(lambda: sid not in served.io.engine.sessions)
    await assert_healthy(served.port)


CONNECT_ERRORS = {
    "array-auth": "40[]",
    "string-auth": '40"x"',
    "number-auth": "40/a,1",
    "connect-with-ack-id": "40123",
    "null-auth": "40null",
    "deep-auth": '40{"a":' + nested(64) + "}",
    "event-before-connect": '42["echo"]',
    "ack-before-connect": "430[]",
    "disconnect-before-connect": "41",
}


@pytest.mark.parametrize("case", list(CONNECT_ERRORS))
async def test_bad_first_packets_close_the_connection(serve: Serve, case: str) -> None:
    served = await serve(echo_server())
    peer, sid = await open_websocket(served.port)
    peer.text(CONNECT_ERRORS[case])
    assert await peer.closed()
    await wait_for(lambda: sid not in served.io.engine.sessions)
    await assert_healthy(served.port)


@pytest.mark.parametrize(
    "body",
    ['42["echo"', '42["connect"]', "b" + "AAE=", '451-["echo",{"x":1}]', "4" + nested(70)],
    ids=["bad-json", "reserved", "binary-nothing-pending", "placeholders-missing", "deep"],
)
async def test_parse_errors_over_polling(serve: Serve, body: str) -> None:
    served = await serve(echo_server())
    sid = await open_polling(served.port)
    await post(served.port, sid, "40")
    assert (await poll(served.port, sid))[0].startswith("40{")
    answer = await post(served.port, sid, body)
    assert (answer.status, answer.body) == (200, b"ok")  # the bad POST is answered
    await wait_for(lambda: sid not in served.io.engine.sessions)
    await assert_healthy(served.port)


# -- accepted, answered or ignored ---------------------------------------------------------


async def expect_only_echo(peer: Peer, ack_id: int = 99) -> None:
    """Nothing came for what was sent before: the next packet answers a fresh echo."""
    peer.text(f'42{ack_id}["echo","after"]')
    assert await peer.packet() == f'43{ack_id}["after"]'


async def test_unknown_namespaces_get_connect_error(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    for name in ["/nope", *(f"/{n}" for n in PROTOTYPE_NAMES), "/\u00e9\u4e2d", "/" + "a" * 255]:
        peer.text(f"40{name},")
        assert await peer.packet() == f'44{name},{{"message":"Invalid namespace"}}'
    await expect_only_echo(peer)
    await assert_healthy(served.port)


@pytest.mark.parametrize("name", [*PROTOTYPE_NAMES, "__defineGetter__", "valueOf"])
async def test_prototype_named_events_reach_nothing(serve: Serve, name: str) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    peer.text(f'421["{name}","x"]')
    await expect_only_echo(peer)
    await assert_healthy(served.port)


async def test_prototype_named_auth_keys_are_plain_data(serve: Serve) -> None:
    io = echo_server()
    seen: list[dict[str, Any]] = []
    io.on("connection", lambda socket: seen.append(socket.handshake.auth))
    served = await serve(io)
    auth = {"__proto__": {"admin": True}, "constructor": {"prototype": 1}, "toString": "x"}
    peer, _ = await open_websocket(served.port)
    await sio_connect(peer, "/", auth)
    assert seen == [auth] and type(seen[0]) is dict
    await assert_healthy(served.port)


@pytest.mark.parametrize("payload", ['[1,"x"]', "[1.5]", "[-7]", "[12345678901234567890]"])
async def test_numbers_for_event_names(serve: Serve, payload: str) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    peer.text("421" + payload)  # no handler has a number for a name: no answer
    await expect_only_echo(peer)
    await assert_healthy(served.port)


async def test_strings_for_numbers_reach_the_handler_as_sent(serve: Serve) -> None:
    io = aiosio.Server()
    got: list[Any] = []

    @io.on("connection")
    def connection(socket: Any) -> None:
        @socket.on("add")
        def add(a: Any, b: Any) -> Any:
            got.append((a, b))
            return a + b  # "1" + 2 raises TypeError: logged, no answer

    served = await serve(io)
    peer = await sio_websocket(served.port)
    peer.text('421["add",1,2]')
    assert await peer.packet() == "431[3]"
    peer.text('422["add","1",2]')
    peer.text('423["add",[],{}]')
    peer.text('424["add","a","b"]')
    assert await peer.packet() == '434["ab"]'  # 2 and 3 got no answer
    assert got == [(1, 2), ("1", 2), ([], {}), ("a", "b")]


async def test_event_named_error_does_not_fire_error_handlers(serve: Serve) -> None:
    io = echo_server()
    errors: list[Any] = []
    io.on("connection", lambda socket: socket.on("error", lambda *args: errors.append(args)))
    served = await serve(io)
    peer = await sio_websocket(served.port)
    peer.text('421["error","boom"]')
    peer.text('42["error",{"message":"x"}]')
    await expect_only_echo(peer)
    assert errors == []
    await assert_healthy(served.port)


async def test_ack_ids_at_the_edges(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    peer.text('420["echo","zero"]')
    assert await peer.packet() == '430["zero"]'
    peer.text('429007199254740991["echo","max"]')
    assert await peer.packet() == '439007199254740991["max"]'
    peer.text('4300["unknown ack id"]')
    peer.text('439007199254740991["unknown too"]')
    await expect_only_echo(peer)
    await assert_healthy(served.port)


async def test_bare_event_and_noop_packets_are_ignored(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    peer.text("42")
    peer.text("6")
    peer.text("3")  # a pong nobody asked for
    await expect_only_echo(peer)
    await assert_healthy(served.port)


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_deepest_accepted_payload_is_echoed_back(serve: Serve, transport: str) -> None:
    served = await serve(echo_server())
    deepest = nested(63)  # 64 levels with the arguments' array
    event = '421["echo",' + deepest + "]"
    if transport == "websocket":
        peer = await sio_websocket(served.port)
        peer.text(event)
        assert await peer.packet() == "431[" + deepest + "]"
    else:
        sid = await open_polling(served.port)
        await post(served.port, sid, "40")
        await poll(served.port, sid)
        await post(served.port, sid, event)
        assert await poll(served.port, sid) == ["431[" + deepest + "]"]
    await assert_healthy(served.port)


async def test_configured_depth_round_trips_up_to_the_encoder_limit(serve: Serve) -> None:
    served = await serve(echo_server(max_depth=254))
    peer = await sio_websocket(served.port)
    deepest = nested(253)
    peer.text('421["echo",' + deepest + "]")
    assert await peer.packet() == "431[" + deepest + "]"
    await assert_healthy(served.port)


async def test_depth_beyond_what_the_encoder_writes_is_refused() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        aiosio.Server(max_depth=255)


async def test_binary_attachments_at_the_limit(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    holders = ",".join(placeholder(i) for i in range(10))
    peer.text("4510-1[" + '"echo",' + holders + "]")
    for i in range(10):
        peer.binary(bytes([i]) * i)  # the first one is empty: legal
    header = await peer.packet()
    assert header == "4610-1[" + holders + "]"
    assert [await peer.packet() for _ in range(10)] == [bytes([i]) * i for i in range(10)]
    await assert_healthy(served.port)


async def test_placeholder_lookalikes_in_plain_events_are_data(serve: Serve) -> None:
    served = await serve(echo_server())
    peer = await sio_websocket(served.port)
    fake = '{"_placeholder":true,"num":0}'
    peer.text(f'421["echo",{fake}]')
    assert await peer.packet() == f"431[{fake}]"
    await assert_healthy(served.port)


async def test_namespaces_per_connection_are_bounded(serve: Serve) -> None:
    io = echo_server(max_namespaces=100)
    io.of(re.compile(r"/n\d+"))
    served = await serve(io)
    peer = await sio_websocket(served.port)  # "/" is the first of the 100
    for i in range(99):
        await sio_connect(peer, f"/n{i}")
    peer.text("40/n99,")
    assert await peer.packet() == '44/n99,{"message":"Too many namespaces"}'
    peer.text("41/n0,")
    await sio_connect(peer, "/n99")  # room again after leaving one
    await expect_only_echo(peer)
    await assert_healthy(served.port)


# -- handler failures ------------------------------------------------------------------------


def failing_server() -> aiosio.Server:
    io = echo_server()

    @io.on("connection")
    def connection(socket: Any) -> None:
        @socket.on("fail")
        def fail(*args: Any) -> Any:
            raise RuntimeError("handler bug")

        @socket.on("fail-async")
        async def fail_async(*args: Any) -> Any:
            raise RuntimeError("async handler bug")

        socket.on("unserialisable", lambda: object())
        socket.on("too-deep", lambda: json.loads(nested(300)))

        @socket.on("unserialisable-async")
        async def unserialisable_async() -> Any:
            return {1, 2}

    return io


@pytest.mark.parametrize(
    ("event", "logged"),
    [
        ("fail", "handler"),
        ("fail-async", "handler"),
        ("unserialisable", "cannot answer the ack of event 'unserialisable': object is"),
        ("too-deep", "cannot answer the ack of event 'too-deep': list is"),
        ("unserialisable-async", "cannot answer the ack of event 'unserialisable-async': set"),
    ],
)
async def test_failing_handlers_are_logged_once_and_isolated(
    serve: Serve, caplog: pytest.LogCaptureFixture, event: str, logged: str
) -> None:
    served = await serve(failing_server())
    peer = await sio_websocket(served.port)
    with caplog.at_level(logging.ERROR, logger="aiosio"):
        for i in range(20):
            peer.text(f'42{i}["{event}"]')
        await expect_only_echo(peer)  # no acknowledgement for any of them
    lines = [r for r in caplog.records if logged in r.getMessage()]
    assert len(lines) == 1, caplog.text  # rate-limited: one per kind per connection
    # A failing handler's traceback is logged; an answer that cannot be encoded, one line.
    assert bool(lines[0].exc_info) == (logged == "handler")
    # Another connection gets its own line.
    other = await sio_websocket(served.port)
    with caplog.at_level(logging.ERROR, logger="aiosio"):
        other.text(f'421["{event}"]')
        await expect_only_echo(other)
    assert len([r for r in caplog.records if logged in r.getMessage()]) == 2
    await assert_healthy(served.port)


async def test_encoder_failure_raises_to_the_emitter(serve: Serve) -> None:
    io = echo_server()
    raised: list[BaseException] = []

    @io.on("connection")
    def connection(socket: Any) -> None:
        @socket.on("emit-bad")
        def emit_bad() -> str:
            for value in (object(), json.loads(nested(300))):
                try:
                    socket.emit("x", value)
                except Exception as exc:
                    raised.append(exc)
            return "done"

    served = await serve(io)
    peer = await sio_websocket(served.port)
    peer.text('421["emit-bad"]')
    assert await peer.packet() == '431["done"]'
    assert [type(e) for e in raised] == [aiosio.LocalProtocolError] * 2
    await assert_healthy(served.port)


async def test_refused_packets_are_logged_once(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    io = echo_server()

    @io.on("connection")
    def connection(socket: Any) -> None:
        @socket.use
        def refuse(packet: list[Any]) -> None:
            if packet[0] == "forbidden":
                raise aiosio.ConnectionRefused("no")

    served = await serve(io)
    peer = await sio_websocket(served.port)
    with caplog.at_level(logging.WARNING, logger="aiosio"):
        for i in range(20):
            peer.text(f'42{i}["forbidden"]')
        await expect_only_echo(peer)
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1
    await assert_healthy(served.port)


# -- msgpack -------------------------------------------------------------------------------

MSGPACK_ERRORS: dict[str, str | bytes] = {
    "text-frame": "40",
    "garbage": b"\xc1",
    "truncated": b"\x84\xa4type",
    "not-a-map": b"\x93\x01\x02\x03",
    "unknown-type": b"\x82\xa4type\x63\xa3nsp\xa1/",
    "nsp-not-a-string": b"\x82\xa4type\x02\xa3nsp\x01",
    "ext-type": b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xd4\x05\x00",
    "huge-array-header": b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\xdd\xff\xff\xff\xff",
    "deep": b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa4echo" + b"\x91" * 70 + b"\x01",
}


@pytest.mark.parametrize("case", list(MSGPACK_ERRORS))
async def test_msgpack_parse_errors_close_the_connection(serve: Serve, case: str) -> None:
    msgpack = pytest.importorskip("msgpack")
    served = await serve(echo_server(parser="msgpack"))
    peer, sid = await open_websocket(served.port)
    peer.binary(msgpack.packb({"type": 0, "nsp": "/"}))
    assert isinstance(await peer.packet(), bytes)  # the CONNECT ack
    message = MSGPACK_ERRORS[case]
    if isinstance(message, str):
        peer.text(message)
    else:
        peer.binary(message)
    assert await peer.closed()
    await wait_for(lambda: sid not in served.io.engine.sessions)
    peer, _ = await open_websocket(served.port)
    peer.binary(msgpack.packb({"type": 0, "nsp": "/"}))
    peer.binary(msgpack.packb({"type": 2, "nsp": "/", "data": ["echo", b"ok"], "id": 1}))
    await peer.packet()
    assert msgpack.unpackb(await peer.packet()) == {"type": 3, "nsp": "/", "data": [b"ok"], "id": 1}


# -- connection state recovery -------------------------------------------------------------


async def recovery_offset(served: Served) -> tuple[str, str]:
    """A pid and a broadcast offset of a client that then drops its connection."""
    peer, _ = await open_websocket(served.port)
    answer_sid = await sio_connect(peer)
    assert answer_sid
    socket = next(iter(served.io.sockets.sockets.values()))
    served.io.emit("tick", 1)
    tick = await peer.packet()
    assert isinstance(tick, str)
    offset = json.loads(tick[2:])[-1]
    pid = socket.pid
    peer.reset()
    await wait_for(lambda: not served.io.sockets.sockets)
    return pid, offset


@pytest.mark.parametrize(
    "auth",
    [
        lambda pid, offset: {"pid": 1, "offset": offset},
        lambda pid, offset: {"pid": "x" * 10_000, "offset": offset},
        lambda pid, offset: {"pid": pid, "offset": offset.split("-")[0] + "-\u00b2"},
        lambda pid, offset: {"pid": pid, "offset": offset.split("-")[0] + "-" + "9" * 5000},
        lambda pid, offset: {"pid": pid, "offset": offset.split("-")[0] + "--1"},
        lambda pid, offset: {"pid": pid, "offset": [offset]},
        lambda pid, offset: {"pid": pid, "offset": {"__proto__": offset}},
        lambda pid, offset: {"pid": {"__proto__": pid}},
    ],
    ids=[
        "pid-number",
        "pid-huge",
        "offset-unicode-digit",
        "offset-5000-digits",
        "offset-negative",
        "offset-list",
        "offset-object",
        "pid-object",
    ],
)
async def test_hostile_recovery_auth_gets_a_fresh_session(
    serve: Serve, caplog: pytest.LogCaptureFixture, auth: Any
) -> None:
    served = await serve(echo_server(connection_state_recovery=True))
    pid, offset = await recovery_offset(served)
    peer, _ = await open_websocket(served.port)
    with caplog.at_level(logging.WARNING, logger="aiosio"):
        peer.text("40" + json.dumps(auth(pid, offset)))
        answer = await peer.packet()
    assert isinstance(answer, str) and answer.startswith('40{"sid":'), answer
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    socket = next(iter(served.io.sockets.sockets.values()))
    assert not socket.recovered
    await expect_only_echo(peer)
    await assert_healthy(served.port)


async def test_stream_offsets_from_clients_are_bounded() -> None:
    from aiosio.adapters.redis.entries import parse_offset

    # The Redis streams adapter parses the offset a recovering client sends.
    assert parse_offset("9" * 5000 + "-1") is None
    assert parse_offset("1-" + "9" * 5000) is None
    assert parse_offset("\u00b2-1") is None
    assert parse_offset("1700000000000-3") == (1700000000000, 3)


async def test_a_failing_namespace_matcher_refuses_and_logs_once(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    io = echo_server()

    def matcher(name: str, auth: dict[str, Any]) -> bool:
        return bool(auth["token"])  # KeyError when a client sends no token

    io.of(matcher)
    served = await serve(io)
    peer = await sio_websocket(served.port)
    with caplog.at_level(logging.ERROR, logger="aiosio"):
        for i in range(200):  # more than max_namespaces: refusals free their slot
            peer.text(f"40/dyn-{i},")
            assert await peer.packet() == f'44/dyn-{i},{{"message":"Invalid namespace"}}'
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1, caplog.text
    await sio_connect(peer, "/dyn-x", {"token": "t"})
    await expect_only_echo(peer)
    await assert_healthy(served.port)
