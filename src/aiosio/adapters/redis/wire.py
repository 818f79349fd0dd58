"""The bytes the Node Redis adapter and emitter put on Redis channels, as pure functions.

Two formats exist, and both are spoken here:

* **classic** (``@socket.io/redis-adapter`` ``createAdapter``, ``@socket.io/redis-emitter``):
  broadcasts go to ``<key>#<nsp>#`` (or ``<key>#<nsp>#<room>#`` for one room) as the msgpack
  array ``[uid, packet, opts]``; requests go to ``<key>-request#<nsp>#`` and responses to
  ``<key>-response#<nsp>#`` (optionally ``<key>-response#<nsp>#<uid>#``), as JSON, or as
  msgpack for broadcasts with acknowledgements (request type 7 and answer type 9).
* **sharded** (``createShardedAdapter``, socket.io-adapter's ``ClusterAdapter``): every message
  is ``{uid, nsp, type, data}``, JSON unless it holds binary data (then msgpack).

msgpack follows notepack.io, the encoder of the Node packages (:mod:`aiosio.adapters.codec`
reads it). Nothing is ever unpickled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from aiosio.adapters.cluster import ClusterMessage, MessageType
from aiosio.adapters.codec import (
    load,
    object_of,
    pack,
    to_json,
    unpack,
)
from aiosio.exceptions import RemoteProtocolError

__all__ = [
    "ClassicChannels",
    "RequestType",
    "decode_classic_broadcast",
    "decode_classic_request",
    "decode_classic_response",
    "encode_classic",
]


class RequestType(enum.IntEnum):
    """Request types of the classic Redis adapter (``@socket.io/redis-adapter`` 8.x)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


# -- classic format ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassicChannels:
    """The channels of one namespace in the classic format."""

    key: str
    nsp: str

    @property
    def broadcast(self) -> str:
        return f"{self.key}#{self.nsp}#"

    def room(self, room: str) -> str:
        return f"{self.key}#{self.nsp}#{room}#"

    @property
    def request(self) -> str:
        return f"{self.key}-request#{self.nsp}#"

    @property
    def response(self) -> str:
        return f"{self.key}-response#{self.nsp}#"

    def response_to(self, uid: str) -> str:
        return f"{self.key}-response#{self.nsp}#{uid}#"


def _classic_opts(opts: Any) -> dict[str, Any]:
    opts = object_of(opts, "opts")
    return {"rooms": opts.get("rooms", []), "except": opts.get("except", [])}


def encode_classic(
    message: ClusterMessage, channels: ClassicChannels, *, to: str | None = None
) -> tuple[str, bytes]:
    """The channel and payload of a message in the classic format.

    ``to`` (a response's requester) selects ``<key>-response#<nsp>#<uid>#`` instead of the
    shared response channel.
    """
    data, uid = message.data, message.uid
    response_channel = channels.response if to is None else channels.response_to(to)
    match message.type:
        case MessageType.BROADCAST if "requestId" not in data:
            rooms = data["opts"]["rooms"]
            channel = channels.room(rooms[0]) if len(rooms) == 1 else channels.broadcast
            return channel, pack([uid, data["packet"], data["opts"]])
        case MessageType.BROADCAST:
            value = {"uid": uid, "type": int(RequestType.BROADCAST), **data}
            return channels.request, pack(value)
        case MessageType.SOCKETS_JOIN | MessageType.SOCKETS_LEAVE:
            kind = (
                RequestType.REMOTE_JOIN
                if message.type is MessageType.SOCKETS_JOIN
                else RequestType.REMOTE_LEAVE
            )
            value = {"uid": uid, "type": int(kind), "opts": _classic_opts(data["opts"])}
            return channels.request, to_json({**value, "rooms": data["rooms"]})
        case MessageType.DISCONNECT_SOCKETS:
            value = {"uid": uid, "type": int(RequestType.REMOTE_DISCONNECT), "close": data["close"]}
            return channels.request, to_json({**value, "opts": _classic_opts(data["opts"])})
        case MessageType.FETCH_SOCKETS:
            value = {
                "uid": uid,
                "requestId": data["requestId"],
                "type": int(RequestType.REMOTE_FETCH),
            }
            return channels.request, to_json({**value, "opts": _classic_opts(data["opts"])})
        case MessageType.SERVER_SIDE_EMIT:
            value = {"uid": uid, "type": int(RequestType.SERVER_SIDE_EMIT), "data": data["packet"]}
            if "requestId" in data:
                value["requestId"] = data["requestId"]
            return channels.request, to_json(value)
        case MessageType.FETCH_SOCKETS_RESPONSE:
            value = {"requestId": data["requestId"], "sockets": data["sockets"]}
            return response_channel, to_json(value)
        case MessageType.SERVER_SIDE_EMIT_RESPONSE:
            value = {"type": int(RequestType.SERVER_SIDE_EMIT), "requestId": data["requestId"]}
            return response_channel, to_json({**value, "data": data["packet"]})
        case MessageType.BROADCAST_CLIENT_COUNT:
            value = {
                "type": int(RequestType.BROADCAST_CLIENT_COUNT),
                "requestId": data["requestId"],
            }
            value["clientCount"] = data["clientCount"]
            if "sids" in data:
                value["sids"] = data["sids"]  # aiosio's extension (Node ignores it)
            return response_channel, to_json(value)
        case MessageType.BROADCAST_ACK:
            value = {"type": int(RequestType.BROADCAST_ACK), "requestId": data["requestId"]}
            if "sid" in data:
                value["sid"] = data["sid"]  # aiosio's extension (Node ignores it)
            return response_channel, pack({**value, "packet": data["packet"]})
        case _:
            raise ValueError(f"{message.type.name} has no classic form")


