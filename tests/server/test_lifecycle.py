"""The server's life cycle: run/serve/start/close, signals, and loops (issue 22, 1 and 3).

A stop is always bounded: two signals at once, two closes at once, a graceful close that
hangs. A server closed in one ``asyncio.run`` serves again in the next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aiosio
import socketio
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.adapters.redis.pubsub import redis_adapter

APP = Path(__file__).with_name("lifecycle_app.py")
REDIS_URL = "redis://127.0.0.1:6379"
_RUNNING = re.compile(r"running on (http://\S+) \(Press CTRL\+C to quit\)")


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")


class App:
    """``lifecycle_app.py`` as a real process; its output read from a pipe as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(APP), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.output = ""

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 20) -> re.Match[str]:
        """Read the output until ``pattern`` appears in it (``timeout`` seconds at most)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while (found := regex.search(self.output)) is None:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([fd], [], [], max(0.0, left))
            chunk = os.read(fd, 65536) if readable else b""
            if not chunk:
                raise AssertionError(f"{regex.pattern!r} not seen; output:\n{self.output}")
            self.output += chunk.decode(errors="replace")
        return found

    def wait(self, timeout: float) -> int:
        """The exit status, within ``timeout`` seconds; the rest of the output is read."""
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"did not stop in {timeout} s; output:\n{self.output}") from None
        assert self.process.stdout is not None
        self.output += self.process.stdout.read().decode(errors="replace")
        return status

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def app_process() -> Iterator[Any]:
    """``app_process(*args)`` starts ``lifecycle_app.py``; every one is killed at the end."""
    apps: list[App] = []

    def start(*args: str) -> App:
        app = App(*args)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.kill()


def connect_polling(url: str) -> None:
    """An Engine.IO handshake and a namespace CONNECT, over raw HTTP long-polling."""
    endpoint = f"{url}/socket.io/?EIO=4&transport=polling"
    with urllib.request.urlopen(endpoint, timeout=5) as answer:
        opened = answer.read().decode()
    sid = re.search(r'"sid":"([^"]+)"', opened)
    assert opened.startswith("0") and sid is not None, opened
    request = urllib.request.Request(f"{endpoint}&sid={sid[1]}", data=b"40", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.read() == b"ok"


# -- signals --------------------------------------------------------------------------


@needs_redis
@pytest.mark.parametrize("attempt", range(20))
def test_two_signals_within_a_millisecond_stop_within_5_s(app_process: Any, attempt: int) -> None:
    app = app_process(f"lifecycle-{uuid.uuid4().hex}")
    url = app.wait_for(_RUNNING)[1]  # the start line shows without any logging set-up
    connect_polling(url)
    # Back to back: the second comes well within a millisecond of the first, unless a
    # busy machine preempts this process between the two calls (measured: 1.3 ms once).
    os.kill(app.process.pid, signal.SIGINT)
    os.kill(app.process.pid, signal.SIGTERM)
    status = app.wait(5)
    # Exit 0; or, when the server had stopped before SIGTERM came (it came after the
    # event loop, whose handlers restore the default action on close), killed by it.
    assert status == 0 or (status == -signal.SIGTERM and "stopped" in app.output), app.output
    assert "Traceback" not in app.output and "RecursionError" not in app.output, app.output
    assert "shutting down: closing 1 connection(s)" in app.output


@needs_redis
def test_a_second_signal_forces_a_hanging_graceful_close(app_process: Any) -> None:
    # The first signal starts a graceful close that would take 60 s (the adapter's close
    # hangs); the second one forces it, as uvicorn does on a second Ctrl+C: quick, exit 0.
    app = app_process(f"lifecycle-{uuid.uuid4().hex}", "block")
    app.wait_for(_RUNNING)
    app.process.send_signal(signal.SIGTERM)
    app.wait_for("adapter close blocks")
    forced = time.monotonic()
    app.process.send_signal(signal.SIGINT)
    assert app.wait(5) == 0
    assert time.monotonic() - forced < 3
    assert "stopping again: forcing the shutdown" in app.output
    assert "Traceback" not in app.output, app.output


# -- close ----------------------------------------------------------------------------


async def test_concurrent_closes_share_one_close() -> None:
    closes: list[str] = []

    class Counting(InMemoryAdapter):
        async def close(self) -> None:
            await asyncio.sleep(0)  # a real adapter's close waits for I/O
            closes.append(self.namespace.name)

    io = aiosio.Server(adapter=Counting)
    port = await io.start("127.0.0.1", 0)
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[str] = []

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("disconnect", reasons.append)

    try:
        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        # Closes from the server's own tasks (what a signal handler used to spawn) and
        # from here: each used to gather the others and cancel them.
        io.spawn(io.close())
        io.spawn(io.close())
        async with asyncio.timeout(5):
            await asyncio.gather(io.close(), io.close())
            await io.wait_closed()
    finally:
        await client.disconnect()
    assert reasons == ["server shutting down"]
    assert closes == ["/"]  # one close did the work, the others waited for it
    assert not io.engine.sessions


class BlockingAdapter(InMemoryAdapter):
    """An adapter whose close never ends (a cluster that does not answer)."""

    async def close(self) -> None:
        await asyncio.Event().wait()


async def test_close_is_bounded_when_an_adapter_and_a_task_block(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = aiosio.Server(adapter=BlockingAdapter, shutdown_timeout=0.3)
    await io.start("127.0.0.1", 0)
    stubborn = asyncio.Event()

    async def ignores_cancellation() -> None:
        while not stubborn.is_set():
            try:
                await stubborn.wait()
            except asyncio.CancelledError:
                continue

    io.spawn(ignores_cancellation())
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with caplog.at_level(logging.WARNING, "aiosio.server"):
            async with asyncio.timeout(5):
                await io.close()
    finally:
        stubborn.set()
    assert loop.time() - started < 3
    assert "graceful close took over 0.3 s: forcing it" in caplog.text


async def test_stop_twice_forces_the_close() -> None:
    closing = asyncio.Event()

    class Hanging(InMemoryAdapter):
        async def close(self) -> None:
            closing.set()
            await asyncio.Event().wait()

    io = aiosio.Server(adapter=Hanging, shutdown_timeout=60)
    await io.start("127.0.0.1", 0)
    io.stop()
    async with asyncio.timeout(5):
        await closing.wait()
        io.stop()
        await io.wait_closed()


# -- loops ----------------------------------------------------------------------------


async def _serve_once(io: aiosio.Server) -> str:
    """Start ``io``, connect a real client, close both; the client's sid."""
    port = await io.start("127.0.0.1", 0)
    assert io.healthy  # a Redis adapter subscribed in this loop
    client = socketio.AsyncClient(reconnection=False)
    try:
        async with asyncio.timeout(10):
            await client.connect(f"http://127.0.0.1:{port}", transports=["polling"])
        sid = client.get_sid()
        assert sid is not None
        return sid
    finally:
        await client.disconnect()
        await io.close()


@pytest.mark.parametrize("adapter", ["memory", "redis"])
def test_one_server_in_two_successive_event_loops(adapter: str) -> None:
    if adapter == "redis" and not redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    factory = redis_adapter(REDIS_URL, key=f"lifecycle-{uuid.uuid4().hex}")
    io = aiosio.Server(adapter=factory if adapter == "redis" else None)
    connected: list[str] = []
    io.on("connection", lambda socket: connected.append(socket.id))
    first = asyncio.run(_serve_once(io))
    second = asyncio.run(_serve_once(io))
    assert first != second
    assert connected == [first, second]


async def test_run_in_a_running_loop_says_to_await_serve() -> None:
    io = aiosio.Server()
    with pytest.raises(RuntimeError, match=r"await io\.serve\(host, port\)"):
        io.run("127.0.0.1", 0)
