"""One client and its socket on the server, connected in memory (aiosio.testing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiosio
import aiosio.testing
from tests.support.waits import within


@asynccontextmanager
async def pair(
    io: aiosio.Server, namespace: str = "/", **options: Any
) -> AsyncIterator[tuple[aiosio.Client, aiosio.Socket]]:
    """One client of ``io`` and its socket on the server; both gone at the end."""
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.of(namespace).on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect(namespace, **options))
        yield client, await within(sockets.get())
