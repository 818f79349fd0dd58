"""Admission and rate limits over real sockets, on both front doors.

Per-address rules are checked with clients bound to other loopback addresses (127.0.0.2,
127.0.0.3: the whole of 127.0.0.0/8 is local), the server listening on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

import aiosio
from aiosio.metrics import render
from tests.support.servers import start_uvicorn
from tests.support.waits import within

FRONT_DOORS = ("standalone", "asgi")
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@contextlib.asynccontextmanager
async def serving(io: aiosio.Server, kind: str, **uvicorn: Any) -> AsyncIterator[int]:
    """``io`` on a fresh port of 127.0.0.1 behind one front door; yields the port."""
    if kind == "standalone":
        port = await io.start("127.0.0.1", 0)
        try:
            yield port
        finally:
            await io.close()
        return
    port, stop = await start_uvicorn(io.asgi_app(), before_stop=io.close, **uvicorn)
    try:
        yield port
    finally:
        await stop()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length: status, headers (lower case), body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


async def get(
    port: int, path: str = HANDSHAKE, *, source: str = "127.0.0.1", headers: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a connection of its own, from the address ``source`` (with
    ``Connection: close`` unless ``headers`` are given)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        headers = headers or "Connection: close\r\n"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        return await within(read_answer(reader), 5)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def post(port: int, sid: str, body: str, *, source: str = "127.0.0.1") -> int:
    """POST ``body`` (Engine.IO packets) to the polling session ``sid``: the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(
            f"POST {HANDSHAKE}&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: text/plain\r\nConnection: close\r\n\r\n{body}".encode()
        )
        return (await within(read_answer(reader), 5))[0]
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def sid_of(body: bytes) -> str:
    sid: str = orjson.loads(body[1:])["sid"]
    return sid


def assert_refused(answer: tuple[int, dict[str, str], bytes], status: int) -> None:
    code, headers, body = answer
    assert code == status, body
    assert headers["content-type"] == "application/json"
    document = orjson.loads(body)
    assert int(headers["retry-after"]) == document["retry_after"] >= 1
    assert document["message"]


def when_no_sessions(io: aiosio.Server) -> asyncio.Event:
    """An event set once ``io`` has no session left (the engine tells its handler of
    each close: the server's ``on_close``, wrapped here)."""
    empty = asyncio.Event()
    on_close = io.on_close

    def closed(session: Any, reason: str) -> None:
        on_close(session, reason)
        if not io.engine.sessions:
            empty.set()

    io.on_close = closed  # type: ignore[method-assign]
    return empty


