"""Sans-I/O WebSocket framing (RFC 6455), for our server and our client.

Bytes go in, messages come out: no I/O, no clock, no randomness (the caller passes masking
keys from ``os.urandom``). :func:`text_frame` is the server's hot path (broadcasts), and
:func:`apply_mask` uses the C masking of ``websockets`` when installed, else pure Python.
permessage-deflate (RFC 7692) plugs in as ``FrameParser(compression=Inflater(...))``
(:mod:`aiosio.websocket.deflate`), which lets RSV1 mark a compressed message. The
opening-handshake helpers, extension negotiation included, live in :mod:`aiosio.websocket.handshake`
and are re-exported here.

Errors::

    RemoteProtocolError
    └── WebSocketError      the peer broke RFC 6455; ``.code`` is the close code to send
    LocalProtocolError      we were asked to send something RFC 6455 forbids
"""

from __future__ import annotations

import codecs
import enum
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiosio.exceptions import LocalProtocolError
from aiosio.websocket.codes import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    CloseCode,
    Message,
    Opcode,
    WebSocketError,
)

if TYPE_CHECKING:
    from aiosio.websocket.deflate import Inflater

__all__ = [
    "BINARY",
    "CLOSE",
    "CONTINUATION",
    "PING",
    "PONG",
    "TEXT",
    "CloseCode",
    "FrameParser",
    "Message",
    "Opcode",
    "WebSocketError",
    "apply_mask",
    "apply_mask_c",
    "apply_mask_python",
    "binary_frame",
    "binary_header",
    "close_frame",
    "encode_frame",
    "parse_close",
    "text_frame",
]


# --- Masking (section 5.3) ----------------------------------------------------------------

# XOR tables for bytes.translate, one per mask byte, built with big ints (import stays cheap).
_IDENTITY = int.from_bytes(bytes(range(256)), "big")
_XOR_TABLES = [
    (_IDENTITY ^ int.from_bytes(bytes((m,)) * 256, "big")).to_bytes(256, "big") for m in range(256)
]
# Measured here: big-int XOR and 4-lane translate cost the same at 4 KiB; below, big-int
# XOR wins (no slicing), above, the lanes win (64 KiB: 100 us against 200 us).
_LANES_FROM = 4096


