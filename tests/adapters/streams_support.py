"""Servers and clients of the Redis streams tests: aiosio servers in this process, the
official Node server with ``@socket.io/redis-streams-adapter`` and the official
socket.io-client, both driven over stdin/stdout."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import aiosio
from aiosio.adapters.redis.streams import streams_adapter
from tests.adapters.cluster_support import NODE_MODULES, eventually
from tests.support.ports import free_port

HERE = Path(__file__).parent
OFFSET = re.compile(r"[0-9]+-[0-9]+")


def plain(value: Any) -> Any:
    """Bytes as the drivers write them: ``{"$bytes": [...]}``."""
    if isinstance(value, bytes):
        return {"$bytes": list(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def node_ready() -> bool:
    return (NODE_MODULES / "@socket.io/redis-streams-adapter").is_dir()


class JsonProcess:
    """A Node script: JSON commands on stdin, JSON reports and answers on stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.reports: list[dict[str, Any]] = []
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def spawn(cls, script: str, *args: str) -> Self:
        process = await asyncio.create_subprocess_exec(
            "node", str(HERE / script), *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            value = json.loads(line)
            future = self._pending.pop(value.get("id", -1), None) if "id" in value else None
            if future is None:
                self.reports.append(value)
            elif not future.done():
                if "error" in value:
                    future.set_exception(RuntimeError(value["error"]))
                else:
                    future.set_result(value["result"])

    def seen(self, kind: str) -> list[Any]:
        return [report[kind] for report in self.reports if kind in report]

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """The first ``count`` reports of ``kind``, once there are that many."""
        await eventually(lambda: len(self.seen(kind)) >= count, timeout)
        return self.seen(kind)[:count]

    async def call(self, op: str, **command: Any) -> Any:
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": ident, "op": op, **command}).encode() + b"\n")
        async with asyncio.timeout(15):
            return await future

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()


class NodeStreamsServer(JsonProcess):
    """``node_streams.js``: socket.io 4.8 on the official streams adapter, with recovery."""

    port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(
        cls, redis_url: str, stream: str, prefix: str, window: float = 30.0
    ) -> NodeStreamsServer:
        port = free_port()
        window_ms = str(round(window * 1000))
        server = await cls.spawn("node_streams.js", str(port), stream, prefix, redis_url, window_ms)
        server.port = port
        await server.wait_for("ready", timeout=15)
        return server


class OfficialClient(JsonProcess):
    """``streams_client.js``: the official socket.io-client."""

    @classmethod
    async def connect(
        cls, url: str, room: str = "r", delay_ms: int = 100, transports: str = "websocket"
    ) -> OfficialClient:
        client = await cls.spawn("streams_client.js", url, room, str(delay_ms), transports)
        await client.wait_for("connect")
        return client

    def events(self, name: str) -> list[list[Any]]:
        """The arguments of every ``name`` event, the offset included."""
        return [event[1:] for event in self.seen("event") if event[0] == name]

    def values(self, name: str) -> list[Any]:
        """The first argument of every ``name`` event."""
        return [args[0] for args in self.events(name)]

    async def cut(self, to: str | None = None, *, reconnect: bool = False) -> None:
        await self.call("cut", to=to, reconnect=reconnect)
        await self.wait_for("disconnect")

    async def reconnect(self) -> dict[str, Any]:
        await self.call("reconnect")
        connects = await self.wait_for("connect", 2)
        return dict(connects[1])


@dataclass
class PyStreamsServer:
    """An aiosio server on the streams adapter, with the handlers of ``node_streams.js``."""

    io: aiosio.Server
    name: str
    port: int = 0
    connections: list[dict[str, Any]] = field(default_factory=list)
    pids: list[str | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(
        cls,
        redis_url: str,
        stream: str,
        prefix: str,
        name: str,
        *,
        window: float = 30.0,
        skip_middlewares: bool = True,
        **options: Any,
    ) -> PyStreamsServer:
        io = aiosio.Server(
            adapter=streams_adapter(
                redis_url, stream_name=stream, channel_prefix=prefix, **options
            ),
            connection_state_recovery={
                "max_disconnection_duration": window,
                "skip_middlewares": skip_middlewares,
            },
        )
        server = cls(io, name)

        @io.on("connection")
        def connection(socket: aiosio.Socket) -> None:
            if not socket.recovered:
                socket.data = {"server": name}
                socket.join(socket.handshake.auth.get("room") or "room")
            server.pids.append(socket.pid)
            server.connections.append(
                {
                    "id": socket.id,
                    "recovered": socket.recovered,
                    "rooms": sorted(socket.rooms),
                    "data": socket.data,
                }
            )

        @io.on("hello")
        def hello(arg: Any) -> str:
            return f"{name}:{arg}"

        server.port = await io.start(port=0)
        return server

    async def close(self) -> None:
        await self.io.close()
