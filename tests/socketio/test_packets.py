"""Tests for aiosio.socketio.packets: the spec's own examples, every error, and properties."""

from __future__ import annotations

import ast
import math
import pathlib
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosio.socketio import packets
from aiosio.socketio.packets import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    MAX_ACK_ID,
    RESERVED_EVENTS,
    Decoder,
    Packet,
    PacketType,
    decode,
    encode,
    encode_ack,
    encode_event,
)

B4 = b"\x01\x02\x03\x04"
PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'


def receive(text: str, attachments: Sequence[bytes] = (), **options: Any) -> Packet:
    """Feed one packet and its attachments to a fresh Decoder; return the complete packet."""
    decoder = Decoder(**options)
    result = decoder.receive_text(text)
    for index, attachment in enumerate(attachments):
        assert result is None
        assert decoder.awaiting == len(attachments) - index
        result = decoder.receive_binary(attachment)
    assert result is not None
    assert decoder.awaiting == 0
    return result


# -- the spec's examples (socket.io-protocol README, "Packet encoding > Examples") --------------

SPEC_EXAMPLES = [
    pytest.param(Packet(CONNECT, "/"), "0", [], id="connect-main"),
    pytest.param(
        Packet(CONNECT, "/", {"sid": "wZX3oN0bSVIhsaknAAAI"}),
        '0{"sid":"wZX3oN0bSVIhsaknAAAI"}',
        [],
        id="connect-main-sid",
    ),
    pytest.param(Packet(CONNECT, "/admin"), "0/admin,", [], id="connect-custom"),
    pytest.param(
        Packet(CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
        [],
        id="connect-custom-sid",
    ),
    pytest.param(
        Packet(CONNECT_ERROR, "/", {"message": "Not authorized"}),
        '4{"message":"Not authorized"}',
        [],
        id="connect-error",
    ),
    pytest.param(Packet(EVENT, "/", ["foo"]), '2["foo"]', [], id="event-main"),
    pytest.param(Packet(EVENT, "/admin", ["bar"]), '2/admin,["bar"]', [], id="event-custom"),
    pytest.param(
        Packet(EVENT, "/", ["baz", B4]), f'51-["baz",{PH0}]', [B4], id="binary-event-main"
    ),
    pytest.param(
        Packet(EVENT, "/admin", ["baz", b"\x01\x02", b"\x03\x04"]),
        f'52-/admin,["baz",{PH0},{PH1}]',
        [b"\x01\x02", b"\x03\x04"],
        id="binary-event-custom",
    ),
    pytest.param(Packet(EVENT, "/", ["foo"], id=12), '212["foo"]', [], id="ack-request"),
    pytest.param(Packet(ACK, "/", [], id=12), "312[]", [], id="ack-empty"),
    pytest.param(
        Packet(EVENT, "/admin", ["foo"], id=13), '2/admin,13["foo"]', [], id="ack-request-custom"
    ),
    pytest.param(Packet(ACK, "/admin", ["bar"], id=13), '3/admin,13["bar"]', [], id="ack-custom"),
    pytest.param(
        Packet(EVENT, "/", ["foo", B4], id=14),
        f'51-14["foo",{PH0}]',
        [B4],
        id="ack-request-binary",
    ),
    pytest.param(Packet(ACK, "/", ["bar"], id=14), '314["bar"]', [], id="ack-answer"),
    pytest.param(Packet(EVENT, "/", ["foo"], id=15), '215["foo"]', [], id="ack-request-2"),
    pytest.param(
        Packet(ACK, "/", ["bar", B4], id=15), f'61-15["bar",{PH0}]', [B4], id="binary-ack"
    ),
    pytest.param(Packet(DISCONNECT, "/"), "1", [], id="disconnect-main"),
    pytest.param(Packet(DISCONNECT, "/admin"), "1/admin,", [], id="disconnect-custom"),
    # "Sample session", and docs/protocol-notes.md: namespaces, CONNECT_ERROR, ack ids.
    pytest.param(Packet(EVENT, "/", ["hey", "Jude"]), '2["hey","Jude"]', [], id="sample-emit"),
    pytest.param(
        Packet(CONNECT_ERROR, "/x", {"message": "Invalid namespace"}),
        '4/x,{"message":"Invalid namespace"}',
        [],
        id="notes-invalid-namespace",
    ),
    pytest.param(Packet(ACK, "/", [], id=5), "35[]", [], id="notes-ack-no-args"),
    pytest.param(Packet(ACK, "/", ["a"], id=0), '30["a"]', [], id="notes-ack-id-zero"),
    pytest.param(
        Packet(ACK, "/admin", [b"x"], id=0), f"61-/admin,0[{PH0}]", [b"x"], id="notes-binary-ack"
    ),
]


@pytest.mark.parametrize(("packet", "wire", "attachments"), SPEC_EXAMPLES)
def test_encode_matches_spec(packet: Packet, wire: str, attachments: list[bytes]) -> None:
    assert encode(packet) == (wire, attachments)


@pytest.mark.parametrize(("packet", "wire", "attachments"), SPEC_EXAMPLES)
def test_decoder_matches_spec(packet: Packet, wire: str, attachments: list[bytes]) -> None:
    assert receive(wire, attachments) == packet


@pytest.mark.parametrize(("packet", "wire", "attachments"), SPEC_EXAMPLES)
def test_decode_matches_spec(packet: Packet, wire: str, attachments: list[bytes]) -> None:
    if attachments:
        with pytest.raises(RemoteProtocolError, match="binary"):
            decode(wire)
    else:
        assert decode(wire) == packet


# -- encoding ----------------------------------------------------------------------------------


def test_encode_event_helpers_match_encode() -> None:
    assert encode_event("/", ("echo", 1)) == ('2["echo",1]', [])
    assert encode_event("/", ["echo", {"a": 1}], 1) == ('21["echo",{"a":1}]', [])
    assert encode_event("/chat", ["m"], 0) == ('2/chat,0["m"]', [])
    assert encode_ack("/", [], 5) == ("35[]", [])
    assert encode_ack("/chat", ("a", None), MAX_ACK_ID) == (f'3/chat,{MAX_ACK_ID}["a",null]', [])
    assert encode(Packet(ACK, "/", None, 5)) == ("35[]", [])


def test_encode_writes_compact_raw_utf8() -> None:
    text, _ = encode_event("/", ["é", {"k": "日本", "n": [1, 2.5, True, None]}])
    assert text == '2["é",{"k":"日本","n":[1,2.5,true,null]}]'


def test_encode_numeric_event_names() -> None:
    assert encode_event("/", [1, "x"]) == ('2[1,"x"]', [])
    assert encode_event("/", (2.5,)) == ("2[2.5]", [])


def test_encode_accepts_other_sequences() -> None:
    assert encode_event("/", range(3)) == ("2[0,1,2]", [])
    assert encode_ack("/", range(2), 1) == ("31[0,1]", [])


def test_binary_types_without_bytes_are_written_plain() -> None:
    assert encode(Packet(BINARY_EVENT, "/", ["a"])) == ('2["a"]', [])
    assert encode(Packet(BINARY_ACK, "/", ["a"], 3)) == ('33["a"]', [])


def test_placeholders_are_numbered_depth_first() -> None:
    args = ["e", {"a": [b"0", {"b": b"1"}], "c": b"2"}, [[b"3"]], b"4"]
    text, attachments = encode_event("/", args)
    body = text[len("55-") :]
    assert text.startswith("55-")
    assert attachments == [b"0", b"1", b"2", b"3", b"4"]
    nums = [value["num"] for value in _placeholders(orjson.loads(body))]
    assert nums == [0, 1, 2, 3, 4]
    assert receive(text, attachments) == Packet(EVENT, "/", args)


def _placeholders(value: Any) -> list[dict[str, Any]]:
    """Placeholders of a decoded JSON value in document order."""
    if isinstance(value, dict):
        if value.get("_placeholder") is True:
            return [value]
        return [p for child in value.values() for p in _placeholders(child)]
    if isinstance(value, list):
        return [p for child in value for p in _placeholders(child)]
    return []


def test_encode_copies_bytearray_and_memoryview() -> None:
    buffer = bytearray(b"ab")
    text, attachments = encode_event("/", ["x", buffer, memoryview(b"cd"), b""])
    buffer[0] = 0
    assert text == f'53-["x",{PH0},{PH1},{{"_placeholder":true,"num":2}}]'
    assert attachments == [b"ab", b"cd", b""]
    assert all(type(attachment) is bytes for attachment in attachments)


def test_empty_attachments_round_trip() -> None:
    packet = Packet(ACK, "/a", [b"", [b""], {"k": b""}], 7)
    text, attachments = encode(packet)
    assert text.startswith("63-/a,7[")
    assert attachments == [b"", b"", b""]
    assert receive(text, attachments) == packet


NAMESPACE_256 = "/" + "a" * 255
NAMESPACE_256_UTF8 = "/" + "é" * 127 + "a"  # 1 + 254 + 1 bytes, 129 characters


@pytest.mark.parametrize(
    "namespace",
    ["/", "/a", "/a b", "/日本", "/\u200b", NAMESPACE_256, NAMESPACE_256_UTF8, "/a?b=1"],
)
def test_namespaces_round_trip(namespace: str) -> None:
    packet = Packet(EVENT, namespace, ["x"], 1)
    assert decode(encode(packet)[0]) == packet


BAD_NAMESPACES = [
    pytest.param("", id="empty"),
    pytest.param("admin", id="no-slash"),
    pytest.param("/a,b", id="comma"),
    pytest.param("/a\x00", id="nul"),
    pytest.param("/a\n", id="newline"),
    pytest.param("/\x7f", id="del"),
    pytest.param("/" + "a" * 65 + "\x85", id="c1-control-long"),
    pytest.param("/" + "a" * 256, id="257-bytes"),
    pytest.param("/" + "é" * 128, id="257-bytes-utf8"),
    pytest.param("/\ud800", id="surrogate"),
]


@pytest.mark.parametrize("namespace", BAD_NAMESPACES)
def test_encode_refuses_bad_namespaces(namespace: str) -> None:
    with pytest.raises(LocalProtocolError):
        encode_event(namespace, ["x"])
    with pytest.raises(LocalProtocolError):
        encode(Packet(CONNECT, namespace))


class Unserialisable:
    pass


def _cyclic() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


ENCODE_ERRORS = [
    pytest.param(Packet(EVENT, "/", []), id="event-empty"),
    pytest.param(Packet(EVENT, "/", None), id="event-none"),
    pytest.param(Packet(EVENT, "/", {"a": 1}), id="event-dict"),
    pytest.param(Packet(EVENT, "/", "abc"), id="event-str"),
    pytest.param(Packet(EVENT, "/", [""]), id="event-empty-name"),
    pytest.param(Packet(EVENT, "/", [True]), id="event-bool-name"),
    pytest.param(Packet(EVENT, "/", [None]), id="event-null-name"),
    pytest.param(Packet(EVENT, "/", [["a"]]), id="event-list-name"),
    *(
        pytest.param(Packet(EVENT, "/", [name]), id=f"reserved-{name}")
        for name in sorted(RESERVED_EVENTS)
    ),
    pytest.param(Packet(EVENT, "/", ["a"], -1), id="id-negative"),
    pytest.param(Packet(EVENT, "/", ["a"], MAX_ACK_ID + 1), id="id-2**53"),
    pytest.param(Packet(EVENT, "/", ["a", Unserialisable()]), id="unserialisable"),
    pytest.param(Packet(EVENT, "/", ["a", b"x", Unserialisable()]), id="binary-unserialisable"),
    pytest.param(Packet(EVENT, "/", ["a", {1: 2}]), id="non-str-key"),
    pytest.param(Packet(EVENT, "/", ["a", 2**64]), id="int-over-64-bits"),
    pytest.param(Packet(EVENT, "/", ["a", _cyclic()]), id="cyclic"),
    pytest.param(Packet(EVENT, "/", ["a", _cyclic(), b"x"]), id="cyclic-binary"),
    pytest.param(Packet(ACK, "/", [], None), id="ack-no-id"),
    pytest.param(Packet(ACK, "/", {"a": 1}, 1), id="ack-dict"),
    pytest.param(Packet(ACK, "/", [Unserialisable()], 1), id="ack-unserialisable"),
    pytest.param(Packet(ACK, "/", [b"x", Unserialisable()], 1), id="ack-binary-unserialisable"),
    pytest.param(Packet(CONNECT, "/", ["a"]), id="connect-list"),
    pytest.param(Packet(CONNECT, "/", "a"), id="connect-str"),
    pytest.param(Packet(CONNECT, "/", {"a": b"x"}), id="connect-bytes"),
    pytest.param(Packet(CONNECT, "/", {"a": Unserialisable()}), id="connect-unserialisable"),
    pytest.param(Packet(CONNECT, "/", None, 1), id="connect-id"),
    pytest.param(Packet(DISCONNECT, "/", {}), id="disconnect-payload"),
    pytest.param(Packet(CONNECT_ERROR, "/", None), id="connect-error-none"),
    pytest.param(Packet(CONNECT_ERROR, "/", ["a"]), id="connect-error-list"),
]


@pytest.mark.parametrize("packet", ENCODE_ERRORS)
def test_encode_refuses(packet: Packet) -> None:
    with pytest.raises(LocalProtocolError):
        encode(packet)


def test_encode_refuses_a_bool_ack_id() -> None:
    packet = Packet(EVENT, "/", ["a"], True)
    if packets._NATIVE:  # compiled, a bool where an int is declared is that int (1)
        assert encode(packet) == ('21["a"]', [])
        return
    with pytest.raises(LocalProtocolError):
        encode(packet)


# Fields of the wrong type. Compiled by mypyc (mypyc_build.py), Packet is a native class
# that checks the type of each field and refuses to build such a packet at all.
ILL_TYPED: list[Any] = [
    pytest.param(EVENT, "/", ["a"], "1", id="id-str"),
    pytest.param(EVENT, "/", ["a"], 1.0, id="id-float"),
    pytest.param(7, "/", None, None, id="unknown-type"),
]


@pytest.mark.parametrize(("ptype", "namespace", "data", "id"), ILL_TYPED)
def test_encode_refuses_ill_typed_fields(ptype: Any, namespace: str, data: Any, id: Any) -> None:
    try:
        packet = Packet(ptype, namespace, data, id)
    except TypeError:
        assert packets._NATIVE, "only the compiled Packet checks its field types"
        return
    with pytest.raises(LocalProtocolError):
        encode(packet)


@pytest.mark.parametrize("args", ["abc", b"abc", {"a": 1}, 5])
def test_encode_helpers_refuse_non_sequences(args: Any) -> None:
    with pytest.raises(LocalProtocolError, match="must be a list"):
        encode_event("/", args)
    with pytest.raises(LocalProtocolError, match="must be a list"):
        encode_ack("/", args, 1)


def test_encode_ack_refuses_missing_id() -> None:
    if packets._NATIVE:  # compiled (mypyc_build.py), the signature refuses None itself
        with pytest.raises(TypeError, match="int object expected"):
            encode_ack("/", [], None)  # type: ignore[arg-type]
        return
    with pytest.raises(LocalProtocolError, match="id"):
        encode_ack("/", [], None)  # type: ignore[arg-type]


def test_encode_accepts_old_string_connect_error() -> None:
    packet = Packet(CONNECT_ERROR, "/", "Not authorized")
    assert encode(packet) == ('4"Not authorized"', [])
    assert decode('4"Not authorized"') == packet


# -- decoding ----------------------------------------------------------------------------------

VALID = [
    pytest.param("2", Packet(EVENT), id="bare-event"),
    pytest.param("2/admin,", Packet(EVENT, "/admin"), id="bare-event-custom"),
    pytest.param("2/admin", Packet(EVENT, "/admin"), id="namespace-to-end"),
    pytest.param("0/admin", Packet(CONNECT, "/admin"), id="connect-without-comma"),
    pytest.param("0/,", Packet(CONNECT), id="main-namespace-spelled-out"),
    pytest.param('0{"token":"123"}', Packet(CONNECT, "/", {"token": "123"}), id="connect-auth"),
    pytest.param('2[1,"x"]', Packet(EVENT, "/", [1, "x"]), id="numeric-event"),
    pytest.param("2[1.5]", Packet(EVENT, "/", [1.5]), id="float-event"),
    pytest.param('20["a"]', Packet(EVENT, "/", ["a"], 0), id="id-zero"),
    pytest.param('2007["a"]', Packet(EVENT, "/", ["a"], 7), id="id-leading-zeros"),
    pytest.param(f'2{MAX_ACK_ID}["a"]', Packet(EVENT, "/", ["a"], MAX_ACK_ID), id="id-max"),
    pytest.param("31[]", Packet(ACK, "/", [], 1), id="ack-empty"),
    pytest.param('2 [ "a" , 1 ] ', Packet(EVENT, "/", ["a", 1]), id="whitespace-around-json"),
    pytest.param(
        f'2["a",{PH0}]', Packet(EVENT, "/", ["a", {"_placeholder": True, "num": 0}]), id="ph-text"
    ),
    pytest.param(
        '2["' + "[" * 100 + '"]', Packet(EVENT, "/", ["[" * 100]), id="brackets-in-string"
    ),
    pytest.param(
        '4"' + "{" * 100 + '"', Packet(CONNECT_ERROR, "/", "{" * 100), id="brackets-string-root"
    ),
    pytest.param('2/é,["é"]', Packet(EVENT, "/é", ["é"]), id="non-ascii"),
]


@pytest.mark.parametrize(("text", "packet"), VALID)
def test_decode_accepts(text: str, packet: Packet) -> None:
    assert decode(text) == packet
    assert Decoder().receive_text(text) == packet


def _nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    """A JSON array argument nested ``depth`` levels deep inside the payload array."""
    return '["e",' + opener * (depth - 1) + closer * (depth - 1) + "]"


def _nested_dict(depth: int) -> str:
    return '["e",' + '{"k":' * (depth - 1) + "1" + "}" * (depth - 1) + "]"


def test_depth_limit_is_exact() -> None:
    assert decode("2" + _nested(64)).data[0] == "e"
    assert decode("2" + _nested_dict(64)).data[0] == "e"
    assert decode("2" + _nested(5), max_depth=5).data[0] == "e"
    with pytest.raises(RemoteProtocolError, match="deeper"):
        decode("2" + _nested(65))
    with pytest.raises(RemoteProtocolError, match="deeper"):
        decode("2" + _nested_dict(65))
    with pytest.raises(RemoteProtocolError, match="deeper"):
        decode("2" + _nested(6), max_depth=5)
    with pytest.raises(RemoteProtocolError, match="deeper"):
        decode("0" + '{"a":' * 64 + "{}" + "}" * 64)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_hostile_depth_is_an_error_not_a_crash(depth: int) -> None:
    with pytest.raises(RemoteProtocolError):
        decode("2" + _nested(depth))
    with pytest.raises(RemoteProtocolError):
        Decoder().receive_text("51-" + _nested(depth)[:-1] + f",{PH0}]")


DECODE_ERRORS = [
    # type
    pytest.param("", id="empty"),
    pytest.param("7", id="type-7"),
    pytest.param("9[]", id="type-9"),
    pytest.param("a", id="type-letter"),
    pytest.param(" 2", id="leading-space"),
    pytest.param("٢", id="type-unicode-digit"),
    # JSON
    pytest.param('2["a"', id="json-truncated"),
    pytest.param('2["a"]x', id="json-trailing"),
    pytest.param("2[NaN]", id="json-nan"),
    pytest.param("2[Infinity]", id="json-infinity"),
    pytest.param("2[1e400]", id="json-overflow"),
    pytest.param("2abc", id="json-garbage"),
    pytest.param('2["\ud800"]', id="json-surrogate"),
    pytest.param("2null", id="event-null"),
    # EVENT
    pytest.param("2{}", id="event-object"),
    pytest.param("2[]", id="event-empty-array"),
    pytest.param('2"a"', id="event-string"),
    pytest.param("2[true]", id="event-bool-name"),
    pytest.param("2[null]", id="event-null-name"),
    pytest.param("2[[1]]", id="event-array-name"),
    pytest.param('2[{"a":1}]', id="event-object-name"),
    pytest.param('2[""]', id="event-empty-name"),
    *(
        pytest.param(f'2["{name}"]', id=f"event-reserved-{name}")
        for name in sorted(RESERVED_EVENTS)
    ),
    # ACK
    pytest.param("3[]", id="ack-without-id"),
    pytest.param("31", id="ack-without-payload"),
    pytest.param("31{}", id="ack-object"),
    pytest.param('31"a"', id="ack-string"),
    pytest.param("31null", id="ack-null"),
    # CONNECT / DISCONNECT / CONNECT_ERROR
    pytest.param("0[]", id="connect-array"),
    pytest.param('0"x"', id="connect-string"),
    pytest.param("0null", id="connect-null"),
    pytest.param("01{}", id="connect-with-id"),
    pytest.param("1{}", id="disconnect-object"),
    pytest.param("1[]", id="disconnect-array"),
    pytest.param('1/admin,"x"', id="disconnect-string"),
    pytest.param("1null", id="disconnect-null"),
    pytest.param("15", id="disconnect-with-id"),
    pytest.param("4", id="connect-error-bare"),
    pytest.param("4[]", id="connect-error-array"),
    pytest.param("41{}", id="connect-error-with-id"),
    # ack ids
    pytest.param('2-1["a"]', id="id-negative"),
    pytest.param(f'2{MAX_ACK_ID + 1}["a"]', id="id-2**53"),
    pytest.param("2" + "1" * 17 + '["a"]', id="id-17-digits"),
    pytest.param("2" + "9" * 5000 + '["a"]', id="id-5000-digits"),
    pytest.param('2\u0661["a"]', id="id-unicode-digit"),
    pytest.param('2²["a"]', id="id-superscript"),
    pytest.param('2 1["a"]', id="id-after-space"),
    # namespaces
    pytest.param('2/a\x00b,["x"]', id="namespace-nul"),
    pytest.param('2/a\tb,["x"]', id="namespace-tab"),
    pytest.param('2/\x85,["x"]', id="namespace-c1"),
    pytest.param('2/\ud800,["x"]', id="namespace-surrogate"),
    pytest.param("2/" + "a" * 256 + ',["x"]', id="namespace-257-bytes"),
    pytest.param("2/" + "é" * 128 + ',["x"]', id="namespace-257-bytes-utf8"),
    pytest.param('2/a,-["x"]', id="namespace-then-garbage"),
    # binary headers are for the Decoder only
    pytest.param(f'51-["a",{PH0}]', id="binary-event-header"),
    pytest.param(f"61-1[{PH0}]", id="binary-ack-header"),
]


@pytest.mark.parametrize("text", DECODE_ERRORS)
def test_decode_refuses(text: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(text)


@pytest.mark.parametrize("text", [p for p in DECODE_ERRORS if "binary" not in str(p.id)])
def test_decoder_refuses_and_stays_usable(text: str) -> None:
    decoder = Decoder()
    with pytest.raises(RemoteProtocolError):
        decoder.receive_text(text)
    assert decoder.awaiting == 0
    assert decoder.receive_text('2["ok"]') == Packet(EVENT, "/", ["ok"])


BINARY_ERRORS = [
    # attachment count
    pytest.param('50-["a"]', id="count-zero"),
    pytest.param(f'511-["a",{PH0}]', id="count-11"),
    pytest.param(f'5a-["a",{PH0}]', id="count-letter"),
    pytest.param(f'5-["a",{PH0}]', id="count-empty"),
    pytest.param(f'51["a",{PH0}]', id="count-without-dash"),
    pytest.param("51", id="count-without-dash-or-payload"),
    pytest.param(f'5 1-["a",{PH0}]', id="count-space"),
    pytest.param(f'5+1-["a",{PH0}]', id="count-plus"),
    pytest.param(f'51.0-["a",{PH0}]', id="count-float"),
    pytest.param(f'5\u0661-["a",{PH0}]', id="count-unicode-digit"),
    pytest.param(f'5{"0" * 6}1-["a",{PH0}]', id="count-too-long"),
    pytest.param(f'5{"9" * 5000}-["a"]', id="count-5000-digits"),
    # placeholders
    pytest.param('51-["a",{"_placeholder":true,"num":1}]', id="num-out-of-range"),
    pytest.param('51-["a",{"_placeholder":true,"num":-1}]', id="num-negative"),
    pytest.param('51-["a",{"_placeholder":true,"num":0.0}]', id="num-float"),
    pytest.param('51-["a",{"_placeholder":true,"num":true}]', id="num-bool"),
    pytest.param('51-["a",{"_placeholder":true,"num":"0"}]', id="num-string"),
    pytest.param('51-["a",{"_placeholder":true}]', id="num-missing"),
    pytest.param('51-["a",{"_placeholder":true,"num":0,"x":1}]', id="extra-key"),
    pytest.param('51-["a",{"_placeholder":true,"nom":0}]', id="misspelt-num"),
    pytest.param(f'52-["a",{PH0}]', id="attachment-unused"),
    pytest.param('51-["a"]', id="no-placeholder"),
    pytest.param("51-", id="no-payload"),
    pytest.param("51-/admin,", id="no-payload-custom"),
    pytest.param(f"61-[{PH0}]", id="binary-ack-without-id"),
    pytest.param(f'51-["connect",{PH0}]', id="binary-reserved-name"),
    pytest.param(f"51-{PH0}", id="binary-event-not-array"),
    pytest.param(f"61-1{PH0}", id="binary-ack-not-array"),
    pytest.param(f"51-[{PH0}]", id="binary-event-name-is-bytes"),
    pytest.param(f'51-["a",{PH0}]x', id="binary-json-trailing"),
]


@pytest.mark.parametrize("text", BINARY_ERRORS)
def test_decoder_refuses_binary_header(text: str) -> None:
    decoder = Decoder()
    with pytest.raises(RemoteProtocolError):
        decoder.receive_text(text)
    assert decoder.awaiting == 0


def test_max_attachments_is_configurable() -> None:
    header = '53-["e",' + ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(3)) + "]"
    with pytest.raises(RemoteProtocolError, match="out of range"):
        Decoder(max_attachments=2).receive_text(header)
    assert Decoder(max_attachments=3).receive_text(header) is None
    with pytest.raises(RemoteProtocolError, match="binary"):
        Decoder(max_attachments=0).receive_text(header)
    ten = '510-["e",' + ",".join(f'{{"_placeholder":true,"num":{n}}}' for n in range(10)) + "]"
    ten_bytes = [bytes([n]) for n in range(10)]
    assert receive(ten, ten_bytes).data == ["e", *ten_bytes]


def test_binary_frame_while_idle_is_an_error() -> None:
    decoder = Decoder()
    with pytest.raises(RemoteProtocolError, match="no binary packet"):
        decoder.receive_binary(b"x")
    decoder.receive_text('2["a"]')
    with pytest.raises(RemoteProtocolError, match="no binary packet"):
        decoder.receive_binary(b"x")


def test_text_while_awaiting_attachments_is_an_error_and_drops_the_packet() -> None:
    decoder = Decoder()
    assert decoder.receive_text(f'52-["a",{PH0},{PH1}]') is None
    assert decoder.receive_binary(b"0") is None
    assert decoder.awaiting == 1
    with pytest.raises(RemoteProtocolError, match="awaited"):
        decoder.receive_text('2["b"]')
    assert decoder.awaiting == 0
    assert decoder.receive_text('2["b"]') == Packet(EVENT, "/", ["b"])


def test_reset_drops_the_partial_packet() -> None:
    decoder = Decoder()
    decoder.receive_text(f'52-["a",{PH0},{PH1}]')
    decoder.receive_binary(b"0")
    decoder.reset()
    assert decoder.awaiting == 0
    with pytest.raises(RemoteProtocolError):
        decoder.receive_binary(b"1")
    assert receive(f'51-["a",{PH0}]', [b"z"]) == Packet(EVENT, "/", ["a", b"z"])


def test_attachment_size_limit() -> None:
    decoder = Decoder(max_attachment_size=3)
    decoder.receive_text(f'52-["a",{PH0},{PH1}]')
    assert decoder.receive_binary(b"123") is None
    with pytest.raises(RemoteProtocolError, match="larger than 3"):
        decoder.receive_binary(b"1234")
    assert decoder.awaiting == 0


def test_decoder_stores_plain_bytes() -> None:
    decoder = Decoder()
    decoder.receive_text(f'52-["a",{PH0},{PH1}]')
    decoder.receive_binary(bytearray(b"x"))  # type: ignore[arg-type]
    packet = decoder.receive_binary(memoryview(b"y"))  # type: ignore[arg-type]
    assert packet is not None
    assert packet.data == ["a", b"x", b"y"]
    assert [type(value) for value in packet.data[1:]] == [bytes, bytes]


def test_placeholders_are_replaced_everywhere() -> None:
    text = (
        '53-/n,9["a",{"k":[' + PH1 + "]}," + '{"_placeholder":false},'
        '{"_placeholder":true,"num":2},' + PH0 + "," + PH0 + "]"
    )
    packet = receive(text, [b"0", b"1", b"2"])
    assert packet == Packet(
        EVENT, "/n", ["a", {"k": [b"1"]}, {"_placeholder": False}, b"2", b"0", b"0"], 9
    )


def test_binary_depth_counts_bytes_as_leaves() -> None:
    # The payload array is level 1; 63 nested arrays reach level 64, the limit, and the
    # placeholder inside them stands for bytes, a leaf.
    value: Any = b"x"
    for _ in range(63):
        value = [value]
    packet = Packet(EVENT, "/", ["e", value])
    text, attachments = encode(packet)
    assert text == "51-" + '["e",' + "[" * 63 + PH0 + "]" * 63 + "]"
    assert receive(text, attachments) == packet
    with pytest.raises(RemoteProtocolError, match="deeper"):
        Decoder().receive_text("51-" + '["e",' + "[" * 64 + PH0 + "]" * 64 + "]")


# -- properties --------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
keys = st.text(max_size=10).filter(lambda key: key != "_placeholder")
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
values_with_bytes = st.recursive(
    json_scalars | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
namespaces = st.just("/") | st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=","),
    min_size=1,
    max_size=70,
).map(lambda name: "/" + name).filter(lambda name: len(name.encode()) <= 256)
event_names = (
    st.text(min_size=1, max_size=20).filter(lambda name: name not in RESERVED_EVENTS)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
)
ack_ids = st.integers(min_value=0, max_value=MAX_ACK_ID)
objects = st.dictionaries(keys, json_values, max_size=4)

