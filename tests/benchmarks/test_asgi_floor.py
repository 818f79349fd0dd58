"""The floor app answers what the load generator sends, as a Socket.IO server would.

Driven as an ASGI app directly (receive and send are queues): its answers are checked
byte for byte, so a floor that answered something else than a server would could not
pass for one in the benchmark tables.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from benchmarks.servers import asgi_floor

pytestmark = pytest.mark.timeout(30)


def test_the_ack_carries_the_id_and_the_arguments() -> None:
    assert asgi_floor.ack('4212["echo","a,b",[1,2]]') == '4312["a,b",[1,2]]'
    assert asgi_floor.ack('451-7["binecho",{"_placeholder":true,"num":0}]', "6") == (
        '461-7[{"_placeholder":true,"num":0}]'
    )


class Peer:
    """One ASGI connection to the floor: what the client sends, and what it got."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task = asyncio.ensure_future(asgi_floor.app(scope, self.incoming.get, self.put))

    async def put(self, message: Any) -> None:
        await self.sent.put(message)

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.sent.get(), 10)

    async def text(self) -> str:
        message = await self.next()
        assert message["type"] == "websocket.send"
        return str(message["text"])


async def websocket() -> Peer:
    peer = Peer({"type": "websocket", "path": "/socket.io/", "query_string": b""})
    await peer.incoming.put({"type": "websocket.connect"})
    assert (await peer.next())["type"] == "websocket.accept"
    assert json.loads((await peer.text())[1:])["upgrades"] == []
    await peer.incoming.put({"type": "websocket.receive", "text": "40"})
    assert (await peer.text()).startswith('40{"sid":')
    return peer


async def test_websocket_echo_binecho_and_broadcast() -> None:
    first, second = await websocket(), await websocket()
    try:
        await first.incoming.put({"type": "websocket.receive", "text": '425["echo","x"]'})
        assert await first.text() == '435["x"]'
        header = '451-6["binecho",{"_placeholder":true,"num":0}]'
        await first.incoming.put({"type": "websocket.receive", "text": header})
        await first.incoming.put({"type": "websocket.receive", "bytes": b"\x01\x02"})
        assert await first.text() == '461-6[{"_placeholder":true,"num":0}]'
        assert (await first.next())["bytes"] == b"\x01\x02"
        await first.incoming.put({"type": "websocket.receive", "text": '42["broadcast",1,"y"]'})
        assert await first.text() == await second.text() == '42["msg",1,"y"]'
    finally:
        for peer in (first, second):
            await peer.incoming.put({"type": "websocket.disconnect", "code": 1000})
            await asyncio.wait_for(peer.task, 10)
    assert asgi_floor.room == []


def http(method: str, query: bytes, body: bytes = b"") -> Peer:
    scope = {"type": "http", "method": method, "path": "/socket.io/", "query_string": query}
    peer = Peer(scope)
    peer.incoming.put_nowait({"type": "http.request", "body": body, "more_body": False})
    return peer


async def body(peer: Peer) -> bytes:
    start = await peer.next()
    assert start["status"] == 200
    data = (await peer.next())["body"]
    assert dict(start["headers"])[b"content-length"] == str(len(data)).encode()
    return bytes(data)


async def test_long_polling_handshake_connect_and_a_held_echo() -> None:
    opened = json.loads((await body(http("GET", b"EIO=4&transport=polling")))[1:])
    assert opened["upgrades"] == ["websocket"]
    query = f"EIO=4&transport=polling&sid={opened['sid']}".encode()
    assert await body(http("POST", query, b"40")) == b"ok"
    assert (await body(http("GET", query))).startswith(b'40{"sid":')
    held = http("GET", query)  # runs first, finds nothing queued, and is held
    assert await body(http("POST", query, b'427["echo",1]\x1e3')) == b"ok"
    assert await body(held) == b"437[1]"
