"""Engine.IO v4 packets and HTTP long-polling payloads (engine.io-protocol, "Packet encoding").

A text packet is its type digit followed by its data; a binary message travels as raw bytes
on WebSocket and as ``b`` + base64 inside a polling payload, where packets are joined by the
record separator ``\\x1e`` (v4 has no length prefixes).
"""

from __future__ import annotations

import binascii
import enum
from base64 import b64decode, b64encode
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from aiosio.exceptions import RemoteProtocolError

__all__ = [
    "CLOSE",
    "CLOSE_TEXT",
    "MESSAGE",
    "MESSAGE_TEXT",
    "NOOP",
    "NOOP_TEXT",
    "OPEN",
    "PING",
    "PING_TEXT",
    "PONG",
    "PONG_TEXT",
    "PROBE_PING",
    "PROBE_PONG",
    "SEPARATOR",
    "UPGRADE",
    "UPGRADE_TEXT",
    "Handshake",
    "Packet",
    "PacketType",
    "decode_open",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "open_payload",
    "payload_size",
]

SEPARATOR = "\x1e"


class PacketType(enum.IntEnum):
    """Engine.IO v4 packet types."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


OPEN = PacketType.OPEN
CLOSE = PacketType.CLOSE
PING = PacketType.PING
PONG = PacketType.PONG
MESSAGE = PacketType.MESSAGE
UPGRADE = PacketType.UPGRADE
NOOP = PacketType.NOOP

_TYPES = {str(t.value): t for t in PacketType}

# The encoded control packets both sides send, spelled here once. Either side's session
# decides when; the I/O layers only write them.
CLOSE_TEXT = "1"
PING_TEXT = "2"
PONG_TEXT = "3"
MESSAGE_TEXT = "4"
"""The prefix of a text MESSAGE (``"4" + data``)."""
UPGRADE_TEXT = "5"
NOOP_TEXT = "6"
PROBE_PING = "2probe"
"""The client's first packet on the WebSocket it upgrades to (engine.io-protocol, "Upgrade")."""
PROBE_PONG = "3probe"
"""The server's answer to :data:`PROBE_PING` on that WebSocket."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One Engine.IO packet; ``data`` is bytes only for a binary MESSAGE."""

    type: PacketType
    data: str | bytes = ""


def encode_packet(packet: Packet, *, binary: bool = True) -> str | bytes:
    """Encode one packet for a transport.

    Args:
        packet: The packet to encode.
        binary: Whether the transport carries raw binary (WebSocket). Over polling, a binary
            message becomes ``b`` + base64, the ``b`` standing in place of the type digit.
    """
    data = packet.data
    if isinstance(data, bytes):
        return data if binary else "b" + b64encode(data).decode("ascii")
    return str(packet.type.value) + data


def decode_packet(data: str | bytes) -> Packet:
    """Decode one packet as received from a transport.

    Raises:
        RemoteProtocolError: For an empty packet, an unknown type or bad base64.
    """
    if isinstance(data, bytes):
        return Packet(MESSAGE, data)
    if not data:
        raise RemoteProtocolError("empty packet")
    head = data[0]
    kind = _TYPES.get(head)
    if kind is not None:
        return Packet(kind, data[1:])
    if head == "b":
        try:
            return Packet(MESSAGE, b64decode(data[1:], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise RemoteProtocolError("invalid base64 in binary packet") from exc
    raise RemoteProtocolError(f"unknown packet type {head!r}")


def encode_payload(packets: Iterable[str | bytes]) -> str:
    """Join already encoded packets into one polling payload, base64-encoding binary ones."""
    return SEPARATOR.join(
        p if isinstance(p, str) else "b" + b64encode(p).decode("ascii") for p in packets
    )


def decode_payload(body: str) -> list[Packet]:
    """Split a polling payload into packets (v4: split on ``\\x1e`` only)."""
    return [decode_packet(part) for part in body.split(SEPARATOR)]


def payload_size(packet: str | bytes) -> int:
    """The bytes a packet takes in a polling payload (binary: ``b`` + base64)."""
    if isinstance(packet, bytes):
        return 1 + 4 * ((len(packet) + 2) // 3)
    return len(packet.encode())


def open_payload(
    sid: str,
    *,
    upgrades: Sequence[str],
    ping_interval: float,
    ping_timeout: float,
    max_payload: int,
) -> str:
    """The OPEN packet's JSON: exactly five keys, durations in integer milliseconds."""
    return (
        "0"
        + orjson.dumps(
            {
                "sid": sid,
                "upgrades": list(upgrades),
                "pingInterval": round(ping_interval * 1000),
                "pingTimeout": round(ping_timeout * 1000),
                "maxPayload": max_payload,
            }
        ).decode()
    )


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a client learns from the OPEN packet; durations in seconds."""

    sid: str
    upgrades: list[str]
    ping_interval: float
    ping_timeout: float
    max_payload: int


def decode_open(data: str | bytes) -> Handshake:
    """Read the OPEN packet a server sends first (the inverse of :func:`open_payload`).

    Raises:
        RemoteProtocolError: For another packet type or a payload without the sid and the
            two heartbeat durations.
    """
    packet = decode_packet(data)
    if packet.type is not OPEN:
        raise RemoteProtocolError(f"expected an OPEN packet, got {packet.type.name}")
    try:
        fields: Any = orjson.loads(packet.data)
        sid, upgrades = fields["sid"], fields["upgrades"]
        interval, timeout = fields["pingInterval"], fields["pingTimeout"]
        max_payload = fields.get("maxPayload", 0)
        names = [name for name in upgrades if isinstance(name, str)]
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError):
        raise RemoteProtocolError("invalid OPEN packet") from None
    numbers = (interval, timeout, max_payload)
    if not isinstance(sid, str) or not all(type(n) in (int, float) for n in numbers):
        raise RemoteProtocolError("invalid OPEN packet")
    return Handshake(sid, names, interval / 1000, timeout / 1000, int(max_payload))
