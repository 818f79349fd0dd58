"""The one exception tree of aiosio.

::

    AiosioError
    ├── ProtocolError
    │   ├── LocalProtocolError      we were asked to send something the protocol forbids
    │   │   └── ReservedEventError  an event name Socket.IO keeps for itself (a ValueError too)
    │   └── RemoteProtocolError     the peer sent something the protocol forbids
    ├── InvalidState                an operation that the current state does not allow
    ├── ConnectionRefused           raised by a middleware to refuse a namespace CONNECT
    ├── ConnectionError             the client could not connect (message, data)
    ├── AckTimeout                  no acknowledgement arrived in time (also a TimeoutError)
    ├── Disconnected                the socket went away while something waited on it
    └── ClusterError                a cluster (adapter) request failed or timed out

Parsers raise only :class:`RemoteProtocolError` for bad wire data, never ``ValueError``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeout",
    "AiosioError",
    "ClusterError",
    "ConnectionError",
    "ConnectionRefused",
    "Disconnected",
    "InvalidState",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "ReservedEventError",
]


class AiosioError(Exception):
    """Base class of every error aiosio raises on purpose."""


class ProtocolError(AiosioError):
    """A violation of Engine.IO v4 or Socket.IO v5."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something that the protocol does not allow."""


class ReservedEventError(LocalProtocolError, ValueError):
    """An emit used an event name that Socket.IO keeps for itself (``connect``,
    ``disconnect``...).

    The server and the client raise this same error; it is a :class:`ValueError` too
    because the server raised ``ValueError`` before, and code may catch that.
    """


class RemoteProtocolError(ProtocolError):
    """The peer sent something that the protocol does not allow."""


class InvalidState(AiosioError):
    """The operation is not allowed in the current state of the connection."""


class ConnectionRefused(AiosioError):
    """Raise from a middleware or connection handler to refuse a CONNECT.

    The client's ``connect_error`` handler receives ``message`` and, when given, ``data``.

    Args:
        message: What the client is told.
        data: Extra JSON the client gets with it (a reason code, a retry delay...); None
            sends none.
    """

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ConnectionError(AiosioError):
    """The client could not connect to a namespace; carries the server's message and data.

    Args:
        message: Why (the server's refusal message, or what failed on the way).
        data: The data the server sent with its refusal, if any.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class AckTimeout(AiosioError, TimeoutError):
    """No acknowledgement arrived before the timeout."""


class Disconnected(AiosioError):
    """The socket disconnected while an acknowledgement or a request was pending."""


class ClusterError(AiosioError):
    """A request to the other servers of a cluster failed or timed out."""
