"""Sans-I/O compression: permessage-deflate (RFC 7692) and HTTP content codings.

permessage-deflate compresses each WebSocket message with raw DEFLATE (zlib), flushed so
that it ends with an empty stored block whose 4-byte tail ``00 00 ff ff`` is cut off
(section 7.2.1); the receiver appends it back before inflating (section 7.2.2). The
negotiation is in :mod:`aiosio.websocket.handshake`; it yields
:class:`~aiosio.websocket.handshake.DeflateParameters`, from which :func:`codecs_for`
builds one end's pair:

* :class:`Deflater` compresses messages. With context takeover (a client, by default) it
  keeps its LZ77 window between messages; without (our server, always) each message is
  compressed on its own, so one deflater can serve every connection.
* :class:`Inflater` decompresses them, never producing more than the parser allows: a
  small frame cannot expand past ``max_message_size`` (a "decompression bomb", close 1009).
* :class:`FrameCompressor` builds a server's frames: messages of ``threshold`` bytes or more
  are compressed (RSV1 set), smaller ones are left to the plain framing.
* :class:`ServerDeflate` is a server's policy: it negotiates each WebSocket and shares one
  :class:`FrameCompressor` between all connections with the same window.

Errors: :class:`~aiosio.websocket.frames.WebSocketError` (1007 for data that does not inflate,
1009 for a message that inflates past its limit); :class:`~aiosio.exceptions.LocalProtocolError`
for text that UTF-8 cannot carry.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from aiosio.exceptions import LocalProtocolError
from aiosio.websocket.frames import BINARY, TEXT, CloseCode, WebSocketError, encode_frame
from aiosio.websocket.handshake import DeflateParameters, negotiate_deflate

__all__ = [
    "Deflater",
    "FrameCompressor",
    "Inflater",
    "ServerDeflate",
    "codecs_for",
]

_TAIL = b"\x00\x00\xff\xff"  # the empty stored block a sync flush ends with (section 7.2.1)


class Deflater:
    """Compress the messages of one end (RFC 7692, section 7.2.1).

    Args:
        max_window_bits: LZ77 window, 9 to 15 bits (zlib cannot compress with 8).
        no_context_takeover: Compress each message on its own (a full flush resets the
            window), so any decompressor can read any message: the output for a given
            input does not depend on what was compressed before.
        level: zlib compression level (-1 for zlib's default, 6).
        mem_level: zlib memory level, 1 to 9.

    Raises:
        LocalProtocolError: If ``max_window_bits`` is not 9 to 15.
    """

    __slots__ = ("_compressor", "_flush", "level", "max_window_bits", "mem_level")

    def __init__(
        self,
        *,
        max_window_bits: int = 15,
        no_context_takeover: bool = False,
        level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
    ) -> None:
        if not 9 <= max_window_bits <= 15:
            raise LocalProtocolError("zlib compresses with a window of 9 to 15 bits")
        self.max_window_bits = max_window_bits
        self.level = level
        self.mem_level = mem_level
        # Z_FULL_FLUSH ends with the same empty block as Z_SYNC_FLUSH and also forgets the
        # window: one long-lived compressor, with no allocation per message.
        self._flush = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH
        self._compressor: zlib._Compress | None = None  # allocated on first use (~300 KiB)

    def compress(self, data: bytes) -> bytes:
        """The compressed payload of one message (its tail removed)."""
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(
                self.level, zlib.DEFLATED, -self.max_window_bits, self.mem_level
            )
        out = compressor.compress(data) + compressor.flush(self._flush)
        return out[:-4] if out.endswith(_TAIL) else out


class Inflater:
    """Decompress the messages of one end (RFC 7692, section 7.2.2).

    The zlib decompressor is created with the first compressed message and, when the peer
    does not take its context over (or ended its stream with a BFINAL block, section
    7.2.3.4), dropped after each message: an idle connection holds no zlib state then.

    Args:
        max_window_bits: The peer's LZ77 window, 8 to 15 bits.
        no_context_takeover: The peer compresses each message on its own.
    """

    __slots__ = ("_decompressor", "_size", "max_window_bits", "no_context_takeover")

    def __init__(self, *, max_window_bits: int = 15, no_context_takeover: bool = False) -> None:
        # A 9-bit window reads an 8-bit stream, and zlib may write 9 when asked for 8.
        self.max_window_bits = max(max_window_bits, 9)
        self.no_context_takeover = no_context_takeover
        self._decompressor: zlib._Decompress | None = None
        self._size = 0  # bytes produced so far for the current message

    def decompress(self, data: bytes, *, fin: bool, max_size: int) -> bytes:
        """Decompress the payload of one frame of a compressed message.

        Args:
            data: The frame's payload (unmasked).
            fin: True for the last frame of the message.
            max_size: The most bytes the whole message may decompress to.

        Raises:
            WebSocketError: 1009 if the message would exceed ``max_size`` (nothing past
                the limit is ever produced), 1007 if ``data`` is not valid DEFLATE.
        """
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = self._decompressor = zlib.decompressobj(-self.max_window_bits)
        if fin:
            data += _TAIL
        room = max_size - self._size
        try:
            # One byte more than allowed: getting it proves the message is too big,
            # without ever inflating the rest.
            out = decompressor.decompress(data, room + 1)
        except zlib.error:
            raise WebSocketError(CloseCode.INVALID_DATA, "invalid compressed data") from None
        if len(out) > room:
            raise WebSocketError(CloseCode.MESSAGE_TOO_BIG, "message too big once inflated")
        if fin:
            self._size = 0
            if self.no_context_takeover or decompressor.eof:
                self._decompressor = None
        else:
            self._size += len(out)
        return out


def codecs_for(
    parameters: DeflateParameters, *, client_side: bool, level: int = zlib.Z_DEFAULT_COMPRESSION
) -> tuple[Deflater, Inflater]:
    """The deflater and inflater of one end of a connection, as ``parameters`` agree."""
    if client_side:
        mine, mine_flag = parameters.client_max_window_bits, parameters.client_no_context_takeover
        theirs, theirs_flag = (
            parameters.server_max_window_bits,
            parameters.server_no_context_takeover,
        )
    else:
        mine, mine_flag = parameters.server_max_window_bits, parameters.server_no_context_takeover
        theirs, theirs_flag = (
            parameters.client_max_window_bits,
            parameters.client_no_context_takeover,
        )
    deflater = Deflater(max_window_bits=max(mine, 9), no_context_takeover=mine_flag, level=level)
    return deflater, Inflater(max_window_bits=theirs, no_context_takeover=theirs_flag)


class FrameCompressor:
    """Build a server's compressed frames (unmasked, one FIN frame per message).

    The deflater takes no context over, so the frame of a message is the same for every
    connection that uses this compressor: a broadcast is compressed once.
    """

    __slots__ = ("deflater", "threshold")

    def __init__(self, deflater: Deflater, threshold: int) -> None:
        self.deflater = deflater
        self.threshold = threshold

    def frame(self, data: str | bytes) -> bytes | None:
        """The compressed frame of ``data`` (RSV1 set), or None when it is under the
        threshold: such a message is sent plain (a message at a time, section 6).

        Raises:
            LocalProtocolError: If ``data`` holds lone surrogates, which UTF-8 cannot carry.
        """
        threshold = self.threshold
        if type(data) is str:
            if len(data) * 4 < threshold:  # a character is at most 4 UTF-8 bytes
                return None
            try:
                payload = data.encode()
            except UnicodeEncodeError as exc:
                raise LocalProtocolError("text is not valid Unicode") from exc
            opcode = TEXT
        else:
            payload = data  # type: ignore[assignment]
            opcode = BINARY
        if len(payload) < threshold:
            return None
        return encode_frame(opcode, self.deflater.compress(payload), rsv1=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerDeflate:
    """A server's permessage-deflate policy (the ``per_message_deflate`` option).

    Args:
        threshold: Messages under this many bytes are sent uncompressed (Node's default).
        server_max_window_bits: The window the server compresses with (9 to 15).
        client_max_window_bits: Ask clients that allow it to use at most this window.
        client_no_context_takeover: Ask clients to compress each message on its own.
        level: zlib compression level (-1 for zlib's default).
        mem_level: zlib memory level, 1 to 9.

    Raises:
        LocalProtocolError: If a window is out of range.
    """

    threshold: int = 1024
    server_max_window_bits: int = 15
    client_max_window_bits: int | None = None
    client_no_context_takeover: bool = False
    level: int = zlib.Z_DEFAULT_COMPRESSION
    mem_level: int = 8
    _compressors: dict[int, FrameCompressor] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not 9 <= self.server_max_window_bits <= 15:
            raise LocalProtocolError("server_max_window_bits is 9 to 15")
        bits = self.client_max_window_bits
        if bits is not None and not 8 <= bits <= 15:
            raise LocalProtocolError("client_max_window_bits is 8 to 15")

    def accept(self, offers: str) -> tuple[str, Inflater, FrameCompressor] | None:
        """Negotiate with a client's ``Sec-WebSocket-Extensions`` offers.

        Returns:
            The answer header value, the connection's inflater and the shared frame
            compressor, or None to go on without compression.
        """
        negotiated = negotiate_deflate(
            offers,
            server_max_window_bits=self.server_max_window_bits,
            client_max_window_bits=self.client_max_window_bits,
            client_no_context_takeover=self.client_no_context_takeover,
        )
        if negotiated is None:
            return None
        answer, parameters = negotiated
        bits = parameters.server_max_window_bits
        compressor = self._compressors.get(bits)
        if compressor is None:
            deflater = Deflater(
                max_window_bits=bits,
                no_context_takeover=True,
                level=self.level,
                mem_level=self.mem_level,
            )
            compressor = self._compressors[bits] = FrameCompressor(deflater, self.threshold)
        inflater = Inflater(
            max_window_bits=parameters.client_max_window_bits,
            no_context_takeover=parameters.client_no_context_takeover,
        )
        return answer, inflater, compressor
