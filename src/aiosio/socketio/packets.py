"""Socket.IO v5 packets, sans-I/O: ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]``.

Each ``bytes`` value of an EVENT or ACK travels as a binary attachment, replaced in the JSON
by ``{"_placeholder":true,"num":N}`` (socket.io-protocol, "Packet encoding"). We write what
the Node server writes (compact JSON, raw UTF-8) and decode as strictly as socket.io-parser
4.2 plus docs/limits.md: any violation raises :class:`RemoteProtocolError`, and the connection is
then to be closed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import orjson

from aiosio._types import JSON
from aiosio.exceptions import LocalProtocolError, RemoteProtocolError, ReservedEventError
from aiosio.socketio.plain import plain_value

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "MAX_ACK_ID",
    "MAX_NAMESPACE_BYTES",
    "RESERVED_EVENTS",
    "Decoder",
    "Packet",
    "PacketType",
    "check_depth",
    "check_event",
    "decode",
    "encode",
    "encode_ack",
    "encode_event",
    "namespace_problem",
]


class PacketType(enum.IntEnum):
    """Socket.IO v5 packet types (socket.io-protocol, "Exchange protocol")."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


CONNECT = PacketType.CONNECT
DISCONNECT = PacketType.DISCONNECT
EVENT = PacketType.EVENT
ACK = PacketType.ACK
CONNECT_ERROR = PacketType.CONNECT_ERROR
BINARY_EVENT = PacketType.BINARY_EVENT
BINARY_ACK = PacketType.BINARY_ACK

RESERVED_EVENTS: frozenset[str] = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names that mean something else to the reference implementation: never on the wire."""

MAX_ACK_ID = 2**53 - 1
"""The largest ack id: the largest integer a JavaScript peer holds exactly."""

MAX_NAMESPACE_BYTES = 256
"""The longest namespace name, in UTF-8 bytes (docs/limits.md)."""

_TYPES = {str(int(member)): member for member in PacketType}  # str keys: no enum hashing
_MAX_ID_DIGITS = len(str(MAX_ACK_ID))
_MAX_COUNT_DIGITS = 6  # more than any sane max_attachments; keeps int() off hostile input

_dumps = orjson.dumps
_loads = orjson.loads
_JSONEncodeError = orjson.JSONEncodeError
_JSONDecodeError = orjson.JSONDecodeError

# The payload types CONNECT, DISCONNECT and CONNECT_ERROR may carry (socket.io-parser's
# isPayloadValid); a string CONNECT_ERROR is what pre-v5 servers sent.
_NONE = type(None)
_CONTROL_PAYLOADS = {CONNECT: (_NONE, dict), DISCONNECT: (_NONE,), CONNECT_ERROR: (dict, str)}

# Where a placeholder sits in a decoded payload: (container, key or index, attachment number).
_Slot: TypeAlias = tuple[JSON, JSON, int]


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet, as the application sees it.

    Binary packets are no separate kind here: :func:`encode` writes an EVENT or ACK whose
    ``data`` holds bytes as BINARY_EVENT or BINARY_ACK, and :class:`Decoder` hands binary
    packets back as EVENT or ACK with the bytes in place (as socket.io-parser does), so
    callers never see placeholders.

    Attributes:
        type: The packet type.
        namespace: The namespace, ``"/"`` for the main one.
        data: The payload: for EVENT the arguments with the event name first, for ACK the
            arguments, with ``bytes`` inline; ``None`` when absent.
        id: The ack id of an EVENT that wants an answer, or of the ACK that answers it.
    """

    type: PacketType
    namespace: str = "/"
    data: JSON = None
    id: int | None = None


# The generated __init__ of a frozen dataclass calls object.__setattr__ per field; setting the
# slots through their descriptors builds the same object in 60% of the time, which counts on
# the decode hot path (_parse sets every field). Compiled by mypyc (mypyc_build.py), Packet
# is a native class that object.__new__ refuses, and its constructor is the fast way.
_new_object = object.__new__
_set_type = vars(Packet)["type"].__set__
_set_namespace = vars(Packet)["namespace"].__set__
_set_data = vars(Packet)["data"].__set__
_set_id = vars(Packet)["id"].__set__
try:
    _new_object(Packet)
    _NATIVE = False
except TypeError:
    _NATIVE = True


# -- encoding ----------------------------------------------------------------------------------


