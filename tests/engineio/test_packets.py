"""Engine.IO v4 codecs against the spec's own examples (engine.io-protocol README)."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosio.engineio.packets import (
    CLOSE,
    MESSAGE,
    NOOP,
    OPEN,
    PING,
    PONG,
    UPGRADE,
    Packet,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
    open_payload,
)
from aiosio.exceptions import RemoteProtocolError

SPEC_EXAMPLES = [  # engine.io-protocol README, "Packet encoding"
    pytest.param(Packet(MESSAGE, "hello"), "4hello", id="message"),
    pytest.param(Packet(PING, "probe"), "2probe", id="ping-probe"),
    pytest.param(Packet(PONG, "probe"), "3probe", id="pong-probe"),
    pytest.param(Packet(UPGRADE), "5", id="upgrade"),
    pytest.param(Packet(NOOP), "6", id="noop"),
    pytest.param(Packet(CLOSE), "1", id="close"),
    pytest.param(Packet(OPEN, '{"sid":"x"}'), '0{"sid":"x"}', id="open"),
]


@pytest.mark.parametrize(("packet", "wire"), SPEC_EXAMPLES)
def test_text_packets_match_spec(packet: Packet, wire: str) -> None:
    assert encode_packet(packet) == wire
    assert decode_packet(wire) == packet


def test_binary_message_is_raw_on_websocket_and_base64_over_polling() -> None:
    packet = Packet(MESSAGE, b"\x01\x02\x03\x04")
    assert encode_packet(packet) == b"\x01\x02\x03\x04"
    assert encode_packet(packet, binary=False) == "bAQIDBA=="  # "b" replaces the "4"
    assert decode_packet("bAQIDBA==") == packet
    assert decode_payload("bAQIDBA==") == [packet]
    assert decode_packet(b"\x01\x02\x03\x04") == packet


def test_payload_is_joined_by_record_separator() -> None:
    # engine.io-protocol README, "HTTP long-polling > Sending and receiving data"
    body = encode_payload(["4hello", b"\x01\x02\x03\x04", "2"])
    assert body == "4hello\x1ebAQIDBA==\x1e2"
    assert decode_payload(body) == [
        Packet(MESSAGE, "hello"),
        Packet(MESSAGE, b"\x01\x02\x03\x04"),
        Packet(PING),
    ]


@pytest.mark.parametrize("wire", ["", "7", "x", "bnot base64!", "b=="[:2] + "@"])
def test_bad_packets_raise_remote_protocol_error(wire: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(wire)


def test_open_payload_has_five_keys_in_integer_milliseconds() -> None:
    text = open_payload(
        "abc", upgrades=["websocket"], ping_interval=0.3, ping_timeout=0.2, max_payload=100
    )
    assert text[0] == "0"
    assert orjson.loads(text[1:]) == {
        "sid": "abc",
        "upgrades": ["websocket"],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 100,
    }


_TEXT = st.text(max_size=20).filter(lambda s: "\x1e" not in s).map(lambda s: "4" + s)


@given(st.lists(st.one_of(_TEXT, st.binary(max_size=20)), min_size=1))
def test_payload_round_trip(items: list[str | bytes]) -> None:
    # Text messages never contain the separator: it is not valid in Socket.IO's JSON text.
    expected = [
        Packet(MESSAGE, item) if isinstance(item, bytes) else decode_packet(item) for item in items
    ]
    assert decode_payload(encode_payload(items)) == expected


@given(st.text(max_size=50))
def test_decode_raises_only_protocol_errors(text: str) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode_packet(text)
