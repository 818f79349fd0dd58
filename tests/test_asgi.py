"""ASGIApp driven directly, with hand-written scopes and message queues (no server).

What a real server cannot easily show: which messages the app reads (a body that is never
read), lifespan forwarding, ``other_app`` receiving the original scope, refusals without
the ``websocket.http.response`` extension, mounting under a ``root_path``. Behaviour on
the wire is in ``tests/server/test_engine.py``, under uvicorn.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from aiosio.asgi import ASGIApp


class Channel:
    """One ASGI connection: the messages the app will receive, and those it sends."""

    def __init__(self, *incoming: dict[str, Any]) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received = 0
        self.starved = asyncio.Event()  # the app waits for a message that is not there
        for message in incoming:
            self.incoming.put_nowait(message)

    def push(self, message: dict[str, Any]) -> None:
        self.incoming.put_nowait(message)

    async def receive(self) -> dict[str, Any]:
        if self.incoming.empty():
            self.starved.set()
        message = await self.incoming.get()
        self.received += 1
        return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.outgoing.put(message)

    async def sent(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            return await self.outgoing.get()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        start = await self.sent()
        assert start["type"] == "http.response.start"
        body = await self.sent()
        assert body["type"] == "http.response.body"
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], headers, body["body"]


def http_scope(
    path: str = "/socket.io/",
    query: str = "EIO=4&transport=polling",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    root_path: str = "",
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": root_path,
        "query_string": query.encode(),
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


def ws_scope(
    query: str = "EIO=4&transport=websocket", path: str = "/socket.io/", extensions: Any = None
) -> dict[str, Any]:
    scope = http_scope(path, query)
    del scope["method"]
    scope.update(type="websocket", scheme="ws", extensions=extensions or {})
    return scope


REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def run(app: ASGIApp, scope: dict[str, Any], channel: Channel) -> None:
    async with asyncio.timeout(5):
        await app(scope, channel.receive, channel.send)


async def open_session(app: ASGIApp) -> str:
    channel = Channel(REQUEST)
    await run(app, http_scope(), channel)
    status, _, body = await channel.response()
    assert status == 200
    sid: str = json.loads(body[1:])["sid"]
    return sid


def polling_query(sid: str) -> str:
    return f"EIO=4&transport=polling&sid={sid}"


async def hold_poll(app: ASGIApp, channel: Channel) -> tuple[str, asyncio.Task[None]]:
    """A new session's GET on ``channel``, read and held by the engine: its sid and the
    task that runs it (the answer goes to ``channel``)."""
    sid = await open_session(app)
    task = asyncio.create_task(run(app, http_scope(query=polling_query(sid)), channel))
    async with asyncio.timeout(5):
        await channel.starved.wait()  # the body is read: the engine holds the GET
    return sid, task


# -- http --------------------------------------------------------------------------------


async def test_handshake_and_headers(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    channel = Channel(REQUEST)
    await run(app, http_scope(headers=[(b"X-Two", b"a"), (b"x-two", b"b")]), channel)
    status, headers, body = await channel.response()
    assert status == 200
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["content-length"] == str(len(body))
    sid = json.loads(body[1:])["sid"]
    request = app.engine.handler.requests[sid]
    assert request.headers["x-two"] == "a, b"
    assert request.client == ("127.0.0.1", 5000)
    # The scope itself is kept, for what the engine does not copy (aiosio.compat's environ).
    assert request.scope is not None and request.scope["server"] == ("127.0.0.1", 80)


async def test_header_names_remembered_are_bounded(echo_router: Any) -> None:
    from aiosio import asgi

    app = ASGIApp(echo_router())
    made_up = [(b"X-Made-Up-%d" % n, b"v%d" % n) for n in range(asgi._MAX_HEADER_NAMES + 44)]
    channel = Channel(REQUEST)
    await run(app, http_scope(headers=made_up), channel)
    assert (await channel.response())[0] == 431  # over max_headers, refused as before
    assert len(asgi._HEADER_NAMES) <= asgi._MAX_HEADER_NAMES
    channel = Channel(REQUEST)
    await run(app, http_scope(headers=[(b"X-Made-Up-1", b"again"), (b"Origin", b"o")]), channel)
    sid = json.loads((await channel.response())[2][1:])["sid"]
    headers = app.engine.handler.requests[sid].headers
    assert headers["x-made-up-1"] == "again" and headers["origin"] == "o"


async def test_mounted_under_a_root_path(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    channel = Channel(REQUEST)
    await run(app, http_scope(path="/realtime/socket.io/", root_path="/realtime"), channel)
    assert (await channel.response())[0] == 200


async def test_body_over_content_length_limit_is_never_read(echo_router: Any) -> None:
    app = ASGIApp(echo_router(max_http_buffer_size=10))
    sid = await open_session(app)
    channel = Channel()  # nothing to receive: reading would hang
    scope = http_scope(
        method="POST",
        query=f"EIO=4&transport=polling&sid={sid}",
        headers=[(b"content-length", b"11")],
    )
    await run(app, scope, channel)
    assert (await channel.response())[0] == 413
    assert channel.received == 0
    assert app.engine.handler.reasons[sid] == "transport error"


async def test_streamed_body_refused_as_soon_as_over_the_limit(echo_router: Any) -> None:
    app = ASGIApp(echo_router(max_http_buffer_size=10))
    sid = await open_session(app)
    chunk = {"type": "http.request", "body": b"4xxxxx", "more_body": True}
    channel = Channel(chunk, chunk, chunk)
    scope = http_scope(method="POST", query=f"EIO=4&transport=polling&sid={sid}")
    await run(app, scope, channel)
    assert (await channel.response())[0] == 413
    assert channel.received == 2


async def test_streamed_body_within_the_limit(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    sid = await open_session(app)
    query = f"EIO=4&transport=polling&sid={sid}"
    channel = Channel(
        {"type": "http.request", "body": b"4ab", "more_body": True},
        {"type": "http.request", "body": b"c\x1e4d", "more_body": False},
    )
    await run(app, http_scope(method="POST", query=query), channel)
    assert (await channel.response())[2] == b"ok"
    channel = Channel(REQUEST)
    await run(app, http_scope(query=query), channel)
    assert (await channel.response())[2] == b"4abc\x1e4d"


async def test_client_gone_during_the_body(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    sid = await open_session(app)
    channel = Channel(
        {"type": "http.request", "body": b"4partial", "more_body": True},
        {"type": "http.disconnect"},
    )
    packets_in = app.engine.stats.packets_in
    await run(app, http_scope(method="POST", query=f"EIO=4&transport=polling&sid={sid}"), channel)
    assert channel.outgoing.empty()  # nobody to answer
    assert app.engine.stats.packets_in == packets_in  # the partial body was not used


def flushes_asked(app: ASGIApp) -> list[object]:
    """The sessions the engine is asked to flush at the end of a loop iteration (a spy)."""
    asked: list[object] = []
    mark_dirty = app.engine.mark_dirty

    def spy(session: Any) -> None:
        asked.append(session)
        mark_dirty(session)

    app.engine.mark_dirty = spy  # type: ignore[method-assign]
    return asked


@pytest.mark.parametrize("queued_before", [False, True])
async def test_held_poll_answered(echo_router: Any, queued_before: bool) -> None:
    # The POST's reply answers the held GET as soon as the POST is read, with no flush
    # of the engine's; unless one is due already, which then carries both.
    app = ASGIApp(echo_router())
    channel = Channel(REQUEST)
    sid, task = await hold_poll(app, channel)
    post = Channel({"type": "http.request", "body": b"4hi", "more_body": False})
    asked = flushes_asked(app)
    if queued_before:
        app.engine.sessions[sid].write("4before")
    await run(app, http_scope(method="POST", query=polling_query(sid)), post)
    await task
    if queued_before:
        assert (await channel.response())[2] == b"4before\x1e4hi"
        assert asked == [app.engine.sessions[sid]]
    else:
        assert (await channel.response())[2] == b"4hi"
        assert asked == []
    assert not app.engine.sessions[sid].dirty  # the next write schedules its flush


async def test_other_paths_go_to_other_app_with_the_original_scope(echo_router: Any) -> None:
    seen: list[Any] = []

    async def other(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    app = ASGIApp(echo_router(other_app=other))
    scope = http_scope(path="/api/items", method="POST")
    channel = Channel()
    await run(app, scope, channel)
    assert seen == [(scope, channel.receive, channel.send)]
    ws = ws_scope(path="/live")
    await run(app, ws, channel)
    assert seen[1][0] is ws


async def test_not_found_without_other_app(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    channel = Channel(REQUEST)
    await run(app, http_scope(path="/nothing"), channel)
    assert (await channel.response())[0] == 404
    channel = Channel({"type": "websocket.connect"})
    await run(app, ws_scope(path="/nothing"), channel)
    assert await channel.sent() == {"type": "websocket.close", "code": 1008}


async def test_static_files(echo_router: Any, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    app = ASGIApp(echo_router(static_files={"/": tmp_path}))
    channel = Channel(REQUEST)
    await run(app, http_scope(path="/"), channel)
    status, headers, body = await channel.response()
    assert (status, body) == (200, b"<h1>hi</h1>")
    assert headers["content-type"].startswith("text/html")


async def test_unknown_scope_type(echo_router: Any) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        await ASGIApp(echo_router())({"type": "webtransport"}, Channel().receive, Channel().send)


# -- lifespan ----------------------------------------------------------------------------


async def test_lifespan_closes_the_engine(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    sid = await open_session(app)
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await run(app, {"type": "lifespan", "asgi": {"version": "3.0"}}, channel)
    assert await channel.sent() == {"type": "lifespan.startup.complete"}
    assert await channel.sent() == {"type": "lifespan.shutdown.complete"}
    assert app.engine.handler.reasons[sid] == "server shutting down"


async def test_lifespan_forwarded_to_other_app(echo_router: Any) -> None:
    log: list[str] = []

    async def other(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            log.append(message["type"])
            if message["type"] == "lifespan.shutdown":
                log.append(f"sessions: {len(app.engine.sessions)}")
                await send({"type": "lifespan.shutdown.complete"})
                return
            await send({"type": "lifespan.startup.complete"})

    app = ASGIApp(echo_router(other_app=other))
    await open_session(app)
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await run(app, {"type": "lifespan"}, channel)
    # The engine is closed before other_app hears of the shutdown.
    assert log == ["lifespan.startup", "lifespan.shutdown", "sessions: 0"]


# -- websocket ---------------------------------------------------------------------------

CONNECT = {"type": "websocket.connect"}


@pytest.mark.parametrize("extension", [False, True], ids=["close", "http-response"])
async def test_websocket_refusal(echo_router: Any, extension: bool) -> None:
    app = ASGIApp(echo_router())
    extensions = {"websocket.http.response": {}} if extension else {}
    channel = Channel(CONNECT)
    await run(app, ws_scope("EIO=4&transport=websocket&sid=nope", extensions=extensions), channel)
    first = await channel.sent()
    if not extension:
        assert first == {"type": "websocket.close", "code": 1008}
        return
    assert first["type"] == "websocket.http.response.start"
    assert first["status"] == 400
    body = await channel.sent()
    assert json.loads(body["body"]) == {"code": 1, "message": "Session ID unknown"}


async def test_websocket_session(echo_router: Any) -> None:
    app = ASGIApp(echo_router(max_http_buffer_size=100))
    channel = Channel(CONNECT)
    task = asyncio.create_task(run(app, ws_scope(), channel))
    assert await channel.sent() == {"type": "websocket.accept"}
    opened = await channel.sent()
    sid = json.loads(opened["text"][1:])["sid"]
    channel.push({"type": "websocket.receive", "text": "4hey"})
    channel.push({"type": "websocket.receive", "bytes": b"\x01\x02"})
    assert await channel.sent() == {"type": "websocket.send", "text": "4hey"}
    assert await channel.sent() == {"type": "websocket.send", "bytes": b"\x01\x02"}
    # 26 four-byte characters are 104 bytes: over the limit although 26 characters.
    channel.push({"type": "websocket.receive", "text": "4" + "\U0001f600" * 26})
    assert await channel.sent() == {"type": "websocket.close", "code": 1009}
    channel.push({"type": "websocket.disconnect", "code": 1009})
    await task
    assert app.engine.handler.reasons[sid] == "transport error"


async def test_replies_to_what_was_read_schedule_no_flush(echo_router: Any) -> None:
    # The pump holds the session's flush while it reads: the replies go out from it,
    # and the engine is never asked for a flush of its own (a callback per message).
    app = ASGIApp(echo_router())
    asked = flushes_asked(app)
    channel = Channel(CONNECT)
    task = asyncio.create_task(run(app, ws_scope(), channel))
    assert await channel.sent() == {"type": "websocket.accept"}
    sid = json.loads((await channel.sent())["text"][1:])["sid"]
    asked.clear()
    for text in ("4one", "4two", "4three"):
        channel.push({"type": "websocket.receive", "text": text})
        assert await channel.sent() == {"type": "websocket.send", "text": text}
    assert asked == []
    assert not app.engine.sessions[sid].dirty  # a write from elsewhere schedules its flush
    app.engine.sessions[sid].write("4elsewhere")
    assert await channel.sent() == {"type": "websocket.send", "text": "4elsewhere"}
    channel.push({"type": "websocket.disconnect", "code": 1000})
    await task


class GatedChannel(Channel):
    """A channel whose sends wait on ``gate`` once it is closed (the client stops reading)."""

    def __init__(self, *incoming: dict[str, Any]) -> None:
        super().__init__(*incoming)
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.gate.wait()
        await super().send(message)


async def test_replies_behind_a_send_under_way_are_handed_to_the_engine(
    echo_router: Any,
) -> None:
    app = ASGIApp(echo_router())
    channel = GatedChannel(CONNECT)
    task = asyncio.create_task(run(app, ws_scope(), channel))
    assert await channel.sent() == {"type": "websocket.accept"}
    sid = json.loads((await channel.sent())["text"][1:])["sid"]
    channel.gate.clear()
    app.engine.sessions[sid].write("4first")  # its send waits: the writer task has it
    await asyncio.sleep(0)  # the engine's flush of this iteration
    channel.push({"type": "websocket.receive", "text": "4reply"})
    for _ in range(5):  # the pump reads it, and cannot send its reply itself
        await asyncio.sleep(0)
    channel.gate.set()
    assert await channel.sent() == {"type": "websocket.send", "text": "4first"}
    assert await channel.sent() == {"type": "websocket.send", "text": "4reply"}
    channel.push({"type": "websocket.disconnect", "code": 1000})
    await task


class FutureChannel(Channel):
    """A channel whose ``receive`` returns a future: an awaitable that is no coroutine."""

    def receive(self) -> asyncio.Future[dict[str, Any]]:  # type: ignore[override]
        return asyncio.ensure_future(super().receive())


async def test_a_receive_that_returns_another_awaitable(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    channel = FutureChannel(CONNECT)
    task = asyncio.create_task(run(app, ws_scope(), channel))
    assert await channel.sent() == {"type": "websocket.accept"}
    sid = json.loads((await channel.sent())["text"][1:])["sid"]
    channel.push({"type": "websocket.receive", "text": "4one"})
    channel.push({"type": "websocket.receive", "text": "4two"})  # read at once, in turn
    assert await channel.sent() == {"type": "websocket.send", "text": "4one"}
    assert await channel.sent() == {"type": "websocket.send", "text": "4two"}
    channel.push({"type": "websocket.disconnect", "code": 1000})
    await task
    assert app.engine.handler.reasons[sid] == "transport close"


async def test_websocket_client_disconnect(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    channel = Channel(CONNECT)
    task = asyncio.create_task(run(app, ws_scope(), channel))
    await channel.sent()  # accept
    sid = json.loads((await channel.sent())["text"][1:])["sid"]
    channel.push({"type": "websocket.disconnect", "code": 1001})
    await task
    assert app.engine.handler.reasons[sid] == "transport close"


async def test_second_websocket_for_a_sid_is_closed(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    sid = await open_session(app)
    query = f"EIO=4&transport=websocket&sid={sid}"
    first = Channel(CONNECT, {"type": "websocket.receive", "text": "2probe"})
    first_task = asyncio.create_task(run(app, ws_scope(query), first))
    assert await first.sent() == {"type": "websocket.accept"}
    assert await first.sent() == {"type": "websocket.send", "text": "3probe"}
    second = Channel(CONNECT, {"type": "websocket.receive", "text": "4ignored"})
    second_task = asyncio.create_task(run(app, ws_scope(query), second))
    assert await second.sent() == {"type": "websocket.accept"}
    assert await second.sent() == {"type": "websocket.close", "code": 1000}
    second.push({"type": "websocket.disconnect", "code": 1000})
    await second_task
    first.push({"type": "websocket.receive", "text": "5"})
    first.push({"type": "websocket.receive", "text": "4upgraded"})
    assert await first.sent() == {"type": "websocket.send", "text": "4upgraded"}
    first.push({"type": "websocket.disconnect", "code": 1000})
    await first_task


async def test_websocket_send_failure_is_contained(echo_router: Any) -> None:
    app = ASGIApp(echo_router())
    channel = Channel(CONNECT)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise OSError("connection lost")
        await channel.send(message)

    task = asyncio.create_task(app(ws_scope(), channel.receive, send))
    assert await channel.sent() == {"type": "websocket.accept"}
    channel.push({"type": "websocket.receive", "text": "4x"})
    channel.push({"type": "websocket.disconnect", "code": 1006})
    async with asyncio.timeout(5):
        await task
    assert list(app.engine.handler.reasons.values()) == ["transport close"]


async def test_started_by_the_first_requests_when_no_lifespan_comes(echo_router: Any) -> None:
    """Starlette sends no lifespan events to a mounted app: the first requests start it,
    once, even when they come together."""
    calls: list[str] = []
    gate = asyncio.Event()
    began = asyncio.Event()

    async def on_startup() -> None:
        calls.append("startup")
        began.set()
        await gate.wait()

    app = ASGIApp(echo_router(), on_startup=on_startup)
    channels = [Channel(REQUEST), Channel(REQUEST)]
    requests = [asyncio.ensure_future(run(app, http_scope(), channel)) for channel in channels]
    async with asyncio.timeout(5):
        await began.wait()
    assert calls == ["startup"]
    assert not any(request.done() for request in requests)  # they wait for the start
    gate.set()
    await asyncio.gather(*requests)
    for channel in channels:
        assert (await channel.response())[0] == 200
    lifespan = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await run(app, {"type": "lifespan"}, lifespan)
    assert calls == ["startup"]
