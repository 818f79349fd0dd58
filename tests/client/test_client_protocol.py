"""The client against a scripted polling server: what real servers seldom do.

The test pushes the answer of each long-poll GET and reads what the client POSTed, so
every packet the client sees and sends is explicit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aiosio.client import Client
from aiosio.client.engine import EngineClient
from aiosio.exceptions import ConnectionError, InvalidState
from tests.client.client_support import FakePollingServer, open_packet
from tests.support.recorders import EventRecorder as Recorder

CONNECTED = b'40{"sid":"socket-id"}'


class Script:
    """Answers of a fake Engine.IO polling server, pushed by the test."""

    def __init__(self, opening: bytes) -> None:
        self.opening = opening
        self.gets: asyncio.Queue[bytes] = asyncio.Queue()
        self.posts: asyncio.Queue[bytes] = asyncio.Queue()

    async def respond(self, method: str, target: str, body: bytes) -> bytes | None:
        if method == "POST":
            self.posts.put_nowait(body)
            return b"ok"
        if "transport=websocket" in target:
            return b"not a WebSocket"  # a failed upgrade probe
        if "sid=" not in target:
            return self.opening
        return await self.gets.get()


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, str]]:
    script = Script(open_packet(ping_interval=60_000, ping_timeout=60_000).encode())
    async with FakePollingServer(script.respond) as fake:
        yield script, fake.url


def client_for(url: str, **options: Any) -> Client:
    return Client(url, transports=["polling"], reconnection=False, force_new=True, **options)


@pytest.mark.parametrize(
    "opening",
    [b'40{"sid":"x"}', b"0{", b'0{"sid":1,"upgrades":[],"pingInterval":1,"pingTimeout":1}'],
    ids=["not-open", "bad-json", "bad-sid"],
)
async def test_invalid_open_packets(opening: bytes) -> None:
    script = Script(opening)
    async with FakePollingServer(script.respond) as fake:
        with pytest.raises(ConnectionError, match="polling error"):
            await client_for(fake.url).connect()


async def test_an_engine_opens_once(script: tuple[Script, str]) -> None:
    fake, url = script
    client = client_for(url)
    connecting = asyncio.ensure_future(client.connect())
    assert await fake.posts.get() == b"40"
    fake.gets.put_nowait(CONNECTED)
    await connecting
    engine = client.io.engine
    assert isinstance(engine, EngineClient)
    assert repr(engine).startswith("<EngineClient sid=fake-sid polling open")
    with pytest.raises(InvalidState):
        await engine.connect()
    await client.disconnect()
    packets: list[bytes] = []
    while b"1" not in packets:  # in one POST or two, depending on the writer's timing
        packets.extend((await fake.posts.get()).split(b"\x1e"))
    assert packets == [b"41", b"1"]  # DISCONNECT, then the Engine.IO CLOSE


async def test_a_failed_upgrade_keeps_polling() -> None:
    script = Script(open_packet(60_000, 60_000, upgrades=["websocket"]).encode())
    async with FakePollingServer(script.respond) as fake:
        client = Client(fake.url, reconnection=False, force_new=True)  # polling + websocket
        connecting = asyncio.ensure_future(client.connect())
        assert await script.posts.get() == b"40"
        script.gets.put_nowait(CONNECTED)
        await connecting
        client.emit("still", "polling")
        assert await script.posts.get() == b'42["still","polling"]'
        assert client.transport == "polling"
        assert any("transport=websocket" in target for _, target, _ in fake.requests)
        client.io.engine.abort()  # type: ignore[union-attr]


async def test_events_before_the_connect_ack_wait_for_it(script: tuple[Script, str]) -> None:
    fake, url = script
    client = client_for(url)
    order: list[str] = []
    client.on("early", lambda value: order.append(f"early {value}"))
    client.on("connect", lambda: order.append("connect"))
    connecting = asyncio.ensure_future(client.connect())
    await fake.posts.get()
    fake.gets.put_nowait(b'42["early",1]\x1e' + CONNECTED)
    await connecting
    assert order == ["early 1", "connect"]
    client.io.engine.abort()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("answer", "message", "data"),
    [
        pytest.param(b'44{"message":"nope","data":[1]}', "nope", [1], id="object"),
        pytest.param(b'44"old style"', "old style", None, id="string"),
        pytest.param(b"40", "the server is not a Socket.IO v5 server (no sid)", None, id="no-sid"),
    ],
)
async def test_connect_refusals(
    script: tuple[Script, str], answer: bytes, message: str, data: Any
) -> None:
    fake, url = script
    client = client_for(url)
    connecting = asyncio.ensure_future(client.connect())
    await fake.posts.get()
    fake.gets.put_nowait(answer)
    with pytest.raises(ConnectionError) as info:
        await connecting
    assert (info.value.message, info.value.data) == (message, data)
    assert not client.active


def failing_auth() -> dict[str, Any]:
    raise RuntimeError("no token today")


async def failing_async_auth() -> dict[str, Any]:
    raise RuntimeError("no token today")


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        pytest.param(failing_auth, "auth function failed: no token today", id="sync"),
        pytest.param(failing_async_auth, "auth function failed: no token today", id="async"),
        pytest.param(lambda: ["not", "a", "dict"], "invalid auth payload", id="not-a-dict"),
    ],
)
async def test_auth_failures_are_connect_errors(
    script: tuple[Script, str], auth: Any, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, url = script
    client = client_for(url, auth=auth)
    with caplog.at_level(logging.CRITICAL), pytest.raises(ConnectionError) as info:
        await client.connect()
    assert info.value.message.startswith(message)


async def test_failing_handlers_and_callbacks_are_logged(
    script: tuple[Script, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = script
    client = client_for(url)
    connecting = asyncio.ensure_future(client.connect())
    await fake.posts.get()
    fake.gets.put_nowait(CONNECTED)
    await connecting
    done = Recorder(client, "done")

    def boom() -> None:
        raise RuntimeError("sync handler")

    async def async_boom() -> None:
        raise RuntimeError("async handler")

    client.on("boom", boom)
    client.on("boom", async_boom)
    client.on("unserialisable", lambda: object())
    answered: list[Any] = []

    async def async_callback(*args: Any) -> None:
        answered.append(args)

    client.emit("first", callback=lambda: 1 / 0)
    client.emit("second", callback=async_callback)
    assert await fake.posts.get() == b'420["first"]\x1e421["second"]'
    with caplog.at_level(logging.ERROR):
        fake.gets.put_nowait(b'42["boom"]\x1e435["ignored"]\x1e430[]\x1e431["ok"]')
        fake.gets.put_nowait(b'427["unserialisable"]\x1e42["done"]')
        await done.wait("done")
    assert answered == [("ok",)]
    messages = [record.getMessage() for record in caplog.records]
    assert any("failed" in message for message in messages)
    assert any("cannot encode the acknowledgement 7" in message for message in messages)
    client.io.engine.abort()  # type: ignore[union-attr]


async def test_emits_after_a_missed_heartbeat_are_buffered() -> None:
    script = Script(open_packet(ping_interval=100, ping_timeout=100).encode())
    async with FakePollingServer(script.respond) as fake:
        client = client_for(fake.url)
        events = Recorder(client, "disconnect")
        connecting = asyncio.ensure_future(client.connect())
        await script.posts.get()
        script.gets.put_nowait(CONNECTED)
        await connecting
        time.sleep(0.3)  # noqa: ASYNC251 - a suspended process: no timer runs meanwhile
        client.emit("late")  # the deadline has passed: buffered, and the connection ends
        assert (await events.wait("disconnect"))[0] == "ping timeout"
        assert client.active and not client.connected


async def test_listener_api_details(script: tuple[Script, str]) -> None:
    _, url = script
    client = client_for(url)
    assert client.disconnected and repr(client) == "<Client / id=None inactive>"

    @client.once("x")
    def once() -> None: ...

    first = client.prepend_any_outgoing(lambda *args: None)
    second = client.on_any_outgoing(lambda *args: None)
    assert client.listeners_any_outgoing() == [first, second]
    client.off_any_outgoing(first)
    assert client.listeners_any_outgoing() == [second]
    assert client.listeners("x") == [once]
    client.off()
    assert client.listeners("x") == []
    client.send("buffered")  # no connection yet: kept for later
    with pytest.raises(TypeError):
        client.on("x", "not callable")  # type: ignore[call-overload]
