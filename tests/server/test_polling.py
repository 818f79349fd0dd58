"""aiosio.server.polling: HTTP long-polling, through a real standalone server.

An :class:`aiosio.Server` listens on a port of 127.0.0.1 (``io.start``) and httpx speaks
long-polling to it as a browser would: the handshake GET, POSTs of ``\\x1e``-joined
packets, GETs held until the server has something to say, a second concurrent GET
refused (the session closed), and what a session the server closed still answers.

A GET is known to be held when the engine's session has a pending poll; waiting for that
only yields to the event loop (no sleep).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import aiosio
from aiosio.server.session import ServerSession
from tests.support.waits import within

PATH = "/socket.io/?EIO=4&transport=polling"


@dataclass
class Polled:
    """A running server, an HTTP client, and what the server's sockets saw."""

    io: aiosio.Server
    http: httpx.AsyncClient
    base: str
    events: asyncio.Queue[tuple[Any, ...]] = field(default_factory=asyncio.Queue)
    reasons: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    async def handshake(self, **headers: str) -> dict[str, Any]:
        response = await self.http.get(self.base + PATH, headers=headers)
        assert response.status_code == 200, response.text
        assert response.text.startswith("0")
        opened: dict[str, Any] = json.loads(response.text[1:])
        return opened

    def url(self, sid: str) -> str:
        return f"{self.base}{PATH}&sid={sid}"

    async def get(self, sid: str) -> httpx.Response:
        return await within(self.http.get(self.url(sid)), 5)

    async def post(self, sid: str, *packets: str, **options: Any) -> httpx.Response:
        body = "\x1e".join(packets).encode()
        return await within(self.http.post(self.url(sid), content=body, **options), 5)

    async def connected(self) -> str:
        """A polling session joined to ``/``; its sid (the CONNECT answer read)."""
        sid = str((await self.handshake())["sid"])
        assert (await self.post(sid, "40")).text == "ok"
        answer = await self.get(sid)
        assert answer.text.startswith('40{"sid":'), answer.text
        return sid

    def session(self, sid: str) -> ServerSession:
        return self.io.engine.sessions[sid]

    async def held(self, sid: str) -> asyncio.Task[httpx.Response]:
        """A GET, once the server holds it."""
        task = asyncio.create_task(self.get(sid))
        session = self.session(sid)

        async def parked() -> None:
            while session.poll is None:
                assert not task.done(), task.result().text
                await asyncio.sleep(0)  # a yield to the loop, not a wait

        await within(parked(), 5)
        return task


@pytest.fixture
async def polled() -> AsyncIterator[Polled]:
    io = aiosio.Server(max_http_buffer_size=1000, cors_allowed_origins="https://app.example")
    async with httpx.AsyncClient() as http:
        made = Polled(io, http, "")

        @io.on("connection")
        def connection(socket: aiosio.Socket) -> None:
            for event in ("a", "b"):
                socket.on(event, lambda *args, e=event: made.events.put_nowait((e, *args)))
            socket.on("ask", lambda value: value * 2)
            socket.on("bye", lambda: socket.disconnect(True))
            socket.on("disconnect", lambda reason, *rest: made.reasons.put_nowait(str(reason)))

        port = await io.start("127.0.0.1", 0)
        made.base = f"http://127.0.0.1:{port}"
        try:
            yield made
        finally:
            await io.close()


# -- handshake ------------------------------------------------------------------------------


async def test_the_handshake_opens_a_session(polled: Polled) -> None:
    response = await polled.http.get(polled.base + PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-store"
    opened = json.loads(response.text[1:])
    assert opened["upgrades"] == ["websocket"]
    assert (opened["pingInterval"], opened["pingTimeout"]) == (25000, 20000)
    assert opened["maxPayload"] == 1000
    assert opened["sid"] in polled.io.engine.sessions
    assert "set-cookie" not in response.headers


async def test_the_handshake_offers_no_upgrade_when_websocket_is_off() -> None:
    io = aiosio.Server(transports=("polling",), cookie=True)
    port = await io.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}{PATH}")
        opened = json.loads(response.text[1:])
        assert opened["upgrades"] == []
        assert response.cookies.get("io") == opened["sid"]
    finally:
        await io.close()


async def test_a_refused_handshake_opens_nothing() -> None:
    io = aiosio.Server(allow_request=lambda request: False)
    port = await io.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}{PATH}")
        assert response.status_code == 403
        assert not io.engine.sessions
    finally:
        await io.close()


# -- GET and POST ---------------------------------------------------------------------------


async def test_a_get_is_held_until_the_server_has_something(polled: Polled) -> None:
    sid = await polled.connected()
    waiting = await polled.held(sid)
    polled.io.emit("news", {"n": 1})
    response = await within(waiting, 5)
    assert response.status_code == 200
    assert response.text == '42["news",{"n":1}]'
    assert polled.session(sid).poll is None


async def test_what_is_queued_before_a_get_comes_in_one_answer(polled: Polled) -> None:
    sid = await polled.connected()
    polled.io.emit("news", 1)
    polled.io.emit("news", 2)
    response = await polled.get(sid)
    assert response.text.split("\x1e") == ['42["news",1]', '42["news",2]']