def encode(packet: Packet) -> tuple[str, list[bytes]]:
    """Encode a packet exactly as the Node server would.

    Args:
        packet: The packet. The binary types are accepted too, but whether an EVENT or ACK
            is written as binary depends only on whether its ``data`` contains bytes.

    Raises:
        LocalProtocolError: If the packet breaks the protocol (namespace, ack id, payload
            shape, reserved event name) or its data cannot be serialised.
    """
    data = packet.data
    match packet.type:
        case PacketType.EVENT | PacketType.BINARY_EVENT:
            if not isinstance(data, list | tuple):
                raise LocalProtocolError("an EVENT payload must be a list of arguments")
            return encode_event(packet.namespace, data, packet.id)
        case PacketType.ACK | PacketType.BINARY_ACK:
            if data is not None and not isinstance(data, list | tuple):
                raise LocalProtocolError("an ACK payload must be a list of arguments")
            if packet.id is None:
                raise LocalProtocolError("an ACK needs the id of the event it answers")
            return encode_ack(packet.namespace, data or [], packet.id)
        case _:
            return _encode_control(packet), []


def encode_event(
    namespace: str, args: Sequence[JSON], id: int | None = None
) -> tuple[str, list[bytes]]:
    """Encode an EVENT without building a :class:`Packet`: the emit hot path.

    Args:
        namespace: The namespace, ``"/"`` for the main one.
        args: The event name (a non-empty, non-reserved string, or a number), then its
            arguments; ``bytes``, ``bytearray`` and ``memoryview`` values become attachments.
        id: The ack id, when an acknowledgement is wanted.

    Returns:
        The text packet (BINARY_EVENT when there are attachments) and the attachments, as
        :func:`encode_ack` and :func:`encode` also return.

    Raises:
        LocalProtocolError: If the name, namespace or id is illegal, or an argument cannot
            be serialised.
    """
    if type(args) is not list and type(args) is not tuple:
        args = _as_list(args)
    if not args:
        raise LocalProtocolError("an EVENT needs at least an event name")
    name = args[0]
    kind = type(name)
    if kind is str:
        if not name or name in RESERVED_EVENTS:
            error = ReservedEventError if name else LocalProtocolError
            raise error(f"{name!r} cannot be used as an event name")
    elif kind is not int and kind is not float:
        raise LocalProtocolError(f"an event name must be a string or a number, not {kind.__name__}")
    try:  # plain JSON in one call; orjson refuses bytes, which sends us to the binary path
        body = _dumps(args).decode()
    except _JSONEncodeError:
        body, attachments = _dumps_binary(args)
        if attachments:
            return _head(f"5{len(attachments)}-", namespace, id) + body, attachments
    if namespace == "/" and id is None:
        return "2" + body, []
    return _head("2", namespace, id) + body, []


def encode_ack(namespace: str, args: Sequence[JSON], id: int) -> tuple[str, list[bytes]]:
    """Encode the ACK (or BINARY_ACK) answering the event with ack id ``id``.

    The payload is always an array, empty when there are no arguments (``35[]``).

    Args:
        namespace: The namespace of the event being answered.
        args: The values to send back; bytes become attachments.
        id: The ack id of the event being answered.

    Raises:
        LocalProtocolError: If the namespace or id is illegal, or the arguments cannot be
            serialised.
    """
    if id is None:
        raise LocalProtocolError("an ACK needs the id of the event it answers")
    if type(args) is not list and type(args) is not tuple:
        args = _as_list(args)
    try:
        body = _dumps(args).decode()
    except _JSONEncodeError:
        body, attachments = _dumps_binary(args)
        if attachments:
            return _head(f"6{len(attachments)}-", namespace, id) + body, attachments
    return _head("3", namespace, id) + body, []


def _encode_control(packet: Packet) -> str:
    """Encode CONNECT, DISCONNECT or CONNECT_ERROR: no binary and no ack id."""
    ptype, data = packet.type, packet.data
    allowed = _CONTROL_PAYLOADS.get(ptype)
    if allowed is None:
        raise LocalProtocolError(f"unknown packet type {ptype!r}")
    if not isinstance(data, allowed):
        raise LocalProtocolError(f"invalid {ptype.name} payload: {type(data).__name__}")
    if packet.id is not None:
        raise LocalProtocolError(f"a {ptype.name} packet has no ack id")
    head = _head(str(int(ptype)), packet.namespace, None)
    if data is None:
        return head
    try:
        return head + _dumps(data).decode()
    except _JSONEncodeError as exc:
        raise LocalProtocolError(f"cannot encode {ptype.name} payload: {exc}") from exc


