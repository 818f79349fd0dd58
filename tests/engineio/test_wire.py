"""aiosio.engineio.wire: a broadcast's packet framed once (and compressed once) for every
recipient, and the frames and polling payloads of a session's queued packets.

Frames are checked byte for byte against RFC 6455 (section 5.2) and read back with the
client's parser of :mod:`aiosio.websocket.frames`, with an inflater for compressed ones.
"""

from __future__ import annotations

import base64
import struct

import pytest

from aiosio.engineio.wire import (
    Wire,
    compressed_frames_of,
    compressible,
    frames_of,
    payload_of,
)
from aiosio.exceptions import LocalProtocolError
from aiosio.websocket.deflate import Deflater, FrameCompressor, Inflater
from aiosio.websocket.frames import BINARY, TEXT, FrameParser, Message, binary_frame


def read(frames: bytes, *, compressed: bool = False) -> list[Message]:
    """The messages a client reads from ``frames`` (unmasked, as a server sends them)."""
    inflater = Inflater(no_context_takeover=True) if compressed else None
    return FrameParser(client_side=True, compression=inflater).feed(frames)


def compressor(threshold: int = 16) -> FrameCompressor:
    return FrameCompressor(Deflater(no_context_takeover=True), threshold)


BIG = "4" + "x" * 200  # compressible: well over the threshold, and very repetitive


# -- Wire.frame --------------------------------------------------------------------------------


def test_frame_of_text_is_one_unmasked_fin_text_frame() -> None:
    assert Wire("4hi").frame == b"\x81\x034hi"
    assert Wire("4é").frame == b"\x81\x034\xc3\xa9"  # the length is in UTF-8 bytes
    assert Wire("").frame == b"\x81\x00"


def test_frame_of_bytes_is_one_unmasked_fin_binary_frame() -> None:
    assert Wire(b"\x00\xff").frame == b"\x82\x02\x00\xff"
    assert Wire(b"").frame == b"\x82\x00"


@pytest.mark.parametrize(
    ("size", "header"),
    [
        (125, b"\x82\x7d"),
        (126, b"\x82\x7e" + struct.pack("!H", 126)),
        (65535, b"\x82\x7e" + struct.pack("!H", 65535)),
        (65536, b"\x82\x7f" + struct.pack("!Q", 65536)),
    ],
)
def test_frame_lengths(size: int, header: bytes) -> None:
    data = bytes(size)
    assert Wire(data).frame == header + data
    text = "a" * size
    assert Wire(text).frame == bytes((0x81,)) + header[1:] + text.encode()


def test_frame_is_built_once_and_cached() -> None:
    wire = Wire("4" + "x" * 300)
    first = wire.frame
    assert wire.frame is first
    assert read(first) == [(TEXT, wire.data)]


def test_frame_of_text_that_utf8_cannot_carry() -> None:
    with pytest.raises(LocalProtocolError):
        Wire("4\ud800").frame  # noqa: B018 - the property raises


def test_wire_defaults_and_slots() -> None:
    wire = Wire("4x")
    assert wire.data == "4x" and wire.compress is True
    assert Wire(b"x", compress=False).compress is False
    with pytest.raises(AttributeError):
        wire.other = 1  # type: ignore[attr-defined]


# -- Wire.compressed_frame ------------------------------------------------------------------------


def test_compressed_frame_sets_rsv1_and_inflates_back() -> None:
    shared = compressor()
    frame = Wire(BIG).compressed_frame(shared)
    assert frame[0] == 0xC1  # FIN | RSV1 | TEXT
    assert frame[1] & 0x80 == 0  # unmasked
    assert len(frame) < len(Wire(BIG).frame)
    assert read(frame, compressed=True) == [(TEXT, BIG)]

    data = bytes(300)
    binary = Wire(data).compressed_frame(shared)
    assert binary[0] == 0xC2  # FIN | RSV1 | BINARY
    assert read(binary, compressed=True) == [(BINARY, data)]


def test_compressed_frame_is_cached_per_compressor() -> None:
    wire = Wire(BIG)
    first, second = compressor(), compressor()
    frame = wire.compressed_frame(first)
    assert wire.compressed_frame(first) is frame  # once for every recipient
    other = wire.compressed_frame(second)
    assert other is not frame and other == frame  # no context taken over: same bytes
    assert wire.compressed_frame(second) is other
    assert wire.compressed_frame(first) is not frame  # the cache holds one compressor
    assert wire.compressed_frame(first) == frame


