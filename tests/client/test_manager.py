"""Manager: backoff, reconnection after a server restart, giving up, connect timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio.client import Client, ClientOptions, Manager
from aiosio.client.manager import Backoff, State
from aiosio.exceptions import ConnectionError
from tests.client.client_support import RunningServer, StartServer, raw_tcp_server
from tests.support.ports import free_port
from tests.support.recorders import EventRecorder as Recorder

QUICK: ClientOptions = {
    "force_new": True,
    "reconnection_delay": 0.05,
    "reconnection_delay_max": 0.2,
    "randomization_factor": 0.0,
}


@pytest.mark.parametrize(
    ("rand", "expected"),
    [
        # rand 0.25: floor(rand * 10) = 2 is even, the deviation is subtracted.
        pytest.param(0.25, [0.875, 1.75, 3.5, 5.0, 5.0], id="down"),
        # rand 0.15: floor(rand * 10) = 1 is odd, the deviation is added.
        pytest.param(0.15, [1.075, 2.15, 4.3, 5.0], id="up"),
    ],
)
def test_backoff_matches_socket_io_client(rand: float, expected: list[float]) -> None:
    backoff = Backoff(min=1.0, max=5.0, jitter=0.5, random=lambda: rand)
    assert [backoff.duration() for _ in expected] == expected
    assert backoff.attempts == len(expected)
    backoff.reset()
    assert backoff.duration() == expected[0]


def test_backoff_without_jitter_doubles_up_to_the_cap() -> None:
    backoff = Backoff(min=0.1, max=1.0, jitter=0.0)
    assert [backoff.duration() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert Backoff(jitter=1.5).jitter == 0.0  # out of 0..1: no jitter, as there
    huge = Backoff(min=1.0, max=2.0)
    huge.attempts = 5000
    assert huge.duration() == 2.0


def test_manager_reads_the_url_and_options() -> None:
    manager = Manager(
        "https://example.com/ignored?x=1",
        path="/custom/",
        query={"y": "2"},
        extra_headers=[("X-A", "b")],
        reconnection_delay=2.0,
        reconnection_delay_max=3.0,
        randomization_factor=0.25,
    )
    endpoint = manager.endpoint
    assert endpoint.address.port == 443 and endpoint.address.ssl is not None
    assert endpoint.address.host_header == "example.com"
    assert endpoint.path == "/custom/"
    assert endpoint.target("polling", "abc").startswith("/custom/?x=1&y=2&EIO=4&transport=polling")
    assert endpoint.headers == [("X-A", "b")]
    assert (manager.backoff.min, manager.backoff.max, manager.backoff.jitter) == (2.0, 3.0, 0.25)
    assert Manager("ws://[::1]:8080").endpoint.address.host_header == "[::1]:8080"
    with pytest.raises(ValueError, match="http"):
        Manager("ftp://example.com")


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]])
async def test_server_restart_is_survived(start_server: StartServer, transports: list[str]) -> None:
    server = await start_server()
    client = Client(server.url, transports=transports, **QUICK)
    events = Recorder(client, "connect", "disconnect", "reconnect_attempt", "reconnect")
    manager_events = Recorder(client.io, "open", "close", "reconnect_attempt", "reconnect")
    await client.connect()
    first_id = client.id

    await server.stop()
    reason, _ = await events.wait("disconnect")
    assert reason in ("transport close", "transport error")
    assert client.active and not client.connected
    answers: asyncio.Queue[Any] = asyncio.Queue()
    client.emit("echo", "sent while down", callback=answers.put_nowait)  # buffered
    await events.wait("reconnect_attempt")  # the server is still down: attempts fail

    await server.start()  # a new server on the same port
    (attempt,) = await manager_events.wait("reconnect")
    await events.wait("connect", 2)
    assert attempt >= 1
    assert events.args("reconnect") == [(attempt,)]  # also fired on the socket
    attempts = [args[0] for args in manager_events.args("reconnect_attempt")]
    assert attempts == list(range(1, attempt + 1))
    assert await answers.get() == "sent while down"
    assert await client.emit_with_ack("echo", 1) == 1
    assert client.id != first_id
    assert manager_events.names()[:2] == ["open", "close"]
    await client.disconnect()


async def test_reconnection_gives_up_after_its_attempts(start_server: StartServer) -> None:
    server = await start_server()
    client = Client(server.url, reconnection_attempts=2, **QUICK)
    manager_events = Recorder(client.io, "reconnect_attempt", "reconnect_error", "reconnect_failed")
    socket_events = Recorder(client, "reconnect_failed", "connect_error")
    await client.connect()
    await server.stop()
    await manager_events.wait("reconnect_failed")
    assert manager_events.names() == [
        "reconnect_attempt",
        "reconnect_error",
        "reconnect_attempt",
        "reconnect_error",
        "reconnect_failed",
    ]
    assert [args[0] for args in manager_events.args("reconnect_attempt")] == [1, 2]
    assert all(isinstance(args[0], ConnectionError) for args in socket_events.args("connect_error"))
    assert socket_events.args("reconnect_failed") == [()]
    assert client.io.state is State.CLOSED
    await client.disconnect()


async def test_no_reconnection_when_disabled(start_server: StartServer) -> None:
    server = await start_server()  # of its own: stopped here
    client = Client(server.url, reconnection=False, force_new=True)
    events = Recorder(client, "disconnect")
    await client.connect()
    await server.stop()
    await events.wait("disconnect")
    assert client.io.state is State.CLOSED
    await client.disconnect()


async def test_connect_with_retry_waits_for_the_server(start_server: StartServer) -> None:
    port = free_port()
    client = Client(f"http://127.0.0.1:{port}", **QUICK)
    events = Recorder(client, "connect_error", "connect")
    connecting = asyncio.ensure_future(client.connect(retry=True))
    await events.wait("connect_error", 2)  # the first attempt and a reconnection attempt
    assert not connecting.done()
    await start_server(port=port)
    await connecting
    assert client.connected
    await client.disconnect()


async def test_connect_timeout_is_a_connect_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers

    listener = await raw_tcp_server(silent)
    port = listener.sockets[0].getsockname()[1]
    try:
        client = Client(f"http://127.0.0.1:{port}", timeout=0.2, force_new=True)
        errors = Recorder(client, "connect_error")
        with pytest.raises(ConnectionError, match="timeout"):
            await client.connect()
        assert str((await errors.wait("connect_error"))[0]) == "timeout"
        assert not client.active
    finally:
        listener.close()
        await listener.wait_closed()


async def test_manager_listeners_and_client_disconnect_while_connecting(
    server: RunningServer,
) -> None:
    manager = Manager(server.url)
    opened: list[str] = []
    manager.once("open", lambda: opened.append("once"))
    manager.on("open", lambda: opened.append("on"))
    removed = manager.on("open", lambda: opened.append("removed"))
    manager.off("open", removed)
    client = manager.socket("/news")
    assert manager.socket("/news") is client
    await client.connect()
    assert opened == ["once", "on"]
    await manager.disconnect()  # the manager itself: sockets stay active
    assert client.active and not client.connected
    await client.connect()  # opens the connection again
    assert opened == ["once", "on", "on"]
    pending = asyncio.ensure_future(Client(server.url, manager=Manager(server.url)).connect())
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await client.disconnect()
    manager.off()
