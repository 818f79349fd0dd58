"""The names RFC 6455 gives to numbers: opcodes, close codes, and the error that carries
the close code to send back. Kept apart from the framing so that module stays small;
:mod:`aiosio.websocket.frames` re-exports them all."""

from __future__ import annotations

import enum

from aiosio.exceptions import RemoteProtocolError

__all__ = [
    "BINARY",
    "CLOSE",
    "CONTINUATION",
    "PING",
    "PONG",
    "TEXT",
    "CloseCode",
    "Message",
    "Opcode",
    "WebSocketError",
]


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455, section 5.2)."""

    CONTINUATION = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


CONTINUATION = Opcode.CONTINUATION
TEXT = Opcode.TEXT
BINARY = Opcode.BINARY
CLOSE = Opcode.CLOSE
PING = Opcode.PING
PONG = Opcode.PONG


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455, section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005
    ABNORMAL = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011


#: One received message or control frame: ``(TEXT, str)``, ``(BINARY, bytes)``,
#: ``(PING, bytes)``, ``(PONG, bytes)`` or ``(CLOSE, raw close payload)``.
Message = tuple[Opcode, str | bytes]


class WebSocketError(RemoteProtocolError):
    """The peer broke RFC 6455; the connection must be failed (section 7.1.7).

    Attributes:
        code: The close code to send back, so the I/O layer needs no mapping table.
        reason: A short human-readable reason, fit for the close frame (<= 123 bytes).
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