generated_packets = st.one_of(
    st.builds(
        lambda ns, name, args, id: Packet(EVENT, ns, [name, *args], id),
        namespaces,
        event_names,
        st.lists(values_with_bytes, max_size=4),
        st.none() | ack_ids,
    ),
    st.builds(
        lambda ns, args, id: Packet(ACK, ns, args, id),
        namespaces,
        st.lists(values_with_bytes, max_size=4),
        ack_ids,
    ),
    st.builds(Packet, st.just(CONNECT), namespaces, st.none() | objects),
    st.builds(Packet, st.just(DISCONNECT), namespaces),
    st.builds(Packet, st.just(CONNECT_ERROR), namespaces, objects | st.text(max_size=20)),
)


def _same(a: Any, b: Any) -> bool:
    """Equality that also tells -0.0 from 0.0 and int from float, as JSON round trips must."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=500)
@given(generated_packets)
def test_round_trip(packet: Packet) -> None:
    text, attachments = encode(packet)
    decoded = receive(text, attachments, max_attachments=1000)  # encoding sets no limit
    assert decoded == packet
    assert _same(decoded.data, packet.data)
    if not attachments:
        assert decode(text) == packet


def _plain(value: Any) -> bool:
    """Decoded values are plain dict/list/str/int/float/bool/None/bytes only."""
    if type(value) is list:
        return all(_plain(child) for child in value)
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    return type(value) in (str, int, float, bool, type(None), bytes)


def _feed(decoder: Decoder, item: str | bytes) -> None:
    try:
        if isinstance(item, str):
            packet = decoder.receive_text(item)
        else:
            packet = decoder.receive_binary(item)
    except RemoteProtocolError:
        assert decoder.awaiting == 0
        return
    if packet is not None:
        assert isinstance(packet.type, PacketType)
        assert packet.type in (CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR)
        assert packet.namespace.startswith("/")
        assert packet.id is None or 0 <= packet.id <= MAX_ACK_ID
        assert _plain(packet.data)
        assert decoder.awaiting == 0
        if packet.data is not None or packet.type is not EVENT:  # all but a bare "2"
            text, attachments = encode(packet)  # what we decode, we can write back
            assert receive(text, attachments, max_attachments=1000) == packet


TOKENS = [
    *'0123456-/,[]{}":',
    "45",
    "51-",
    "52-",
    "61-",
    "/admin,",
    "12",
    '"a"',
    "null",
    "true",
    PH0,
    PH1,
    '{"_placeholder":true,"num":',
    '"connect"',
    "\x00",
    "é",
    "٣",
]
wire_text = st.text(max_size=40) | st.lists(st.sampled_from(TOKENS), max_size=12).map("".join)


@settings(max_examples=1000)
@given(wire_text)
def test_decode_raises_only_remote_protocol_error(text: str) -> None:
    try:
        packet = decode(text)
    except RemoteProtocolError:
        return
    assert _plain(packet.data)


@settings(max_examples=500)
@given(st.lists(wire_text | st.binary(max_size=8), max_size=8))
def test_decoder_raises_only_remote_protocol_error(items: list[str | bytes]) -> None:
    decoder = Decoder(max_attachments=3, max_depth=8, max_attachment_size=4)
    for item in items:
        _feed(decoder, item)


def _wire(packet: Packet) -> list[str | bytes]:
    text, attachments = encode(packet)
    return [text, *attachments]


@settings(max_examples=300)
@given(
    st.lists(
        generated_packets.map(_wire)
        | wire_text.map(lambda text: [text])
        | st.binary(max_size=8).map(lambda data: [data]),
        max_size=6,
    )
)
def test_decoder_survives_valid_and_hostile_packets_interleaved(
    chunks: list[list[str | bytes]],
) -> None:
    decoder = Decoder(max_attachments=3, max_attachment_size=8)
    for chunk in chunks:
        for item in chunk:
            _feed(decoder, item)


# -- module hygiene ----------------------------------------------------------------------------


def test_exports() -> None:
    assert packets.__all__ == sorted(packets.__all__, key=lambda name: (not name.isupper(), name))
    for name in packets.__all__:
        assert hasattr(packets, name)
    assert {member.name for member in PacketType} <= set(packets.__all__)
    names = {"connect", "connect_error", "disconnect", "disconnecting"}
    assert names | {"newListener", "removeListener"} == RESERVED_EVENTS


def test_module_is_sans_io() -> None:
    tree = ast.parse(pathlib.Path(packets.__file__).with_name("packets.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) if node.module
    }
    assert not imported & {"asyncio", "socket", "time", "random"}
