"""The encodings the Node cluster packages share, as pure functions: msgpack, JSON as
``JSON.stringify`` writes it, and the ``{uid, nsp, type, data}`` form of a cluster message.

The Redis and Postgres adapters both build on it (so neither imports the other's driver).
msgpack is read as both Node encoders write it: notepack.io (the Redis packages) and
``@msgpack/msgpack`` (the Postgres packages). Buffers are ``bin`` in both; notepack.io writes
``undefined`` as a fixext 1 of type 0 (None here) and a ``Date`` as a fixext 8 of type 0,
``@msgpack/msgpack`` writes ``undefined`` as nil and a ``Date`` as the timestamp extension
(-1); dates become ISO strings here, as ``JSON.stringify`` would send them to a client.
Other type-0 extensions are ArrayBuffers (bytes). Nothing is ever unpickled.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgpack
import orjson

from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.exceptions import RemoteProtocolError
from aiosio.socketio.plain import plain_value

__all__ = [
    "MAX_DEPTH",
    "decode_message",
    "encode_message",
    "has_binary",
    "load",
    "message_from",
    "message_value",
    "pack",
    "to_json",
    "unpack",
]

MAX_DEPTH = 100  # deeper structures are refused: clients could never receive them anyway


def _iso(millis: int) -> str:
    moment = datetime.datetime.fromtimestamp(millis / 1000, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != 0:
        return [code, data]  # what notepack.io decodes an unknown extension to
    if len(data) == 1:
        return None  # undefined
    if len(data) == 8:
        high = int.from_bytes(data[:4], "big", signed=True)
        return _iso(high * 2**32 + int.from_bytes(data[4:], "big"))
    return data  # an ArrayBuffer


def _stamp(value: msgpack.Timestamp) -> str:
    return _iso(value.seconds * 1000 + value.nanoseconds // 1_000_000)


def _check_depth(value: Any, depth: int = 0) -> None:
    """Refuse what nests deeper than :data:`MAX_DEPTH`; turn the timestamps msgpack read
    (``@msgpack/msgpack``'s dates) into ISO strings, in place."""
    if depth > MAX_DEPTH:
        raise RemoteProtocolError("message nested too deeply")
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, list | dict):
                _check_depth(item, depth + 1)
            elif isinstance(item, msgpack.Timestamp):
                value[index] = _stamp(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, list | dict):
                _check_depth(item, depth + 1)
            elif isinstance(item, msgpack.Timestamp):
                value[key] = _stamp(item)


def pack(value: Any) -> bytes:
    """msgpack as the Node encoders write it (bytes as ``bin``, floats as float 64).

    Typed values (pydantic models, dataclasses, dates, UUIDs, ``Decimal``, enums) are
    written as the JSON a client gets for them (:func:`~aiosio.socketio.plain.plain_value`),
    so that a broadcast of a model reaches the other servers, Node ones too, as plain data.
    """
    return msgpack.packb(value, use_bin_type=True, default=plain_value)  # type: ignore[no-any-return]


def unpack(data: bytes) -> Any:
    """Decode msgpack written by notepack.io, ``@msgpack/msgpack`` or :func:`pack`.

    Raises:
        RemoteProtocolError: When ``data`` is not one valid msgpack value.
    """
    try:
        value = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=True)
    except Exception as exc:  # msgpack raises a zoo of types for bad input
        raise RemoteProtocolError(f"invalid msgpack: {exc}") from None
    if isinstance(value, msgpack.Timestamp):
        return _stamp(value)
    _check_depth(value)
    return value


def _node_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": list(bytes(value))}  # Buffer#toJSON
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return plain_value(value)  # typed values; anything else is a TypeError


def to_json(value: Any) -> bytes:
    """JSON as ``JSON.stringify`` writes it (bytes become Node's Buffer JSON)."""
    return orjson.dumps(value, default=_node_json)


def load(data: bytes) -> Any:
    """JSON when the payload starts with ``{`` (as the Node adapters decide), else msgpack.

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


def object_of(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is an object (a dict).

    Raises:
        RemoteProtocolError: When it is not.
    """
    if not isinstance(value, dict):
        raise RemoteProtocolError(f"{what} must be an object")
    return value


# -- ClusterMessage as it is ---------------------------------------------------------------


def message_value(message: ClusterMessage) -> dict[str, Any]:
    """``{uid, nsp, type, data}`` (no ``data`` when it is empty, as Node writes it)."""
    value: dict[str, Any] = {"uid": message.uid, "nsp": message.nsp, "type": int(message.type)}
    if message.data:
        value["data"] = message.data
    return value


def message_from(value: Any, nsp: str = "/") -> ClusterMessage:
    """The :class:`ClusterMessage` of a decoded ``{uid, nsp, type, data}``; ``nsp`` when
    the value names none.

    Raises:
        RemoteProtocolError: When ``value`` is not a cluster message.
    """
    value = object_of(value, "message")
    try:
        kind = MessageType(int(value.get("type", 0)))
    except (ValueError, TypeError):
        raise RemoteProtocolError("unknown message type") from None
    uid, named, body = value.get("uid", ""), value.get("nsp", nsp), value.get("data") or {}
    if not isinstance(uid, str) or not isinstance(named, str):
        raise RemoteProtocolError("uid and nsp must be strings")
    return ClusterMessage(kind, uid, named, object_of(body, "data"))


def encode_message(message: ClusterMessage) -> bytes:
    """``{uid, nsp, type, data}``: JSON, or msgpack when the data holds bytes."""
    value = message_value(message)
    if has_binary(message.data):
        return pack(value)
    return to_json(value)


def decode_message(data: bytes) -> ClusterMessage:
    """The inverse of :func:`encode_message`.

    Raises:
        RemoteProtocolError: When ``data`` is not a cluster message.
    """
    return message_from(load(data))
