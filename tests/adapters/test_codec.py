"""The shared encodings, against bytes written by the Node encoders."""

from __future__ import annotations

import pytest

from aiosio.adapters.codec import (
    decode_message,
    encode_message,
    has_binary,
    load,
    message_from,
    pack,
    to_json,
    unpack,
)
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.exceptions import RemoteProtocolError

# encode([undefined, new Date(1700000000123), 1.5, 3, -1, Buffer<09 08 07>, {a: null}])
# with @msgpack/msgpack 2.8 (the Postgres packages' encoder) in Node 20.
MSGPACK_JS_ODDITIES = bytes.fromhex(
    "97c0d7ff1d5353006553f100cb3ff800000000000003ffc40309080781a161c0"
)
# encode({uid: "abc", nsp: "/", type: 3, data: {packet: ..., opts: ...}}), same encoder.
MSGPACK_JS_BROADCAST = bytes.fromhex(
    "84a3756964a3616263a36e7370a12fa47479706503a46461746182a67061636b657483a47479706502a4"
    "6461746192a26576c4020102a36e7370a12fa46f70747383a5726f6f6d7391a172a665786365707490a5"
    "666c61677380"
)


def test_unpack_reads_msgpack_js_dates_as_iso_strings() -> None:
    assert unpack(MSGPACK_JS_ODDITIES) == [
        None,
        "2023-11-14T22:13:20.123Z",
        1.5,
        3,
        -1,
        b"\x09\x08\x07",
        {"a": None},
    ]


def test_a_msgpack_js_message_decodes_with_its_bytes() -> None:
    assert decode_message(MSGPACK_JS_BROADCAST) == ClusterMessage(
        MessageType.BROADCAST,
        "abc",
        "/",
        {
            "packet": {"type": 2, "data": ["ev", b"\x01\x02"], "nsp": "/"},
            "opts": {"rooms": ["r"], "except": [], "flags": {}},
        },
    )


def test_messages_are_json_unless_they_hold_bytes() -> None:
    plain = ClusterMessage(MessageType.HEARTBEAT, "u1", "/chat")
    assert encode_message(plain) == b'{"uid":"u1","nsp":"/chat","type":2}'
    assert decode_message(encode_message(plain)) == plain
    binary = ClusterMessage(MessageType.SERVER_SIDE_EMIT, "u1", "/", {"packet": ["x", b"\x00"]})
    assert encode_message(binary)[:1] != b"{"
    assert decode_message(encode_message(binary)) == binary


def test_a_message_without_nsp_takes_the_one_given() -> None:
    message = message_from({"uid": "emitter", "type": 3, "data": {}}, "/admin")
    assert message == ClusterMessage(MessageType.BROADCAST, "emitter", "/admin", {})


@pytest.mark.parametrize(
    "value",
    [[], {"type": 99}, {"type": 3, "uid": 5}, {"type": 3, "data": [1]}, {"type": "x"}],
)
def test_malformed_messages_are_refused(value: object) -> None:
    with pytest.raises(RemoteProtocolError):
        message_from(value)


def test_json_as_node_writes_it_and_depth_limits() -> None:
    assert to_json({"b": b"\x01", "s": (1, 2)}) == b'{"b":{"type":"Buffer","data":[1]},"s":[1,2]}'
    assert has_binary({"a": [1, {"b": memoryview(b"x")}]}) and not has_binary({"a": [1, "x"]})
    with pytest.raises(RemoteProtocolError):
        load(b'{"a":' + b"[" * 200 + b"]" * 200 + b"}")
    deep: object = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(RemoteProtocolError, match="deeply"):
        unpack(pack(deep))
    with pytest.raises(RemoteProtocolError, match="invalid msgpack"):
        unpack(b"\xc1")
