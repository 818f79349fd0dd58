"""ClusterAdapter on an in-process bus: the protocol without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aiosio
import socketio
from aiosio.adapters.cluster import ClusterAdapter, ClusterMessage
from aiosio.exceptions import ClusterError


class Bus:
    """Delivers every message to the other adapters of the same namespace, in order."""

    def __init__(self) -> None:
        self.adapters: list[BusAdapter] = []
        self.sent: list[ClusterMessage] = []
        self.down = False

    def factory(self, namespace: Any) -> BusAdapter:
        adapter = BusAdapter(namespace, self)
        self.adapters.append(adapter)
        return adapter


class BusAdapter(ClusterAdapter):
    def __init__(self, namespace: Any, bus: Bus) -> None:
        super().__init__(namespace, requests_timeout=0.5)
        self.bus = bus

    def publish(self, message: ClusterMessage, *, to: str | None = None) -> None:
        if self.bus.down:
            raise ClusterError("the bus is down")
        self.bus.sent.append(message)
        loop = asyncio.get_running_loop()
        for other in self.bus.adapters:
            same = other is not self and other.namespace.name == self.namespace.name
            if same and (to is None or other.uid == to):
                loop.call_soon(other.on_message, message)

    async def server_count(self) -> int:
        if self.bus.down:
            raise ClusterError("the bus is down")
        return sum(1 for a in self.bus.adapters if a.namespace.name == self.namespace.name)


class Deaf(BusAdapter):
    """A server that counts but never answers."""

    def on_message(self, message: ClusterMessage) -> None:
        pass


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Bus, list[aiosio.Server], list[socketio.AsyncClient]]]:
    bus = Bus()
    servers = [aiosio.Server(adapter=bus.factory) for _ in range(2)]
    clients = []
    for index, server in enumerate(servers):

        @server.on("connection")
        def connection(socket: aiosio.Socket) -> None:
            socket.join("room")

        @server.on("hello")
        def hello(arg: Any, index: int = index) -> str:
            return f"{index}:{arg}"

        port = await server.start(port=0)
        client = socketio.AsyncClient(reconnection=False)
        client.on("ask", lambda: "yes")
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        clients.append(client)
    yield bus, servers, clients
    for client in clients:
        await client.disconnect()
    for server in servers:
        await server.close()


async def test_broadcast_reaches_the_other_server_once(pair: Any) -> None:
    bus, servers, clients = pair
    got: list[Any] = []
    for client in clients:
        client.on("news", lambda *args: got.append(args))
    servers[0].to("room").emit("news", 1)
    servers[1].local.emit("news", "only-local")
    await asyncio.sleep(0.2)
    assert sorted(got, key=str) == [("only-local",), (1,), (1,)]
    assert [m.type.name for m in bus.sent] == ["BROADCAST"]


async def test_requests_span_the_cluster(pair: Any) -> None:
    _bus, servers, _clients = pair
    assert len(await servers[0].fetch_sockets()) == 2
    assert len(await servers[0].local.fetch_sockets()) == 1
    assert await servers[1].server_side_emit("hello", "a", timeout=1) == ["0:a"]
    assert await servers[0].timeout(1).emit_with_ack("ask") == ["yes", "yes"]


async def test_room_operations_reach_the_other_server_unless_local(pair: Any) -> None:
    bus, servers, _clients = pair
    servers[0].sockets_join("joined")
    servers[0].local.sockets_join("here-only")
    servers[0].in_("joined").sockets_leave("room")
    sent = [(m.type.name, m.data.get("rooms")) for m in bus.sent]
    assert sent == [("SOCKETS_JOIN", ["joined"]), ("SOCKETS_LEAVE", ["room"])]
    # The bus delivers in order: the request of a fetch comes after the operations.
    assert len(await servers[0].in_("joined").fetch_sockets()) == 2
    assert len(await servers[0].in_("here-only").fetch_sockets()) == 1
    assert await servers[0].in_("room").fetch_sockets() == []
    servers[0].in_("joined").disconnect_sockets()
    assert bus.sent[-1].type.name == "DISCONNECT_SOCKETS"
    assert bus.sent[-1].data["close"] is False


async def test_unanswered_requests_time_out(pair: Any) -> None:
    bus, servers, _clients = pair
    bus.adapters.append(Deaf(servers[0].sockets, bus))
    with pytest.raises(ClusterError, match="timeout reached: only 1 responses received out of 2"):
        await servers[0].server_side_emit("hello", "a", timeout=0.3)
    with pytest.raises(ClusterError, match="timeout reached"):
        await servers[0].fetch_sockets()


async def test_local_delivery_goes_on_while_the_bus_is_down(pair: Any) -> None:
    bus, servers, clients = pair
    bus.down = True
    got: list[Any] = []
    clients[0].on("news", lambda *args: got.append(args))
    servers[0].emit("news", "still")
    assert await servers[0].timeout(1).emit_with_ack("ask") == ["yes"]
    with pytest.raises(ClusterError):
        await servers[0].fetch_sockets()
    await asyncio.sleep(0.1)
    assert got == [("still",)]
