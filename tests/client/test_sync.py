"""aiosio.client.sync: the blocking SyncClient and SyncSimpleClient.

They run the asyncio client on one shared background loop thread, so each test drives
them from a worker thread (``asyncio.to_thread``) while the test's own loop serves a real
standalone :class:`aiosio.Server` on 127.0.0.1 (the sync clients have no in-memory
transport: they open their own connections).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aiosio
from aiosio.exceptions import AckTimeout, ConnectionError, Disconnected, InvalidState

WEBSOCKET = ["websocket"]


class App:
    """The server the sync clients talk to, and a gate that holds ``/slow`` connections."""

    def __init__(self) -> None:
        self.io = aiosio.Server()
        self.gate = asyncio.Event()
        self.url = ""

        def on_connection(socket: aiosio.Socket) -> None:
            socket.on("echo", lambda *args: args[0] if len(args) == 1 else args)
            socket.on("emit-back", lambda event, *args: socket.emit(event, *args))
            socket.on("ask", lambda event, *args: self.io.spawn(self._ask(socket, event, args)))
            socket.on("disconnect-me", lambda: socket.disconnect())

        for name in ("/", "/private", "/slow"):
            self.io.of(name).on("connection", on_connection)

        def check_token(socket: aiosio.Socket) -> None:
            if socket.handshake.auth.get("token") != "secret":
                raise aiosio.ConnectionRefused("not authorized", {"code": 42})

        async def hold(socket: aiosio.Socket) -> None:
            await self.gate.wait()

        self.io.of("/private").use(check_token)
        self.io.of("/slow").use(hold)

    @staticmethod
    async def _ask(socket: aiosio.Socket, event: str, args: tuple[Any, ...]) -> None:
        """Ask the client ``event`` and send its answer back as ``answer``."""
        answer = await socket.timeout(10).emit_with_ack(event, *args)
        socket.emit("answer", answer)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    served = App()
    port = await served.io.start("127.0.0.1", 0)
    served.url = f"http://127.0.0.1:{port}"
    try:
        yield served
    finally:
        served.gate.set()
        await served.io.close()


# -- SyncClient ---------------------------------------------------------------------------------


def sync_client_session(url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    with aiosio.SyncClient(url, transports=WEBSOCKET, force_new=True) as client:
        seen["before"] = (client.connected, client.active, client.id, client.transport)
        client.on("connect", lambda: events.put(("connect", threading.current_thread().name)))

        @client.on("news")
        def news(value: Any) -> None:
            events.put(("news", value))

        client.once("once", lambda value: events.put(("once", value)))

        @client.event
        def answer(value: Any) -> None:
            events.put(("answer", value))

        client.on("question", lambda a, b: a * b)
        client.connect(timeout=10)
        seen["connect"] = events.get(timeout=10)
        seen["state"] = (
            client.connected,
            client.active,
            client.recovered,
            client.transport,
            client.id == client.client.id and isinstance(client.id, str),
        )
        seen["repr"] = repr(client)
        seen["emit_with_ack"] = client.emit_with_ack("echo", 1, 2, timeout=10)
        seen["call"] = client.call("echo", "called")
        answers: queue.Queue[Any] = queue.Queue()
        client.emit("echo", "by callback", callback=answers.put)
        seen["callback"] = answers.get(timeout=10)
        for event, value in (("news", 1), ("once", 2), ("once", 3), ("news", 4)):
            client.emit("emit-back", event, value)
        seen["events"] = [events.get(timeout=10) for _ in range(3)]
        client.emit("ask", "question", 6, 7)
        seen["asked"] = events.get(timeout=10)
        try:
            client.emit_with_ack("nobody-answers", timeout=0.05)
        except AckTimeout:
            seen["ack_timeout"] = True
    seen["after"] = (client.connected, client.active)
    return seen


async def test_sync_client_session(app: App) -> None:
    seen = await asyncio.to_thread(sync_client_session, app.url)
    assert seen["before"] == (False, False, None, None)
    assert seen["connect"] == ("connect", "aiosio-sync-client")  # handlers: the loop thread
    assert seen["state"] == (True, True, False, "websocket", True)
    assert seen["repr"].startswith("<SyncClient <Client / id=")
    assert seen["emit_with_ack"] == (1, 2)
    assert seen["call"] == "called"
    assert seen["callback"] == "by callback"
    assert seen["events"] == [("news", 1), ("once", 2), ("news", 4)]
    assert seen["asked"] == ("answer", 42)
    assert seen["ack_timeout"] is True
    assert seen["after"] == (False, False)  # the with block disconnected it


def listeners_session(url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    got: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = aiosio.SyncClient(url, transports=WEBSOCKET, force_new=True)
    try:
        client.on_any(lambda event, *args: got.put(("any", (event, *args))))
        outgoing: list[Any] = []
        client.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
        client.on("news", lambda value: got.put(("news", value)))
        client.connect(timeout=10)
        client.emit("emit-back", "news", 1)
        seen["first"] = sorted([got.get(timeout=10) for _ in range(2)], key=repr)
        client.off_any()
        client.off_any_outgoing()
        client.off("news")
        client.emit("emit-back", "news", 2)
        client.on("end", lambda: got.put(("end", None)))
        client.emit("emit-back", "end")
        seen["second"] = got.get(timeout=10)
        seen["outgoing"] = outgoing
    finally:
        client.disconnect()
    return seen


async def test_sync_client_listeners_on_off(app: App) -> None:
    seen = await asyncio.to_thread(listeners_session, app.url)
    assert seen["first"] == [("any", ("news", 1)), ("news", 1)]
    assert seen["second"] == ("end", None)  # nothing heard the second "news"
    assert seen["outgoing"] == [("emit-back", "news", 1)]


def from_a_handler(url: str) -> dict[str, Any]:
    """What a handler on the loop thread may call: non-blocking calls work, blocking
    ones raise instead of deadlocking."""
    outcome: queue.Queue[dict[str, Any]] = queue.Queue()
    client = aiosio.SyncClient(url, transports=WEBSOCKET, force_new=True)

    @client.on("connect")
    def on_connect() -> None:
        seen: dict[str, Any] = {}
        for name, call in (
            ("connect", lambda: client.connect()),
            ("emit_with_ack", lambda: client.emit_with_ack("echo", 1)),
            ("call", lambda: client.call("echo", 1)),
            ("disconnect", lambda: client.disconnect()),
        ):
            try:
                call()
            except RuntimeError as exc:
                seen[name] = str(exc)
        client.on("late", lambda value: outcome.put({**seen, "late": value}))
        client.emit("emit-back", "late", "registered and emitted from a handler")

    try:
        client.connect(timeout=10)
        return outcome.get(timeout=10)
    finally:
        client.disconnect()


async def test_sync_client_calls_from_a_handler(app: App) -> None:
    seen = await asyncio.to_thread(from_a_handler, app.url)
    message = "blocking call from a handler: it would deadlock the event loop"
    assert seen == {
        "connect": message,
        "emit_with_ack": message,
        "call": message,
        "disconnect": message,
        "late": "registered and emitted from a handler",
    }


def refused(url: str) -> tuple[Any, ...]:
    client = aiosio.SyncClient(url + "/private", transports=WEBSOCKET, force_new=True)
    try:
        client.connect(timeout=10)
    except ConnectionError as exc:
        return (exc.message, exc.data, client.connected, client.active)
    finally:
        client.disconnect()
    return ("connected",)


async def test_sync_client_refused(app: App) -> None:
    assert await asyncio.to_thread(refused, app.url) == (
        "not authorized",
        {"code": 42},
        False,
        False,
    )


def connect_timeout(url: str) -> tuple[bool, bool]:
    client = aiosio.SyncClient(url + "/slow", transports=WEBSOCKET, force_new=True)
    try:
        with pytest.raises(TimeoutError):
            client.connect(timeout=0.05)
    finally:
        client.disconnect()
    return client.connected, client.active


async def test_sync_client_connect_timeout_gives_up(app: App) -> None:
    # The /slow middleware never lets the client in: the wait is cancelled after 50 ms.
    assert await asyncio.to_thread(connect_timeout, app.url) == (False, False)


# -- SyncSimpleClient ------------------------------------------------------------------------------


def simple_session(url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    client = aiosio.SyncSimpleClient()
    seen["before"] = (client.id, client.transport, client.connected)
    try:
        client.receive(timeout=1)
    except Disconnected:
        seen["receive_before"] = True
    with client:
        client.connect(url + "/private", transports=WEBSOCKET, auth={"token": "secret"})
        seen["state"] = (isinstance(client.id, str), client.transport, client.connected)
        try:
            client.connect(url)
        except InvalidState:
            seen["again"] = True
        client.emit("emit-back", "news", {"a": [1, b"\x00"]})
        seen["received"] = client.receive(timeout=10)
        seen["call"] = client.call("echo", "x", 2)
        try:
            client.call("nobody-answers", timeout=0.05)
        except AckTimeout:
            seen["ack_timeout"] = True
        try:
            client.receive(timeout=0.05)
        except TimeoutError:
            seen["receive_timeout"] = True
        client.emit("disconnect-me")
        for key in ("gone", "still_gone"):
            try:
                client.receive(timeout=10)
            except Disconnected:
                seen[key] = True
    seen["after"] = client.connected
    return seen


async def test_sync_simple_client(app: App) -> None:
    seen = await asyncio.to_thread(simple_session, app.url)
    assert seen == {
        "before": (None, None, False),
        "receive_before": True,
        "state": (True, "websocket", True),
        "again": True,
        "received": ["news", {"a": [1, b"\x00"]}],
        "call": ("x", 2),
        "ack_timeout": True,
        "receive_timeout": True,
        "gone": True,
        "still_gone": True,
        "after": False,
    }


def simple_refused(url: str) -> tuple[Any, ...]:
    client = aiosio.SyncSimpleClient()
    try:
        client.connect(url + "/private", transports=WEBSOCKET)
    except ConnectionError as exc:
        return exc.message, exc.data, client.connected
    finally:
        client.disconnect()
    return ("connected",)


async def test_sync_simple_client_refused(app: App) -> None:
    assert await asyncio.to_thread(simple_refused, app.url) == (
        "not authorized",
        {"code": 42},
        False,
    )
