"""InMemoryAdapter: room bookkeeping, broadcasts and the socket utilities of one server.

Driven directly (a small host and sockets that record what the adapter asks of them), and
through an :class:`aiosio.Server` with clients connected in memory (``aiosio.testing``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

import aiosio
import aiosio.testing
from aiosio.adapters.base import (
    Adapter,
    BroadcastFlags,
    BroadcastOptions,
    Session,
    encode_wires,
)
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.engineio.wire import Wire
from aiosio.exceptions import AckTimeout
from aiosio.socketio.packets import EVENT, Packet
from aiosio.socketio.parsers import AckSlot, JSONParser, ack_slot

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 2.0) -> T:
    """``pending``, or a failure instead of a hang."""
    async with asyncio.timeout(seconds):
        return await pending


# -- a host and sockets that record what the adapter does -----------------------------------


class FakeSocket:
    """A local socket: joins and leaves through the adapter, records what it is sent."""

    def __init__(self, host: FakeHost, sid: str) -> None:
        self.host = host
        self.id = sid
        self.data: Any = {"sid": sid}
        self.handshake: Any = None
        self.written: list[tuple[list[Wire], Packet, bool]] = []
        self.asked: list[tuple[Packet, Callable[[str, list[Any] | None], None], bool]] = []
        self.disconnects: list[bool] = []

    @property
    def rooms(self) -> set[str]:
        return set(self.host.adapter.socket_rooms(self.id) or ())

    def join(self, rooms: str | Iterable[str]) -> None:
        self.host.adapter.add_all(self.id, [rooms] if isinstance(rooms, str) else rooms)

    def leave(self, room: str) -> None:
        self.host.adapter.delete(self.id, room)

    def disconnect(self, close: bool = False) -> object:
        self.disconnects.append(close)
        return self

    def write_wires(self, wires: list[Wire], packet: Packet, volatile: bool) -> None:
        self.written.append((wires, packet, volatile))

    def emit_packet_with_ack(
        self,
        packet: Packet,
        on_ack: Callable[[str, list[Any] | None], None],
        compress: bool = True,
        timeout: float | None = None,
        slot: AckSlot | None = None,
    ) -> None:
        self.asked.append((packet, on_ack, compress, slot))


class FakeHost:
    """A namespace as the adapter sees it (the :class:`~aiosio.adapters.base.Host` shape)."""

    def __init__(self, name: str = "/") -> None:
        self.name = name
        self.sockets: dict[str, FakeSocket] = {}
        self.recovers = False
        self.events: list[tuple[Any, ...]] = []
        self.prepared: list[tuple[Packet, BroadcastOptions, list[Wire]]] = []
        self.prepared_with_ack: list[tuple[Packet, AckSlot | None]] = []
        self.adapter = InMemoryAdapter(self)

    def connect(self, *sids: str) -> list[FakeSocket]:
        """Connect sockets as a namespace does: each joins the room of its own id."""
        made = []
        for sid in sids:
            socket = self.sockets[sid] = FakeSocket(self, sid)
            self.adapter.add_all(sid, [sid])
            made.append(socket)
        self.events.clear()
        return made

    def prepare_broadcast(self, packet: Packet, options: BroadcastOptions) -> list[Wire]:
        wires = encode_wires(packet)
        self.prepared.append((packet, options, wires))
        return wires

    def prepare_broadcast_with_ack(self, packet: Packet) -> AckSlot | None:
        slot = ack_slot(JSONParser(), packet.namespace, packet.data)
        self.prepared_with_ack.append((packet, slot))
        return slot

    def emit_local_event(self, event: str, *args: Any) -> None:
        self.events.append((event, *args))

    def on_server_side_emit(self, data: list[Any], ack: Callable[[Any], None] | None) -> None:
        raise AssertionError("a cluster of one hears no server-side emit")

    def remote_socket(self, details: dict[str, Any]) -> Any:
        raise AssertionError("a cluster of one has no remote socket")


def reached(host: FakeHost) -> set[str]:
    """The ids of the sockets that were written a broadcast."""
    return {sid for sid, socket in host.sockets.items() if socket.written}


def options(
    rooms: Iterable[str] = (), except_: Iterable[str] = (), **flags: Any
) -> BroadcastOptions:
    return BroadcastOptions(frozenset(rooms), frozenset(except_), BroadcastFlags(**flags))


PACKET = Packet(EVENT, "/", ["news", 1])


# -- membership ------------------------------------------------------------------------------


def test_is_an_adapter_of_its_namespace() -> None:
    host = FakeHost()
    adapter = host.adapter
    assert isinstance(adapter, Adapter)
    assert adapter.namespace is host
    assert adapter.rooms == {} and adapter.sids == {}
    assert adapter.socket_rooms("nobody") is None


def test_add_all_creates_rooms_and_fires_events_in_order() -> None:
    host = FakeHost()
    adapter = host.adapter
    adapter.add_all("a", ["r1", "r2"])
    adapter.add_all("b", ["r1"])
    adapter.add_all("a", ["r1"])  # already in: nothing happens
    assert adapter.rooms == {"r1": {"a", "b"}, "r2": {"a"}}
    assert adapter.sids == {"a": {"r1", "r2"}, "b": {"r1"}}
    assert adapter.socket_rooms("a") == {"r1", "r2"}
    assert host.events == [
        ("create-room", "r1"),
        ("join-room", "r1", "a"),
        ("create-room", "r2"),
        ("join-room", "r2", "a"),
        ("join-room", "r1", "b"),
    ]


def test_add_all_with_no_room_still_knows_the_socket() -> None:
    host = FakeHost()
    host.adapter.add_all("a", [])
    assert host.adapter.socket_rooms("a") == set()
    assert host.adapter.rooms == {} and host.events == []


def test_add_all_takes_any_iterable_once_per_room() -> None:
    host = FakeHost()
    host.adapter.add_all("a", (room for room in ["r", "r", "s"]))
    assert host.adapter.socket_rooms("a") == {"r", "s"}
    assert [event for event in host.events if event[0] == "join-room"] == [
        ("join-room", "r", "a"),
        ("join-room", "s", "a"),
    ]


def test_delete_leaves_and_deletes_an_empty_room() -> None:
    host = FakeHost()
    adapter = host.adapter
    adapter.add_all("a", ["r"])
    adapter.add_all("b", ["r"])
    host.events.clear()
    adapter.delete("a", "r")
    assert adapter.rooms == {"r": {"b"}}
    assert host.events == [("leave-room", "r", "a")]
    adapter.delete("b", "r")
    assert adapter.rooms == {}
    assert adapter.sids == {"a": set(), "b": set()}
    assert host.events == [
        ("leave-room", "r", "a"),
        ("leave-room", "r", "b"),
        ("delete-room", "r"),
    ]


def test_delete_of_what_is_not_joined_does_nothing() -> None:
    host = FakeHost()
    adapter = host.adapter
    adapter.add_all("a", ["r"])
    host.events.clear()
    adapter.delete("a", "other")
    adapter.delete("nobody", "r")
    assert adapter.rooms == {"r": {"a"}}
    assert adapter.sids == {"a": {"r"}}
    assert host.events == []


def test_delete_all_forgets_the_socket() -> None:
    host = FakeHost()
    adapter = host.adapter
    adapter.add_all("a", ["r", "s"])
    adapter.add_all("b", ["r"])
    host.events.clear()
    adapter.delete_all("a")
    assert adapter.socket_rooms("a") is None
    assert adapter.rooms == {"r": {"b"}}
    assert sorted(host.events) == sorted(
        [("leave-room", "r", "a"), ("leave-room", "s", "a"), ("delete-room", "s")]
    )
    host.events.clear()
    adapter.delete_all("a")  # twice: nothing left to do
    adapter.delete_all("nobody")
    assert host.events == []


def test_sockets_are_the_connected_ones_in_any_of_the_rooms() -> None:
    host = FakeHost()
    host.connect("a", "b", "c")
    adapter = host.adapter
    adapter.add_all("a", ["r"])
    adapter.add_all("b", ["r", "s"])
    adapter.add_all("c", ["s"])
    adapter.add_all("ghost", ["r"])  # in a room but not connected: never a target
    assert adapter.sockets() == {"a", "b", "c"}
    assert adapter.sockets(["r"]) == {"a", "b"}
    assert adapter.sockets(["r", "s"]) == {"a", "b", "c"}
    assert adapter.sockets(["nowhere"]) == set()
    assert adapter.sockets(["a"]) == {"a"}  # a socket's own room


# -- broadcasts --------------------------------------------------------------------------------


def test_broadcast_reaches_every_socket_once_with_the_same_wires() -> None:
    host = FakeHost()
    a, b, c = host.connect("a", "b", "c")
    host.adapter.add_all("a", ["r", "s"])
    host.adapter.add_all("b", ["s"])
    host.adapter.broadcast(PACKET, options(rooms=["r", "s"]))
    assert reached(host) == {"a", "b"}
    assert len(a.written) == 1  # in both rooms, written once
    assert len(host.prepared) == 1  # encoded once for everyone
    wires = host.prepared[0][2]
    assert [wire.data for wire in wires] == ['42["news",1]']
    assert a.written[0][0] is wires and b.written[0][0] is wires
    assert a.written[0][1] is PACKET and a.written[0][2] is False
    assert c.written == []


def test_broadcast_without_rooms_reaches_everyone() -> None:
    host = FakeHost()
    host.connect("a", "b")
    assert host.adapter.local_broadcast(PACKET, options()) == 2
    assert reached(host) == {"a", "b"}


def test_broadcast_except_rooms_and_socket_ids() -> None:
    host = FakeHost()
    host.connect("a", "b", "c", "d")
    host.adapter.add_all("a", ["r"])
    host.adapter.add_all("b", ["r", "muted"])
    host.adapter.add_all("c", ["r"])
    count = host.adapter.local_broadcast(PACKET, options(rooms=["r"], except_=["muted", "c"]))
    assert count == 1 and reached(host) == {"a"}

    other = FakeHost()
    other.connect("a", "b", "c")
    other.adapter.broadcast(PACKET, options(except_=["b", "unknown-room"]))
    assert reached(other) == {"a", "c"}


def test_broadcast_to_an_unknown_room_is_still_prepared() -> None:
    """The packet is prepared even when nobody gets it (recovery keeps it for later)."""
    host = FakeHost()
    host.connect("a")
    assert host.adapter.local_broadcast(PACKET, options(rooms=["nobody-here"])) == 0
    assert reached(host) == set()
    assert len(host.prepared) == 1


def test_broadcast_passes_the_volatile_flag() -> None:
    host = FakeHost()
    (a,) = host.connect("a")
    host.adapter.broadcast(PACKET, options(volatile=True))
    assert a.written[0][2] is True


def test_broadcast_skips_sockets_that_left_the_namespace() -> None:
    host = FakeHost()
    host.connect("a", "b")
    host.adapter.add_all("a", ["r"])
    host.adapter.add_all("b", ["r"])
    del host.sockets["b"]  # disconnected, its rooms not yet cleaned up
    assert host.adapter.local_broadcast(PACKET, options(rooms=["r"])) == 1
    assert host.adapter.local_broadcast(PACKET, options(rooms=["r"], except_=["x"])) == 1


def test_broadcast_with_ack_counts_then_asks_each_socket() -> None:
    host = FakeHost()
    a, b, c = host.connect("a", "b", "c")
    host.adapter.add_all("a", ["r"])
    host.adapter.add_all("b", ["r"])
    calls: list[tuple[Any, ...]] = []

    def on_count(count: int, sids: Iterable[str] = ()) -> None:
        calls.append(("count", count, sorted(sids)))

    def on_ack(sid: str, answer: list[Any] | None) -> None:
        calls.append(("ack", sid, answer))

    collector = SimpleNamespace(
        add_count=on_count, add_answer=on_ack, counted=lambda: calls.append(("counted",))
    )
    host.adapter.broadcast_with_ack(PACKET, options(rooms=["r"], compress=False), collector)
    assert calls == [("count", 2, ["a", "b"]), ("counted",)]
    assert host.prepared == []  # no shared wires: each socket has an ack id of its own
    ((prepared, slot),) = host.prepared_with_ack  # but the packet is encoded once
    assert prepared is PACKET and slot is not None
    for socket in (a, b):
        ((packet, sink, compress, given),) = socket.asked
        assert packet is PACKET and sink is on_ack and compress is False and given is slot
    assert c.asked == []


def test_broadcast_with_ack_to_nobody_counts_zero() -> None:
    host = FakeHost()
    host.connect("a")
    calls: list[tuple[Any, ...]] = []
    collector = SimpleNamespace(
        add_count=lambda count, sids=(): calls.append(("count", count, list(sids))),
        add_answer=lambda sid, answer: calls.append(("ack", sid)),
        counted=lambda: calls.append(("counted",)),
    )
    host.adapter.broadcast_with_ack(PACKET, options(rooms=["empty"]), collector)
    assert calls == [("count", 0, []), ("counted",)]


# -- socket utilities --------------------------------------------------------------------------


async def test_fetch_sockets_returns_the_local_socket_objects() -> None:
    host = FakeHost()
    a, b, _ = host.connect("a", "b", "c")
    host.adapter.add_all("a", ["r"])
    host.adapter.add_all("b", ["r"])
    found = await host.adapter.fetch_sockets(options(rooms=["r"]))
    assert sorted(found, key=lambda socket: socket.id) == [a, b]
    assert len(await host.adapter.fetch_sockets(options())) == 3
    assert await host.adapter.fetch_sockets(options(rooms=["r"], except_=["a", "b"])) == []


def test_add_sockets_and_del_sockets() -> None:
    host = FakeHost()
    a, b, c = host.connect("a", "b", "c")
    host.adapter.add_sockets(options(except_=["c"]), ["x", "y"])
    assert a.rooms == {"a", "x", "y"} and b.rooms == {"b", "x", "y"} and c.rooms == {"c"}
    host.adapter.del_sockets(options(rooms=["x"], except_=["a"]), ["x", "y", "never-joined"])
    assert a.rooms == {"a", "x", "y"} and b.rooms == {"b"}
    assert host.adapter.rooms["x"] == {"a"}


def test_disconnect_sockets_passes_close() -> None:
    host = FakeHost()
    a, b, c = host.connect("a", "b", "c")
    host.adapter.add_all("a", ["r"])
    host.adapter.disconnect_sockets(options(rooms=["r"]), False)
    host.adapter.disconnect_sockets(options(except_=["a"]), True)
    assert (a.disconnects, b.disconnects, c.disconnects) == ([False], [True], [True])


async def test_a_cluster_of_one() -> None:
    host = FakeHost()
    adapter = host.adapter
    assert await adapter.server_side_emit(["ping", 1]) == []
    assert await adapter.server_side_emit(["ping"], timeout=0.5) == []  # no acks to wait for
    assert await adapter.server_count() == 1
    assert adapter.healthy is True
    assert adapter.recovery_offset() is None
    session = Session("sid", "pid", ["sid", "r"], missed=[["news", 1, "o1"]])
    adapter.persist_session(session, 10.0)
    assert await adapter.restore_session("pid", None) is None
    assert adapter.missed_packets(session) == [["news", 1, "o1"]]
    await adapter.init()
    await adapter.close()


# -- through a server and clients in memory -------------------------------------------------------


def recording_server() -> tuple[aiosio.Server, asyncio.Queue[aiosio.Socket], list[tuple[Any, ...]]]:
    """A server whose sockets join the room named in their auth, with ``ask`` answered."""
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    events: list[tuple[Any, ...]] = []
    for name in ("create-room", "delete-room", "join-room", "leave-room"):
        io.of("/").on(name, lambda *args, name=name: events.append((name, *args)))

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        room = socket.handshake.auth.get("room")
        if room:
            socket.join(room)
        sockets.put_nowait(socket)

    return io, sockets, events


async def test_the_server_default_adapter_is_in_memory() -> None:
    io = aiosio.Server()
    assert isinstance(io.of("/").adapter, InMemoryAdapter)
    assert isinstance(io.of("/news").adapter, InMemoryAdapter)
    assert io.of("/news").adapter is not io.of("/").adapter
    assert io.of("/news").adapter.namespace is io.of("/news")


async def test_room_events_through_the_server() -> None:
    io, sockets, events = recording_server()
    async with aiosio.testing.connect(io, auth={"room": "lobby"}) as client:
        socket = await within(sockets.get())
        assert socket.rooms == {socket.id, "lobby"}
        assert events == [
            ("create-room", socket.id),
            ("join-room", socket.id, socket.id),
            ("create-room", "lobby"),
            ("join-room", "lobby", socket.id),
        ]
        events.clear()
        socket.leave("lobby")
        assert events == [("leave-room", "lobby", socket.id), ("delete-room", "lobby")]
        assert socket.rooms == {socket.id}
        events.clear()
        gone: asyncio.Queue[str] = asyncio.Queue()
        socket.on("disconnect", gone.put_nowait)
        await client.disconnect()
        await within(gone.get())
        assert events == [("leave-room", socket.id, socket.id), ("delete-room", socket.id)]
        assert io.of("/").adapter.socket_rooms(socket.id) is None


async def test_broadcasts_with_rooms_and_except_through_the_server() -> None:
    io, sockets, _ = recording_server()
    inbox: dict[str, asyncio.Queue[tuple[Any, ...]]] = {}
    async with aiosio.testing.serve(io) as server:
        for name, room in (("alice", "red"), ("bob", "red"), ("carol", "blue")):
            client = await within(server.connect(auth={"room": room}))
            inbox[name] = asyncio.Queue()
            client.on_any(lambda *event, name=name: inbox[name].put_nowait(event))
        ids = {}
        for name in ("alice", "bob", "carol"):
            ids[name] = (await within(sockets.get())).id

        io.to("red").except_(ids["bob"]).emit("one", 1)
        io.to("red", "blue").except_("blue").emit("two", 2)
        io.except_("red").emit("three", 3)
        io.emit("end")
        got = {}
        for name, queue in inbox.items():
            got[name] = [await within(queue.get())]
            while got[name][-1] != ("end",):
                got[name].append(await within(queue.get()))
        assert got == {
            "alice": [("one", 1), ("two", 2), ("end",)],
            "bob": [("two", 2), ("end",)],
            "carol": [("three", 3), ("end",)],
        }


async def test_socket_utilities_through_the_server() -> None:
    io, sockets, _ = recording_server()
    async with aiosio.testing.serve(io) as server:
        alice = await within(server.connect(auth={"room": "red"}))
        bob = await within(server.connect(auth={"room": "blue"}))
        alice_socket = await within(sockets.get())
        bob_socket = await within(sockets.get())
        assert {s.id for s in await io.fetch_sockets()} == {alice.id, bob.id}
        assert await io.in_("red").fetch_sockets() == [alice_socket]
        assert await io.except_("red").fetch_sockets() == [bob_socket]

        io.in_("blue").sockets_join(["green", "gold"])
        assert bob_socket.rooms == {bob.id, "blue", "green", "gold"}
        io.sockets_leave("blue")
        assert bob_socket.rooms == {bob.id, "green", "gold"}
        assert alice_socket.rooms == {alice.id, "red"}
        assert await io.in_("blue").fetch_sockets() == []

        reasons: asyncio.Queue[str] = asyncio.Queue()
        bob.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        io.in_("green").disconnect_sockets()
        assert await within(reasons.get()) == "io server disconnect"
        assert await io.fetch_sockets() == [alice_socket]
        assert alice.connected


async def test_broadcast_with_acks_counts_the_recipients() -> None:
    io, _, _ = recording_server()
    async with aiosio.testing.serve(io) as server:
        for n in (1, 2, 3):
            client = await within(server.connect(auth={"room": "odd" if n % 2 else "even"}))
            client.on("double", lambda value, n=n: value * n)
        answers = await within(io.timeout(2).to("odd").emit_with_ack("double", 10))
        assert sorted(answers) == [10, 30]
        per_socket = await within(io.timeout(2).emit_with_ack("double", 1, per_socket=True))
        assert sorted(per_socket.values()) == [[1], [2], [3]]
        # Nobody in the room: the answer is at once, an empty list.
        assert await within(io.to("nobody").emit_with_ack("double", 1)) == []

        results: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
        io.to("even").emit(
            "double", 4, callback=lambda error, got: results.put_nowait((error, got))
        )
        assert await within(results.get()) == (None, [8])


async def test_broadcast_with_acks_times_out_for_silent_clients() -> None:
    io, sockets, _ = recording_server()
    async with aiosio.testing.serve(io) as server:
        talker = await within(server.connect())
        talker.on("ping", lambda: "pong")
        await within(server.connect())  # never answers: no handler
        talker_id = (await within(sockets.get())).id
        silent_id = (await within(sockets.get())).id
        with pytest.raises(AckTimeout):
            await within(io.timeout(0.05).emit_with_ack("ping"))
        results = await within(io.timeout(0.05).emit_with_ack("ping", per_socket=True))
        assert results[talker_id] == ["pong"]
        assert isinstance(results[silent_id], AckTimeout)


async def test_server_side_emit_without_a_cluster() -> None:
    io = aiosio.Server()
    heard: list[Any] = []
    io.on("hello", heard.append)  # a server-side listener: other servers' emits only
    async with aiosio.testing.serve(io):
        assert await io.server_side_emit("hello", 1) == []
        assert await io.server_side_emit("hello", 2, timeout=0.5) == []
        assert await io.of("/news").server_side_emit("hello") == []
    assert heard == []
    with pytest.raises(ValueError, match="reserved"):
        await io.server_side_emit("connection")
