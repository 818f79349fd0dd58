"""python-socketio's AsyncClient works unchanged against our server.

Users of python-socketio must be able to point their clients at aiosio: connect with auth
to several namespaces, events and acks with JSON and binary both ways, rooms, refusals,
and disconnects, over each transport mode and both front doors.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import socketio
from tests.interop.sio.sio_helpers import MODES, Served

pytestmark = [
    pytest.mark.interop,
    pytest.mark.asyncio(loop_scope="module"),
    # When it disconnects while a long-poll is in flight (after the server closed its last
    # namespace, or a connection error), python-engineio closes its aiohttp session without
    # waiting for that request: aiohttp then warns of an unclosed connection when it is
    # collected. That is the client's business; see collect_garbage below.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


@pytest.fixture(autouse=True)
def collect_garbage() -> Iterator[None]:
    """Collect this test's garbage within it, where its warnings are ignored, not later."""
    yield
    gc.collect()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Inbox:
    """Events a python-socketio client received, and waiting for them."""

    def __init__(self) -> None:
        self.events: list[list[Any]] = []
        self._changed = asyncio.Event()

    def handler(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append([event, *args])
            self._changed.set()

        return record

    async def wait_for(self, event: str, timeout: float = 5.0) -> list[Any]:
        async with asyncio.timeout(timeout):
            while True:
                for item in self.events:
                    if item[0] == event:
                        return item
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def client(
    served: Served, mode: str, namespaces: list[str], auth: dict[str, Any]
) -> AsyncIterator[socketio.AsyncClient]:
    sio = socketio.AsyncClient(reconnection=False)
    try:
        await sio.connect(
            served.url,
            auth=auth,
            transports=TRANSPORTS[mode],
            namespaces=namespaces,
            wait_timeout=5,
        )
        yield sio
    finally:
        await sio.disconnect()


async def test_events_acks_and_binary_both_ways(served: Served, mode: str, unique: str) -> None:
    nsp = f"/t-{unique}"
    inbox = Inbox()
    async with client(served, mode, ["/", nsp], {"tag": unique}) as sio:
        sio.on("pushed", inbox.handler("pushed"), namespace=nsp)

        @sio.on("question", namespace=nsp)
        def question(*args: Any) -> Any:
            return ("answer", *args)

        info = await sio.call("info", namespace=nsp, timeout=5)
        assert info["id"] == sio.get_sid(nsp)
        assert info["auth"] == {"tag": unique}
        assert sio.get_sid("/") != sio.get_sid(nsp)
        if mode == "upgrade":
            assert served.recorder.values(unique, "connect")  # both namespaces connected
        # JSON and binary arguments, several of them: the answer comes back as a tuple.
        payload = (1, "two", {"n": None, "list": [1.5, True]})
        assert await sio.call("echo", payload, namespace=nsp, timeout=5) == payload
        binary = (b"\x00\xff", {"nested": [b"", {"deep": b"\x01" * 300}]})
        assert await sio.call("echo", binary, namespace=nsp, timeout=5) == binary
        assert await sio.call("echo", "one", namespace="/", timeout=5) == "one"
        assert await sio.call("none", namespace=nsp, timeout=5) is None
        # Events and acknowledgement requests from the server.
        await sio.emit("emit-back", ("pushed", b"\x02", {"k": [b"\x03"]}), namespace=nsp)
        assert await inbox.wait_for("pushed") == ["pushed", b"\x02", {"k": [b"\x03"]}]
        spec = {"event": "question", "args": [b"\x04"], "timeout": 2}
        answer = await sio.call("ask", spec, namespace=nsp, timeout=5)
        assert answer == {"answer": ["answer", b"\x04"]}
    reason = await served.recorder.wait(unique, "disconnect")
    if mode == "polling":
        assert reason == "client namespace disconnect"
    else:
        # python-engineio closes its WebSocket before its queued DISCONNECT goes out (the
        # server never receives that frame), so the server sees the transport close.
        assert reason in ("client namespace disconnect", "transport close")


async def test_rooms_broadcast(served: Served, mode: str, unique: str) -> None:
    nsp = f"/t-{unique}"
    inboxes = {name: Inbox() for name in "abc"}
    async with (
        client(served, mode, [nsp], {"tag": f"{unique}:a"}) as a,
        client(served, mode, [nsp], {"tag": f"{unique}:b"}) as b,
        client(served, mode, [nsp], {"tag": f"{unique}:c"}) as c,
    ):
        sockets = {"a": a, "b": b, "c": c}
        for name, sio in sockets.items():
            for event in ("news", "fence"):
                sio.on(event, inboxes[name].handler(event), namespace=nsp)
        assert await a.call("join", "room", namespace=nsp, timeout=5) == sorted(
            [a.get_sid(nsp), "room"]
        )
        await b.call("join", ["room", "other"], namespace=nsp, timeout=5)
        spec = {"via": "socket", "to": ["room", "other"], "event": "news", "args": [b"\x01"]}
        await b.emit("broadcast", spec, namespace=nsp)
        for inbox in inboxes.values():
            await inbox.wait_for("fence")
        assert [inboxes[name].events for name in "abc"] == [
            [["news", b"\x01"], ["fence"]],  # once, though a broadcast to two rooms
            [["fence"]],  # the sender is left out
            [["fence"]],  # not in the rooms
        ]


async def test_refused_connection(served: Served, mode: str) -> None:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", errors.append, namespace="/guarded")
    with pytest.raises(socketio.exceptions.ConnectionError, match="/guarded"):
        await sio.connect(
            served.url,
            auth={"token": "bad"},
            transports=TRANSPORTS[mode],
            namespaces=["/guarded"],
            wait_timeout=5,
        )
    await sio.disconnect()
    assert errors == [{"message": "not authorized", "data": {"reason": "bad token", "got": "bad"}}]


async def test_server_disconnect(served: Served, mode: str, unique: str) -> None:
    gone: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    async with client(served, mode, ["/custom"], {"tag": unique}) as sio:

        @sio.on("disconnect", namespace="/custom")
        def disconnect(reason: Any) -> None:
            if not gone.done():
                gone.set_result(reason)

        await sio.emit("disconnect-me", namespace="/custom")
        async with asyncio.timeout(5):
            assert await gone == sio.reason.SERVER_DISCONNECT
    reason = await served.recorder.wait(unique, "disconnect")
    assert reason == "server namespace disconnect"
