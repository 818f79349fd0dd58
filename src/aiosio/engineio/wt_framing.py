"""Engine.IO packets inside a WebTransport stream (sans-I/O).

Over WebTransport one bidirectional QUIC stream carries the whole session, and a stream
keeps no message boundaries, so the protocol (engine.io-parser 5.2, "packet encoder
stream") puts a header in front of each packet, shaped like a WebSocket frame's length:

* the first byte's high bit says the payload is binary (a binary MESSAGE, its raw bytes)
  or text (a packet with its type digit, in UTF-8);
* its other 7 bits are the length when under 126; 126 means a 16-bit length follows, 127
  a 64-bit one (both big-endian).

The client's first packet on the stream is the handshake: an OPEN packet, plain (``0``)
for a new session, or ``0{"sid":"..."}`` to upgrade an existing one.

:func:`encode_packet` builds one packet's bytes; :class:`StreamDecoder` turns received
bytes back into packets, whatever the chunking, and enforces the limits: a payload
longer than ``max_payload`` or empty is refused before it is buffered, as the reference
decoder does, and text must be UTF-8. Errors are :class:`FramingError`.
"""

from __future__ import annotations

import orjson

from aiosio.engineio.packets import OPEN
from aiosio.exceptions import RemoteProtocolError

__all__ = ["FramingError", "StreamDecoder", "encode_packet", "handshake_sid"]

_OPEN = str(int(OPEN))
_BINARY = 0x80
_U16 = 126
_U64 = 127


class FramingError(RemoteProtocolError):
    """The stream broke the framing or its limits; the session must be closed."""


def _header(length: int, binary: bool) -> bytes:
    flag = _BINARY if binary else 0
    if length < _U16:
        return bytes((flag | length,))
    if length < 1 << 16:
        return bytes((flag | _U16,)) + length.to_bytes(2, "big")
    return bytes((flag | _U64,)) + length.to_bytes(8, "big")


def encode_packet(packet: str | bytes) -> bytes:
    """One packet's bytes: text (with its type digit) or a binary MESSAGE's data."""
    payload = packet if isinstance(packet, bytes) else packet.encode()
    return _header(len(payload), isinstance(packet, bytes)) + payload


class StreamDecoder:
    """Packets out of the bytes of one stream, in order, however they were chunked.

    Args:
        max_payload: The largest payload accepted, in bytes (the server's
            ``max_http_buffer_size``); at most this plus 9 bytes is ever buffered.
    """

    __slots__ = ("_binary", "_buffer", "_length", "max_payload")

    def __init__(self, max_payload: int) -> None:
        self.max_payload = max_payload
        self._buffer = bytearray()
        self._length = -1  # the payload length once the header is whole
        self._binary = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole packet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[str | bytes]:
        """Take received bytes; return the packets they complete (text as ``str``,
        binary messages as ``bytes``).

        Raises:
            FramingError: For an empty or too large payload, or text that is not UTF-8.
        """
        buffer = self._buffer
        buffer += data
        packets: list[str | bytes] = []
        while True:
            if self._length < 0 and not self._read_header():
                return packets
            length = self._length
            if len(buffer) < length:
                return packets
            payload = bytes(buffer[:length])
            del buffer[:length]
            self._length = -1
            if self._binary:
                packets.append(payload)
                continue
            try:
                packets.append(payload.decode())
            except UnicodeDecodeError:
                raise FramingError("a text packet is not UTF-8") from None

    def _read_header(self) -> bool:
        buffer = self._buffer
        if not buffer:
            return False
        first = buffer[0]
        size = first & 0x7F
        extra = 2 if size == _U16 else 8 if size == _U64 else 0
        if len(buffer) < 1 + extra:
            return False
        length = int.from_bytes(buffer[1 : 1 + extra], "big") if extra else size
        if length == 0 or length > self.max_payload:
            raise FramingError(f"packet length {length} not in 1..{self.max_payload}")
        del buffer[: 1 + extra]
        self._binary = bool(first & _BINARY)
        self._length = length
        return True


def handshake_sid(packet: str | bytes) -> str | None:
    """The sid of the client's first packet: None for a new session, the sid for an
    upgrade (``0{"sid":"..."}``).

    Raises:
        FramingError: When the packet is not an OPEN packet of either form.
    """
    if not isinstance(packet, str) or packet[:1] != _OPEN:
        raise FramingError("the first packet of a WebTransport stream must be OPEN")
    if len(packet) == 1:
        return None
    try:
        data = orjson.loads(packet[1:])
    except orjson.JSONDecodeError:
        raise FramingError("invalid OPEN packet") from None
    sid = data.get("sid") if isinstance(data, dict) else None
    if not isinstance(sid, str) or not sid:
        raise FramingError("invalid OPEN packet")
    return sid
