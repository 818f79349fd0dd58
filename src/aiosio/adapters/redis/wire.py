"""The bytes the Node Redis adapter and emitter put on Redis channels, as pure functions.

Two formats exist, and both are spoken here:

* **classic** (``@socket.io/redis-adapter`` ``createAdapter``, ``@socket.io/redis-emitter``):
  broadcasts go to ``<key>#<nsp>#`` (or ``<key>#<nsp>#<room>#`` for one room) as the msgpack
  array ``[uid, packet, opts]``; requests go to ``<key>-request#<nsp>#`` and responses to
  ``<key>-response#<nsp>#`` (optionally ``<key>-response#<nsp>#<uid>#``), as JSON, or as
  msgpack for broadcasts with acknowledgements (request type 7 and answer type 9).
* **sharded** (``createShardedAdapter``, socket.io-adapter's ``ClusterAdapter``): every message
  is ``{uid, nsp, type, data}``, JSON unless it holds binary data (then msgpack).

msgpack follows notepack.io, the encoder of the Node packages: Buffers are ``bin``, a fixext 1
of type 0 is ``undefined`` (None here), a fixext 8 of type 0 a ``Date`` (an ISO string here, as
``JSON.stringify`` would send it to a client), other type-0 exts are ArrayBuffers (bytes).
Nothing is ever unpickled.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from aiosio.adapters.cluster import ClusterMessage, MessageType
from aiosio.exceptions import RemoteProtocolError

__all__ = [
    "ClassicChannels",
    "RequestType",
    "decode_classic_broadcast",
    "decode_classic_request",
    "decode_classic_response",
    "decode_message",
    "encode_classic",
    "encode_message",
    "has_binary",
    "pack",
    "unpack",
]

MAX_DEPTH = 100  # deeper structures are refused: clients could never receive them anyway


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


# -- msgpack (notepack.io flavour) and JSON ------------------------------------------------


def _ext_hook(code: int, data: bytes) -> Any:
    if code != 0:
        return [code, data]  # what notepack.io decodes an unknown extension to
    if len(data) == 1:
        return None  # undefined
    if len(data) == 8:
        millis = int.from_bytes(data[:4], "big", signed=True) * 2**32 + int.from_bytes(
            data[4:], "big"
        )
        moment = datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return data  # an ArrayBuffer


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise RemoteProtocolError("message nested too deeply")
    if isinstance(value, list):
        for item in value:
            if isinstance(item, list | dict):
                _check_depth(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            if isinstance(item, list | dict):
                _check_depth(item, depth + 1)


def pack(value: Any) -> bytes:
    """msgpack as notepack.io writes it (bytes as ``bin``, floats as float 64)."""
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes) -> Any:
    """Decode msgpack written by notepack.io or :func:`pack`.

    Raises:
        RemoteProtocolError: When ``data`` is not one valid msgpack value.
    """
    try:
        value = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types for bad input
        raise RemoteProtocolError(f"invalid msgpack: {exc}") from None
    _check_depth(value)
    return value


def _node_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value))}  # Buffer#toJSON
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(value: Any) -> bytes:
    """JSON as ``JSON.stringify`` writes it (bytes become Node's Buffer JSON)."""
    return orjson.dumps(value, default=_node_json)


def load(data: bytes) -> Any:
    """JSON when the payload starts with ``{`` (as the Node adapter decides), else msgpack.

    Raises:
        RemoteProtocolError: When the payload is neither.
    """
    if data[:1] == b"{":
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RemoteProtocolError(f"invalid JSON: {exc}") from None
        _check_depth(value)
        return value
    return unpack(data)


def has_binary(value: Any) -> bool:
    """Whether bytes hide anywhere in ``value``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return True
    if isinstance(value, list | tuple):
        return any(has_binary(item) for item in value)
    if isinstance(value, dict):
        return any(has_binary(item) for item in value.values())
    return False


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RemoteProtocolError(f"{what} must be an object")
    return value


# -- sharded format: ClusterMessage as it is ---------------------------------------------


def encode_message(message: ClusterMessage) -> bytes:
    """``{uid, nsp, type, data}``: JSON, or msgpack when the data holds bytes."""
    value: dict[str, Any] = {"uid": message.uid, "nsp": message.nsp, "type": int(message.type)}
    if message.data:
        value["data"] = message.data
    if has_binary(message.data):
        return pack(value)
    return to_json(value)


def decode_message(data: bytes) -> ClusterMessage:
    """The inverse of :func:`encode_message`.

    Raises:
        RemoteProtocolError: When ``data`` is not a cluster message.
    """
    value = _object(load(data), "message")
    try:
        kind = MessageType(int(value.get("type", 0)))
    except (ValueError, TypeError):
        raise RemoteProtocolError("unknown message type") from None
    uid, nsp, body = value.get("uid", ""), value.get("nsp", "/"), value.get("data") or {}
    if not isinstance(uid, str) or not isinstance(nsp, str):
        raise RemoteProtocolError("uid and nsp must be strings")
    return ClusterMessage(kind, uid, nsp, _object(body, "data"))


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
    opts = _object(opts, "opts")
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
    packet = _object(packet, "packet")
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
    value = _object(load(data), "request")
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
    value = _object(load(data), "response")
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
