"""Parsers: how Socket.IO packets become Engine.IO messages, and back.

The default parser writes the text format of socket.io-parser (JSON plus binary
attachments). :class:`MsgpackParser` is compatible with the official
``socket.io-msgpack-parser``: each packet is one binary message holding the msgpack map
``{type, nsp, data, id}``, with bytes as msgpack ``bin`` and no attachments.

An encoder returns the Engine.IO packets to write: a text message with its ``4`` type
digit, binary messages as raw ``bytes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiosio._types import JSON
from aiosio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosio.socketio.packets import (
    ACK,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    MAX_ACK_ID,
    Decoder,
    Packet,
    PacketType,
    check_depth,
    check_event,
    encode,
    encode_ack,
    encode_event,
    namespace_problem,
)
from aiosio.socketio.plain import plain_value

__all__ = [
    "AckSlot",
    "JSONParser",
    "MsgpackParser",
    "PacketDecoder",
    "Parser",
    "ack_slot",
    "get_parser",
]


class PacketDecoder(Protocol):
    """What a connection feeds incoming Engine.IO messages to."""

    def receive_text(self, text: str) -> Packet | None: ...

    def receive_binary(self, data: bytes) -> Packet | None: ...

    def reset(self) -> None: ...


class Parser(Protocol):
    """A Socket.IO parser: encoders for each packet shape and a decoder factory."""

    name: str

    def encode(self, packet: Packet) -> list[str | bytes]: ...

    def encode_event(
        self, namespace: str, args: Sequence[JSON], id: int | None = None
    ) -> list[str | bytes]: ...

    def encode_ack(self, namespace: str, args: Sequence[JSON], id: int) -> list[str | bytes]: ...

    def decoder(
        self, *, max_attachments: int, max_depth: int, max_attachment_size: int | None
    ) -> PacketDecoder: ...


class JSONParser:
    """The default parser (socket.io-parser's text format)."""

    name = "json"

    @staticmethod
    def encode(packet: Packet) -> list[str | bytes]:
        text, attachments = encode(packet)
        return ["4" + text, *attachments] if attachments else ["4" + text]

    @staticmethod
    def encode_event(
        namespace: str, args: Sequence[JSON], id: int | None = None
    ) -> list[str | bytes]:
        text, attachments = encode_event(namespace, args, id)
        return ["4" + text, *attachments] if attachments else ["4" + text]

    @staticmethod
    def encode_ack(namespace: str, args: Sequence[JSON], id: int) -> list[str | bytes]:
        text, attachments = encode_ack(namespace, args, id)
        return ["4" + text, *attachments] if attachments else ["4" + text]

    @staticmethod
    def decoder(
        *, max_attachments: int, max_depth: int, max_attachment_size: int | None
    ) -> PacketDecoder:
        return Decoder(
            max_attachments=max_attachments,
            max_depth=max_depth,
            max_attachment_size=max_attachment_size,
        )


class MsgpackParser:
    """``socket.io-msgpack-parser``: one msgpack binary message per packet."""

    name = "msgpack"

    def __init__(self) -> None:
        try:
            import msgpack
        except ImportError as exc:  # pragma: no cover - msgpack is in the extras we test with
            raise ImportError("the msgpack parser needs `pip install aiosio[msgpack]`") from exc
        self._msgpack = msgpack

    def encode(self, packet: Packet) -> list[str | bytes]:
        kind = packet.type
        if kind > CONNECT_ERROR:  # binary types do not exist in this format
            kind = EVENT if kind == PacketType.BINARY_EVENT else ACK
        message: dict[str, Any] = {"type": int(kind), "nsp": packet.namespace}
        if packet.data is not None:
            message["data"] = packet.data
        if packet.id is not None:
            message["id"] = packet.id
        try:
            return [self._msgpack.packb(message, use_bin_type=True, default=plain_value)]
        except (TypeError, ValueError, OverflowError) as exc:
            raise LocalProtocolError(f"cannot encode packet: {exc}") from exc

    def encode_event(
        self, namespace: str, args: Sequence[JSON], id: int | None = None
    ) -> list[str | bytes]:
        return self.encode(Packet(EVENT, namespace, list(args), id))

    def encode_ack(self, namespace: str, args: Sequence[JSON], id: int) -> list[str | bytes]:
        return self.encode(Packet(ACK, namespace, list(args), id))

    def decoder(
        self, *, max_attachments: int, max_depth: int, max_attachment_size: int | None
    ) -> PacketDecoder:
        return _MsgpackDecoder(self._msgpack, max_depth)


class _MsgpackDecoder:
    __slots__ = ("_max_depth", "_msgpack")

    def __init__(self, msgpack: Any, max_depth: int) -> None:
        self._msgpack = msgpack
        self._max_depth = max_depth

    def receive_text(self, text: str) -> Packet | None:
        raise RemoteProtocolError("the msgpack parser takes binary messages only")

    def receive_binary(self, data: bytes) -> Packet | None:
        try:
            message = self._msgpack.unpackb(
                data, raw=False, strict_map_key=True, ext_hook=_undefined
            )
        except Exception as exc:  # msgpack raises several unrelated types on bad input
            raise RemoteProtocolError(f"invalid msgpack: {exc}") from None
        if type(message) is not dict:
            raise RemoteProtocolError("a msgpack packet must be a map")
        return _check(message, self._max_depth)

    def reset(self) -> None:
        """Nothing is ever partial in this format."""


def _undefined(code: int, data: bytes) -> None:
    """notepack writes JavaScript's ``undefined`` as fixext 1 (type 0, byte 0): read None."""
    if code == 0 and data == b"\x00":
        return None
    raise RemoteProtocolError(f"unsupported msgpack extension type {code}")


def _check(message: dict[Any, Any], max_depth: int) -> Packet:
    kind = message.get("type")
    if type(kind) is not int or not CONNECT <= kind <= CONNECT_ERROR:
        raise RemoteProtocolError("invalid packet type")
    namespace = message.get("nsp")
    if type(namespace) is not str or not namespace.startswith("/"):
        raise RemoteProtocolError("invalid namespace")
    problem = namespace_problem(namespace)
    if problem is not None:
        raise RemoteProtocolError(f"namespace {problem}")
    data = message.get("data")
    id = message.get("id")
    if id is not None and (type(id) is not int or not 0 <= id <= MAX_ACK_ID):
        raise RemoteProtocolError("invalid packet id")
    ptype = PacketType(kind)
    if ptype is CONNECT:
        valid = data is None or type(data) is dict
    elif ptype is DISCONNECT:
        valid = data is None
    elif ptype is CONNECT_ERROR:
        valid = type(data) is str or type(data) is dict
    else:
        valid = type(data) is list
        if valid and ptype is EVENT:
            check_event(data)
    if not valid:
        raise RemoteProtocolError(f"invalid {ptype.name} payload")
    if ptype in (CONNECT, DISCONNECT, CONNECT_ERROR) and id is not None:
        raise RemoteProtocolError(f"a {ptype.name} packet has no ack id")
    if ptype is ACK and id is None:
        raise RemoteProtocolError("an ACK packet needs an id")
    check_depth(data, max_depth)
    return Packet(ptype, namespace, data, id)


def get_parser(parser: str | Parser | None) -> Parser:
    """The parser for a ``parser`` option: None or "json", "msgpack", or a parser object."""
    if parser is None or parser == "json":
        return JSONParser()
    if parser == "msgpack":
        return MsgpackParser()
    if isinstance(parser, str):
        raise ValueError(f"unknown parser {parser!r}")
    return parser


class AckSlot:
    """An EVENT encoded once for recipients that each get an ack id of their own (a
    broadcast with acknowledgements): the text around the id, and the shared attachments.

    In the text format the id is the last thing before the payload, after the type (with
    its attachment count) and the namespace (socket.io-protocol, "Format"), so only the
    id differs from one recipient to the next.
    """

    __slots__ = ("attachments", "body", "head")

    def __init__(self, head: str, body: str, attachments: list[bytes]) -> None:
        self.head = head
        self.body = body
        self.attachments = attachments

    def items(self, id: int) -> list[str | bytes]:
        """The Engine.IO messages of the EVENT with ack id ``id`` (from the namespace's
        counter: an int in range)."""
        text = self.head + str(id) + self.body
        return [text, *self.attachments] if self.attachments else [text]


def ack_slot(parser: Parser, namespace: str, args: Sequence[JSON]) -> AckSlot | None:
    """Encode an EVENT once for many ack ids, or None when the parser has no text form to
    slot an id into (msgpack: each recipient's packet is encoded whole).

    Raises:
        LocalProtocolError: As :func:`~aiosio.socketio.packets.encode_event`.
    """
    if type(parser) is not JSONParser:
        return None
    text, attachments = encode_event(namespace, args)
    # The payload is a JSON array; before it, "4", the type and attachment count ("2",
    # "51-"), and a namespace other than "/" ending in a comma it cannot contain itself.
    cut = text.index("[") if namespace == "/" else text.index(",") + 1
    return AckSlot("4" + text[:cut], text[cut:], attachments)
