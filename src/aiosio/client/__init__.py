"""The asyncio Socket.IO client: :class:`Client` per namespace, :class:`Manager` per server."""

from __future__ import annotations

from aiosio.client.client import Client, ClientOptions, connect
from aiosio.client.manager import Manager, ManagerOptions

__all__ = ["Client", "ClientOptions", "Manager", "ManagerOptions", "connect"]