# -- handshakes and sessions -------------------------------------------------------------


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_handshakes_per_ip_refuse_with_429_per_address(kind: str) -> None:
    io = aiosio.Server(handshakes_per_ip=(0.5, 2))
    async with serving(io, kind) as port:
        first = [await get(port, source="127.0.0.2") for _ in range(2)]
        assert [answer[0] for answer in first] == [200, 200]
        refused = await get(port, source="127.0.0.2")
        assert_refused(refused, 429)
        assert orjson.loads(refused[2])["retry_after"] == 2  # one token every 2 s
        # A WebSocket handshake is a handshake too.
        ws = await get(
            port,
            "/socket.io/?EIO=4&transport=websocket",
            source="127.0.0.2",
            headers="Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        )
        assert_refused(ws, 429)
        # Another address has a bucket of its own; requests on a session are no handshakes.
        other = await get(port, source="127.0.0.3")
        assert other[0] == 200
        sid = sid_of(first[0][2])
        assert await post(port, sid, "6", source="127.0.0.2") == 200  # a NOOP
    assert io.engine.stats.refused["handshakes_per_ip"] >= 2


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_max_sessions_per_ip_counts_open_sessions(kind: str) -> None:
    io = aiosio.Server(max_sessions_per_ip=2)
    async with serving(io, kind) as port:
        opened = [await get(port, source="127.0.0.2") for _ in range(2)]
        assert [answer[0] for answer in opened] == [200, 200]
        assert_refused(await get(port, source="127.0.0.2"), 429)
        assert (await get(port, source="127.0.0.3"))[0] == 200
        # The client closes one session: its place is free again.
        sid = sid_of(opened[0][2])
        assert await post(port, sid, "1") == 200  # CLOSE
        assert sid not in io.engine.sessions
        assert (await get(port, source="127.0.0.2"))[0] == 200
    assert io.engine.stats.refused == {"max_sessions_per_ip": 1}


async def pipelined_handshakes(port: int, count: int) -> list[tuple[int, dict[str, str]]]:
    """``count`` polling handshakes pipelined on one kept-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {HANDSHAKE} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    writer.write(request * count)
    answers = []
    try:
        for _ in range(count):
            status, headers, _ = await read_answer(reader)
            answers.append((status, headers))
    finally:
        writer.close()
    return answers


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_a_handshake_flood_leaves_max_sessions_then_a_fresh_client_is_served(
    kind: str,
) -> None:
    io = aiosio.Server(max_sessions=1000, connect_timeout=3.0)
    empty = when_no_sessions(io)
    async with serving(io, kind) as port:
        batches = await within(
            asyncio.gather(*(pipelined_handshakes(port, 250) for _ in range(20))), 60
        )
        answers = [answer for batch in batches for answer in batch]
        assert len(answers) == 5000
        statuses = [status for status, _ in answers]
        # Sessions that never join a namespace expire (connect_timeout); any that did so
        # during the flood made room for as many more.
        expired = sum(io.engine.stats.sessions_closed.values())
        assert statuses.count(200) == 1000 + expired
        assert statuses.count(503) == 5000 - 1000 - expired
        assert len(io.engine.sessions) <= 1000
        assert all(headers["retry-after"] == "1" for status, headers in answers if status == 503)
        assert io.engine.stats.refused == {"max_sessions": statuses.count(503)}
        # They expire, and a real client gets in.
        await within(empty.wait(), 15)
        client = await within(aiosio.connect(f"http://127.0.0.1:{port}"), 5)
        try:
            assert client.connected
        finally:
            await client.disconnect()
        assert 'aiosio_handshakes_refused_total{reason="max_sessions"}' in render(io)


async def test_connections_per_ip_refuse_new_tcp_connections() -> None:
    # Standalone only: under ASGI the server owns the TCP connections.
    io = aiosio.Server(connections_per_ip=(0.5, 2))
    async with serving(io, "standalone") as port:
        assert (await get(port, source="127.0.0.2"))[0] == 200
        assert (await get(port, source="127.0.0.2"))[0] == 200
        assert_refused(await get(port, source="127.0.0.2"), 429)
        assert (await get(port, source="127.0.0.3"))[0] == 200
    assert io.engine.stats.refused == {"connections_per_ip": 1}


async def test_under_asgi_the_address_follows_the_proxy_header_settings() -> None:
    io = aiosio.Server(max_sessions_per_ip=1)
    forwarded = "X-Forwarded-For: {}\r\nConnection: close\r\n"
    async with serving(io, "asgi", proxy_headers=True, forwarded_allow_ips="127.0.0.1") as port:
        assert (await get(port, headers=forwarded.format("10.0.0.1")))[0] == 200
        assert_refused(await get(port, headers=forwarded.format("10.0.0.1")), 429)
        assert (await get(port, headers=forwarded.format("10.0.0.2")))[0] == 200


@pytest.mark.parametrize(
    "options",
    [
        {"max_sessions": 0},
        {"max_sessions": 1.5},
        {"max_sessions_per_ip": -1},
        {"handshakes_per_ip": 0},
        {"handshakes_per_ip": "10"},
        {"handshakes_per_ip": (10, 0)},
        {"connections_per_ip": (1, 2, 3)},
    ],
)
def test_bad_admission_options_are_refused_at_once(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        aiosio.Server(**options)


# -- event rates --------------------------------------------------------------------------


def limited_server(**limit: Any) -> aiosio.Server:
    io = aiosio.Server()
    if limit:
        io.limit(**limit)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("work", lambda n: n)

    return io


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_a_flooder_is_limited_while_another_socket_keeps_its_turn(kind: str) -> None:
    io = limited_server(events_per_s=20, burst=10)
    async with serving(io, kind) as port:
        url = f"http://127.0.0.1:{port}"
        flooder = await aiosio.connect(url, transports=["websocket"])
        quiet = await aiosio.connect(url, transports=["websocket"])
        order: list[str] = []
        flood_answers: list[Any] = []
        count = 2000

        def flood_ack(answer: Any) -> None:
            order.append("flood")
            flood_answers.append(answer)

        async def flood() -> None:
            for i in range(count):
                flooder.emit("work", i, callback=flood_ack)
                if i % 100 == 99:
                    await asyncio.sleep(0)  # let the socket write: a client sending flat out

        async def steady() -> list[Any]:
            answers = []
            for i in range(10):
                answers.append(await quiet.emit_with_ack("work", i, timeout=10))
                order.append("quiet")
            return answers

        try:
            _, answers = await within(asyncio.gather(flood(), steady()), 30)
            flood_seen = len(flood_answers)
            started = asyncio.get_running_loop().time()
        finally:
            await flooder.disconnect()
            await quiet.disconnect()
    assert answers == list(range(10))  # the quiet socket is never limited
    handled = [a for a in flood_answers if not isinstance(a, dict)]
    refused = [a for a in flood_answers if isinstance(a, dict)]
    assert refused and all(
        a["error"] == "rate_limited" and 0 < a["retry_after"] <= 0.05 for a in refused
    )
    # The burst and what the rate refilled meanwhile, no more.
    elapsed = asyncio.get_running_loop().time() - started
    assert 10 <= len(handled) <= 10 + 20 * (elapsed + 30)
    # The order, not the time: the quiet socket's round trips went on between the
    # flooder's answers, and were over while most of the flood still waited (the server
    # stops reading a connection over io.limit until it has a token again).
    assert "flood" in order[: order.index("quiet")] or order[0] == "quiet"
    assert flood_seen < count
    dropped = io.engine.stats.limited["drop"]  # some answers were still on their way
    assert dropped >= len(refused) >= 1
    assert f'aiosio_events_limited_total{{action="drop"}} {dropped}' in render(io)


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_disconnect_rule_ends_the_connection_as_io_server_disconnect(kind: str) -> None:
    io = limited_server(events_per_s=1, burst=3, action="disconnect")
    reasons: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", lambda reason, *_: reasons.set_result(reason))

    async with serving(io, kind) as port:
        client = aiosio.Client(f"http://127.0.0.1:{port}", reconnection=False)
        seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        @client.on("disconnect")
        def disconnected(reason: str, *_: Any) -> None:
            if not seen.done():
                seen.set_result(reason)

        await client.connect()
        for i in range(5):
            client.emit("work", i)
        assert await within(seen, 5) == "io server disconnect"
        assert await within(reasons, 5) == "rate limited"
        await client.disconnect()
    assert io.engine.stats.limited == {"disconnect": 1}


@pytest.mark.parametrize("kind", FRONT_DOORS)
async def test_namespace_and_event_rules(kind: str) -> None:
    io = aiosio.Server()
    chat = io.of("/chat")
    chat.limit("say", per_s=0.1, burst=2)
    chat.limit(per_s=0.1, burst=5)  # all events of the namespace together
    left: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @chat.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("say", lambda text: f"said {text}")
        socket.on("look", lambda: "looked")
        socket.on("disconnect", lambda reason, *_: left.set_result(reason))

    async with serving(io, kind) as port:
        client = await aiosio.connect(f"http://127.0.0.1:{port}/chat")
        try:
            said = [await client.emit_with_ack("say", i, timeout=5) for i in range(3)]
            assert said[:2] == ["said 0", "said 1"]
            assert said[2]["error"] == "rate_limited" and 5 <= said[2]["retry_after"] <= 10
            # "say" spent two of the namespace's five: three more of anything pass.
            looked = [await client.emit_with_ack("look", timeout=5) for _ in range(4)]
            assert looked[:3] == ["looked"] * 3 and looked[3]["error"] == "rate_limited"
            assert not left.done()  # "drop" keeps the socket
        finally:
            await client.disconnect()


def test_bad_event_rules_are_refused_at_once() -> None:
    io = aiosio.Server()
    with pytest.raises(ValueError):
        io.limit(events_per_s=0)
    with pytest.raises(ValueError):
        io.limit(events_per_s=5, action="ban")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        io.of("/x").limit("e", per_s=5, burst=0.5)
    with pytest.raises(TypeError):
        io.limit(5)  # type: ignore[call-arg]