async def test_a_post_of_several_packets_is_handled_in_order(polled: Polled) -> None:
    sid = await polled.connected()
    response = await polled.post(sid, '42["a",1]', '42["b"]', '421["ask",21]')
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["content-type"].startswith("text/html")
    assert await within(polled.events.get()) == ("a", 1)
    assert await within(polled.events.get()) == ("b",)
    assert (await polled.get(sid)).text == "431[42]"


async def test_a_pong_keeps_the_session(polled: Polled) -> None:
    sid = await polled.connected()
    assert (await polled.post(sid, "3")).text == "ok"
    assert sid in polled.io.engine.sessions


async def test_a_binary_post_is_a_parse_error(polled: Polled) -> None:
    sid = await polled.connected()
    response = await polled.post(sid, "42[]", headers={"content-type": "application/octet-stream"})
    assert response.status_code == 400
    assert await within(polled.reasons.get()) == "parse error"
    assert sid not in polled.io.engine.sessions


async def test_a_post_over_the_buffer_size_is_refused_and_closes(polled: Polled) -> None:
    sid = await polled.connected()
    response = await polled.post(sid, '42["big","' + "x" * 1000 + '"]')
    assert response.status_code == 413
    assert await within(polled.reasons.get()) == "transport error"
    assert sid not in polled.io.engine.sessions


async def test_a_method_other_than_get_and_post_is_refused(polled: Polled) -> None:
    sid = await polled.connected()
    response = await within(polled.http.put(polled.url(sid), content=b"x"), 5)
    assert response.status_code == 400


async def test_an_unknown_sid_is_refused(polled: Polled) -> None:
    response = await polled.get("nope")
    assert response.status_code == 400
    assert response.json() == {"code": 1, "message": "Session ID unknown"}


async def test_cors_preflight_and_headers(polled: Polled) -> None:
    origin = {"origin": "https://app.example"}
    preflight = await within(
        polled.http.options(
            polled.base + PATH,
            headers={**origin, "access-control-request-headers": "x-token"},
        ),
        5,
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert preflight.headers["access-control-allow-headers"] == "x-token"
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    response = await within(polled.http.get(polled.base + PATH, headers=origin), 5)
    assert response.headers["access-control-allow-origin"] == "https://app.example"


async def test_large_answers_are_compressed_when_accepted() -> None:
    io = aiosio.Server()  # the threshold is 1 KiB
    port = await io.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as http:
            polled = Polled(io, http, f"http://127.0.0.1:{port}")
            sid = await polled.connected()
            gzip = {"accept-encoding": "gzip"}
            io.emit("news", "y" * 5000)
            response = await within(http.get(polled.url(sid), headers=gzip), 5)
            assert response.headers["content-encoding"] == "gzip"
            assert int(response.headers["content-length"]) < 1000
            assert response.text == '42["news","' + "y" * 5000 + '"]'  # httpx decoded it
            io.emit("news", "small")
            response = await within(http.get(polled.url(sid), headers=gzip), 5)
            assert "content-encoding" not in response.headers
            io.emit("news", "y" * 5000)
            plain = {"accept-encoding": "identity"}
            response = await within(http.get(polled.url(sid), headers=plain), 5)
            assert "content-encoding" not in response.headers
    finally:
        await io.close()


# -- one GET at a time ------------------------------------------------------------------------


async def test_a_second_concurrent_get_is_refused_and_closes_the_session(polled: Polled) -> None:
    sid = await polled.connected()
    first = await polled.held(sid)
    second = await polled.get(sid)
    assert second.status_code == 400
    assert second.json() == {"code": 3, "message": "Bad request"}
    answered = await within(first, 5)
    assert (answered.status_code, answered.text) == (200, "1")  # CLOSE
    assert await within(polled.reasons.get()) == "transport error"
    assert sid not in polled.io.engine.sessions
    assert (await polled.get(sid)).status_code == 400


async def test_a_client_leaving_a_held_get_closes_the_session(polled: Polled) -> None:
    sid = await polled.connected()
    waiting = await polled.held(sid)
    waiting.cancel()  # httpx drops the connection
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await within(polled.reasons.get()) == "transport close"
    assert sid not in polled.io.engine.sessions


# -- after the server closed the session --------------------------------------------------------


async def test_after_a_server_close_a_get_drains_then_gets_close(polled: Polled) -> None:
    sid = await polled.connected()
    assert (await polled.post(sid, '42["bye"]')).text == "ok"
    assert await within(polled.reasons.get()) == "server namespace disconnect"
    assert sid not in polled.io.engine.sessions
    left = await polled.get(sid)
    assert (left.status_code, left.text) == (200, "41")  # the DISCONNECT, then...
    assert (await polled.post(sid, "3")).text == "ok"  # a POST is dropped meanwhile
    close = await polled.get(sid)
    assert (close.status_code, close.text) == (200, "1")  # ...CLOSE on its own
    gone = await polled.get(sid)
    assert gone.status_code == 400 and gone.json()["code"] == 1


async def test_a_held_get_gets_what_is_left_when_the_server_closes(polled: Polled) -> None:
    sid = await polled.connected()
    waiting = await polled.held(sid)
    socket = next(iter(polled.io.of("/").sockets.values()))
    socket.disconnect(True)
    assert (await within(waiting, 5)).text == "41"
    assert (await polled.get(sid)).text == "1"
