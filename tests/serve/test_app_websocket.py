"""The application's own WebSocket routes on the standalone server
(aiosio.serve.app_websocket), driven by the ``websockets`` client, beside Socket.IO's
WebSocket on the same port."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.serve.app_support import app_server, until
from tests.support.waits import within

Scope = dict[str, Any]


def ws_app(closes: asyncio.Queue[Any]) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        path = scope["path"]
        if path == "/forbidden":
            await send({"type": "websocket.close"})
            return
        if path == "/custom":
            headers = [(b"content-type", b"text/plain"), (b"content-length", b"7")]
            await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": b"go away"})
            return
        if path == "/broken":
            raise RuntimeError("broken before the accept")
        chosen = scope["subprotocols"][-1] if scope["subprotocols"] else None
        await send(
            {"type": "websocket.accept", "subprotocol": chosen, "headers": [(b"x-app", b"yes")]}
        )
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await closes.put((message["code"], message.get("reason", "")))
                return
            if message.get("text") == "scope":
                seen = {k: scope[k] for k in ("scheme", "path", "query_string", "subprotocols")}
                seen["query_string"] = seen["query_string"].decode()
                await send({"type": "websocket.send", "text": json.dumps(seen)})
            elif message.get("text") == "bye":
                await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
            elif "text" in message:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message["bytes"]})

    return app


async def test_accept_echo_subprotocols_and_close_codes(echo_router: Any) -> None:
    closes: asyncio.Queue[Any] = asyncio.Queue()
    async with app_server(echo_router(), ws_app(closes)) as server:
        url = f"ws://127.0.0.1:{server.port}"
        async with connect(url + "/chat?room=1", subprotocols=["a", "b"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "b"
            assert ws.response is not None and ws.response.headers["x-app"] == "yes"
            await ws.send("scope")
            seen = json.loads(await within(ws.recv()))
            assert seen == {
                "scheme": "ws",
                "path": "/chat",
                "query_string": "room=1",
                "subprotocols": ["a", "b"],
            }
            await ws.send(b"\x00\x01")
            assert await within(ws.recv()) == b"\x00\x01"
            await ws.close(4001, "leaving")
        assert await within(closes.get()) == (4001, "leaving")
        async with connect(url + "/chat") as ws:
            await ws.send("bye")
            with pytest.raises(ConnectionClosed) as closed:
                await within(ws.recv())
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "status"), [("/forbidden", 403), ("/custom", 401), ("/broken", 500)]
)
async def test_a_handshake_the_app_refuses(echo_router: Any, path: str, status: int) -> None:
    async with app_server(echo_router(), ws_app(asyncio.Queue())) as server:
        with pytest.raises(InvalidStatus) as refused:
            await within(connect(f"ws://127.0.0.1:{server.port}{path}"))
        assert refused.value.response.status_code == status
        if path == "/custom":
            assert refused.value.response.body == b"go away"


async def test_socketio_websocket_beside_the_apps(echo_router: Any) -> None:
    async with app_server(echo_router(), ws_app(asyncio.Queue())) as server:
        url = f"ws://127.0.0.1:{server.port}"
        async with connect(url + "/socket.io/?EIO=4&transport=websocket") as engine:
            opened = await within(engine.recv())
            assert isinstance(opened, str) and opened.startswith("0{")
            async with connect(url + "/chat") as app:
                await engine.send("4hello")  # the echo engine answers
                await app.send("hi")
                assert await within(engine.recv()) == "4hello"
                assert await within(app.recv()) == "hi"
                # The Socket.IO WebSocket is the engine's now: the HTTP connection it came
                # on is not kept among the app's (it would live as long as the server).
                kinds = {type(connection).__name__ for connection in server.front.connections}
                assert kinds == {"AppWebSocket"}


async def test_reading_pauses_while_the_app_does_not_read(echo_router: Any) -> None:
    release = asyncio.Event()
    got: list[str] = []

    async def slow(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await release.wait()
        while (message := await receive())["type"] == "websocket.receive":
            got.append(message["text"])
            if len(got) == 500:
                await send({"type": "websocket.close"})

    async with app_server(echo_router(), slow) as server:
        async with connect(f"ws://127.0.0.1:{server.port}/slow") as ws:
            for n in range(500):
                await ws.send(str(n))
            (websocket,) = server.front.connections
            await until(lambda: websocket._paused)
            release.set()
            await within(ws.wait_closed(), 10)
        assert got == [str(n) for n in range(500)]
