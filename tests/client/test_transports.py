"""aiosio.client.transports: the client's long-polling and WebSocket transports.

:class:`Endpoint` builds request targets; :func:`create` picks a transport by name; the
transports themselves move encoded Engine.IO packets to and from a real aiosio server on
a port of 127.0.0.1 (``io.start``). The tests speak Engine.IO and Socket.IO packets by
hand (``40`` is a CONNECT, ``421[...]`` an EVENT with ack id 1), as the engine above the
transport would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import aiosio
from aiosio.client.http import Address
from aiosio.client.transports import (
    TRANSPORT_ERRORS,
    Endpoint,
    Polling,
    Transport,
    WebSocket,
    create,
)
from aiosio.exceptions import ConnectionError
from tests.support.waits import within


def endpoint(
    port: int = 1,
    *,
    path: str = "/socket.io/",
    query: dict[str, str] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Endpoint:
    return Endpoint(Address("127.0.0.1", port), path, query or {}, headers or [], 1 << 20)


def query_of(target: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(target).query)


# -- Endpoint.target -----------------------------------------------------------------------


def test_target_carries_eio_transport_and_sid() -> None:
    target = endpoint().target("polling", "abc")
    assert target.startswith("/socket.io/?")
    assert query_of(target) == {"EIO": ["4"], "transport": ["polling"], "sid": ["abc"]}


def test_target_without_sid_has_none() -> None:
    assert query_of(endpoint().target("websocket", None)) == {
        "EIO": ["4"],
        "transport": ["websocket"],
    }


def test_target_keeps_the_users_query_but_not_over_the_protocols() -> None:
    ep = endpoint(path="/custom/", query={"token": "a b&c", "EIO": "3", "transport": "x"})
    target = ep.target("polling", None)
    assert target.startswith("/custom/?")
    assert query_of(target) == {"token": ["a b&c"], "EIO": ["4"], "transport": ["polling"]}


def test_the_cache_buster_changes_every_time() -> None:
    ep = endpoint()
    first, second = (
        ep.target("polling", "s", cache_buster=True),
        ep.target("polling", "s", cache_buster=True),
    )
    assert query_of(first)["t"] != query_of(second)["t"]
    assert "t" not in query_of(ep.target("polling", "s"))


def test_endpoint_copies_its_query_and_headers() -> None:
    query = {"a": "1"}
    headers = [("X-A", "1")]
    ep = endpoint(query=query, headers=headers)
    query["b"] = "2"
    headers.append(("X-B", "2"))
    assert ep.query == {"a": "1"} and ep.headers == [("X-A", "1")]


# -- create -------------------------------------------------------------------------------


def test_create_picks_the_transport_by_name() -> None:
    ep = endpoint()
    polling = create("polling", ep)
    websocket = create("websocket", ep, "sid-1")
    assert isinstance(polling, Polling) and polling.name == "polling" and polling.sid is None
    assert isinstance(websocket, WebSocket) and websocket.sid == "sid-1"
    assert websocket.endpoint is ep
    polling.close()
    websocket.close()


@pytest.mark.parametrize("name", ["flashsocket", "Polling", "", "WebTransport"])
def test_create_refuses_other_names(name: str) -> None:
    with pytest.raises(ValueError, match="unknown transport"):
        create(name, endpoint())


# -- against a real server -------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[tuple[aiosio.Server, int]]:
    io = aiosio.Server(ping_interval=20)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: list(args))
        socket.on("bin", lambda: socket.emit("bin", b"\x00\x01\x02"))
        socket.emit("hello", dict(socket.handshake.query), socket.handshake.headers.get("x-tag"))

    port = await io.start("127.0.0.1", 0)
    yield io, port
    await io.close()


async def packets_until(transport: Transport, wanted: str, limit: int = 20) -> list[str | bytes]:
    """Every packet received until a batch holding one that starts with ``wanted``
    (that batch included)."""
    seen: list[str | bytes] = []
    for _ in range(limit):
        batch = await within(transport.receive(), 5)
        seen += batch
        if any(isinstance(packet, str) and packet.startswith(wanted) for packet in batch):
            return seen
    raise AssertionError(f"no {wanted!r} in {seen}")


def first(packets: list[str | bytes], prefix: str) -> str:
    return next(p for p in packets if isinstance(p, str) and p.startswith(prefix))


def open_payload(packets: list[str | bytes]) -> dict[str, Any]:
    first = packets[0]
    assert isinstance(first, str) and first.startswith("0"), packets
    payload: dict[str, Any] = json.loads(first[1:])
    return payload


@pytest.mark.parametrize("name", ["polling", "websocket"])
async def test_a_session_over_each_transport(server: tuple[aiosio.Server, int], name: str) -> None:
    _, port = server
    ep = endpoint(port, query={"room": "r1"}, headers=[("X-Tag", "tagged")])
    transport = create(name, ep)
    try:
        handshake = open_payload(await within(transport.open(), 5))
        assert handshake["pingInterval"] == 20000
        transport.sid = handshake["sid"]
        await transport.send(["40"])
        got = await packets_until(transport, '42["hello"')
        assert any(isinstance(p, str) and p.startswith("40{") for p in got)
        hello = json.loads(first(got, '42["hello"')[2:])
        assert hello[1]["room"] == "r1" and hello[1]["EIO"] == "4"
        assert hello[2] == "tagged"
        # Several packets in one send (one POST, or one frame each), answered in order.
        await transport.send(['421["echo",1]', '422["echo","two",{"x":null}]'])
        got = await packets_until(transport, "432")
        acks = [p for p in got if isinstance(p, str) and p.startswith("43")]
        assert acks == ["431[[1]]", '432[["two",{"x":null}]]']
    finally:
        transport.close()


async def test_binary_over_polling_is_base64_text(server: tuple[aiosio.Server, int]) -> None:
    _, port = server
    transport = Polling(endpoint(port))
    try:
        transport.sid = open_payload(await within(transport.open(), 5))["sid"]
        await transport.send(["40", '42["bin"]'])
        got = await packets_until(transport, "b")
        assert "bAAEC" in got  # base64 of 00 01 02: decoding is the engine's
        assert any(isinstance(p, str) and p.startswith('451-["bin"') for p in got)
    finally:
        transport.close()


async def test_binary_over_websocket_is_a_binary_frame(server: tuple[aiosio.Server, int]) -> None:
    _, port = server
    transport = WebSocket(endpoint(port))
    try:
        open_payload(await within(transport.open(), 5))
        await transport.send(["40", '42["bin"]'])
        seen: list[str | bytes] = []
        while b"\x00\x01\x02" not in seen:
            seen += await within(transport.receive(), 5)
        # Sending bytes makes a binary frame: an attachment of an EVENT from us, which
        # comes back in a binary ACK (its attachment in a binary frame after it).
        await transport.send(['451-1["echo",{"_placeholder":true,"num":0}]', b"\xff"])
        got = await packets_until(transport, "461-")
        ack = got.index('461-1[[{"_placeholder":true,"num":0}]]')
        if ack == len(got) - 1:
            got += await within(transport.receive(), 5)
        assert got[ack + 1] == b"\xff"
    finally:
        transport.close()


async def test_polling_upgrades_to_websocket(server: tuple[aiosio.Server, int]) -> None:
    _, port = server
    ep = endpoint(port)
    polling = Polling(ep)
    websocket: WebSocket | None = None
    try:
        handshake = open_payload(await within(polling.open(), 5))
        assert handshake["upgrades"] == ["websocket"]
        sid = polling.sid = handshake["sid"]
        await polling.send(["40"])
        await packets_until(polling, '42["hello"')
        websocket = WebSocket(ep, sid)
        assert await within(websocket.open(), 5) == []  # no handshake with a sid
        await websocket.send(["2probe"])
        assert await within(websocket.receive(), 5) == ["3probe"]
        await websocket.send(["5"])
        await websocket.send(['421["echo","upgraded"]'])
        assert first(await packets_until(websocket, "431"), "431") == '431[["upgraded"]]'
    finally:
        polling.close()
        if websocket is not None:
            websocket.close()


async def test_an_unknown_sid_is_a_connection_error_with_the_servers_json(
    server: tuple[aiosio.Server, int],
) -> None:
    _, port = server
    transport = Polling(endpoint(port), "no-such-sid")
    try:
        with pytest.raises(ConnectionError, match="HTTP 400") as caught:
            await within(transport.receive(), 5)
        assert caught.value.data == {"code": 1, "message": "Session ID unknown"}
        with pytest.raises(ConnectionError):
            await within(transport.send(["3"]), 5)
    finally:
        transport.close()


async def test_a_transport_the_server_refuses() -> None:
    io = aiosio.Server(transports=("websocket",))
    port = await io.start("127.0.0.1", 0)
    try:
        polling = Polling(endpoint(port))
        with pytest.raises(ConnectionError) as caught:
            await within(polling.open(), 5)
        assert caught.value.data["code"] == 0  # Transport unknown
        polling.close()
    finally:
        await io.close()
    io = aiosio.Server(transports=("polling",))
    port = await io.start("127.0.0.1", 0)
    try:
        websocket = WebSocket(endpoint(port))
        with pytest.raises(TRANSPORT_ERRORS):
            await within(websocket.open(), 5)
        websocket.close()
    finally:
        await io.close()


async def test_nobody_listening_is_an_os_error() -> None:
    from tests.support.ports import free_port

    for transport in (Polling(endpoint(free_port())), WebSocket(endpoint(free_port()))):
        with pytest.raises(OSError):
            await within(transport.open(), 5)
        transport.close()


async def test_the_websocket_ends_with_eof_when_the_server_closes(
    server: tuple[aiosio.Server, int],
) -> None:
    io, port = server
    transport = WebSocket(endpoint(port))
    try:
        open_payload(await within(transport.open(), 5))
        await transport.send(["40"])
        await packets_until(transport, '42["hello"')
        await io.close()
        with pytest.raises(EOFError):
            for _ in range(10):  # what was sent before the close frame comes first
                await within(transport.receive(), 5)
        with pytest.raises(EOFError):
            await transport.send(["3"])  # the close was answered: closing
    finally:
        transport.close()


async def test_a_websocket_not_open_or_closed_raises_eof(server: tuple[aiosio.Server, int]) -> None:
    _, port = server
    transport = WebSocket(endpoint(port))
    with pytest.raises(EOFError):
        await transport.receive()
    with pytest.raises(EOFError):
        await transport.send(["4x"])
    transport.close()  # nothing open: nothing to do
    open_payload(await within(transport.open(), 5))
    transport.close()
    transport.close()
    with pytest.raises(EOFError):
        await transport.receive()
    with pytest.raises(EOFError):
        await transport.send(["4x"])


def test_transport_errors_cover_what_transports_raise() -> None:
    assert issubclass(ConnectionError, TRANSPORT_ERRORS)
    assert issubclass(EOFError, TRANSPORT_ERRORS)
    assert issubclass(ConnectionRefusedError, TRANSPORT_ERRORS)
