"""The messages servers of a cluster exchange, and the codecs of their parts.

Names and values follow socket.io-adapter's ``ClusterAdapter`` (``cluster-adapter.ts``);
options and packets are written as the Node servers write them.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

from aiosio.adapters.base import BroadcastFlags, BroadcastOptions, LocalSocket
from aiosio.exceptions import RemoteProtocolError
from aiosio.socketio.packets import EVENT, Packet

__all__ = [
    "RESPONSES",
    "ClusterMessage",
    "MessageType",
    "decode_options",
    "decode_packet",
    "encode_options",
    "encode_packet",
    "names",
    "socket_details",
]


class MessageType(enum.IntEnum):
    """Message types between servers (socket.io-adapter, ``cluster-adapter.ts``)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


RESPONSES = frozenset(
    {
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    }
)


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """One message between servers: ``{uid, nsp, type, data}`` on the wire."""

    type: MessageType
    uid: str
    nsp: str
    data: dict[str, Any] = field(default_factory=dict)


# -- options and packets as the reference writes them ----------------------------------


def encode_options(options: BroadcastOptions) -> dict[str, Any]:
    """``{rooms, except, flags}`` with the timeout in milliseconds, as Node sends them."""
    flags: dict[str, Any] = {}
    given = options.flags
    if given.volatile:
        flags["volatile"] = True
    if not given.compress:
        flags["compress"] = False
    if given.local:
        flags["local"] = True
    if given.timeout is not None:
        flags["timeout"] = round(given.timeout * 1000)
    return {"rooms": sorted(options.rooms), "except": sorted(options.except_), "flags": flags}


def names(value: Any, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise RemoteProtocolError(f"{what} must be a list")
    names: set[str] = set()
    for item in value:
        # Node rooms may be numbers; ours are strings.
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            names.add(str(int(item)) if float(item).is_integer() else str(item))
        else:
            raise RemoteProtocolError(f"{what} must hold strings")
    return frozenset(names)


def decode_options(value: Any) -> BroadcastOptions:
    """The inverse of :func:`encode_options`.

    Raises:
        RemoteProtocolError: When ``value`` is not ``{rooms, except, flags}``.
    """
    if not isinstance(value, dict):
        raise RemoteProtocolError("broadcast options must be an object")
    flags = value.get("flags")
    if flags is None:
        flags = {}
    elif not isinstance(flags, dict):
        raise RemoteProtocolError("broadcast flags must be an object")
    timeout = flags.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        timeout = None  # a number of milliseconds, or no timeout
    return BroadcastOptions(
        rooms=names(value.get("rooms"), "rooms"),
        except_=names(value.get("except"), "except"),
        flags=BroadcastFlags(
            volatile=bool(flags.get("volatile")),
            compress=flags.get("compress") is not False,
            local=False,
            timeout=None if timeout is None else timeout / 1000,
        ),
    )


def encode_packet(packet: Packet) -> dict[str, Any]:
    """A broadcast packet as socket.io writes it: ``{type: 2, data, nsp}``."""
    return {"type": int(EVENT), "data": packet.data, "nsp": packet.namespace}


def decode_packet(value: Any, namespace: str) -> Packet:
    """The EVENT packet of a broadcast (binary data stays inline, as bytes).

    Raises:
        RemoteProtocolError: When ``value`` is not an EVENT packet with ``[event, *args]``.
    """
    if not isinstance(value, dict):
        raise RemoteProtocolError("packet must be an object")
    data = value.get("data")
    if value.get("type") not in (2, 5) or not isinstance(data, list) or not data:
        raise RemoteProtocolError("packet must be an EVENT with [event, ...args]")
    if not isinstance(data[0], str | int | float) or isinstance(data[0], bool):
        raise RemoteProtocolError("event name must be a string")
    return Packet(EVENT, namespace, data)


def socket_details(socket: LocalSocket) -> dict[str, Any]:
    """What ``fetch_sockets`` answers for one local socket: ``{id, handshake, rooms, data}``."""
    return {
        "id": socket.id,
        "handshake": {**dataclasses.asdict(socket.handshake), "time": socket.handshake.time},
        "rooms": sorted(socket.rooms),
        "data": socket.data,
    }
