"""The adapter contract: the base class, the broadcast options and flags, the protocols
the server's objects fill (checked by their members: the protocols are not runtime
checkable), and ``encode_wires``."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

import pytest

import aiosio
import aiosio.testing
from aiosio.adapters import base
from aiosio.adapters.base import (
    Adapter,
    BroadcastFlags,
    BroadcastOptions,
    Host,
    LocalSocket,
    RoomChoice,
    Session,
    SocketLike,
    encode_wires,
    room_names,
)
from aiosio.engineio.wire import Wire
from aiosio.exceptions import LocalProtocolError
from aiosio.server.broadcast import RemoteSocket
from aiosio.socketio.packets import EVENT, Packet
from aiosio.socketio.parsers import get_parser

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 2.0) -> T:
    async with asyncio.timeout(seconds):
        return await pending


def members(protocol: type) -> set[str]:
    """The public members a protocol declares (its own and its bases')."""
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (object, Protocol) or klass.__module__ == "typing":
            continue
        names.update(name for name in vars(klass) if not name.startswith("_"))
    return names


# -- flags and options ---------------------------------------------------------------------------


def test_broadcast_flags_defaults_and_immutability() -> None:
    flags = BroadcastFlags()
    assert (flags.volatile, flags.compress, flags.local, flags.timeout) == (
        False,
        True,
        False,
        None,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        flags.volatile = True  # type: ignore[misc]
    assert BroadcastFlags(timeout=1.5) == BroadcastFlags(timeout=1.5)
    assert BroadcastFlags(timeout=1.5) != BroadcastFlags()
    assert hash(BroadcastFlags(volatile=True)) == hash(BroadcastFlags(volatile=True))
    assert not hasattr(flags, "__dict__")  # slots


def test_broadcast_options_defaults_and_equality() -> None:
    options = BroadcastOptions()
    assert options.rooms == frozenset() and options.except_ == frozenset()
    assert options.flags == BroadcastFlags()
    assert BroadcastOptions().flags is BroadcastOptions().flags  # one shared default
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.rooms = frozenset({"r"})  # type: ignore[misc]
    a = BroadcastOptions(frozenset({"r", "s"}), frozenset({"x"}), BroadcastFlags(local=True))
    b = BroadcastOptions(frozenset({"s", "r"}), frozenset({"x"}), BroadcastFlags(local=True))
    assert a == b and hash(a) == hash(b)
    assert dataclasses.replace(a, flags=BroadcastFlags()) != a


def test_broadcast_operators_build_options() -> None:
    io = aiosio.Server()
    options = io.to("a", ["b", "c"]).except_("x").timeout(2).volatile.compress(False).options
    assert options == BroadcastOptions(
        frozenset({"a", "b", "c"}),
        frozenset({"x"}),
        BroadcastFlags(volatile=True, compress=False, timeout=2),
    )
    assert io.local.options.flags == BroadcastFlags(local=True)
    assert io.to("a").options == BroadcastOptions(frozenset({"a"}))


def test_session_defaults() -> None:
    session = Session("sid", "pid", ["sid", "room"])
    assert session.data is None and session.offset is None and session.missed == []
    assert Session("s", "p", []).missed is not session.missed  # a list each
    session.offset = "0-1"  # mutable: recovery updates it
    assert session.offset == "0-1"


# -- encode_wires ----------------------------------------------------------------------------------


def test_encode_wires_encodes_once_into_shared_wires() -> None:
    wires = encode_wires(Packet(EVENT, "/", ["news", {"n": 1}]))
    assert [type(wire) for wire in wires] == [Wire]
    assert wires[0].data == '42["news",{"n":1}]'
    assert wires[0].compress is True


def test_encode_wires_with_attachments_and_a_namespace() -> None:
    wires = encode_wires(Packet(EVENT, "/chat", ["file", b"\x00\x01", b"\x02"]))
    assert [wire.data for wire in wires] == [
        '452-/chat,["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        b"\x00\x01",
        b"\x02",
    ]


def test_encode_wires_with_another_parser() -> None:
    pytest.importorskip("msgpack")
    parser = get_parser("msgpack")
    packet = Packet(EVENT, "/", ["news", b"\x01"])
    wires = encode_wires(packet, parser)
    assert [wire.data for wire in wires] == parser.encode(packet)
    assert all(isinstance(wire.data, bytes) for wire in wires)


def test_encode_wires_refuses_what_cannot_be_serialised() -> None:
    with pytest.raises(LocalProtocolError):
        encode_wires(Packet(EVENT, "/", ["news", object()]))


# -- the base class ------------------------------------------------------------------------------


class Bare(Adapter):
    """An adapter that implements nothing."""


async def test_base_adapter_abstract_operations_raise() -> None:
    adapter = Bare(object())  # type: ignore[arg-type]
    options = BroadcastOptions()
    packet = Packet(EVENT, "/", ["e"])
    calls: list[tuple[str, tuple[Any, ...]]] = [
        ("add_all", ("sid", ["r"])),
        ("delete", ("sid", "r")),
        ("delete_all", ("sid",)),
        ("socket_rooms", ("sid",)),
        ("sockets", ()),
        ("broadcast", (packet, options)),
        ("broadcast_with_ack", (packet, options, None)),
        ("add_sockets", (options, ["r"])),
        ("del_sockets", (options, ["r"])),
        ("disconnect_sockets", (options, False)),
    ]
    for name, args in calls:
        with pytest.raises(NotImplementedError):
            getattr(adapter, name)(*args)
    with pytest.raises(NotImplementedError):
        await adapter.fetch_sockets(options)
    with pytest.raises(NotImplementedError):
        await adapter.server_side_emit(["e"])
    with pytest.raises(NotImplementedError):
        await adapter.server_side_emit(["e"], timeout=1)


async def test_base_adapter_defaults() -> None:
    host = object()
    adapter = Bare(host)  # type: ignore[arg-type]
    assert adapter.namespace is host
    assert Adapter.supports_recovery is False and adapter.supports_recovery is False
    assert await adapter.init() is None
    assert await adapter.close() is None
    assert await adapter.server_count() == 1
    assert adapter.healthy is True
    assert adapter.recovery_offset() is None
    session = Session("sid", "pid", ["sid"], missed=[["e", 1, "0-1"]])
    assert adapter.persist_session(session, 5.0) is None  # type: ignore[func-returns-value]
    assert await adapter.restore_session("pid", None) is None
    assert await adapter.restore_session("pid", "0-1") is None
    assert adapter.missed_packets(session) is session.missed


def test_fetch_sockets_and_server_side_emit_are_coroutines() -> None:
    for name in ("init", "close", "fetch_sockets", "server_side_emit", "server_count"):
        assert inspect.iscoroutinefunction(getattr(Adapter, name)), name
    for name in ("broadcast", "broadcast_with_ack", "add_all", "persist_session"):
        assert not inspect.iscoroutinefunction(getattr(Adapter, name)), name


def test_a_server_takes_an_adapter_factory() -> None:
    made: list[Any] = []

    class Recording(Bare):
        def __init__(self, namespace: Host) -> None:
            super().__init__(namespace)
            made.append(namespace)

    io = aiosio.Server(adapter=Recording)
    news = io.of("/news")
    assert isinstance(io.of("/").adapter, Recording)
    assert isinstance(news.adapter, Recording)
    assert made == [io.of("/"), news]


# -- the protocols, as the server's objects fill them ----------------------------------------------


def test_protocols_declare_what_adapters_use() -> None:
    assert members(SocketLike) == {"id", "rooms", "data", "join", "disconnect"}
    assert members(LocalSocket) == members(SocketLike) | {
        "handshake",
        "leave",
        "write_wires",
        "emit_packet_with_ack",
    }
    assert members(Host) == {
        "name",
        "sockets",
        "recovers",
        "prepare_broadcast",
        "prepare_broadcast_with_ack",
        "emit_local_event",
        "on_server_side_emit",
        "remote_socket",
    }
    assert set(base.__all__) >= {"Host", "LocalSocket", "SocketLike", "Adapter"}


async def test_namespace_and_socket_fill_the_protocols() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    namespace = io.of("/")
    for name in members(Host):
        assert hasattr(namespace, name), name
    assert namespace.name == "/" and namespace.recovers is False
    async with aiosio.testing.connect(io) as client:
        socket = await within(sockets.get())
        for name in members(LocalSocket):
            assert hasattr(socket, name), name
        assert namespace.sockets == {client.id: socket}
        assert dataclasses.is_dataclass(socket.handshake)  # LocalSocket.handshake says so
        # prepare_broadcast encodes once; compress(False) reaches the wires.
        packet = Packet(EVENT, "/", ["e", 1])
        (wire,) = namespace.prepare_broadcast(packet, BroadcastOptions())
        assert wire.data == '42["e",1]' and wire.compress is True
        flags = BroadcastFlags(compress=False)
        (plain,) = namespace.prepare_broadcast(packet, BroadcastOptions(flags=flags))
        assert plain.compress is False
        # remote_socket builds a SocketLike from a fetch_sockets answer.
        remote = namespace.remote_socket(
            {"id": "far", "handshake": {"auth": {}}, "rooms": ["far", "r"], "data": {"x": 1}}
        )
        assert isinstance(remote, RemoteSocket)
        assert (remote.id, remote.rooms, remote.data) == ("far", {"far", "r"}, {"x": 1})
        for name in members(SocketLike):
            assert hasattr(remote, name), name


async def test_recovers_follows_the_server_option() -> None:
    io = aiosio.Server(connection_state_recovery=True)
    assert io.of("/").recovers is True


async def test_emit_local_event_runs_namespace_handlers() -> None:
    io = aiosio.Server()
    seen: list[tuple[Any, ...]] = []
    io.of("/").on("create-room", lambda room: seen.append(("sync", room)))

    async def later(room: str) -> None:
        seen.append(("async", room))
        done.set()

    done = asyncio.Event()
    io.of("/").on("create-room", later)

    def broken(room: str) -> None:
        raise RuntimeError("a failing handler is logged and the others still run")

    io.of("/").on("create-room", broken)
    async with aiosio.testing.serve(io):
        io.of("/").emit_local_event("create-room", "r")
        io.of("/").emit_local_event("nobody-listens", "r")
        await within(done.wait())
    assert seen == [("sync", "r"), ("async", "r")]


# -- the choosing methods every operator shares -------------------------------------------


class Chosen(RoomChoice["Chosen"]):
    """The smallest operator on RoomChoice: its options and nothing else."""

    __slots__ = ("_options",)

    def __init__(self, options: BroadcastOptions) -> None:
        self._options = options

    @property
    def options(self) -> BroadcastOptions:
        return self._options

    def _derive(self, **changes: Any) -> Chosen:
        return Chosen(dataclasses.replace(self._options, **changes))


def test_room_names_flatten_strings_and_iterables() -> None:
    assert room_names(("a", ["b", "c"], ("a",))) == {"a", "b", "c"}


def test_room_choice_builds_new_operators_and_leaves_the_old_one_alone() -> None:
    start = Chosen(BroadcastOptions())
    chosen = start.to("a", ["b"]).in_("c").except_("x", {"y"}).volatile.compress(False)
    assert chosen.options == BroadcastOptions(
        frozenset({"a", "b", "c"}),
        frozenset({"x", "y"}),
        BroadcastFlags(volatile=True, compress=False),
    )
    assert start.options == BroadcastOptions()
