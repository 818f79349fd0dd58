"""SimpleClient, SyncSimpleClient and SyncClient against both servers.

The blocking clients run their asyncio client on their own loop thread; each test drives
them from a worker thread (``asyncio.to_thread``) so that the test's loop keeps serving
aiosio.Server meanwhile.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import pytest

import aiosio
from aiosio.exceptions import AckTimeout, ConnectionError, Disconnected, InvalidState
from tests.client.client_support import RunningServer


async def test_simple_client(server: RunningServer) -> None:
    async with aiosio.SimpleClient() as client:
        assert client.id is None and client.transport is None and not client.connected
        with pytest.raises(InvalidState):
            client.client  # noqa: B018 - the property raises before connect
        await client.connect(server.url + "/news", transports=["websocket"])
        assert client.connected and client.transport == "websocket"
        assert isinstance(client.id, str)
        with pytest.raises(InvalidState):
            await client.connect(server.url)
        await client.emit("emit-back", "hello", 1, b"\x02")
        assert await client.receive(timeout=10) == ["hello", 1, b"\x02"]
        assert await client.call("echo", "x", 2) == ("x", 2)
        with pytest.raises(AckTimeout):
            await client.call("nobody-acks-this", timeout=0.1)
        with pytest.raises(TimeoutError):
            await client.receive(timeout=0.05)
        await client.emit("disconnect-me")
        with pytest.raises(Disconnected):
            await client.receive(timeout=10)
        with pytest.raises(Disconnected):
            await client.receive(timeout=10)  # and it stays so
    with pytest.raises(Disconnected):
        await aiosio.SimpleClient().receive()


async def test_simple_client_refused(server: RunningServer) -> None:
    client = aiosio.SimpleClient()
    with pytest.raises(ConnectionError, match="not authorized"):
        await client.connect(server.url + "/private")
    await client.connect(server.url + "/private", auth={"token": "secret"})
    assert client.connected
    await client.disconnect()
    with pytest.raises(Disconnected):
        await client.receive()


def sync_simple_session(url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    with aiosio.SyncSimpleClient() as client:
        client.connect(url, transports=["polling", "websocket"])
        seen["connected"] = client.connected
        seen["id"] = client.id
        client.emit("emit-back", "news", {"a": [1, b"\x00"]})
        seen["received"] = client.receive(timeout=10)
        seen["call"] = client.call("echo", "sync")
        try:
            client.receive(timeout=0.05)
        except TimeoutError:
            seen["timeout"] = True
        seen["transport"] = client.transport
    seen["after"] = client.connected
    return seen


async def test_sync_simple_client(server: RunningServer) -> None:
    seen = await asyncio.to_thread(sync_simple_session, server.url)
    assert seen["connected"] and isinstance(seen["id"], str)
    assert seen["received"] == ["news", {"a": [1, b"\x00"]}]
    assert seen["call"] == "sync"
    assert seen["timeout"]
    assert seen["transport"] in ("polling", "websocket")
    assert not seen["after"]


def sync_client_session(url: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = aiosio.SyncClient(url, force_new=True)
    threads: set[str] = set()

    @client.on("connect")
    def on_connect() -> None:
        threads.add(threading.current_thread().name)
        events.put(("connect", None))

    @client.event
    def greeting(text: str) -> None:
        client.emit("echo", "from a handler", callback=lambda answer: events.put(("ack", answer)))
        events.put(("greeting", text))

    client.once("question", lambda a, b: a * b)
    client.on_any(lambda event, *args: events.put(("any", event)))
    outgoing: list[str] = []
    client.on_any_outgoing(lambda event, *args: outgoing.append(event))
    client.connect(timeout=10)
    seen["first"] = events.get(timeout=10)
    seen["connected"], seen["active"] = client.connected, client.active
    seen["id"], seen["transport"], seen["recovered"] = client.id, client.transport, client.recovered
    client.emit("emit-back", "greeting", "hi")
    seen["greeting"] = [events.get(timeout=10) for _ in range(3)]
    seen["ask"] = client.call("ask", "question", 6, 7)
    seen["emit_with_ack"] = client.emit_with_ack("echo", 1, timeout=5)
    client.send("hello")  # a "message" event, never answered
    try:
        client.emit_with_ack("nobody-acks-this", timeout=0.1)
    except AckTimeout:
        seen["ack_timeout"] = True
    client.off_any()
    client.off_any_outgoing()
    client.off("greeting")
    seen["outgoing"] = outgoing
    seen["threads"] = threads
    seen["repr"] = repr(client)
    client.disconnect()
    seen["after"] = client.connected, client.active
    return seen


async def test_sync_client(server: RunningServer) -> None:
    seen = await asyncio.to_thread(sync_client_session, server.url)
    assert seen["first"] == ("connect", None)
    assert seen["connected"] and seen["active"] and not seen["recovered"]
    assert isinstance(seen["id"], str) and seen["transport"] in ("polling", "websocket")
    assert sorted(seen["greeting"], key=str) == sorted(
        [("any", "greeting"), ("greeting", "hi"), ("ack", "from a handler")], key=str
    )
    assert seen["ask"] == [42]
    assert seen["emit_with_ack"] == 1
    assert seen["ack_timeout"]
    assert seen["outgoing"][:3] == ["emit-back", "echo", "ask"]
    assert seen["threads"] == {"aiosio-sync-client"}  # handlers run on the loop thread
    assert seen["after"] == (False, False)
    assert seen["repr"].startswith("<SyncClient <Client / id=")


def blocking_call_from_a_handler(url: str) -> str:
    errors: queue.Queue[str] = queue.Queue()
    with aiosio.SyncClient(url, force_new=True) as client:

        @client.on("connect")
        def on_connect() -> None:
            try:
                client.emit_with_ack("echo", 1)
            except RuntimeError as exc:
                errors.put(str(exc))

        client.connect()
        return errors.get(timeout=10)


async def test_sync_client_refuses_blocking_calls_from_handlers(server: RunningServer) -> None:
    message = await asyncio.to_thread(blocking_call_from_a_handler, server.url)
    assert "deadlock" in message


def refused(url: str) -> str:
    client = aiosio.SyncClient(url + "/private", force_new=True)
    try:
        client.connect()
    except ConnectionError as exc:
        return f"{exc.message} {exc.data}"
    return "connected"


async def test_sync_client_connect_error(server: RunningServer) -> None:
    assert await asyncio.to_thread(refused, server.url) == "not authorized {'code': 42}"