def apply_mask_python(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``mask``, in pure Python.

    Small payloads are one big-int XOR. Large ones are four ``bytes.translate`` calls,
    one per byte lane, each with the XOR table of its mask byte: both run in C loops.
    """
    n = len(data)
    if n < _LANES_FROM:
        key = (mask * ((n >> 2) + 1))[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    out = bytearray(n)
    tables = _XOR_TABLES
    out[0::4] = data[0::4].translate(tables[mask[0]])
    out[1::4] = data[1::4].translate(tables[mask[1]])
    out[2::4] = data[2::4].translate(tables[mask[2]])
    out[3::4] = data[3::4].translate(tables[mask[3]])
    return bytes(out)


apply_mask_c: Callable[[bytes, bytes], bytes] | None
try:
    # The C masking of the well-kept ``websockets`` package (extra ``fast``): 1.3 us for
    # 64 KiB where pure Python takes about 100 us (wsaccel, byte by byte, took 37 us).
    from websockets.speedups import apply_mask as apply_mask_c
except ImportError:
    apply_mask_c = None

#: XOR ``data`` with the repeated 4-byte ``mask`` (masking and unmasking are the same):
#: in C when ``websockets`` is installed, else in pure Python.
apply_mask: Callable[[bytes, bytes], bytes] = apply_mask_c or apply_mask_python

# From this size, the C masking reads a large payload in place (a memoryview of the
# received bytes) rather than from a slice of them: one copy of the payload fewer. And a
# payload of this size that spans several reads is collected into a buffer of its exact
# size as they come, rather than re-buffered and copied again at each read.
_UNMASK_IN_PLACE_FROM = 1024
_apply_mask_view: Callable[[memoryview, bytes], bytes] | None = apply_mask_c  # type: ignore[assignment]


def _unmask_in_place(data: bytes, start: int, stop: int, mask: bytes) -> bytes:
    """The payload ``data[start:stop]``, unmasked with ``mask`` by the C masking."""
    assert _apply_mask_view is not None
    with memoryview(data) as view:
        return _apply_mask_view(view[start:stop], mask)


# --- Encoding (section 5.2) ---------------------------------------------------------------

_FIN = 0x80
_RSV1 = 0x40
_RESERVED = 0x70  # RSV1 | RSV2 | RSV3
_MASK_BIT = 0x80
_MAX_CONTROL = 125  # section 5.5
_HEADER_16 = struct.Struct("!BBH").pack
_HEADER_64 = struct.Struct("!BBQ").pack
_UNPACK_16 = struct.Struct("!H").unpack_from
_UNPACK_64 = struct.Struct("!Q").unpack_from
_FIN_TEXT = _FIN | TEXT
_FIN_BINARY = _FIN | BINARY
_OPCODES = {int(opcode): opcode for opcode in Opcode}
# The whole header of every unmasked FIN frame shorter than 126 bytes, indexed by length.
_TEXT_HEADERS = [bytes((_FIN_TEXT, n)) for n in range(126)]
_BINARY_HEADERS = [bytes((_FIN_BINARY, n)) for n in range(126)]


def text_frame(data: str) -> bytes:
    """Encode ``data`` as one unmasked FIN text frame, as a server sends it.

    Raises:
        LocalProtocolError: If ``data`` holds lone surrogates, which UTF-8 cannot carry.
    """
    try:
        payload = data.encode()
    except UnicodeEncodeError as exc:
        raise LocalProtocolError("text is not valid Unicode") from exc
    n = len(payload)
    if n < 126:
        return _TEXT_HEADERS[n] + payload
    if n < 65536:
        return _HEADER_16(_FIN_TEXT, 126, n) + payload
    return _HEADER_64(_FIN_TEXT, 127, n) + payload


def binary_frame(data: bytes) -> bytes:
    """Encode ``data`` as one unmasked FIN binary frame, as a server sends it."""
    return binary_header(len(data)) + data


def binary_header(n: int) -> bytes:
    """The header of an unmasked FIN binary frame of ``n`` bytes: a large payload can
    follow it in the same write without being copied into a frame first."""
    if n < 126:
        return _BINARY_HEADERS[n]
    if n < 65536:
        return _HEADER_16(_FIN_BINARY, 126, n)
    return _HEADER_64(_FIN_BINARY, 127, n)


def encode_frame(
    opcode: Opcode,
    payload: bytes,
    *,
    fin: bool = True,
    mask: bytes | None = None,
    rsv1: bool = False,
) -> bytes:
    """Encode any one frame, masked when ``mask`` (4 bytes from ``os.urandom``) is given.

    The client masks every frame with a fresh key (section 5.3); ``fin=False`` marks all
    fragments of a message but the last; ``rsv1`` is for a negotiated RFC 7692.

    Raises:
        LocalProtocolError: For an unknown opcode, a fragmented, oversized or RSV1 control
            frame, or a mask that is not 4 bytes long.
    """
    if opcode not in _OPCODES:
        raise LocalProtocolError(f"unknown opcode {opcode}")
    n = len(payload)
    if opcode >= CLOSE and (not fin or rsv1 or n > _MAX_CONTROL):
        raise LocalProtocolError("control frames are single, <= 125 bytes and uncompressed")
    b0 = opcode | (_FIN if fin else 0) | (_RSV1 if rsv1 else 0)
    b1 = 0 if mask is None else _MASK_BIT
    if n < 126:
        header = bytes((b0, b1 | n))
    elif n < 65536:
        header = _HEADER_16(b0, b1 | 126, n)
    else:
        header = _HEADER_64(b0, b1 | 127, n)
    if mask is None:
        return header + payload
    if len(mask) != 4:
        raise LocalProtocolError("a masking key is 4 bytes")
    return header + mask + apply_mask(payload, mask)


def _valid_close_code(code: int) -> bool:
    # 1004-1006 and 1015 are reserved and never sent; 1012-1014 are IANA-registered; 3000-4999
    # are for libraries and applications (section 7.4.2 and the IANA registry).
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


def close_frame(code: int, reason: str = "", *, mask: bytes | None = None) -> bytes:
    """Encode a close frame; ``NO_STATUS`` without a reason gives an empty payload.

    Raises:
        LocalProtocolError: If ``code`` may not be sent or the payload is over 125 bytes.
    """
    if code == CloseCode.NO_STATUS and not reason:
        return encode_frame(CLOSE, b"", mask=mask)
    if not _valid_close_code(code):
        raise LocalProtocolError(f"close code {code} may not be sent")
    try:
        payload = code.to_bytes(2, "big") + reason.encode()
    except UnicodeEncodeError as exc:
        raise LocalProtocolError("close reason is not valid Unicode") from exc
    if len(payload) > _MAX_CONTROL:
        raise LocalProtocolError("close reason is longer than 123 bytes")
    return encode_frame(CLOSE, payload, mask=mask)


def parse_close(payload: bytes) -> tuple[int, str]:
    """Decode a close payload into ``(code, reason)``; ``(1005, "")`` when it is empty.

    Raises:
        WebSocketError: 1002 for a 1-byte payload or a code that may not be sent, 1007 for
            a reason that is not UTF-8 (section 5.5.1).
    """
    if not payload:
        return CloseCode.NO_STATUS, ""
    if len(payload) == 1:
        raise WebSocketError(CloseCode.PROTOCOL_ERROR, "close payload of 1 byte")
    code = int.from_bytes(payload[:2], "big")
    if not _valid_close_code(code):
        raise WebSocketError(CloseCode.PROTOCOL_ERROR, f"invalid close code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise WebSocketError(CloseCode.INVALID_DATA, "close reason is not UTF-8") from None


# --- Decoding (sections 5.2 to 5.6) -----------------------------------------------------

_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class _Phase(enum.Enum):
    OPEN = "open"  # frames are parsed
    CLOSED = "closed"  # a close frame was received; later bytes are ignored (section 5.5.1)
    FAILED = "failed"  # a WebSocketError was raised; every later feed() raises it again


class FrameParser:
    """Turn received bytes into messages, enforcing RFC 6455 and our limits (docs/limits.md).

    Every frame header is checked as soon as it is complete, before its payload is
    buffered, so an announced oversize message costs nothing. Fragmented text is decoded
    incrementally, so invalid UTF-8 fails at the fragment that carries it.

    Once :meth:`feed` has raised, the connection is being failed (section 7.1.7): later
    calls raise the same error, and complete messages that came in the same chunk before
    the bad frame are not returned. After a close frame, further bytes are ignored.
    """

    __slots__ = (
        "_buffer",
        "_collect",
        "_collect_b0",
        "_collect_got",
        "_collect_mask",
        "_collect_size",
        "_compressed",
        "_decoder",
        "_error",
        "_fast",
        "_fast_limit",
        "_fragment_count",
        "_fragment_opcode",
        "_fragments",
        "_inflater",
        "_mask_bit",
        "_max_fragments",
        "_max_message_size",
        "_message_size",
        "_need",
        "_phase",
        "_texts",
    )

    def __init__(
        self,
        *,
        client_side: bool = False,
        max_message_size: int = 1_000_000,
        max_fragments: int = 1024,
        compression: Inflater | None = None,
    ) -> None:
        """Create a parser for one connection.

        Args:
            client_side: True in our client, which must receive unmasked frames; False in
                the server, which must receive masked ones (section 5.1).
            max_message_size: Largest message, summed over its fragments (close 1009).
            max_fragments: Most frames in one message (close 1008): bounds the work a
                peer can cause with 1-byte fragments.
            compression: The inflater of a negotiated permessage-deflate (RFC 7692): RSV1
                then marks a compressed message, and ``max_message_size`` bounds its size
                once inflated (close 1009) as well as on the wire.
        """
        self._inflater = compression
        self._compressed = False  # the open fragmented message is compressed
        self._mask_bit = 0 if client_side else _MASK_BIT
        self._max_message_size = max_message_size
        self._max_fragments = max_fragments
        self._fast_limit = min(_MAX_CONTROL, max_message_size)
        self._buffer = bytearray()
        self._need = 0  # bytes the frame at the start of the buffer needs, once known
        self._collect: list[bytes | bytearray | memoryview] | None = None  # a payload's reads
        self._collect_got = 0  # bytes of it received
        self._collect_size = 0  # its length; 0 when no payload is being collected
        self._collect_b0 = 0  # its first header byte
        self._collect_mask = b""  # its masking key (empty when unmasked)
        self._fast = True  # no buffered bytes, no open fragmented message, phase OPEN
        self._phase = _Phase.OPEN
        self._error: WebSocketError | None = None
        self._fragment_opcode = 0  # opcode of the open fragmented message, 0 if none
        self._fragment_count = 0
        self._fragments: list[bytes] = []  # of a binary message
        self._texts: list[str] = []  # of a text message, decoded fragment by fragment
        self._message_size = 0
        self._decoder = _Utf8Decoder()

    def feed(self, data: bytes) -> list[Message]:
        """Parse ``data``; return the messages and control frames completed by it, in order.

        Returns:
            ``(TEXT, str)``, ``(BINARY, bytes)``, ``(PING, bytes)``, ``(PONG, bytes)`` and
            ``(CLOSE, bytes)`` tuples; the close payload is raw and already validated.

        Raises:
            WebSocketError: If the peer broke RFC 6455 or a limit; ``.code`` says which.
        """
        if self._fast:
            # Fast path: the chunk is exactly one small unfragmented text or binary frame,
            # which is what a Socket.IO peer sends nearly every time.
            n = len(data)
            if n > 1:
                b0 = data[0]
                length = data[1] ^ self._mask_bit  # >= 128 when the mask bit is wrong
                if length <= self._fast_limit and _FIN_TEXT <= b0 <= _FIN_BINARY:
                    if self._mask_bit:
                        payload = apply_mask(data[6:], data[2:6]) if n == length + 6 else None
                    else:
                        payload = data[2:] if n == length + 2 else None
                    if payload is not None:
                        if b0 == _FIN_BINARY:
                            return [(BINARY, payload)]
                        try:
                            return [(TEXT, payload.decode())]
                        except UnicodeDecodeError:
                            pass  # the general path fails the connection with 1007
        return self._feed(data)

    def _feed(self, data: bytes) -> list[Message]:
        if self._phase is not _Phase.OPEN:
            if self._error is not None:
                raise self._error
            return []
        if self._collect_size:  # (not "_collect is not None": mypyc would narrow it below)
            messages: list[Message] = []
            try:
                used = self._fill(data, messages)
            except WebSocketError as exc:
                self._fail(exc)
                raise
            if used < len(data):
                return messages + self._feed(data[used:])  # the frames after the payload
            self._fast = not self._collect_size and not self._fragment_opcode
            return messages
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._need:
                return []  # the frame at the start is still incomplete: no re-parsing
            data = bytes(buffer)  # so payloads are plain slices: one copy each
            buffer.clear()
        messages = []
        try:
            consumed = self._parse(data, messages)
        except WebSocketError as exc:
            self._fail(exc)
            raise
        if consumed < len(data):
            with memoryview(data) as view:  # keep only the incomplete tail, copied once
                buffer += view[consumed:]
        is_open = self._phase is _Phase.OPEN
        self._fast = is_open and not buffer and not self._fragment_opcode and not self._collect_size
        return messages

    def _fail(self, exc: WebSocketError) -> None:
        self._phase = _Phase.FAILED
        self._error = exc
        self._fast = False

    def _start_collect(self, b0: int, data: bytes, at: int, length: int, mask: bytes) -> None:
        # A large payload goes on past ``data``: the reads that carry it are kept as they
        # are and joined once it is complete (one copy); small reads are merged as they
        # come, so a peer's 1-byte reads cost a byte each, not an object each.
        self._collect = [memoryview(data)[at:]]
        self._collect_got = len(data) - at
        self._collect_size = length
        self._collect_b0 = b0
        self._collect_mask = mask

    def _fill(self, data: bytes, messages: list[Message]) -> int:
        # Add ``data`` to the payload being collected; once it is whole, unmask it in one
        # pass and append its message. Return the bytes of ``data`` it took.
        pieces = self._collect
        assert pieces is not None
        used = min(self._collect_size - self._collect_got, len(data))
        piece = data if used == len(data) else data[:used]
        last = pieces[-1]
        if used >= _UNMASK_IN_PLACE_FROM:
            pieces.append(piece)
        elif isinstance(last, bytearray):
            last += piece
        else:
            pieces.append(bytearray(piece))
        self._collect_got += used
        if self._collect_got < self._collect_size:
            return used
        self._collect = None
        self._collect_size = 0
        payload = b"".join(pieces)
        mask = self._collect_mask
        if not mask:
            whole = payload
        elif _apply_mask_view is None:
            whole = apply_mask(payload, mask)
        else:  # in C, from the joined bytes: no slice of them first
            whole = _unmask_in_place(payload, 0, len(payload), mask)
        b0 = self._collect_b0
        if b0 == _FIN_BINARY:
            messages.append((BINARY, whole))
        elif b0 == _FIN_TEXT:
            messages.append((TEXT, _decode(whole)))
        else:
            self._on_frame(b0 & 0x0F, b0 & _FIN, b0 & _RSV1, whole, messages)
        return used

    def _parse(self, data: bytes, messages: list[Message]) -> int:
        """Append the complete frames at the start of ``data``; return the bytes used."""
        pos = 0
        end = len(data)
        mask_bit = self._mask_bit
        while end - pos >= 2:
            b0 = data[pos]
            b1 = data[pos + 1]
            if b1 & _MASK_BIT != mask_bit:
                side = "client" if mask_bit else "server"
                raise WebSocketError(CloseCode.PROTOCOL_ERROR, f"wrong masking from {side}")
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if end - pos < 4:
                    break
                (length,) = _UNPACK_16(data, start)
                start += 2
            elif length == 127:
                if end - pos < 10:
                    break
                (length,) = _UNPACK_64(data, start)
                if length >> 63:
                    raise WebSocketError(CloseCode.PROTOCOL_ERROR, "64-bit length over 2**63")
                start += 8
            opcode = b0 & 0x0F
            self._check_header(b0, opcode, length)
            stop = start + length + (4 if mask_bit else 0)
            if stop > end:
                if length >= _UNMASK_IN_PLACE_FROM and stop - length <= end:  # the mask is here
                    mask = data[start : start + 4] if mask_bit else b""
                    self._start_collect(b0, data, stop - length, length, mask)
                    return end
                self._need = stop - pos
                return pos
            if not mask_bit:
                payload = data[start:stop]
            elif length < _UNMASK_IN_PLACE_FROM or _apply_mask_view is None:
                payload = apply_mask(data[start + 4 : stop], data[start : start + 4])
            else:
                payload = _unmask_in_place(data, start + 4, stop, data[start : start + 4])
            pos = stop
            if b0 == _FIN_TEXT:  # an unfragmented message: the common case, handled inline
                messages.append((TEXT, _decode(payload)))
            elif b0 == _FIN_BINARY:
                messages.append((BINARY, payload))
            else:
                self._on_frame(opcode, b0 & _FIN, b0 & _RSV1, payload, messages)
                if self._phase is _Phase.CLOSED:
                    return end
        self._need = 0  # the header is incomplete, or nothing is left
        return pos

    def _check_reserved(self, b0: int, opcode: int) -> None:
        """Decide on RSV bits: only RSV1, only with permessage-deflate, and only on the
        first frame of a data message (RFC 7692, section 6)."""
        if b0 & _RESERVED == _RSV1 and self._inflater is not None and opcode in (TEXT, BINARY):
            return
        raise WebSocketError(CloseCode.PROTOCOL_ERROR, "reserved bits set")

    def _check_header(self, b0: int, opcode: int, length: int) -> None:
        """Refuse a frame from its header alone, before its payload is buffered."""
        if b0 & _RESERVED:
            self._check_reserved(b0, opcode)
        if opcode >= CLOSE:
            if opcode > PONG:
                raise WebSocketError(CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode}")
            if not b0 & _FIN or length > _MAX_CONTROL:
                raise WebSocketError(CloseCode.PROTOCOL_ERROR, "fragmented or long control")
            return
        if opcode > BINARY:
            raise WebSocketError(CloseCode.PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if opcode == CONTINUATION:
            if not self._fragment_opcode:
                raise WebSocketError(CloseCode.PROTOCOL_ERROR, "continuation without start")
            if self._fragment_count >= self._max_fragments:
                raise WebSocketError(CloseCode.POLICY_VIOLATION, "too many fragments")
        elif self._fragment_opcode:
            raise WebSocketError(CloseCode.PROTOCOL_ERROR, "new message inside a fragmented one")
        if self._message_size + length > self._max_message_size:
            raise WebSocketError(CloseCode.MESSAGE_TOO_BIG, "message too big")

    def _on_frame(
        self, opcode: int, fin: int, rsv1: int, payload: bytes, messages: list[Message]
    ) -> None:
        """Handle a checked control frame, fragment or compressed message (``_parse``
        does whole plain messages)."""
        if opcode >= CLOSE:
            if opcode == CLOSE:
                parse_close(payload)
                self._phase = _Phase.CLOSED
            messages.append((_OPCODES[opcode], payload))
            return
        if opcode != CONTINUATION:
            self._fragment_opcode = opcode
            self._compressed = bool(rsv1)
            self._decoder.reset()
        self._fragment_count += 1
        self._message_size += len(payload)
        if self._compressed:
            # The limit bounds the inflated message too (the header check saw the wire).
            payload = self._inflater.decompress(  # type: ignore[union-attr]
                payload, fin=bool(fin), max_size=self._max_message_size
            )
        if self._fragment_opcode == TEXT:
            self._texts.append(_decode(payload, self._decoder, final=bool(fin)))
        else:
            self._fragments.append(payload)
        if fin:
            if self._fragment_opcode == TEXT:
                messages.append((TEXT, "".join(self._texts)))
            else:
                messages.append((BINARY, b"".join(self._fragments)))
            self._fragment_opcode = self._fragment_count = self._message_size = 0
            self._texts = []
            self._fragments = []


def _decode(
    payload: bytes, decoder: codecs.IncrementalDecoder | None = None, *, final: bool = True
) -> str:
    """Decode UTF-8 text, which RFC 6455 requires of text messages (section 8.1)."""
    try:
        if decoder is None:
            return payload.decode()
        return decoder.decode(payload, final)
    except UnicodeDecodeError:
        raise WebSocketError(CloseCode.INVALID_DATA, "text is not UTF-8") from None
