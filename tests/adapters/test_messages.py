"""The messages between the servers of a cluster, and the codecs of their parts (options,
packets, socket details), as socket.io-adapter's ``ClusterAdapter`` writes them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

import aiosio
import aiosio.testing
from aiosio.adapters.base import BroadcastFlags, BroadcastOptions
from aiosio.adapters.messages import (
    RESPONSES,
    ClusterMessage,
    MessageType,
    decode_options,
    decode_packet,
    encode_options,
    encode_packet,
    names,
    socket_details,
)
from aiosio.exceptions import RemoteProtocolError
from aiosio.socketio.packets import EVENT, Packet

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 2.0) -> T:
    async with asyncio.timeout(seconds):
        return await pending


# -- message types ---------------------------------------------------------------------------------


def test_message_types_are_the_references_numbers() -> None:
    assert {member.name: int(member) for member in MessageType} == {
        "INITIAL_HEARTBEAT": 1,
        "HEARTBEAT": 2,
        "BROADCAST": 3,
        "SOCKETS_JOIN": 4,
        "SOCKETS_LEAVE": 5,
        "DISCONNECT_SOCKETS": 6,
        "FETCH_SOCKETS": 7,
        "FETCH_SOCKETS_RESPONSE": 8,
        "SERVER_SIDE_EMIT": 9,
        "SERVER_SIDE_EMIT_RESPONSE": 10,
        "BROADCAST_CLIENT_COUNT": 11,
        "BROADCAST_ACK": 12,
        "ADAPTER_CLOSE": 13,
    }
    assert MessageType(3) is MessageType.BROADCAST
    with pytest.raises(ValueError):
        MessageType(14)


def test_responses_are_the_answers_to_requests() -> None:
    assert {
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    } == RESPONSES
    assert isinstance(RESPONSES, frozenset)
    assert 8 in RESPONSES  # an IntEnum: the number read off the wire finds it
    assert MessageType.BROADCAST not in RESPONSES


def test_cluster_message() -> None:
    message = ClusterMessage(MessageType.HEARTBEAT, "uid1", "/")
    assert message.data == {}
    assert ClusterMessage(MessageType.HEARTBEAT, "uid2", "/").data is not message.data
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.uid = "other"  # type: ignore[misc]
    assert message == ClusterMessage(MessageType.HEARTBEAT, "uid1", "/", {})
    assert message != ClusterMessage(MessageType.HEARTBEAT, "uid1", "/news")


# -- options ---------------------------------------------------------------------------------------


def test_encode_options_defaults() -> None:
    assert encode_options(BroadcastOptions()) == {"rooms": [], "except": [], "flags": {}}


def test_encode_options_sorts_rooms_and_writes_only_set_flags() -> None:
    options = BroadcastOptions(
        frozenset({"b", "a"}),
        frozenset({"z", "y"}),
        BroadcastFlags(volatile=True, compress=False, local=True, timeout=1.2344),
    )
    assert encode_options(options) == {
        "rooms": ["a", "b"],
        "except": ["y", "z"],
        "flags": {"volatile": True, "compress": False, "local": True, "timeout": 1234},
    }
    assert encode_options(BroadcastOptions(flags=BroadcastFlags(timeout=0.0016)))["flags"] == {
        "timeout": 2  # rounded to whole milliseconds
    }
    assert encode_options(BroadcastOptions(flags=BroadcastFlags(timeout=2)))["flags"] == {
        "timeout": 2000
    }


def test_options_round_trip_except_local() -> None:
    options = BroadcastOptions(
        frozenset({"r", "s"}),
        frozenset({"sid"}),
        BroadcastFlags(volatile=True, compress=False, local=True, timeout=2.5),
    )
    decoded = decode_options(encode_options(options))
    # "local" means "not forwarded": what came from another server is never local here.
    assert decoded == dataclasses.replace(
        options, flags=dataclasses.replace(options.flags, local=False)
    )
    assert decode_options(encode_options(BroadcastOptions())) == BroadcastOptions()


def test_decode_options_as_node_writes_them() -> None:
    decoded = decode_options({"rooms": ["a", 1, 2.0, 2.5], "except": None, "flags": None})
    assert decoded == BroadcastOptions(frozenset({"a", "1", "2", "2.5"}))
    assert decode_options({}) == BroadcastOptions()
    assert decode_options({"flags": {"timeout": 1500}}).flags.timeout == 1.5
    assert decode_options({"flags": {"timeout": "1500"}}).flags.timeout is None
    assert decode_options({"flags": {"compress": None}}).flags.compress is True
    assert decode_options({"flags": {"compress": 0}}).flags.compress is True  # only False
    assert decode_options({"flags": {"volatile": 1}}).flags.volatile is True
    assert decode_options({"flags": {"local": True}}).flags.local is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "broadcast options must be an object"),
        ([], "broadcast options must be an object"),
        ({"flags": "volatile"}, "broadcast flags must be an object"),
        ({"flags": [1]}, "broadcast flags must be an object"),
        ({"rooms": "a"}, "rooms must be a list"),
        ({"rooms": [None]}, "rooms must hold strings"),
        ({"rooms": [True]}, "rooms must hold strings"),
        ({"except": {"a": 1}}, "except must be a list"),
        ({"except": [["a"]]}, "except must hold strings"),
    ],
)
def test_decode_options_refuses_bad_shapes(value: Any, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        decode_options(value)


def test_names() -> None:
    assert names(None, "rooms") == frozenset()
    assert names([], "rooms") == frozenset()
    assert names(["a", "a", 3, -1.0, 0.25], "rooms") == frozenset({"a", "3", "-1", "0.25"})
    with pytest.raises(RemoteProtocolError, match=r"^things must be a list$"):
        names(("a",), "things")
    with pytest.raises(RemoteProtocolError, match=r"^things must hold strings$"):
        names([False], "things")


# -- packets ---------------------------------------------------------------------------------------


def test_encode_packet() -> None:
    packet = Packet(EVENT, "/news", ["hello", 1, b"\x00"])
    assert encode_packet(packet) == {"type": 2, "data": ["hello", 1, b"\x00"], "nsp": "/news"}
    assert type(encode_packet(packet)["type"]) is int


def test_decode_packet() -> None:
    value = {"type": 2, "data": ["hello", {"a": 1}], "nsp": "/ignored"}
    assert decode_packet(value, "/news") == Packet(EVENT, "/news", ["hello", {"a": 1}])
    # A binary event (5) is an event with its bytes inline.
    assert decode_packet({"type": 5, "data": ["f", b"\x01"]}, "/") == Packet(
        EVENT, "/", ["f", b"\x01"]
    )
    # Event names may be numbers, as Node allows.
    assert decode_packet({"type": 2, "data": [7]}, "/").data == [7]
    assert decode_packet({"type": 2, "data": [1.5, "x"]}, "/").data == [1.5, "x"]


def test_packet_round_trip() -> None:
    packet = Packet(EVENT, "/chat", ["msg", "hi", [1, 2]])
    assert decode_packet(encode_packet(packet), "/chat") == packet


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("42[]", "packet must be an object"),
        ({"type": 3, "data": ["e"]}, "packet must be an EVENT"),
        ({"type": "2", "data": ["e"]}, "packet must be an EVENT"),
        ({"data": ["e"]}, "packet must be an EVENT"),
        ({"type": 2}, "packet must be an EVENT"),
        ({"type": 2, "data": []}, "packet must be an EVENT"),
        ({"type": 2, "data": {"0": "e"}}, "packet must be an EVENT"),
        ({"type": 2, "data": [None]}, "event name must be a string"),
        ({"type": 2, "data": [True]}, "event name must be a string"),
        ({"type": 2, "data": [["e"]]}, "event name must be a string"),
    ],
)
def test_decode_packet_refuses_what_is_not_an_event(value: Any, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        decode_packet(value, "/")


# -- socket details --------------------------------------------------------------------------------


async def test_socket_details_of_a_connected_socket() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.join(["zeta", "alpha"])
        socket.data = {"user": socket.handshake.auth.get("user")}
        sockets.put_nowait(socket)

    async with aiosio.testing.connect(io, auth={"user": "ann"}, query={"q": "1"}):
        socket = await within(sockets.get())
        details = socket_details(socket)
        assert set(details) == {"id", "handshake", "rooms", "data"}
        assert details["id"] == socket.id
        assert details["rooms"] == sorted(["zeta", "alpha", socket.id])
        assert details["data"] == {"user": "ann"}
        handshake = details["handshake"]
        # Every field, and the time (a property: formatted only when asked for).
        assert handshake == {**dataclasses.asdict(socket.handshake), "time": socket.handshake.time}
        assert handshake["time"].endswith(" GMT")
        assert handshake["auth"] == {"user": "ann"} and handshake["query"]["q"] == "1"
        assert handshake["headers"] is not socket.handshake.headers  # a copy
        # What another server makes of it.
        remote = io.of("/").remote_socket(details)
        assert (remote.id, remote.rooms, remote.data) == (
            socket.id,
            socket.rooms,
            {"user": "ann"},
        )


@pytest.mark.parametrize("flags", [[], 0, "", False, [1], "x", 1])
def test_decode_options_refuses_flags_that_are_not_an_object(flags: Any) -> None:
    with pytest.raises(RemoteProtocolError, match=r"^broadcast flags must be an object$"):
        decode_options({"flags": flags})


@pytest.mark.parametrize("timeout", [True, False, None, "1", [1]])
def test_decode_options_takes_only_a_number_as_timeout(timeout: Any) -> None:
    assert decode_options({"flags": {"timeout": timeout}}).flags.timeout is None
    assert decode_options({"flags": {"timeout": 0}}).flags.timeout == 0
    assert decode_options({"flags": {"timeout": 2.5}}).flags.timeout == 0.0025
