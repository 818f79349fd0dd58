"""The servers our client is tested against: aiosio.Server and the official Node server.

Both serve the same scenarios (described in ``tests/interop/servers/node_server.js``), so
one client test runs against each. :class:`RunningServer` can be stopped and started
again on the same port, as a server restart.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosio
from aiosio.exceptions import ConnectionRefused

NODE = shutil.which("node")
NODE_SERVER = Path(__file__).parents[1] / "interop" / "servers" / "node_server.js"
NODE_MODULES = Path(__file__).parents[1] / "interop" / "node_modules"
NAMESPACES = ("/", "/news", "/admin", "/private")


def build_aiosio(
    ping_interval: float = 25.0,
    ping_timeout: float = 20.0,
    transports: tuple[str, ...] = ("polling", "websocket"),
    max_http_buffer_size: int = 1_000_000,
    recovery: bool = False,
    parser: str | None = None,
) -> aiosio.Server:
    """An aiosio.Server with the scenarios of node_server.js."""
    io = aiosio.Server(
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        transports=transports,
        max_http_buffer_size=max_http_buffer_size,
        connection_state_recovery={"max_disconnection_duration": 60.0} if recovery else None,
        parser=parser,
    )
    deliveries: dict[str, int] = {}

    def scenarios(socket: aiosio.Socket) -> None:
        namespace = socket.nsp

        def ask(event: str, *args: Any, ack: Any) -> None:
            def answered(error: BaseException | None, *answer: Any) -> None:
                ack({"error": str(error)} if error is not None else list(answer))

            socket.timeout(5.0).emit(event, *args, callback=answered)

        def drop_ack_once(key: str, *, ack: Any) -> None:
            deliveries[key] = deliveries.get(key, 0) + 1
            if deliveries[key] > 1:
                ack(deliveries[key])

        socket.on("echo", lambda *args: args)
        socket.on("emit-back", lambda event, *args: socket.emit(event, *args))
        socket.on("ask", ask)
        socket.on("join", lambda room: socket.join(room))
        socket.on("to-room", lambda room, event, *args: namespace.to(room).emit(event, *args))
        socket.on("engine-id", lambda: socket.conn.session.sid)
        socket.on("transport", lambda: socket.conn.session.transport)
        socket.on(
            "handshake",
            lambda: {
                "auth": socket.handshake.auth,
                "query": socket.handshake.query,
                "headers": socket.handshake.headers,
            },
        )
        socket.on("disconnect-me", lambda: socket.disconnect())
        socket.on("close-me", lambda: socket.disconnect(True))
        socket.on("drop-ack-once", drop_ack_once)
        socket.on("deliveries", lambda: dict(deliveries))

    def check_token(socket: aiosio.Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectionRefused("not authorized", {"code": 42})

    for name in NAMESPACES:
        io.of(name).on("connection", scenarios)
    io.of("/private").use(check_token)
    return io


def node_config(options: dict[str, Any], port: int = 0) -> str:
    """node_server.js's command-line argument for ``options`` (those of build_aiosio)."""
    config = {
        "port": port,
        "transports": list(options.get("transports", ("polling", "websocket"))),
        "pingInterval": round(options.get("ping_interval", 25.0) * 1000),
        "pingTimeout": round(options.get("ping_timeout", 20.0) * 1000),
        "maxHttpBufferSize": options.get("max_http_buffer_size", 1_000_000),
        "recovery": options.get("recovery", False),
        "parser": options.get("parser", "json"),
    }
    return json.dumps(config)


@dataclass
class RunningServer:
    """A server on 127.0.0.1 that a test can stop and start again on the same port."""

    kind: str
    options: dict[str, Any]
    port: int = 0
    _io: aiosio.Server | None = None
    _process: asyncio.subprocess.Process | None = None
    _stderr: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> RunningServer:
        if self.kind == "aiosio":
            self._io = build_aiosio(**self.options)
            self.port = await self._io.start("127.0.0.1", self.port)
        else:
            await self._start_node()
        return self

    async def _start_node(self) -> None:
        assert NODE is not None
        process = await asyncio.create_subprocess_exec(
            NODE,
            str(NODE_SERVER),
            node_config(self.options, self.port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._process = process
        assert process.stdout is not None
        try:
            async with asyncio.timeout(20.0):
                line = await process.stdout.readline()
        except TimeoutError:
            await self.stop()
            raise AssertionError("the Node server did not start within 20 s") from None
        if not line:
            await self.stop()
            raise AssertionError("the Node server exited before listening")
        self.port = json.loads(line)["port"]

    async def stop(self) -> None:
        """Stop the server: every connection is cut, as by a crash or a restart."""
        io, self._io = self._io, None
        if io is not None:
            await io.close()
        process, self._process = self._process, None
        if process is not None:
            if process.returncode is None:
                process.kill()
            await process.wait()

    async def restart(self) -> None:
        """Stop, then start a new server on the same port."""
        await self.stop()
        await self.start()


class SharedNodeServer(RunningServer):
    """The Node server with default options that the tests of one module share (see the
    ``server`` fixture); it runs outside any test's event loop, and no test stops it."""

    def __init__(self, port: int) -> None:
        super().__init__("node", {}, port)

    async def start(self) -> RunningServer:
        raise AssertionError("a shared server is started once: use start_server()")

    async def stop(self) -> None:
        raise AssertionError("a shared server is never stopped by a test: use start_server()")


StartServer = Callable[..., Awaitable[RunningServer]]
"""The ``start_server`` fixture: ``await start_server(port=0, **options)``."""


# -- fake servers: Engine.IO peers that misbehave on purpose ---------------------------

Respond = Callable[[str, str, bytes], Awaitable[bytes | None]]
"""``respond(method, target, body)``: the response body (200), or None to close the
connection without an answer. A respond that never returns holds the request."""


def open_packet(ping_interval: int = 200, ping_timeout: int = 200, upgrades: Any = ()) -> str:
    """An Engine.IO OPEN packet, durations in milliseconds."""
    data = {
        "sid": "fake-sid",
        "upgrades": list(upgrades),
        "pingInterval": ping_interval,
        "pingTimeout": ping_timeout,
        "maxPayload": 1_000_000,
    }
    return "0" + json.dumps(data)


class FakePollingServer:
    """A keep-alive HTTP server whose answers a test scripts with ``respond``."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.requests: list[tuple[str, str, bytes]] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> FakePollingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        if self._handlers:  # they end on the EOF of their closed connection
            await asyncio.wait(self._handlers, timeout=10)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":")[1])
                body = await reader.readexactly(length)
                self.requests.append((method, target, body))
                answer = await self._answer(reader, method, target, body)
                if answer is None:
                    return  # the client left, or is never answered
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(answer)).encode()
                    + b"\r\n\r\n"
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._writers.discard(writer)

    async def _answer(
        self, reader: asyncio.StreamReader, method: str, target: str, body: bytes
    ) -> bytes | None:
        """The answer, unless the client leaves first (a held GET that it gave up)."""
        answer = asyncio.ensure_future(self.respond(method, target, body))
        left = asyncio.ensure_future(reader.read())  # no pipelining: only EOF can come
        await asyncio.wait({answer, left}, return_when=asyncio.FIRST_COMPLETED)
        for task in (answer, left):
            task.cancel()
        await asyncio.wait({answer, left})
        return None if answer.cancelled() else answer.result()


async def raw_tcp_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> asyncio.Server:
    """A plain TCP server on 127.0.0.1 (close it at the end of the test)."""

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(guarded, "127.0.0.1", 0)
