"""python-socketio's exception classes, as its applications catch and raise them.

They are separate from :mod:`aiosio.exceptions` (whose names are aiosio's own) so that
``except socketio.ConnectionError`` and ``raise ConnectionRefusedError(...)`` keep their
meaning after the one-line switch; :func:`refusal` turns a refusal into the native
:class:`~aiosio.exceptions.ConnectionRefused`.
"""

from __future__ import annotations

import builtins
from typing import Any

from aiosio.exceptions import ConnectionRefused

__all__ = [
    "BadNamespaceError",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectedError",
    "SocketIOError",
    "TimeoutError",
    "refusal",
]

REJECTED = "Connection rejected by server"
"""The message of a connect handler that returned False (python-socketio's wording)."""
REFUSED = "Connection refused by server"
"""The message of the built-in ConnectionRefusedError (python-socketio's wording)."""


class SocketIOError(Exception):
    """The base of every exception here."""


class ConnectionError(SocketIOError):
    """A client could not connect (or a namespace refused it)."""


class ConnectionRefusedError(ConnectionError):
    """Raise in a ``connect`` handler to refuse the client.

    Args:
        *args: The message the client's ``connect_error`` gets, then its ``data`` (one
            argument as itself, several as a list).
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        message = args[0] if args else REJECTED
        self.message = message if isinstance(message, str) else str(message)
        rest = args[1:]
        self.data: Any = None if not rest else rest[0] if len(rest) == 1 else list(rest)
        self.error_args: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            self.error_args["data"] = self.data


class TimeoutError(SocketIOError):
    """``call`` got no answer in time (or a simple client's ``receive``)."""


class BadNamespaceError(SocketIOError):
    """A client emitted to a namespace it is not connected to."""


class DisconnectedError(SocketIOError):
    """A simple client is not connected."""


def refusal(error: builtins.ConnectionRefusedError | ConnectionRefusedError) -> ConnectionRefused:
    """The native refusal of a connect handler's exception.

    A python-socketio ``ConnectionRefusedError`` keeps its message and data; the built-in
    one (python-socketio accepts it too) refuses with python-socketio's fixed message.
    """
    if isinstance(error, ConnectionRefusedError):
        return ConnectionRefused(error.message, error.data)
    return ConnectionRefused(REFUSED)