def _head(head: str, namespace: str, id: int | None) -> str:
    """Append the namespace (unless it is ``/``) and the ack id to a type prefix."""
    if namespace != "/":
        if namespace[:1] != "/" or "," in namespace:
            raise LocalProtocolError(f"invalid namespace {namespace[:40]!r}")
        problem = namespace_problem(namespace)
        if problem is not None:
            raise LocalProtocolError(f"namespace {problem}")
        head += namespace + ","
    if id is not None:
        if type(id) is not int or not 0 <= id <= MAX_ACK_ID:
            raise LocalProtocolError(f"an ack id must be an int in 0..2**53-1, not {id!r}")
        head += str(id)
    return head


def _as_list(args: Sequence[JSON]) -> list[JSON]:
    """Turn a Sequence that orjson cannot write as an array (a range) into a list."""
    if isinstance(args, str | bytes | bytearray | memoryview) or not isinstance(args, Sequence):
        raise LocalProtocolError(f"arguments must be a list, not {type(args).__name__}")
    return list(args)


def _dumps_binary(args: Sequence[JSON]) -> tuple[str, list[bytes]]:
    """Serialise arguments that plain orjson refused, with placeholders for binary values
    and typed values (models, ``Decimal``...) as :func:`plain_value` writes them.

    orjson calls ``default`` in document order, the depth-first order in which
    socket.io-parser numbers placeholders. The attachments are empty when only typed
    values were refused.
    """
    attachments: list[bytes] = []

    def placeholder(value: object) -> object:
        if isinstance(value, bytes | bytearray | memoryview):
            # Copy mutable buffers: what is sent must be what was emitted.
            attachments.append(value if type(value) is bytes else bytes(value))
            return {"_placeholder": True, "num": len(attachments) - 1}
        return plain_value(value)

    try:
        return _dumps(args, default=placeholder).decode(), attachments
    except _JSONEncodeError as exc:
        raise LocalProtocolError(f"cannot encode arguments: {exc}") from exc


# -- decoding ----------------------------------------------------------------------------------


def decode(text: str, *, max_depth: int = 64) -> Packet:
    """Decode one complete, non-binary packet from the data of an Engine.IO MESSAGE.

    Args:
        text: The packet.
        max_depth: The deepest JSON nesting accepted in the payload.

    Raises:
        RemoteProtocolError: If ``text`` breaks the format or a limit, or is the header of a
            binary packet (which needs a :class:`Decoder`).
    """
    return _parse(text, max_depth, 0)[0]


class Decoder:
    """Reassembles binary packets: feed text packets and binary attachments in arrival order.

    One decoder serves one connection. It is idle again after any error (the connection is
    closed anyway) and after :meth:`reset`, so no partial packet outlives a connection.

    Args:
        max_attachments: The most attachments one packet may announce (Node: 10).
        max_depth: The deepest JSON nesting accepted in a payload; bytes count as leaves.
        max_attachment_size: The largest attachment accepted, in bytes; ``None`` leaves the
            limit to the transport.
    """

    __slots__ = (
        "_buffers",
        "_expected",
        "_max_attachments",
        "_max_depth",
        "_max_size",
        "_packet",
        "_slots",
    )

    def __init__(
        self,
        *,
        max_attachments: int = 10,
        max_depth: int = 64,
        max_attachment_size: int | None = None,
    ) -> None:
        self._max_attachments = max_attachments
        self._max_depth = max_depth
        self._max_size = max_attachment_size
        self._packet: Packet | None = None
        self._slots: list[_Slot] = []
        self._buffers: list[bytes] = []
        self._expected = 0

    @property
    def awaiting(self) -> int:
        """The number of attachments still expected; 0 when no binary packet is pending."""
        return self._expected - len(self._buffers)

    def receive_text(self, text: str) -> Packet | None:
        """Decode a text MESSAGE; ``None`` for a binary header, whose attachments follow.

        Raises:
            RemoteProtocolError: If the packet is invalid or attachments were awaited.
        """
        if self._expected:
            awaiting = self.awaiting
            self.reset()
            raise RemoteProtocolError(f"text packet while {awaiting} attachment(s) are awaited")
        packet, count = _parse(text, self._max_depth, self._max_attachments)
        if not count:
            return packet
        self._slots = _walk(packet.data, self._max_depth, count)
        self._packet = packet
        self._expected = count
        return None

    def receive_binary(self, data: bytes | bytearray | memoryview) -> Packet | None:
        """Take a binary MESSAGE: the complete packet after its last attachment, else ``None``.

        Raises:
            RemoteProtocolError: If no binary packet is pending or the attachment is too big.
        """
        packet = self._packet
        if packet is None:
            raise RemoteProtocolError("binary data while no binary packet is pending")
        blob = data if type(data) is bytes else bytes(data)
        limit = self._max_size
        if limit is not None and len(blob) > limit:
            self.reset()
            raise RemoteProtocolError(f"binary attachment larger than {limit} bytes")
        buffers = self._buffers
        buffers.append(blob)
        if len(buffers) < self._expected:
            return None
        for container, key, num in self._slots:
            container[key] = buffers[num]
        self.reset()
        return packet

    def reset(self) -> None:
        """Drop any partially received binary packet (on disconnect)."""
        self._packet = None
        self._slots = []
        self._buffers = []
        self._expected = 0


