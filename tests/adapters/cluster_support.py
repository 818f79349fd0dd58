"""Servers and clients of the cluster tests: official Node servers driven over stdin,
aiosio servers in this process and python-socketio clients (the Redis starter is in
tests/support/servers.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosio
import socketio
from aiosio.adapters.postgres import postgres_adapter
from aiosio.adapters.redis.pubsub import redis_adapter
from tests.support.ports import free_port

HERE = Path(__file__).parent
NODE_SCRIPT = HERE / "node_cluster.js"
NODE_MODULES = HERE.parent / "interop" / "node_modules"


# -- servers ---------------------------------------------------------------------------


class NodeServer:
    """``node_cluster.js``: socket.io 4.8 with the official Redis (or, for a
    ``postgresql://`` URL, Postgres) adapter, on stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.name = "node"
        self.sse: list[list[Any]] = []
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, url: str, key: str, *, sharded: bool = False) -> NodeServer:
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            "node", str(NODE_SCRIPT), str(port), key, url, "1" if sharded else "0",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        async with asyncio.timeout(15):
            line = json.loads(await process.stdout.readline())
        assert line.get("ready") == port, line
        return cls(process, port)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            value = json.loads(line)
            if "sse" in value:
                self.sse.append(value["sse"])
            elif "id" in value:
                future = self._pending.pop(value["id"], None)
                if future is not None and not future.done():
                    if "error" in value:
                        future.set_exception(RuntimeError(value["error"]))
                    else:
                        future.set_result(value["result"])

    async def call(self, op: str, **command: Any) -> Any:
        """Run one command of ``node_cluster.js`` and return its result."""
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


@dataclass
class PyServer:
    """An aiosio server in this process, with the same handlers as ``node_cluster.js``."""

    io: aiosio.Server
    port: int
    name: str
    sse: list[list[Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    async def start(cls, url: str, key: str, name: str, **options: Any) -> PyServer:
        if url.startswith("postgres"):
            options.pop("sharded", None)
            adapter = postgres_adapter(url, channel_prefix=key, **options)
        else:
            adapter = redis_adapter(url, key=key, **options)
        io = aiosio.Server(adapter=adapter, health_path="/healthz")
        server = cls(io, 0, name)

        @io.on("connection")
        def connection(socket: aiosio.Socket) -> None:
            socket.data = {"server": name}
            socket.join(socket.handshake.auth.get("room") or "room")

        @io.on("hello")
        def hello(arg: Any) -> str:
            return f"{name}:{arg}"

        for event in ("notice", "tell"):
            io.on(event, lambda *args, event=event: server.sse.append([event, *args]) or name)
        server.port = await io.start(port=0)
        return server

    async def close(self) -> None:
        await self.io.close()


@dataclass
class Client:
    """A python-socketio client that records ``news`` events and answers ``ask``."""

    sio: socketio.AsyncClient
    server: str
    room: str
    news: list[list[Any]] = field(default_factory=list)

    @classmethod
    async def connect(cls, server: PyServer | NodeServer, room: str) -> Client:
        sio = socketio.AsyncClient(reconnection=False)
        client = cls(sio, server.name, room)
        sio.on("news", lambda *args: client.news.append(list(args)))
        sio.on("ask", lambda *args: f"{server.name}/{room}")
        await sio.connect(server.url, transports=["websocket"], auth={"room": room})
        return client

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid("/")
        assert sid is not None
        return sid


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true (polling every 20 ms)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def eventually_async(check: Any, timeout: float = 5.0) -> None:
    """Wait until ``await check()`` is true (asking again every 50 ms)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class Cluster:
    servers: list[PyServer | NodeServer]
    clients: list[Client]


def members(cluster: Cluster, room: str) -> list[Client]:
    """The clients of ``cluster`` in ``room``."""
    return [client for client in cluster.clients if client.room == room]


async def emit(server: PyServer | NodeServer, rooms: list[str], *args: Any) -> None:
    """``news`` with ``args`` to ``rooms``, from an aiosio or a Node server."""
    if isinstance(server, NodeServer):
        wire = [{"$bytes": list(a)} if isinstance(a, bytes) else a for a in args]
        await server.call("emit", rooms=rooms, event="news", args=wire)
    else:
        server.io.to(*rooms).emit("news", *args)


async def broadcasts_cross_once(cluster: Cluster, payload: bytes) -> None:
    """Each server broadcasts to ``room`` its name with ``payload``, then an end marker:
    every client in ``room`` gets each once, and those in ``other`` get nothing.

    A server's messages on one channel arrive in order: once its end marker is in, a
    duplicate of what came before it would be in too.
    """
    names = [server.name for server in cluster.servers]
    for server in cluster.servers:
        await emit(server, ["room"], server.name, payload)
        await emit(server, ["room"], f"{server.name}-end")
    expected = {n + s for n in names for s in ("", "-end")}
    room = members(cluster, "room")
    await eventually(lambda: all(expected <= {n[0] for n in c.news} for c in room), 10)
    for client in room:
        assert sorted(n[0] for n in client.news) == sorted(expected), client
    assert all(not client.news for client in members(cluster, "other"))


def shard_rooms_heard(cluster: Cluster, key: str, rooms: list[str]) -> Any:
    """``await check()``: every server of ``cluster`` subscribed to the shard channel of
    each of ``rooms`` (a sharded adapter subscribes to it when a socket joins the room;
    a broadcast sent before then is not heard)."""
    server = cluster.servers[0]
    assert isinstance(server, PyServer)
    link = server.io.sockets.adapter.link  # type: ignore[attr-defined]

    async def check() -> bool:
        counts = [await link.numsub(f"{key}#/#{room}#", shard=True) for room in rooms]
        return counts == [len(cluster.servers)] * len(rooms)

    return check


_MARKERS = itertools.count()


def crossing(sender: PyServer, receiver: Client, wait: float = 0.05) -> Any:
    """``await check()``: a broadcast from ``sender`` to ``room`` reaches ``receiver``
    within ``wait`` seconds (with ``eventually_async``, sent again until one does). Every
    marker is new, across all checks."""

    async def check() -> bool:
        marker = f"m{next(_MARKERS)}"
        sender.io.to("room").emit("news", marker)
        await asyncio.sleep(wait)
        return any(n[0] == marker for n in receiver.news)

    return check


def node_available() -> bool:
    return shutil.which("node") is not None and (NODE_MODULES / "@socket.io/redis-adapter").is_dir()
