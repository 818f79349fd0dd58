"""Encoded packets on their way out: :class:`Wire`, one packet shared by every recipient
of a broadcast, and the WebSocket frames of a session's queued packets.

Encode once: a broadcast's packet is encoded once, its WebSocket frame built once and
(with permessage-deflate) compressed once, whatever the number of recipients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiosio.engineio.packets import encode_payload
from aiosio.websocket.deflate import FrameCompressor
from aiosio.websocket.frames import binary_frame, binary_header, text_frame

__all__ = ["Wire", "compressed_frames_of", "compressible", "frames_of", "payload_of"]


class Wire:
    """One encoded packet shared by every recipient of a broadcast.

    The WebSocket frame is built once, on first use, and the same bytes object is then
    written to every WebSocket recipient; polling recipients use ``data``. With
    permessage-deflate, the compressed frame is cached beside it (one per compressor,
    that is per window size: in practice one). ``compress=False`` (an emit flagged
    ``compress(False)``) keeps the packet uncompressed on every transport.
    """

    __slots__ = ("_compressed", "_frame", "compress", "data")

    def __init__(self, data: str | bytes, compress: bool = True) -> None:
        self.data = data
        self.compress = compress
        self._frame: bytes | None = None
        self._compressed: tuple[FrameCompressor, bytes] | None = None

    @property
    def frame(self) -> bytes:
        """The whole WebSocket frame."""
        frame = self._frame
        if frame is None:
            data = self.data
            frame = self._frame = text_frame(data) if isinstance(data, str) else binary_frame(data)
        return frame

    def compressed_frame(self, compressor: FrameCompressor) -> bytes:
        """The frame for a connection with permessage-deflate: compressed once for all."""
        if not self.compress:
            return self.frame
        cached = self._compressed
        if cached is not None and cached[0] is compressor:
            return cached[1]
        frame = compressor.frame(self.data) or self.frame
        self._compressed = (compressor, frame)
        return frame


# From this size, a binary packet's frame header and payload are joined with the rest of
# the write, not first into a frame of their own: the payload is copied once, not twice.
_SPLIT_FROM = 1024


def frames_of(items: Sequence[object]) -> bytes:
    """The WebSocket frames of queued packets, joined for one write."""
    if len(items) == 1 and type(items[0]) is Wire:  # a broadcast's: its frame as it is
        return items[0].frame
    parts = []
    for item in items:
        kind = type(item)
        if kind is str:
            parts.append(text_frame(item))  # type: ignore[arg-type]
        elif kind is bytes:
            n = len(item)  # type: ignore[arg-type]
            if n < _SPLIT_FROM:
                parts.append(binary_frame(item))  # type: ignore[arg-type]
            else:
                parts.append(binary_header(n))
                parts.append(item)  # type: ignore[arg-type]
        else:
            parts.append(item.frame)  # type: ignore[attr-defined]
    return b"".join(parts)


def compressed_frames_of(items: Iterable[object], compressor: FrameCompressor) -> bytes:
    """:func:`frames_of` for a connection with permessage-deflate: packets of the
    compressor's threshold or more are compressed, unless sent with ``compress(False)``."""
    parts = []
    for item in items:
        kind = type(item)
        if kind is str:
            parts.append(compressor.frame(item) or text_frame(item))  # type: ignore[arg-type]
        elif kind is bytes:
            parts.append(compressor.frame(item) or binary_frame(item))  # type: ignore[arg-type]
        else:
            parts.append(item.compressed_frame(compressor))  # type: ignore[attr-defined]
    return b"".join(parts)


def compressible(items: Iterable[object]) -> bool:
    # As engine.io: a polling answer is compressed if any of its packets may be.
    return any(type(item) is not Wire or item.compress for item in items)


def payload_of(items: Iterable[object]) -> bytes:
    return encode_payload(
        item.data if type(item) is Wire else item  # type: ignore[misc]
        for item in items
    ).encode()
