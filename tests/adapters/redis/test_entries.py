"""The formats of @socket.io/redis-streams-adapter 0.3 (``adapter.ts``), as pure functions."""

from __future__ import annotations

import base64

import msgpack
import pytest

from aiosio.adapters.base import BroadcastFlags, BroadcastOptions, Session
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.adapters.redis.entries import (
    decode_entry,
    decode_pubsub,
    decode_session,
    encode_entry,
    encode_pubsub,
    encode_session,
    includes,
    is_ephemeral,
    next_offset,
    parse_offset,
)
from aiosio.exceptions import RemoteProtocolError

BROADCAST = MessageType.BROADCAST
PACKET = {"type": 2, "data": ["news", 1]}
OPTS = {"rooms": ["r"], "except": [], "flags": {}}


def message(type: MessageType, data: dict[str, object] | None = None) -> ClusterMessage:
    return ClusterMessage(type, "uid1", "/", data or {})


def test_entries_are_strings_with_json_data() -> None:
    # adapter.ts encode(): {uid, nsp, type: type.toString(), data: JSON.stringify(data)}
    entry = encode_entry(message(BROADCAST, {"packet": PACKET, "opts": OPTS}))
    assert entry == {
        "uid": "uid1",
        "nsp": "/",
        "type": "3",
        "data": '{"packet":{"type":2,"data":["news",1]},'
        '"opts":{"rooms":["r"],"except":[],"flags":{}}}',
    }
    assert decode_entry({k.encode(): v.encode() for k, v in entry.items()}) == message(
        BROADCAST, {"packet": PACKET, "opts": OPTS}
    )


def test_binary_data_is_base64_msgpack() -> None:
    data = {"packet": {"type": 2, "data": ["blob", b"\x00\x01"]}, "opts": OPTS}
    entry = encode_entry(message(BROADCAST, data))
    assert msgpack.unpackb(base64.b64decode(entry["data"])) == data
    assert decode_entry(entry).data == data


def test_binary_stays_json_where_the_reference_expects_none() -> None:
    # SOCKETS_JOIN is not in mayContainBinary: JSON.stringify turns a Buffer into an object.
    entry = encode_entry(message(MessageType.SOCKETS_JOIN, {"opts": OPTS, "rooms": [b"\x01"]}))
    assert entry["data"].startswith("{")


def test_messages_without_data_have_no_data_field() -> None:
    assert encode_entry(message(MessageType.HEARTBEAT)) == {"uid": "uid1", "nsp": "/", "type": "2"}
    assert decode_entry({"uid": "u", "nsp": "/", "type": "2"}).data == {}


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"type": "99", "nsp": "/"}, id="unknown-type"),
        pytest.param({"type": "x", "nsp": "/"}, id="type-not-a-number"),
        pytest.param({"type": "3", "nsp": "/", "data": "{oops"}, id="bad-json"),
        pytest.param({"type": "3", "nsp": "/", "data": "!!!"}, id="bad-base64"),
        pytest.param({"type": "3", "nsp": "/", "data": "kQE="}, id="msgpack-not-an-object"),
        pytest.param({b"type": b"\xff", b"nsp": b"/"}, id="not-utf8"),
        pytest.param({"type": 3, "nsp": "/"}, id="not-a-string"),
    ],
)
def test_bad_entries_raise_remote_protocol_error(fields: dict[object, object]) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_entry(fields)


def test_pubsub_messages_are_msgpack() -> None:
    # doPublish() of ephemeral messages and doPublishResponse(): msgpack.encode(message)
    sent = message(MessageType.FETCH_SOCKETS, {"opts": OPTS, "requestId": "r1"})
    payload = encode_pubsub(sent)
    assert msgpack.unpackb(payload) == {
        "uid": "uid1",
        "nsp": "/",
        "type": 7,
        "data": {"opts": OPTS, "requestId": "r1"},
    }
    assert decode_pubsub(payload) == sent


@pytest.mark.parametrize(
    ("sent", "ephemeral"),
    [
        pytest.param(message(BROADCAST, {"packet": PACKET, "opts": OPTS}), False, id="broadcast"),
        pytest.param(message(BROADCAST, {"requestId": "1"}), True, id="broadcast-with-ack"),
        pytest.param(message(MessageType.SERVER_SIDE_EMIT), True, id="server-side-emit"),
        pytest.param(message(MessageType.FETCH_SOCKETS), True, id="fetch-sockets"),
        pytest.param(message(MessageType.SOCKETS_JOIN), False, id="sockets-join"),
        pytest.param(message(MessageType.DISCONNECT_SOCKETS), False, id="disconnect"),
    ],
)
def test_what_goes_over_pubsub(sent: ClusterMessage, ephemeral: bool) -> None:
    assert is_ephemeral(sent) is ephemeral


def test_sessions_as_node_writes_them() -> None:
    # persistSession(): Buffer.from(msgpack.encode({sid, pid, rooms, data})).toString("base64")
    node = base64.b64encode(
        msgpack.packb({"sid": "s1", "pid": "p1", "rooms": ["s1", "r"], "data": {"a": 1}})
    )
    assert decode_session(node) == Session("s1", "p1", ["s1", "r"], {"a": 1})
    ours = Session("s1", "p1", ["s1", "r"], {"a": b"\x01"}, offset="5-0")
    assert decode_session(encode_session(ours)) == ours
    fields = msgpack.unpackb(base64.b64decode(encode_session(ours)))
    assert list(fields) == ["sid", "pid", "rooms", "data", "firstOffset"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"%%%", id="bad-base64"),
        pytest.param(base64.b64encode(msgpack.packb([1])), id="not-an-object"),
        pytest.param(base64.b64encode(msgpack.packb({"sid": 1, "pid": "p"})), id="bad-sid"),
        pytest.param(
            base64.b64encode(msgpack.packb({"sid": "s", "pid": "p", "rooms": "r"})), id="bad-rooms"
        ),
    ],
)
def test_bad_sessions_raise_remote_protocol_error(text: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_session(text)


def test_offsets() -> None:
    assert parse_offset("1700000000000-3") == (1700000000000, 3)
    assert parse_offset("1-2-3") is None
    assert parse_offset("$") is None
    assert next_offset("1700000000000-3") == "1700000000000-4"  # nextOffset() for Redis < 6.2


@pytest.mark.parametrize(
    ("rooms", "except_", "included"),
    [
        pytest.param((), (), True, id="everyone"),
        pytest.param(("r",), (), True, id="its-room"),
        pytest.param(("other",), (), False, id="another-room"),
        pytest.param((), ("r",), False, id="its-room-excluded"),
        pytest.param(("sid",), (), True, id="its-own-id"),
        pytest.param(("r",), ("sid",), False, id="itself-excluded"),
    ],
)
def test_includes_as_should_include_packet(
    rooms: tuple[str, ...], except_: tuple[str, ...], included: bool
) -> None:
    options = BroadcastOptions(frozenset(rooms), frozenset(except_), BroadcastFlags())
    assert includes(["sid", "r"], options) is included