def _parse(text: str, max_depth: int, max_attachments: int) -> tuple[Packet, int]:
    """Parse a text packet into a packet and its attachment count (0 when not binary).

    A binary packet comes back as EVENT or ACK with its placeholders still in ``data``.
    """
    digit = text[:1]
    try:
        ptype = _TYPES[digit]
    except KeyError:
        raise RemoteProtocolError(f"unknown packet type {digit!r}") from None
    i = count = 0  # i: the index of the last character read
    if digit >= "5":  # BINARY_EVENT or BINARY_ACK
        count, i = _read_count(text, max_attachments)
        ptype = EVENT if ptype is BINARY_EVENT else ACK
    namespace = "/"
    id = None
    char = text[i + 1 : i + 2]
    if char == "/":
        namespace, i = _read_namespace(text, i + 1)
        char = text[i + 1 : i + 2]
    if "0" <= char <= "9":  # an empty char compares below "0"
        id, i = _read_id(text, i + 1)
    data = None
    if i + 1 < len(text):
        payload = text[i + 1 :]
        try:
            data = _loads(payload)
        except _JSONDecodeError as exc:
            raise RemoteProtocolError(f"invalid JSON payload: {exc}") from None
        if data is None:  # no packet type takes a JSON null (nor does socket.io-parser)
            raise RemoteProtocolError("null payload")
        # Counting brackets is cheap and bounds the depth from above: walk only beyond it.
        # Binary payloads are walked anyway, by Decoder.receive_text.
        if (
            not count
            and len(payload) > max_depth
            and payload.count("[") + payload.count("{") > max_depth
        ):
            _walk(data, max_depth, 0)
    if ptype is EVENT:
        if data is not None:  # a bare "2" is accepted, as by socket.io-parser
            check_event(data)
    elif ptype is ACK:
        if id is None or type(data) is not list:
            raise RemoteProtocolError("an ACK needs an ack id and an array payload")
    else:
        _check_control(ptype, data, id)
    if _NATIVE:
        return Packet(ptype, namespace, data, id), count
    packet: Packet = _new_object(Packet)
    _set_type(packet, ptype)
    _set_namespace(packet, namespace)
    _set_data(packet, data)
    _set_id(packet, id)
    return packet, count


def _read_count(text: str, max_attachments: int) -> tuple[int, int]:
    """Read the ``<count>-`` of a binary header; return the count and the index of ``-``."""
    if not max_attachments:
        raise RemoteProtocolError("binary packet where only complete text packets are accepted")
    end = text.find("-")
    field = text[1:end]
    if end < 0 or not (field.isascii() and field.isdigit()) or len(field) > _MAX_COUNT_DIGITS:
        raise RemoteProtocolError(f"invalid attachment count in {text[:20]!r}")
    count = int(field)
    if not 1 <= count <= max_attachments:
        raise RemoteProtocolError(f"attachment count {count} out of range 1..{max_attachments}")
    return count, end


