"""aiosio: a fast Socket.IO v5 server and client for asyncio."""

from __future__ import annotations

from aiosio.app import Server
from aiosio.client.client import Client, connect
from aiosio.client.simple import SimpleClient
from aiosio.client.sync import SyncClient, SyncSimpleClient
from aiosio.exceptions import (
    AckTimeout,
    AiosioError,
    ConnectionError,
    ConnectionRefused,
    Disconnected,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    ReservedEventError,
)
from aiosio.server.broadcast import BroadcastOperator
from aiosio.server.namespace import Namespace
from aiosio.server.socket import Socket

__all__ = [
    "AckTimeout",
    "AiosioError",
    "BroadcastOperator",
    "Client",
    "ConnectionError",
    "ConnectionRefused",
    "Disconnected",
    "LocalProtocolError",
    "Namespace",
    "ProtocolError",
    "RemoteProtocolError",
    "ReservedEventError",
    "Server",
    "SimpleClient",
    "Socket",
    "SyncClient",
    "SyncSimpleClient",
    "connect",
]
__version__ = "0.1.0"
