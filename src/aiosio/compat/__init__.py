"""python-socketio's asyncio API on aiosio: the migration is one line.

::

    from aiosio import compat as socketio   # was: import socketio

    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
    app = socketio.ASGIApp(sio)

Written from python-socketio 5's documentation; every call maps onto aiosio's own
server and client (see docs/migrating-from-python-socketio.md for the table of calls,
their native forms and the differences).
"""

from __future__ import annotations

from aiosio.compat import exceptions
from aiosio.compat.asgi import ASGIApp
from aiosio.compat.client import AsyncClient
from aiosio.compat.exceptions import (
    BadNamespaceError,
    ConnectionError,
    ConnectionRefusedError,
    DisconnectedError,
    SocketIOError,
    TimeoutError,
)
from aiosio.compat.namespace import AsyncClientNamespace, AsyncNamespace
from aiosio.compat.redis import AsyncManager, AsyncRedisManager
from aiosio.compat.server import AsyncServer, DisconnectReason
from aiosio.compat.simple import AsyncSimpleClient

__all__ = [
    "ASGIApp",
    "AsyncClient",
    "AsyncClientNamespace",
    "AsyncManager",
    "AsyncNamespace",
    "AsyncRedisManager",
    "AsyncServer",
    "AsyncSimpleClient",
    "BadNamespaceError",
    "ConnectionError",
    "ConnectionRefusedError",
    "DisconnectReason",
    "DisconnectedError",
    "SocketIOError",
    "TimeoutError",
    "exceptions",
]
