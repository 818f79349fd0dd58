"""Recorders: what a client received, for a test to wait on.

:class:`RecordingClient` is a python-socketio client of one namespace that keeps every
event it receives; :class:`EventRecorder` records the events fired on an aiosio
:class:`~aiosio.client.Client` or :class:`~aiosio.client.Manager`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import socketio
from aiosio.client import Client, Manager


class RecordingClient:
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


class EventRecorder:
    """Records the events fired on a client or manager; lets a test wait for them."""

    def __init__(self, target: Client | Manager, *events: str) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self._changed = asyncio.Event()
        for event in events:
            target.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.seen.append((event, args))
            self._changed.set()

        return record

    def names(self) -> list[str]:
        return [event for event, _ in self.seen]

    def args(self, event: str) -> list[tuple[Any, ...]]:
        return [args for name, args in self.seen if name == event]

    async def wait(self, event: str, count: int = 1, timeout: float = 15.0) -> tuple[Any, ...]:
        """Wait until ``event`` was seen ``count`` times; return the arguments of the last."""
        async with asyncio.timeout(timeout):
            while len(self.args(event)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.args(event)[count - 1]
