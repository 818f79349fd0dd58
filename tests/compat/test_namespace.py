"""Class-based namespaces, server and client side."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosio.testing
from aiosio import compat as socketio


class Chat(socketio.AsyncNamespace):
    def __init__(self) -> None:
        super().__init__("/chat")
        self.seen: list[str] = []

    async def trigger_event(self, event: str, *args: Any) -> Any:
        self.seen.append(event)  # an override sees every event, as documented
        return await super().trigger_event(event, *args)

    def on_connect(self, sid: str, environ: dict[str, Any]) -> None:
        pass

    async def on_join(self, sid: str, room: str) -> list[str]:
        await self.enter_room(sid, room)
        await self.emit("joined", room, room=room)
        return self.rooms(sid)

    async def on_remember(self, sid: str, value: Any) -> Any:
        async with self.session(sid) as session:
            session["value"] = value
        await self.save_session(sid, {**(await self.get_session(sid)), "more": 1})
        return await self.get_session(sid)

    async def on_leave(self, sid: str, room: str) -> None:
        await self.leave_room(sid, room)
        await self.close_room(room)
        await self.send("left", to=sid)

    async def on_ask(self, sid: str) -> Any:
        return await self.call("q", to=sid, timeout=5)

    async def on_bye(self, sid: str) -> None:
        await self.disconnect(sid)


async def test_server_namespace_class() -> None:
    sio = socketio.AsyncServer()
    chat = Chat()
    sio.register_namespace(chat)
    assert set(chat.events()) == {"connect", "join", "remember", "leave", "ask", "bye"}
    async with aiosio.testing.serve(sio.io) as server:
        client = await server.connect("/chat")
        joined: asyncio.Queue[str] = asyncio.Queue()
        client.on("joined", joined.put_nowait)
        client.on("q", lambda: "a")
        rooms = await client.emit_with_ack("join", "r", timeout=5)
        assert rooms == [client.id, "r"]
        assert await asyncio.wait_for(joined.get(), 5) == "r"
        assert await client.emit_with_ack("remember", 7, timeout=5) == {"value": 7, "more": 1}
        assert await client.emit_with_ack("ask", timeout=5) == "a"
        left: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on("message", left.set_result)
        client.emit("leave", "r")
        assert await asyncio.wait_for(left, 5) == "left"
        gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on("disconnect", lambda reason, *_: gone.done() or gone.set_result(reason))
        client.emit("bye")
        assert await asyncio.wait_for(gone, 5) == "io server disconnect"
    assert chat.seen[:2] == ["connect", "join"]
    assert await chat.trigger_event("no_such_event", "sid") is None


class Receiver(socketio.AsyncClientNamespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.got: asyncio.Queue[Any] = asyncio.Queue()

    def on_connect(self) -> None:
        self.got.put_nowait("connected")

    async def on_news(self, data: Any) -> str:
        self.got.put_nowait(data)
        return "thanks"


async def test_client_namespace_class() -> None:
    sio = socketio.AsyncServer()
    answers: asyncio.Queue[Any] = asyncio.Queue()

    @sio.on("tell", namespace="/chat")
    async def tell(sid: str, text: str) -> str:
        await sio.emit("news", text, to=sid, namespace="/chat", callback=answers.put_nowait)
        return "told"

    port = await sio.start("127.0.0.1", 0)
    try:
        client = socketio.AsyncClient(reconnection=False)
        receiver = Receiver("/chat")
        client.register_namespace(receiver)
        await client.connect(f"http://127.0.0.1:{port}", wait_timeout=5)
        assert await asyncio.wait_for(receiver.got.get(), 5) == "connected"
        assert await receiver.call("tell", "hello", timeout=5) == "told"
        assert await asyncio.wait_for(receiver.got.get(), 5) == "hello"
        assert await asyncio.wait_for(answers.get(), 5) == "thanks"
        await receiver.emit("tell", "again")
        await receiver.send("ignored")
        assert await asyncio.wait_for(receiver.got.get(), 5) == "again"
        await receiver.disconnect()
    finally:
        await sio.shutdown()
