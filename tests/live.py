"""A server on a free port and python-socketio clients that record what they receive."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import socketio
from aiosio import Server


@asynccontextmanager
async def running(io: Server) -> AsyncIterator[str]:
    """Serve ``io`` on 127.0.0.1 for the block; yields its URL."""
    port = await io.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await io.close()


class Recorder:
    """A Socket.IO client of one namespace that keeps every event it receives."""

    def __init__(self, namespace: str = "/") -> None:
        self.namespace = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: defaultdict[str, asyncio.Queue[tuple[Any, ...]]] = defaultdict(asyncio.Queue)
        self.disconnected: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def record(event: str, *args: Any) -> None:
            self.events[event].put_nowait(args)

        async def disconnect(*reason: Any) -> None:
            if not self.disconnected.done():
                self.disconnected.set_result(str(reason[0]) if reason else "")

        self.refusal: Any = None

        async def connect_error(data: Any = None) -> None:
            self.refusal = data

        self.client.on("*", record, namespace=namespace)
        self.client.on("connect_error", connect_error, namespace=namespace)
        self.client.on("disconnect", disconnect, namespace=namespace)

    async def connect(self, url: str, auth: Any = None, transport: str = "websocket") -> None:
        await self.client.connect(
            url, namespaces=[self.namespace], auth=auth, transports=[transport], wait_timeout=5
        )

    @property
    def sid(self) -> str:
        sid = self.client.get_sid(self.namespace)
        assert sid is not None
        return sid

    async def next(
        self, event: str, where: Callable[..., bool] = lambda *args: True, timeout: float = 5
    ) -> tuple[Any, ...]:
        """The next ``event`` whose arguments satisfy ``where``; earlier ones are dropped."""
        async with asyncio.timeout(timeout):
            while True:
                args = await self.events[event].get()
                if where(*args):
                    return args

    def pending(self, event: str) -> list[tuple[Any, ...]]:
        """What arrived of ``event`` and was not taken yet."""
        queue = self.events[event]
        taken = []
        while not queue.empty():
            taken.append(queue.get_nowait())
        return taken

    async def emit(self, event: str, *args: Any) -> None:
        await self.client.emit(event, args if len(args) != 1 else args[0], namespace=self.namespace)

    async def call(self, event: str, *args: Any) -> Any:
        data = args if len(args) != 1 else args[0]
        return await self.client.call(event, data, namespace=self.namespace, timeout=5)

    async def close(self) -> None:
        await self.client.disconnect()