def test_compressed_frame_under_the_threshold_is_the_plain_frame() -> None:
    wire = Wire("4small")
    shared = compressor(threshold=1024)
    assert wire.compressed_frame(shared) is wire.frame
    assert wire.compressed_frame(shared) is wire.frame


def test_compress_false_is_never_compressed() -> None:
    wire = Wire(BIG, compress=False)
    shared = compressor()
    assert wire.compressed_frame(shared) is wire.frame
    assert wire.frame[0] == 0x81
    assert read(wire.compressed_frame(shared)) == [(TEXT, BIG)]


def test_compress_can_be_turned_off_after_creation() -> None:
    """As ``Namespace.prepare_broadcast`` does for ``compress(False)`` broadcasts."""
    wire = Wire(BIG)
    wire.compress = False
    assert wire.compressed_frame(compressor()) is wire.frame


# -- frames_of, compressed_frames_of ---------------------------------------------------------------


def test_frames_of_joins_the_frames_of_every_kind_of_item() -> None:
    wire = Wire('42["shared"]')
    frames = frames_of(["3", b"\x01\x02", wire])
    assert frames == b"\x81\x013" + b"\x82\x02\x01\x02" + wire.frame
    assert read(frames) == [(TEXT, "3"), (BINARY, b"\x01\x02"), (TEXT, '42["shared"]')]
    assert frames_of([]) == b""


def test_frames_of_copies_a_large_binary_payload_once_into_the_write() -> None:
    small, large = b"\x01" * 1023, bytes(range(256)) * 4  # 1 KiB: header and payload apart
    frames = frames_of(["3", small, large, "4"])
    assert frames == b"\x81\x013" + binary_frame(small) + binary_frame(large) + b"\x81\x014"
    assert read(frames) == [(TEXT, "3"), (BINARY, small), (BINARY, large), (TEXT, "4")]


def test_frames_of_uses_the_cached_frame_of_a_wire() -> None:
    wire = Wire("4x")
    frame = wire.frame
    assert frames_of([wire, wire]) == frame + frame
    assert wire.frame is frame


def test_frames_of_refuses_text_that_utf8_cannot_carry() -> None:
    with pytest.raises(LocalProtocolError):
        frames_of(["4\udfff"])


def test_compressed_frames_of_compresses_what_is_over_the_threshold() -> None:
    shared = compressor(threshold=64)
    data = bytes(100)
    plain_wire = Wire(BIG, compress=False)
    shared_wire = Wire(BIG)
    frames = compressed_frames_of(["3", BIG, b"\x01", data, plain_wire, shared_wire], shared)
    messages = read(frames, compressed=True)
    assert messages == [
        (TEXT, "3"),
        (TEXT, BIG),
        (BINARY, b"\x01"),
        (BINARY, data),
        (TEXT, BIG),
        (TEXT, BIG),
    ]
    expected = b"".join(
        [
            b"\x81\x013",
            shared.frame(BIG) or b"",
            b"\x82\x01\x01",
            shared.frame(data) or b"",
            plain_wire.frame,
            shared_wire.compressed_frame(shared),
        ]
    )
    assert frames == expected
    # A str of enough characters is compressed once its UTF-8 bytes reach the threshold.
    assert compressed_frames_of(["é" * 32], shared)[0] == 0xC1
    assert compressed_frames_of(["e" * 32], shared)[0] == 0x81


def test_compressed_frames_of_nothing() -> None:
    assert compressed_frames_of([], compressor()) == b""


# -- polling: compressible, payload_of -------------------------------------------------------------


def test_compressible() -> None:
    assert compressible(["4x"]) is True
    assert compressible([b"x"]) is True
    assert compressible([Wire("4x")]) is True
    assert compressible([Wire("4x", compress=False)]) is False
    assert compressible([Wire("4x", compress=False), "4y"]) is True  # any of them
    assert compressible([Wire("4x", compress=False), Wire(b"y", compress=False)]) is False
    assert compressible([]) is False
    assert compressible(iter([Wire("4x", compress=False), Wire("4y")])) is True


def test_payload_of_joins_packets_with_the_record_separator() -> None:
    payload = payload_of(["2", Wire('42["a"]'), b"\x01\x02", Wire(b"\xff")])
    assert payload == b'2\x1e42["a"]\x1eb' + base64.b64encode(b"\x01\x02") + b"\x1eb/w=="
    assert isinstance(payload, bytes)
    assert payload_of(["4é"]) == "4é".encode()
    assert payload_of([]) == b""
    assert payload_of(iter(["1"])) == b"1"
