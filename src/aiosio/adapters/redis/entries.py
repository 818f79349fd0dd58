"""What ``@socket.io/redis-streams-adapter`` 0.3 writes to Redis, as pure functions.

* **Stream entries.** Every cluster message that is not ephemeral is one entry of a Redis
  stream (``XADD <stream> MAXLEN ~ <max_len> *``) with the string fields ``uid``, ``nsp``,
  ``type`` (the :class:`MessageType` in decimal) and ``data``: ``JSON.stringify`` of the
  data, or, when the data of a message that may carry binary holds some, the base64 of its
  msgpack. Readers tell the two apart by the first character (``{``). The id of the entry of
  a broadcast is the offset its event carries to clients.
* **Pub/sub messages.** Ephemeral messages (broadcasts with acknowledgements, server-side
  emits, ``fetch_sockets``) go to ``<prefix>#<nsp>#`` and responses to
  ``<prefix>#<nsp>#<uid>#``, as the msgpack of ``{uid, nsp, type, data}``.
* **Sessions.** ``SET <session_key_prefix><pid> <base64 msgpack of {sid, pid, rooms, data}>
  PX <max disconnection duration>``, taken back with ``GET`` + ``DEL``. aiosio adds
  ``firstOffset`` (where the socket joined), which Node servers ignore.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from aiosio.adapters.base import BroadcastOptions, Session
from aiosio.adapters.codec import decode_message, has_binary, pack, to_json, unpack
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.exceptions import RemoteProtocolError

__all__ = [
    "Offset",
    "decode_entry",
    "decode_pubsub",
    "decode_session",
    "encode_entry",
    "encode_pubsub",
    "encode_session",
    "includes",
    "is_ephemeral",
    "next_offset",
    "parse_offset",
]

Offset = tuple[int, int]
"""A stream id ``<ms>-<seq>`` as numbers, for comparisons."""

# Bounded: a client sends offsets (recovery), and int() refuses more than 4,300 digits.
_OFFSET = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")

# Message types whose data may hold binary (the reference's ``mayContainBinary``).
_MAY_CONTAIN_BINARY = frozenset(
    {
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    }
)


def is_ephemeral(message: ClusterMessage) -> bool:
    """Whether the reference sends ``message`` over pub/sub rather than the stream."""
    if message.type is MessageType.BROADCAST:
        return "requestId" in message.data
    return message.type in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


# -- stream entries ----------------------------------------------------------------------


def encode_entry(message: ClusterMessage) -> dict[str, str]:
    """The fields of the stream entry of ``message``, in the reference's order."""
    fields = {"uid": message.uid, "nsp": message.nsp, "type": str(int(message.type))}
    if message.data:
        if message.type in _MAY_CONTAIN_BINARY and has_binary(message.data):
            fields["data"] = base64.b64encode(pack(message.data)).decode("ascii")
        else:
            fields["data"] = to_json(message.data).decode()
    return fields


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise RemoteProtocolError("stream fields must be UTF-8") from None
    if isinstance(value, str):
        return value
    raise RemoteProtocolError("stream fields must be strings")


def decode_entry(fields: Mapping[Any, Any]) -> ClusterMessage:
    """The message of a stream entry (fields as bytes or str).

    Raises:
        RemoteProtocolError: When the entry is not a cluster message.
    """
    values = {_text(key): _text(value) for key, value in fields.items()}
    try:
        kind = MessageType(int(values.get("type", "")))
    except ValueError:
        raise RemoteProtocolError("unknown message type") from None
    raw = values.get("data")
    data: Any = {}
    if raw:
        if raw.startswith("{"):
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise RemoteProtocolError(f"invalid JSON: {exc}") from None
        else:
            data = _unpack_base64(raw)
    if not isinstance(data, dict):
        raise RemoteProtocolError("data must be an object")
    return ClusterMessage(kind, values.get("uid", ""), values.get("nsp", ""), data)


# -- pub/sub ---------------------------------------------------------------------------


def encode_pubsub(message: ClusterMessage) -> bytes:
    """``{uid, nsp, type, data}`` as msgpack (ephemeral messages and responses)."""
    value: dict[str, Any] = {"uid": message.uid, "nsp": message.nsp, "type": int(message.type)}
    if message.data:
        value["data"] = message.data
    return pack(value)


def decode_pubsub(payload: bytes) -> ClusterMessage:
    """The inverse of :func:`encode_pubsub`.

    Raises:
        RemoteProtocolError: When ``payload`` is not a cluster message.
    """
    return decode_message(payload)


# -- sessions ----------------------------------------------------------------------------


def encode_session(session: Session) -> str:
    """``{sid, pid, rooms, data}`` (and ``firstOffset``) as base64 msgpack.

    Raises:
        TypeError: When ``session.data`` cannot be serialised.
    """
    value: dict[str, Any] = {
        "sid": session.sid,
        "pid": session.pid,
        "rooms": list(session.rooms),
        "data": session.data,
    }
    if session.offset is not None:
        value["firstOffset"] = session.offset
    return base64.b64encode(pack(value)).decode("ascii")


def decode_session(text: str | bytes) -> Session:
    """The inverse of :func:`encode_session` (also for sessions Node servers wrote).

    Raises:
        RemoteProtocolError: When ``text`` is not a session.
    """
    value = _unpack_base64(text)
    if not isinstance(value, dict):
        raise RemoteProtocolError("a session must be an object")
    sid, pid, rooms = value.get("sid"), value.get("pid"), value.get("rooms", [])
    if not isinstance(sid, str) or not isinstance(pid, str):
        raise RemoteProtocolError("a session needs a sid and a pid")
    if not isinstance(rooms, list):
        raise RemoteProtocolError("the rooms of a session must be a list")
    first = value.get("firstOffset")
    return Session(
        sid=sid,
        pid=pid,
        rooms=[str(room) for room in rooms],
        data=value.get("data"),
        offset=first if isinstance(first, str) and parse_offset(first) else None,
    )


# -- offsets and filters -----------------------------------------------------------------


def parse_offset(text: str) -> Offset | None:
    """``(ms, seq)`` of a stream id, or None when ``text`` is not one."""
    if not _OFFSET.fullmatch(text):
        return None
    ms, seq = text.split("-")
    return int(ms), int(seq)


def next_offset(offset: str) -> str:
    """The smallest id after ``offset`` (exclusive ranges need Redis 6.2; this does not)."""
    ms, seq = offset.split("-")
    return f"{ms}-{int(seq) + 1}"


def includes(rooms: Iterable[str], options: BroadcastOptions) -> bool:
    """Whether a socket in ``rooms`` was a recipient (the reference's shouldIncludePacket)."""
    mine = set(rooms)
    included = not options.rooms or not options.rooms.isdisjoint(mine)
    return included and options.except_.isdisjoint(mine)


def _unpack_base64(text: str | bytes) -> Any:
    """The msgpack value of base64 ``text`` (binary data in a stream entry or a session).

    Raises:
        RemoteProtocolError: When ``text`` is not base64 or not msgpack.
    """
    try:
        return unpack(base64.b64decode(text, validate=True))
    except binascii.Error:
        raise RemoteProtocolError("invalid base64") from None
