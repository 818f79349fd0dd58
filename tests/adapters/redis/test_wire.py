"""The Redis formats, against bytes written by notepack.io (the Node packages' encoder)."""

from __future__ import annotations

from typing import Any

import pytest

from aiosio.adapters.cluster import ClusterMessage, MessageType
from aiosio.adapters.codec import decode_message, encode_message, pack, unpack
from aiosio.adapters.redis.wire import (
    ClassicChannels,
    decode_classic_broadcast,
    decode_classic_request,
    decode_classic_response,
    encode_classic,
)
from aiosio.exceptions import RemoteProtocolError

# notepack.encode(...) in Node 20, notepack.io 3.0.1 (the redis-adapter's encoder).
NODE_BROADCAST = bytes.fromhex(
    "93a7656d697474657283a47479706502a46461746192a46e657773c4020102a36e7370a12f83a5726f6f6d"
    "7391a172a5666c61677380a665786365707490"
)  # ["emitter", {type: 2, data: ["news", Buffer<01 02>], nsp: "/"}, {rooms: ["r"], ...}]
NODE_ODDITIES = bytes.fromhex("96d40000d7000000018bcfe5687bcb3ff800000000000003ffc70300090807")
# [undefined, new Date(1700000000123), 1.5, 3, -1, ArrayBuffer<09 08 07>]
NODE_ACK_REQUEST = bytes.fromhex(
    "85a3756964a3616263a9726571756573744964a27831a47479706507a67061636b657483a47479706502a4"
    "6461746191a361736ba36e7370a12fa46f70747383a5726f6f6d7391a4726f6f6da665786365707490a566"
    "6c61677381a774696d656f7574cd0bb8"
)  # a broadcast with acks, request type 7, timeout 3000 ms

CHANNELS = ClassicChannels("socket.io", "/")


def test_unpack_reads_notepack_extensions() -> None:
    assert unpack(NODE_ODDITIES) == [
        None,
        "2023-11-14T22:13:20.123Z",
        1.5,
        3,
        -1,
        b"\x09\x08\x07",
    ]


def test_classic_broadcast_from_node() -> None:
    message = decode_classic_broadcast(NODE_BROADCAST, "/")
    assert message == ClusterMessage(
        MessageType.BROADCAST,
        "emitter",
        "/",
        {
            "packet": {"type": 2, "data": ["news", b"\x01\x02"], "nsp": "/"},
            "opts": {"rooms": ["r"], "flags": {}, "except": []},
        },
    )
    # What we write decodes to the same value (key order aside).
    channel, payload = encode_classic(message, CHANNELS)
    assert channel == "socket.io#/#r#"
    assert unpack(payload) == unpack(NODE_BROADCAST)


def test_classic_broadcast_with_acks_from_node() -> None:
    message = decode_classic_request(NODE_ACK_REQUEST, "/")
    assert isinstance(message, ClusterMessage)
    assert message.type is MessageType.BROADCAST
    assert message.uid == "abc"
    assert message.data["requestId"] == "x1"
    assert message.data["opts"]["flags"] == {"timeout": 3000}
    channel, payload = encode_classic(message, CHANNELS)
    assert channel == "socket.io-request#/#"
    assert unpack(payload) == unpack(NODE_ACK_REQUEST)


REQUESTS = [
    pytest.param(
        ClusterMessage(
            MessageType.SOCKETS_JOIN,
            "u",
            "/",
            {"opts": {"rooms": ["a"], "except": [], "flags": {}}, "rooms": ["b"]},
        ),
        b'{"uid":"u","type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}',
        id="remote-join",
    ),
    pytest.param(
        ClusterMessage(
            MessageType.DISCONNECT_SOCKETS,
            "u",
            "/",
            {"opts": {"rooms": [], "except": ["x"], "flags": {}}, "close": True},
        ),
        b'{"uid":"u","type":4,"close":true,"opts":{"rooms":[],"except":["x"]}}',
        id="remote-disconnect",
    ),
    pytest.param(
        ClusterMessage(MessageType.SERVER_SIDE_EMIT, "u", "/", {"packet": ["hi", 1]}),
        b'{"uid":"u","type":6,"data":["hi",1]}',
        id="server-side-emit",
    ),
]


@pytest.mark.parametrize(("message", "wire"), REQUESTS)
def test_classic_requests_are_json(message: ClusterMessage, wire: bytes) -> None:
    channel, payload = encode_classic(message, CHANNELS)
    assert (channel, payload) == ("socket.io-request#/#", wire)
    decoded = decode_classic_request(payload, "/")
    assert isinstance(decoded, ClusterMessage)
    assert decoded.type is message.type


RESPONSES = [
    pytest.param(b'{"requestId":"r","sockets":[{"id":"s"}]}', MessageType.FETCH_SOCKETS_RESPONSE),
    pytest.param(b'{"type":6,"requestId":"r","data":"ok"}', MessageType.SERVER_SIDE_EMIT_RESPONSE),
    pytest.param(b'{"type":8,"requestId":"r","clientCount":2}', MessageType.BROADCAST_CLIENT_COUNT),
    pytest.param(pack({"type": 9, "requestId": "r", "packet": b"\x01"}), MessageType.BROADCAST_ACK),
]


@pytest.mark.parametrize(("wire", "kind"), RESPONSES)
def test_classic_responses(wire: bytes, kind: MessageType) -> None:
    message = decode_classic_response(wire, "/")
    assert message is not None and message.type is kind
    assert message.data["requestId"] == "r"


def test_classic_response_to_a_specific_server() -> None:
    message = ClusterMessage(
        MessageType.BROADCAST_CLIENT_COUNT, "me", "/", {"requestId": "r", "clientCount": 1}
    )
    channel, _ = encode_classic(message, CHANNELS, to="them")
    assert channel == "socket.io-response#/#them#"


def test_sharded_messages_are_json_unless_binary() -> None:
    text = ClusterMessage(MessageType.SERVER_SIDE_EMIT, "u", "/", {"packet": ["a"]})
    assert encode_message(text) == b'{"uid":"u","nsp":"/","type":9,"data":{"packet":["a"]}}'
    assert decode_message(encode_message(text)) == text
    binary = ClusterMessage(MessageType.BROADCAST_ACK, "u", "/", {"requestId": "r", "packet": b"1"})
    assert encode_message(binary)[:1] != b"{"
    assert decode_message(encode_message(binary)) == binary


BAD = [
    pytest.param(b"\xc1", id="reserved-byte"),
    pytest.param(b"{not json", id="bad-json"),
    pytest.param(b'{"type": 99}', id="unknown-type"),
    pytest.param(b"[1, 2]", id="not-an-object"),
    pytest.param(pack([1]), id="msgpack-array"),
    pytest.param(b"\x91" * 200 + b"\xc0", id="too-deep"),
]


@pytest.mark.parametrize("wire", BAD)
def test_bad_payloads_raise_remote_protocol_error(wire: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_message(wire)


@pytest.mark.parametrize("wire", [b"\x92\x01\x02", b"\xa1x", pack({"a": 1})])
def test_bad_classic_broadcasts(wire: Any) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_classic_broadcast(wire, "/")
