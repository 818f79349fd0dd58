"""Engine.IO-over-WebTransport framing: the three header sizes, the binary bit, chunking,
the handshake packet, and hostile input (empty, oversized, not UTF-8, bad OPEN)."""

from __future__ import annotations

import pytest

from aiosio.engineio.wt_framing import FramingError, StreamDecoder, encode_packet, handshake_sid


def test_header_sizes_and_the_binary_bit() -> None:
    assert encode_packet("4hi") == b"\x034hi"
    assert encode_packet(b"\x01\x02") == b"\x82\x01\x02"
    assert encode_packet("4" + "x" * 124)[:1] == bytes([125])
    medium = encode_packet("4" + "x" * 125)  # 126 bytes: the 16-bit form
    assert medium[:3] == b"\x7e\x00\x7e" and len(medium) == 3 + 126
    binary = encode_packet(b"\x00" * 65535)
    assert binary[:3] == b"\xfe\xff\xff"
    large = encode_packet(b"\x00" * 65536)  # the 64-bit form
    assert large[:9] == b"\xff" + (65536).to_bytes(8, "big")


def test_utf8_length_counts_bytes_not_characters() -> None:
    assert encode_packet("4é☃") == b"\x064" + "é☃".encode()


def test_round_trip_whatever_the_chunking() -> None:
    packets: list[str | bytes] = ["0", "4héllo", b"\x00\xff", "4" + "y" * 70_000, b"z" * 300]
    stream = b"".join(encode_packet(p) for p in packets)
    for size in (1, 2, 3, 7, 1000, len(stream)):
        decoder = StreamDecoder(max_payload=100_000)
        got: list[str | bytes] = []
        for i in range(0, len(stream), size):
            got.extend(decoder.feed(stream[i : i + size]))
        assert got == packets
        assert decoder.buffered == 0


def test_an_oversized_length_is_refused_before_its_payload_arrives() -> None:
    decoder = StreamDecoder(max_payload=1000)
    with pytest.raises(FramingError, match="1001"):
        decoder.feed(b"\x7e" + (1001).to_bytes(2, "big"))
    with pytest.raises(FramingError):
        StreamDecoder(max_payload=1000).feed(b"\xff" + (2**63).to_bytes(8, "big"))
    assert StreamDecoder(max_payload=1000).feed(encode_packet("4" + "a" * 999)) == ["4" + "a" * 999]


def test_empty_packets_and_bad_text_are_refused() -> None:
    with pytest.raises(FramingError):
        StreamDecoder(max_payload=10).feed(b"\x00")
    with pytest.raises(FramingError, match="UTF-8"):
        StreamDecoder(max_payload=10).feed(b"\x02\xc3\x28")
    # a binary payload is not decoded
    assert StreamDecoder(max_payload=10).feed(b"\x82\xc3\x28") == [b"\xc3\x28"]


def test_the_handshake_packet() -> None:
    assert handshake_sid("0") is None
    assert handshake_sid('0{"sid":"abc"}') == "abc"
    for bad in ("4hi", b"0", "0{", '0{"sid":1}', '0{"sid":""}', "0[]", ""):
        with pytest.raises(FramingError):
            handshake_sid(bad)
