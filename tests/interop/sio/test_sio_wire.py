"""What our server writes, byte for byte, where socket.io-client cannot tell us.

The official client buffers events that arrive before the CONNECT ack and closes its own
connection after a CONNECT_ERROR, so these points of docs/protocol-notes.md are checked with a raw
WebSocket (``websockets``) or raw long-polling (``httpx``), on both front doors: the order
of the CONNECT ack, the exact CONNECT_ERROR of an unknown namespace, ``connect_timeout``,
DISCONNECT both ways on a connection that stays open, ack ids from 0, volatile packets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.interop.sio.sio_helpers import Served

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]


def ws_url(served: Served) -> str:
    return served.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def polling_url(served: Served, sid: str | None = None) -> str:
    url = served.url + "/socket.io/?EIO=4&transport=polling"
    return url if sid is None else f"{url}&sid={sid}"


async def open_ws(served: Served) -> ClientConnection:
    """A raw Engine.IO WebSocket session, past its OPEN packet."""
    ws = await connect(ws_url(served), open_timeout=5, close_timeout=1)
    opened = await recv(ws)
    assert opened.startswith("0{")
    return ws


async def recv(ws: ClientConnection, timeout: float = 5.0) -> str | bytes:
    """The next message that is not a ping (pings are answered)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if message != "2":
                return message
            await ws.send("3")


async def closed(ws: ClientConnection, timeout: float = 5.0) -> None:
    """Wait until the server closes ``ws``."""
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def open_polling(http: httpx.AsyncClient, served: Served) -> str:
    response = await http.get(polling_url(served))
    assert response.status_code == 200
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


async def post(http: httpx.AsyncClient, served: Served, sid: str, *packets: str) -> None:
    response = await http.post(polling_url(served, sid), content="\x1e".join(packets))
    assert (response.status_code, response.text) == (200, "ok")


async def get(http: httpx.AsyncClient, served: Served, sid: str) -> list[str]:
    response = await http.get(polling_url(served, sid))
    assert response.status_code == 200
    return response.text.split("\x1e")


def sid_of(packet: str | bytes, prefix: str) -> str:
    """The socket id of a CONNECT ack ``prefix{"sid":...}``, whose only key is ``sid``."""
    assert isinstance(packet, str) and packet.startswith(prefix), packet
    payload = json.loads(packet[len(prefix) :])
    assert list(payload) == ["sid"]
    return str(payload["sid"])


# -- CONNECT --------------------------------------------------------------------------


@pytest.mark.parametrize(("nsp", "prefix"), [("/", "40"), ("/custom", "40/custom,")])
async def test_connect_ack_before_what_the_handler_emits_ws(
    served: Served, nsp: str, prefix: str
) -> None:
    ws = await open_ws(served)
    try:
        await ws.send(prefix + '{"tag":"raw"}')
        socket_id = sid_of(await recv(ws), prefix)
        head = "42" if nsp == "/" else f"42{nsp},"
        assert await recv(ws) == head + json.dumps(
            ["welcome", socket_id, nsp], separators=(",", ":")
        )
    finally:
        await ws.close()


async def test_connect_ack_before_what_the_handler_emits_polling(
    served: Served, http: httpx.AsyncClient
) -> None:
    sid = await open_polling(http, served)
    await post(http, served, sid, "40")
    first, second = await get(http, served, sid)
    socket_id = sid_of(first, "40")
    assert socket_id != sid  # never the Engine.IO sid
    assert second == f'42["welcome","{socket_id}","/"]'
    await post(http, served, sid, "1")


@pytest.mark.parametrize("nsp", ["/nope", "/t-no match"])
async def test_unknown_namespace_then_a_known_one(served: Served, nsp: str) -> None:
    ws = await open_ws(served)
    try:
        await ws.send(f"40{nsp},")
        assert await recv(ws) == f'44{nsp},{{"message":"Invalid namespace"}}'
        # The connection stays open: the client may try another namespace.
        await ws.send("40")
        sid_of(await recv(ws), "40")
    finally:
        await ws.close()


async def test_middleware_refusal_on_the_wire(served: Served) -> None:
    ws = await open_ws(served)
    try:
        await ws.send('40/guarded,{"token":"bad"}')
        expected = {"message": "not authorized", "data": {"reason": "bad token", "got": "bad"}}
        packet = await recv(ws)
        assert isinstance(packet, str) and packet.startswith("44/guarded,")
        assert json.loads(packet.removeprefix("44/guarded,")) == expected
        await ws.send('40/guarded,{"token":"crash"}')
        assert await recv(ws) == '44/guarded,{"message":"middleware crashed"}'  # no "data"
    finally:
        await ws.close()


# -- connect_timeout -------------------------------------------------------------------


