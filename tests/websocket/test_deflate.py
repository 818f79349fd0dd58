"""Tests for aiosio.websocket.deflate (named apart from the on-the-wire tests in
tests/server/test_compression.py): the RFC 7692 section 7.2.3 examples through our parser,
the deflater on both ends, decompression bombs and the server's shared compressors. The
HTTP content codings are tested in tests/server/test_http.py, negotiation in
test_handshake.py."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiosio.exceptions import LocalProtocolError
from aiosio.websocket.deflate import Deflater, FrameCompressor, Inflater, ServerDeflate, codecs_for
from aiosio.websocket.frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    TEXT,
    CloseCode,
    FrameParser,
    Message,
    WebSocketError,
    apply_mask_python,
    encode_frame,
    text_frame,
)
from aiosio.websocket.handshake import (
    DeflateParameters,
    accept_deflate,
    deflate_offer,
    negotiate_deflate,
)

MASK = bytes.fromhex("37fa213d")
HELLO = bytes.fromhex("f248cdc9c90700")  # "Hello", RFC 7692 section 7.2.3.1


def client_parser(**options: object) -> FrameParser:
    """Our client's parser with permessage-deflate (the server's frames are unmasked)."""
    return FrameParser(client_side=True, compression=Inflater(**options))  # type: ignore[arg-type]


def feed_all(parser: FrameParser, chunks: list[bytes]) -> list[Message]:
    messages: list[Message] = []
    for chunk in chunks:
        messages += parser.feed(chunk)
    return messages


RFC_7692_EXAMPLES = [  # RFC 7692, section 7.2.3; frames as a server sends them (unmasked)
    pytest.param(["c107f248cdc9c90700"], ["Hello"], id="7.2.3.1-one-block"),
    pytest.param(["4103f248cd", "8004c9c90700"], ["Hello"], id="7.2.3.1-fragmented"),
    pytest.param(
        ["c107f248cdc9c90700", "c105f200110000"], ["Hello", "Hello"], id="7.2.3.2-shared-window"
    ),
    pytest.param(["c10b0005 00faff48656c6c6f00"], ["Hello"], id="7.2.3.3-stored-block"),
    pytest.param(["c108f348cdc9c9070000"], ["Hello"], id="7.2.3.4-bfinal"),
    pytest.param(["c10df24805000000ffffcac9c90700"], ["Hello"], id="7.2.3.5-two-blocks"),
    pytest.param(["4107f248cdc9c90700", "8000"], ["Hello"], id="7.2.3.6-empty-last-fragment"),
    pytest.param(["c10100"], [""], id="7.2.3.6-empty-message"),
]


@pytest.mark.parametrize(("frames", "texts"), RFC_7692_EXAMPLES)
def test_rfc_7692_examples_decode(frames: list[str], texts: list[str]) -> None:
    chunks = [bytes.fromhex(frame.replace(" ", "")) for frame in frames]
    assert feed_all(client_parser(), chunks) == [(TEXT, text) for text in texts]


def test_examples_decode_byte_by_byte() -> None:
    data = bytes.fromhex("4103f248cd8004c9c90700c105f200110000")
    parser = client_parser()
    assert feed_all(parser, [data[i : i + 1] for i in range(len(data))]) == [(TEXT, "Hello")] * 2


def test_bfinal_drops_the_window_and_the_next_message_starts_fresh() -> None:
    # After a BFINAL block (section 7.2.3.4) the stream is over: the next message is read
    # by a new decompressor, so it must not refer to the previous one.
    parser = client_parser()
    chunks = [bytes.fromhex("c108f348cdc9c9070000"), bytes.fromhex("c107f248cdc9c90700")]
    assert feed_all(parser, chunks) == [(TEXT, "Hello")] * 2


def test_deflater_matches_section_7_2_3_1_and_7_2_3_2() -> None:
    shared = Deflater()
    assert shared.compress(b"Hello") == HELLO
    assert shared.compress(b"Hello") == bytes.fromhex("f200110000")  # 7.2.3.2: back-reference
    alone = Deflater(no_context_takeover=True)
    assert alone.compress(b"Hello") == HELLO
    assert alone.compress(b"Hello") == HELLO  # the same bytes whatever came before
    assert alone.compress(b"") == b"\x00"  # 7.2.3.6: an empty message


def test_no_context_takeover_output_reads_with_a_fresh_inflater_each_time() -> None:
    deflater = Deflater(no_context_takeover=True)
    payloads = [os.urandom(50) * 40, b"abc" * 500, os.urandom(50) * 40]
    for data in payloads:
        inflater = Inflater()
        assert inflater.decompress(deflater.compress(data), fin=True, max_size=10**6) == data


def test_no_context_takeover_inflater_drops_its_state_between_messages() -> None:
    inflater = Inflater(no_context_takeover=True)
    assert inflater.decompress(HELLO, fin=True, max_size=100) == b"Hello"
    with pytest.raises(WebSocketError) as caught:
        # A back-reference into the previous message: invalid without context takeover.
        inflater.decompress(bytes.fromhex("f200110000"), fin=True, max_size=100)
    assert caught.value.code == CloseCode.INVALID_DATA


def test_window_bits_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        Deflater(max_window_bits=8)  # zlib cannot compress with a 256-byte window
    with pytest.raises(LocalProtocolError):
        ServerDeflate(server_max_window_bits=16)
    with pytest.raises(LocalProtocolError):
        ServerDeflate(client_max_window_bits=7)
    assert Inflater(max_window_bits=8).max_window_bits == 9  # reads 8-bit streams too


def test_small_windows_round_trip() -> None:
    data = os.urandom(300) * 20  # repeats 300 bytes back: needs a window of 512 at least
    for bits in range(9, 16):
        compressed = Deflater(max_window_bits=bits).compress(data)
        inflater = Inflater(max_window_bits=bits)
        assert inflater.decompress(compressed, fin=True, max_size=len(data)) == data


# --- decompression bombs -------------------------------------------------------------------

BOMB = Deflater().compress(bytes(10_000_000))  # ~10 KB that inflate to 10 MB


def test_bomb_is_refused_without_inflating_it() -> None:
    assert len(BOMB) < 20_000
    inflater = Inflater()
    with pytest.raises(WebSocketError) as caught:
        inflater.decompress(BOMB, fin=True, max_size=1_000_000)
    assert caught.value.code == CloseCode.MESSAGE_TOO_BIG


def test_bomb_in_a_frame_closes_with_1009() -> None:
    parser = FrameParser(max_message_size=1_000_000, compression=Inflater())
    frame = encode_frame(BINARY, BOMB, rsv1=True, mask=MASK)
    with pytest.raises(WebSocketError) as caught:
        parser.feed(frame)
    assert caught.value.code == CloseCode.MESSAGE_TOO_BIG
    with pytest.raises(WebSocketError):
        parser.feed(b"")  # failed for good


def test_bomb_spread_over_fragments_is_counted_over_the_message() -> None:
    payload = Deflater().compress(bytes(1_200_000))  # one message, sent in two fragments
    first, second = payload[: len(payload) // 2], payload[len(payload) // 2 :]
    parser = FrameParser(max_message_size=1_000_000, compression=Inflater())
    assert parser.feed(encode_frame(BINARY, first, fin=False, rsv1=True, mask=MASK)) == []
    with pytest.raises(WebSocketError) as caught:
        parser.feed(encode_frame(CONTINUATION, second, mask=MASK))
    assert caught.value.code == CloseCode.MESSAGE_TOO_BIG


def test_message_exactly_at_the_limit_passes() -> None:
    data = bytes(1000)
    parser = FrameParser(max_message_size=1000, compression=Inflater())
    frame = encode_frame(BINARY, Deflater().compress(data), rsv1=True, mask=MASK)
    assert parser.feed(frame) == [(BINARY, data)]
    parser = FrameParser(max_message_size=999, compression=Inflater())
    with pytest.raises(WebSocketError):
        parser.feed(frame)


# --- refusals ------------------------------------------------------------------------------


def masked(b0: int, payload: bytes) -> bytes:
    return bytes((b0, 0x80 | len(payload))) + MASK + apply_mask_python(payload, MASK)


REFUSED = [
    pytest.param(
        masked(0x41, HELLO[:3]) + masked(0xC0, HELLO[3:]), 1002, id="rsv1-continuation-6.1"
    ),
    pytest.param(masked(0xC9, b""), 1002, id="rsv1-ping-6.1"),
    pytest.param(masked(0xE1, HELLO), 1002, id="rsv1-rsv2"),
    pytest.param(masked(0x91, b"x"), 1002, id="rsv3"),
    pytest.param(masked(0xC1, b"\xff\xff\xff"), 1007, id="not-deflate"),
    pytest.param(masked(0xC1, Deflater().compress(b"\xff\xfe")), 1007, id="inflated-text-not-utf8"),
]


@pytest.mark.parametrize(("data", "code"), REFUSED)
def test_refusals(data: bytes, code: int) -> None:
    parser = FrameParser(compression=Inflater())
    with pytest.raises(WebSocketError) as caught:
        parser.feed(data)
    assert caught.value.code == code


def test_rsv1_refused_when_not_negotiated() -> None:
    with pytest.raises(WebSocketError) as caught:
        FrameParser().feed(masked(0xC1, HELLO))
    assert caught.value.code == CloseCode.PROTOCOL_ERROR


def test_plain_and_control_frames_still_pass_with_compression() -> None:
    parser = FrameParser(compression=Inflater())
    data = (
        masked(0x81, b"plain")
        + masked(0x89, b"hi")
        + masked(0xC1, HELLO)
        + masked(0x01, b"ab")
        + masked(0x80, b"c")
        + masked(0x88, b"\x03\xe8")
    )
    assert parser.feed(data) == [
        (TEXT, "plain"),
        (PING, b"hi"),
        (TEXT, "Hello"),
        (TEXT, "abc"),
        (CLOSE, b"\x03\xe8"),
    ]


# --- a client and a server, negotiated and talking -------------------------------------------


def negotiated_pair(offer: str, deflate: ServerDeflate) -> tuple[DeflateParameters, ...]:
    accepted = deflate.accept(offer)
    assert accepted is not None
    answer = accepted[0]
    client = accept_deflate(answer, offer)
    server = negotiate_deflate(
        offer,
        server_max_window_bits=deflate.server_max_window_bits,
        client_max_window_bits=deflate.client_max_window_bits,
        client_no_context_takeover=deflate.client_no_context_takeover,
    )
    assert server is not None
    assert server == (answer, client)  # both ends agree
    return client, server[1]


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(st.text(max_size=3000) | st.binary(max_size=3000), min_size=1, max_size=8),
    client_bits=st.sampled_from([None, 9, 12, 15]),
    server_bits=st.sampled_from([None, 10, 15]),
    takeover=st.booleans(),
)
def test_client_and_server_round_trip(
    messages: list[str | bytes], client_bits: int | None, server_bits: int | None, takeover: bool
) -> None:
    offer = deflate_offer(client_max_window_bits=client_bits, server_max_window_bits=server_bits)
    deflate = ServerDeflate(threshold=64, client_no_context_takeover=not takeover)
    parameters, _ = negotiated_pair(offer, deflate)
    accepted = deflate.accept(offer)
    assert accepted is not None
    _, server_inflater, compressor = accepted
    client_deflater, client_inflater = codecs_for(parameters, client_side=True)
    server = FrameParser(compression=server_inflater)
    client = FrameParser(client_side=True, compression=client_inflater)
    for data in messages:
        opcode = TEXT if isinstance(data, str) else BINARY
        payload = data.encode() if isinstance(data, str) else data
        up = encode_frame(opcode, client_deflater.compress(payload), rsv1=True, mask=MASK)
        assert server.feed(up) == [(opcode, data)]
        down = compressor.frame(data)
        if down is None:
            assert len(payload) < 64
            down = text_frame(data) if isinstance(data, str) else encode_frame(BINARY, payload)
        else:
            assert down[0] & 0x40  # RSV1
        assert client.feed(down) == [(opcode, data)]


def test_codecs_for_the_server_side() -> None:
    parameters = DeflateParameters(True, True, 11, 10)
    deflater, inflater = codecs_for(parameters, client_side=False)
    assert deflater.max_window_bits == 11
    assert (inflater.max_window_bits, inflater.no_context_takeover) == (10, True)


# --- the server's frames ---------------------------------------------------------------------


def test_frame_compressor_threshold() -> None:
    compressor = FrameCompressor(Deflater(no_context_takeover=True), threshold=1024)
    assert compressor.frame("x" * 1023) is None
    assert compressor.frame(b"x" * 1023) is None
    assert compressor.frame("é" * 511) is None  # 1022 bytes
    frame = compressor.frame("é" * 512)  # 1024 bytes
    assert frame is not None and frame[0] == 0xC1
    frame = compressor.frame(b"x" * 1024)
    assert frame is not None and frame[0] == 0xC2
    assert FrameCompressor(Deflater(), threshold=0).frame("") == bytes.fromhex("c10100")
    with pytest.raises(LocalProtocolError):
        compressor.frame("\ud800" * 1024)


def test_server_deflate_shares_one_compressor_per_window() -> None:
    deflate = ServerDeflate()
    first = deflate.accept("permessage-deflate")
    second = deflate.accept("permessage-deflate; client_max_window_bits")
    small = deflate.accept("permessage-deflate; server_max_window_bits=10")
    assert first is not None and second is not None and small is not None
    assert first[2] is second[2]
    assert small[2] is not first[2]
    assert small[2].deflater.max_window_bits == 10
    assert first[1] is not second[1]  # an inflater per connection
    assert deflate.accept("x-webkit-deflate-frame") is None


def test_server_deflate_options_reach_the_answer() -> None:
    deflate = ServerDeflate(client_max_window_bits=10, client_no_context_takeover=True)
    accepted = deflate.accept("permessage-deflate; client_max_window_bits")
    assert accepted is not None
    answer, inflater, _ = accepted
    assert answer == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "client_max_window_bits=10"
    )
    assert (inflater.max_window_bits, inflater.no_context_takeover) == (10, True)
