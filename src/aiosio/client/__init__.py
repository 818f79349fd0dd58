"""The asyncio Socket.IO client: :class:`Client` per namespace, :class:`Manager` per server.

:class:`SimpleClient` is the handler-less form for scripts; :class:`SyncClient` and
:class:`SyncSimpleClient` are blocking wrappers running them on a background loop thread.
"""

from __future__ import annotations

from aiosio.client.client import Client, ClientOptions, Manager, connect
from aiosio.client.manager import ManagerOptions
from aiosio.client.simple import SimpleClient
from aiosio.client.sync import SyncClient, SyncSimpleClient

__all__ = [
    "Client",
    "ClientOptions",
    "Manager",
    "ManagerOptions",
    "SimpleClient",
    "SyncClient",
    "SyncSimpleClient",
    "connect",
]
