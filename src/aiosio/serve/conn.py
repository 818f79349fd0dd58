"""What both standalone protocols (HTTP, then WebSocket) share: the transport and the
counted write.

A base class, not a helper: ``_write`` is found on the class as before, with no extra call.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiosio.server.stats import Counters

__all__ = ["Connection"]


class Connection(asyncio.Protocol):
    """A TCP connection of the standalone server; writes count into ``stats.bytes_out``."""

    __slots__ = ("stats", "transport")

    stats: Counters
    transport: asyncio.Transport | None

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            self.stats.bytes_out += len(data)
            transport.write(data)
