"""The parser option: JSON (default) and the socket.io-msgpack-parser format."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosio.socketio.packets import (
    ACK,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    Packet,
    PacketType,
)
from aiosio.socketio.parsers import JSONParser, MsgpackParser, ack_slot, get_parser

LIMITS = {"max_attachments": 10, "max_depth": 64, "max_attachment_size": None}


def test_json_parser_writes_engine_messages() -> None:
    parser = JSONParser()
    assert parser.encode_event("/", ["hi", 1]) == ['42["hi",1]']
    assert parser.encode_event("/chat", ["b", b"\x01"], 3) == [
        '451-/chat,3["b",{"_placeholder":true,"num":0}]',
        b"\x01",
    ]
    assert parser.encode_ack("/", [], 5) == ["435[]"]
    assert parser.encode(Packet(CONNECT, "/", {"sid": "x"})) == ['40{"sid":"x"}']
    decoder = parser.decoder(**LIMITS)
    assert decoder.receive_text('2["hi"]') == Packet(EVENT, "/", ["hi"])


def test_msgpack_matches_the_official_layout() -> None:
    parser = MsgpackParser()
    (wire,) = parser.encode_event("/", ["x", b"\x01"], 7)
    assert isinstance(wire, bytes)
    assert msgpack.unpackb(wire) == {"type": 2, "nsp": "/", "data": ["x", b"\x01"], "id": 7}
    (ack,) = parser.encode_ack("/a", ["ok"], 0)
    assert msgpack.unpackb(ack) == {"type": 3, "nsp": "/a", "data": ["ok"], "id": 0}
    (connect,) = parser.encode(Packet(CONNECT, "/", {"sid": "s"}))
    assert msgpack.unpackb(connect) == {"type": 0, "nsp": "/", "data": {"sid": "s"}}


def test_msgpack_reads_notepack_undefined_as_none() -> None:
    # notepack.io writes {type: 0, nsp: "/", data: undefined} as fixext 1 (type 0, byte 0).
    wire = bytes.fromhex("83a47479706500a36e7370a12fa464617461d40000")
    decoder = MsgpackParser().decoder(**LIMITS)
    assert decoder.receive_binary(wire) == Packet(CONNECT, "/")


@pytest.mark.parametrize(
    "message",
    [
        pytest.param([1, 2], id="not-a-map"),
        pytest.param({"type": 9, "nsp": "/"}, id="bad-type"),
        pytest.param({"type": 2, "nsp": "x", "data": ["a"]}, id="bad-namespace"),
        pytest.param({"type": 2, "nsp": "/", "data": "a"}, id="event-not-array"),
        pytest.param({"type": 2, "nsp": "/", "data": ["connect"]}, id="reserved-event"),
        pytest.param({"type": 2, "nsp": "/", "data": ["a"], "id": -1}, id="negative-id"),
        pytest.param({"type": 2, "nsp": "/", "data": ["a"], "id": "1"}, id="string-id"),
        pytest.param({"type": 0, "nsp": "/", "data": [1]}, id="connect-array"),
        pytest.param({"type": 0, "nsp": "/", "data": {}, "id": 1}, id="connect-with-id"),
        pytest.param({"type": 1, "nsp": "/", "data": {}}, id="disconnect-payload"),
        pytest.param({"type": 3, "nsp": "/", "data": []}, id="ack-without-id"),
        pytest.param({"type": 4, "nsp": "/", "data": 1}, id="connect-error-number"),
    ],
)
def test_msgpack_rejects_what_the_official_decoder_rejects(message: object) -> None:
    decoder = MsgpackParser().decoder(**LIMITS)
    with pytest.raises(RemoteProtocolError):
        decoder.receive_binary(msgpack.packb(message))


def test_msgpack_refuses_text_garbage_extensions_and_deep_nesting() -> None:
    decoder = MsgpackParser().decoder(**LIMITS)
    with pytest.raises(RemoteProtocolError):
        decoder.receive_text("42[]")
    with pytest.raises(RemoteProtocolError):
        decoder.receive_binary(b"\xc1")
    with pytest.raises(RemoteProtocolError):
        decoder.receive_binary(
            msgpack.packb({"type": 2, "nsp": "/", "data": ["a", msgpack.ExtType(5, b"")]})
        )
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    with pytest.raises(RemoteProtocolError):
        decoder.receive_binary(msgpack.packb({"type": 2, "nsp": "/", "data": ["a", deep]}))
    decoder.reset()


def test_msgpack_other_packet_types_round_trip() -> None:
    parser = MsgpackParser()
    decoder = parser.decoder(**LIMITS)
    for packet in (
        Packet(DISCONNECT, "/x"),
        Packet(CONNECT_ERROR, "/", {"message": "no"}),
        Packet(CONNECT_ERROR, "/", "old style"),
        Packet(ACK, "/", [b"\x00", {"k": [1.5, None]}], 2),
    ):
        (wire,) = parser.encode(packet)
        assert decoder.receive_binary(wire) == packet  # type: ignore[arg-type]


def test_msgpack_unencodable_data_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        MsgpackParser().encode_event("/", ["x", object()])


def test_get_parser() -> None:
    assert isinstance(get_parser(None), JSONParser)
    assert isinstance(get_parser("json"), JSONParser)
    assert isinstance(get_parser("msgpack"), MsgpackParser)
    custom = MsgpackParser()
    assert get_parser(custom) is custom
    with pytest.raises(ValueError, match="unknown parser"):
        get_parser("yaml")


_JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.text(min_size=1, max_size=10).filter(
        lambda s: (
            s
            not in {
                "connect",
                "connect_error",
                "disconnect",
                "disconnecting",
                "newListener",
                "removeListener",
            }
        )
    ),
    st.lists(_JSONISH, max_size=4),
    st.none() | st.integers(0, 2**53 - 1),
)
def test_msgpack_round_trip(event: str, args: list[object], id: int | None) -> None:
    parser = MsgpackParser()
    (wire,) = parser.encode_event("/", [event, *args], id)
    decoder = parser.decoder(**LIMITS)
    assert decoder.receive_binary(wire) == Packet(EVENT, "/", [event, *args], id)  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_msgpack_decoder_raises_only_protocol_errors(data: bytes) -> None:
    decoder = MsgpackParser().decoder(**LIMITS)
    with contextlib.suppress(RemoteProtocolError):
        decoder.receive_binary(data)


def test_msgpack_folds_binary_types_and_checks_namespace_limits() -> None:
    parser = MsgpackParser()
    (wire,) = parser.encode(Packet(PacketType.BINARY_ACK, "/", [b"\x01"], 1))
    assert msgpack.unpackb(wire)["type"] == 3
    (wire,) = parser.encode(Packet(PacketType.BINARY_EVENT, "/", ["e", b"\x01"]))
    assert msgpack.unpackb(wire)["type"] == 2
    decoder = parser.decoder(**LIMITS)
    with pytest.raises(RemoteProtocolError):
        decoder.receive_binary(msgpack.packb({"type": 2, "nsp": "/\x00", "data": ["a"]}))


@given(
    st.sampled_from(["/", "/chat", "/a-b_c", "/x[y]"]),
    st.lists(_JSONISH, max_size=4),
    st.lists(st.integers(0, 2**53 - 1), min_size=1, max_size=3),
)
def test_an_ack_slot_is_the_event_encoded_with_each_id(
    namespace: str, args: list[object], ids: list[int]
) -> None:
    slot = ack_slot(JSONParser(), namespace, ["question", *args])
    assert slot is not None
    for id in ids:  # one encoding, every recipient's id
        assert slot.items(id) == JSONParser.encode_event(namespace, ["question", *args], id)


def test_an_ack_slot_refuses_what_encode_event_refuses_and_msgpack_has_none() -> None:
    with pytest.raises(LocalProtocolError):
        ack_slot(JSONParser(), "/", ["disconnect"])
    with pytest.raises(LocalProtocolError):
        ack_slot(JSONParser(), "no-slash", ["e"])
    assert ack_slot(MsgpackParser(), "/", ["e", 1]) is None