def _read_namespace(text: str, start: int) -> tuple[str, int]:
    """Read the namespace, from ``/`` to the first ``,`` or the end; return it and its end."""
    end = text.find(",", start)
    if end < 0:
        end = len(text)
    namespace = text[start:end]
    problem = namespace_problem(namespace)
    if problem is not None:
        raise RemoteProtocolError(f"namespace {problem}")
    return namespace, end


def _read_id(text: str, start: int) -> tuple[int, int]:
    """Read an ack id (ASCII digits); return it and the index of its last digit."""
    # Only an array may follow an id (EVENT and ACK payloads), so the id runs to the first
    # "[": one C-level find instead of a loop over characters.
    end = text.find("[", start)
    if end < 0:
        end = len(text)
    digits = text[start:end]
    # The length check comes first: it keeps int() away from hostile runs of digits.
    if (
        len(digits) > _MAX_ID_DIGITS
        or not (digits.isascii() and digits.isdigit())
        or (id := int(digits)) > MAX_ACK_ID
    ):
        raise RemoteProtocolError("invalid ack id (digits only, 0..2**53-1)")
    return id, end - 1


def check_event(data: JSON) -> None:
    """An EVENT payload is a non-empty array whose first element names the event."""
    if type(data) is not list or not data:
        raise RemoteProtocolError("an EVENT payload must be a non-empty array")
    name = data[0]
    kind = type(name)
    if kind is str:
        if not name or name in RESERVED_EVENTS:
            raise RemoteProtocolError(f"invalid event name {name[:40]!r}")
    elif kind is not int and kind is not float:  # bool is neither
        raise RemoteProtocolError(
            f"an event name must be a string or a number, not {kind.__name__}"
        )


def _check_control(ptype: PacketType, data: JSON, id: int | None) -> None:
    """Check a CONNECT, DISCONNECT or CONNECT_ERROR payload, which never has an ack id."""
    if type(data) not in _CONTROL_PAYLOADS[ptype]:
        raise RemoteProtocolError(f"invalid {ptype.name} payload")
    if id is not None:
        raise RemoteProtocolError(f"a {ptype.name} packet has no ack id")


def namespace_problem(namespace: str) -> str | None:
    """Say what is wrong with a namespace name (docs/limits.md), or return ``None``."""
    # 64 characters are at most 256 UTF-8 bytes, and printable means no control characters.
    if len(namespace) <= MAX_NAMESPACE_BYTES // 4 and namespace.isprintable():
        return None
    try:
        size = len(namespace.encode())
    except UnicodeEncodeError:
        return "is not valid Unicode"
    if size > MAX_NAMESPACE_BYTES:
        return f"longer than {MAX_NAMESPACE_BYTES} bytes"
    for char in namespace:
        if char < " " or "\x7f" <= char <= "\x9f":
            return "contains a control character"
    return None


def check_depth(data: JSON, max_depth: int) -> None:
    """Raise RemoteProtocolError when ``data`` nests deeper than ``max_depth`` (no recursion)."""
    _walk(data, max_depth, 0)


def _walk(data: JSON, max_depth: int, attachments: int) -> list[_Slot]:
    """Check the nesting depth of ``data`` and find its placeholders, without recursion.

    With ``attachments`` > 0, ``data`` is the payload of a binary packet: every dict whose
    ``_placeholder`` is true must be exactly ``{"_placeholder":true,"num":N}`` with
    ``0 <= N < attachments``, every attachment must be referenced, and placeholders count
    as leaves (they stand for bytes). Elsewhere such dicts are plain data, as in Node.
    """
    slots: list[_Slot] = []
    used: set[int] = set()
    stack: list[tuple[JSON, int]] = []
    if type(data) is list or type(data) is dict:
        stack.append((data, 1))
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise RemoteProtocolError(f"JSON payload nested deeper than {max_depth} levels")
        for key, child in enumerate(node) if type(node) is list else node.items():
            kind = type(child)
            if kind is dict:
                if attachments and child.get("_placeholder") is True:
                    num = child.get("num")
                    if len(child) != 2 or type(num) is not int or not 0 <= num < attachments:
                        raise RemoteProtocolError("invalid binary placeholder")
                    slots.append((node, key, num))
                    used.add(num)
                    continue
                stack.append((child, depth + 1))
            elif kind is list:
                stack.append((child, depth + 1))
    if len(used) != attachments:
        raise RemoteProtocolError(f"placeholders use {len(used)} of {attachments} attachments")
    return slots