async def test_connect_timeout_closes_a_connection_without_namespace(
    fresh_server: Any,
) -> None:
    server: Served = await fresh_server(connect_timeout=0.2, ping_interval=5, ping_timeout=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ws = await open_ws(server)
    await closed(ws)
    assert 0.15 < loop.time() - started < 2  # the connect timeout, not the heartbeat


async def test_connect_timeout_keeps_running_after_a_refusal(fresh_server: Any) -> None:
    server: Served = await fresh_server(connect_timeout=0.2, ping_interval=5, ping_timeout=5)
    ws = await open_ws(server)
    await ws.send("40/nope,")
    assert await recv(ws) == '44/nope,{"message":"Invalid namespace"}'
    await closed(ws)


async def test_connect_timeout_spares_a_joined_connection(fresh_server: Any) -> None:
    server: Served = await fresh_server(connect_timeout=0.1, ping_interval=0.4, ping_timeout=5)
    ws = await open_ws(server)
    try:
        await ws.send("40")
        sid_of(await recv(ws), "40")
        await recv(ws)  # welcome
        async with asyncio.timeout(2):
            assert await ws.recv() == "2"  # a ping, well after the connect timeout
        await ws.send("3")
        await ws.send('42["echo","alive"]')  # no ack asked: nothing comes back
        await ws.send('421["echo","alive"]')
        assert await recv(ws) == '431["alive"]'
    finally:
        await ws.close()


async def test_connect_timeout_over_polling(fresh_server: Any, http: httpx.AsyncClient) -> None:
    server: Served = await fresh_server(connect_timeout=0.2, ping_interval=5, ping_timeout=5)
    sid = await open_polling(http, server)
    assert await get(http, server, sid) == ["1"]  # the held GET ends with CLOSE
    response = await http.get(polling_url(server, sid))
    assert response.status_code == 400


# -- DISCONNECT and acks -------------------------------------------------------------


async def test_disconnect_both_ways_keeps_the_connection(served: Served, unique: str) -> None:
    ws = await open_ws(served)
    try:
        await ws.send(f'40/custom,{{"tag":"{unique}"}}')
        first = sid_of(await recv(ws), "40/custom,")
        await recv(ws)  # welcome
        # The client leaves: no answer, the connection stays (protocol notes, DISCONNECT).
        await ws.send("41/custom,")
        assert await served.recorder.wait(unique, "disconnect") == "client namespace disconnect"
        await ws.send(f'40/custom,{{"tag":"{unique}-2"}}')
        second = sid_of(await recv(ws), "40/custom,")
        assert second != first
        await recv(ws)  # welcome
        # The server disconnects it: "1/custom," with nothing after the comma.
        await ws.send('42/custom,["disconnect-me"]')
        assert await recv(ws) == "41/custom,"
        assert await served.recorder.wait(f"{unique}-2", "disconnect") == (
            "server namespace disconnect"
        )
        await ws.send("40/custom,")
        sid_of(await recv(ws), "40/custom,")
    finally:
        await ws.close()


async def test_ack_ids_start_at_zero_both_ways(served: Served, unique: str) -> None:
    nsp = f"/t-{unique}"  # a fresh namespace: its ack counter starts at 0
    ws = await open_ws(served)
    try:
        await ws.send(f"40{nsp},")
        sid_of(await recv(ws), f"40{nsp},")
        await recv(ws)  # welcome
        await ws.send(f'42{nsp},0["ask",{{"event":"q","args":[1]}}]')
        assert await recv(ws) == f'42{nsp},0["q",1]'
        await ws.send(f'43{nsp},0["yes",{{"_placeholder":true,"num":0}}]')  # not binary: JSON
        assert await recv(ws) == f'43{nsp},0[{{"answer":["yes",{{"_placeholder":true,"num":0}}]}}]'
        await ws.send(f'42{nsp},1["ask",{{"event":"b"}}]')
        assert await recv(ws) == f'42{nsp},1["b"]'
        await ws.send(f'461-{nsp},1[{{"_placeholder":true,"num":0}}]')
        await ws.send(b"\x00\x01")
        assert await recv(ws) == f'461-{nsp},1[{{"answer":{{"_placeholder":true,"num":0}}}}]'
        assert await recv(ws) == b"\x00\x01"
    finally:
        await ws.close()


# -- volatile --------------------------------------------------------------------------


async def test_volatile_packets_wait_for_nobody_over_polling(
    served: Served, http: httpx.AsyncClient
) -> None:
    sid = await open_polling(http, served)
    await post(http, served, sid, "40")
    await post(http, served, sid, '42["volatile",2]')  # no GET held: nowhere to go now
    connected, welcome, after = await get(http, served, sid)
    assert connected.startswith('40{"sid":')
    assert welcome.startswith('42["welcome",')
    assert after == '42["after-volatile"]'
    await post(http, served, sid, "1")
