"""DisconnectWatch: a held poll aborted when its client goes, whatever the ASGI server's
``receive`` waits on, and nothing left waiting once the poll is answered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio.asgi import ASGIApp
from tests.test_asgi import REQUEST, Channel, hold_poll, http_scope, polling_query, run


class WatchedChannel(Channel):
    """A channel whose receive, once the body is read, waits in one of the ways an ASGI
    server's may: on an asyncio future, twice in a row, without any future, or it fails."""

    def __init__(self, way: str) -> None:
        super().__init__(REQUEST)
        self.way = way
        self.waiting = 0  # receives under way, closed ones not counted
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.received == 0:
            return await super().receive()
        self.waiting += 1
        try:
            self.starved.set()
            if self.way == "fails":
                await self.gone.wait()
                raise RuntimeError("the server broke")
            if self.way == "no future":
                while not self.gone.is_set():  # noqa: ASYNC110 (the point: no future)
                    await asyncio.sleep(0)  # yields None: no future to wait on
            else:
                await self.gone.wait()
                if self.way == "twice":
                    await asyncio.sleep(0.001)  # a second future
            return {"type": "http.disconnect"}
        finally:
            self.waiting -= 1


@pytest.mark.parametrize("way", ["future", "twice", "no future", "fails"])
async def test_the_watch_aborts_the_held_poll(echo_router: Any, way: str) -> None:
    app = ASGIApp(echo_router())
    channel = WatchedChannel(way)
    sid, task = await hold_poll(app, channel)  # the app now watches for disconnect
    assert app.engine.sessions[sid].poll is not None
    channel.gone.set()
    await task
    assert channel.outgoing.empty()
    assert app.engine.handler.reasons[sid] == "transport close"
    assert channel.waiting == 0


@pytest.mark.parametrize("way", ["future", "no future"])
async def test_an_answer_stops_the_watch(echo_router: Any, way: str) -> None:
    app = ASGIApp(echo_router())
    channel = WatchedChannel(way)
    sid, task = await hold_poll(app, channel)
    post = Channel({**REQUEST, "body": b"4hi"})
    await run(app, http_scope(method="POST", query=polling_query(sid)), post)
    await task
    assert (await channel.response())[2] == b"4hi"
    await asyncio.sleep(0)  # a watching task, cancelled, ends
    assert channel.waiting == 0  # the receive under way was closed, not left waiting
    assert sid in app.engine.sessions