def decode_classic_broadcast(data: bytes, nsp: str) -> ClusterMessage:
    """``[uid, packet, opts]`` from a broadcast channel.

    Raises:
        RemoteProtocolError: When ``data`` is not such an array.
    """
    value = unpack(data)
    if not isinstance(value, list) or len(value) != 3:
        raise RemoteProtocolError("a broadcast must be [uid, packet, opts]")
    uid, packet, opts = value
    packet = object_of(packet, "packet")
    return ClusterMessage(
        MessageType.BROADCAST,
        uid if isinstance(uid, str) else "",
        packet.get("nsp", "/"),
        {"packet": packet, "opts": opts},
    )


def decode_classic_request(data: bytes, nsp: str) -> ClusterMessage | dict[str, Any]:
    """A request as a :class:`ClusterMessage`, or the raw object for the requests that the
    cluster protocol does not have (SOCKETS, ALL_ROOMS, and the legacy single-socket forms).

    Raises:
        RemoteProtocolError: When ``data`` is not a request.
    """
    value = object_of(load(data), "request")
    uid = value.get("uid", "")
    uid = uid if isinstance(uid, str) else ""
    body: dict[str, Any] = {}
    if "requestId" in value:
        body["requestId"] = value["requestId"]
    match value.get("type"):
        case RequestType.BROADCAST:
            body.update(packet=value.get("packet"), opts=value.get("opts"))
            return ClusterMessage(MessageType.BROADCAST, uid, nsp, body)
        case RequestType.REMOTE_JOIN | RequestType.REMOTE_LEAVE as kind if "opts" in value:
            body.update(opts=value["opts"], rooms=value.get("rooms"))
            join = kind == RequestType.REMOTE_JOIN
            type_ = MessageType.SOCKETS_JOIN if join else MessageType.SOCKETS_LEAVE
            return ClusterMessage(type_, uid, nsp, body)
        case RequestType.REMOTE_DISCONNECT if "opts" in value:
            body.update(opts=value["opts"], close=value.get("close"))
            return ClusterMessage(MessageType.DISCONNECT_SOCKETS, uid, nsp, body)
        case RequestType.REMOTE_FETCH:
            body["opts"] = value.get("opts")
            return ClusterMessage(MessageType.FETCH_SOCKETS, uid, nsp, body)
        case RequestType.SERVER_SIDE_EMIT:
            body["packet"] = value.get("data")
            return ClusterMessage(MessageType.SERVER_SIDE_EMIT, uid, nsp, body)
        case _:
            return value


def decode_classic_response(data: bytes, nsp: str) -> ClusterMessage | None:
    """A response as a :class:`ClusterMessage` (None for the ones nobody waits for).

    Fetch responses carry no type in the classic format: their ``sockets`` tell them apart.

    Raises:
        RemoteProtocolError: When ``data`` is not a response.
    """
    value = object_of(load(data), "response")
    body: dict[str, Any] = {"requestId": value.get("requestId")}
    match value.get("type"):
        case RequestType.SERVER_SIDE_EMIT:
            body["packet"] = value.get("data")
            return ClusterMessage(MessageType.SERVER_SIDE_EMIT_RESPONSE, "", nsp, body)
        case RequestType.BROADCAST_CLIENT_COUNT:
            body["clientCount"] = value.get("clientCount")
            if "sids" in value:
                body["sids"] = value["sids"]
            return ClusterMessage(MessageType.BROADCAST_CLIENT_COUNT, "", nsp, body)
        case RequestType.BROADCAST_ACK:
            body["packet"] = value.get("packet")
            if "sid" in value:
                body["sid"] = value["sid"]
            return ClusterMessage(MessageType.BROADCAST_ACK, "", nsp, body)
        case None if isinstance(value.get("sockets"), list) and "rooms" not in value:
            body["sockets"] = value["sockets"]
            return ClusterMessage(MessageType.FETCH_SOCKETS_RESPONSE, "", nsp, body)
        case _:
            return None
