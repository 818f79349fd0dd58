"""Operations by sid (emit, call, rooms, sessions, disconnect), with in-memory clients
(aiosio.testing: the real server and client, no socket)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio import compat as socketio


def listen(client: aiosio.Client, event: str) -> asyncio.Queue[list[Any]]:
    queue: asyncio.Queue[list[Any]] = asyncio.Queue()
    client.on(event, lambda *args: queue.put_nowait(list(args)))
    return queue


async def next_of(queue: asyncio.Queue[list[Any]]) -> list[Any]:
    return await asyncio.wait_for(queue.get(), 5)


async def test_what_the_connect_handler_does_happens_after_the_connect_ack() -> None:
    sio = socketio.AsyncServer()
    order: list[str] = []

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.enter_room(sid, "lobby")
        await sio.emit("welcome", sid, to=sid)
        await sio.emit("joined", sid, room="lobby")
        assert sio.rooms(sid) == [sid]  # "lobby" not yet: after the CONNECT ack
        order.append("handler done")

    async with aiosio.testing.serve(sio.io) as server:
        first = await server.connect()
        lobby = listen(first, "joined")
        second = await server.connect()
        assert (await next_of(lobby))[0] == second.id  # the new one was in the lobby at once
        assert order == ["handler done", "handler done"]


async def test_disconnect_in_the_connect_handler_disconnects_after_the_ack() -> None:
    sio = socketio.AsyncServer()
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await sio.disconnect(sid)

    @sio.event
    def disconnect(sid: str, reason: str) -> None:
        ended.set_result(reason)

    client = await aiosio.testing.connect(sio.io)  # connected first: no refusal
    assert await asyncio.wait_for(ended, 5) == sio.reason.SERVER_DISCONNECT
    await client.disconnect()
    await sio.shutdown()


async def test_rooms_skip_sid_and_close_room() -> None:
    sio = socketio.AsyncServer()

    @sio.event
    async def join(sid: str, room: str) -> list[str]:
        await sio.enter_room(sid, room)
        return sio.rooms(sid)

    @sio.event
    async def leave(sid: str, room: str) -> None:
        await sio.leave_room(sid, room)

    @sio.event
    async def shout(sid: str, room: str) -> None:
        await sio.emit("shout", room, room=room, skip_sid=sid)

    @sio.event
    async def close(sid: str, room: str) -> None:
        await sio.close_room(room)
        await sio.emit("shout", "after", room=room)
        await sio.send("closed", to=sid)

    async with aiosio.testing.serve(sio.io) as server:
        a, b = await server.connect(), await server.connect()
        heard_a, heard_b = listen(a, "shout"), listen(b, "shout")
        assert await a.emit_with_ack("join", "r", timeout=5) == [a.id, "r"]
        await b.emit_with_ack("join", "r", timeout=5)
        await a.emit_with_ack("shout", "r", timeout=5)
        assert await next_of(heard_b) == ["r"]
        messages = listen(a, "message")
        await a.emit_with_ack("close", "r", timeout=5)
        assert await next_of(messages) == ["closed"]
        assert heard_a.empty() and heard_b.empty()
        await b.emit_with_ack("leave", "nowhere", timeout=5)


async def test_call_answers_times_out_or_finds_no_client() -> None:
    sio = socketio.AsyncServer()
    results: asyncio.Queue[Any] = asyncio.Queue()

    @sio.event
    async def go(sid: str, event: str) -> None:
        try:
            results.put_nowait(await sio.call(event, "q", to=sid, timeout=0.2))
        except Exception as exc:
            results.put_nowait(type(exc))

    async with aiosio.testing.serve(sio.io) as server:
        client = await server.connect()
        client.on("answer", lambda q: (q, "two"))
        client.on("silent", lambda q, *, ack: None)  # takes the ack and never answers
        await client.emit_with_ack("go", "answer", timeout=5)
        assert await results.get() == ("q", "two")
        await client.emit_with_ack("go", "silent", timeout=5)
        assert await results.get() is socketio.TimeoutError
        with pytest.raises(socketio.DisconnectedError):
            await sio.call("answer", to="no-such-sid")
        with pytest.raises(ValueError, match="to=sid"):
            await sio.call("answer")


async def test_emit_callback_gets_one_clients_answer() -> None:
    sio = socketio.AsyncServer()
    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    async def got(*args: Any) -> None:
        answers.put_nowait(args)

    @sio.event
    async def ping_me(sid: str) -> None:
        await sio.emit("ping", 1, to=sid, callback=got)
        await sio.emit("ping", 2, to=[sid], callback=lambda *a: answers.put_nowait(a))

    async with aiosio.testing.serve(sio.io) as server:
        client = await server.connect()
        client.on("ping", lambda n: n * 10)
        client.emit("ping_me")
        assert {await asyncio.wait_for(answers.get(), 5) for _ in range(2)} == {(10,), (20,)}


async def test_sessions_and_lookups_of_unknown_clients() -> None:
    sio = socketio.AsyncServer()
    async with aiosio.testing.serve(sio.io) as server:
        client = await server.connect()
        sid = client.id
        assert sid is not None
        assert await sio.get_session(sid) == {}
        async with sio.session(sid) as session:
            session["n"] = 1
        assert await sio.get_session(sid) == {"n": 1}
        await sio.save_session(sid, {"n": 2})
        assert (await sio.get_session(sid))["n"] == 2
        environ = sio.get_environ(sid)
        assert environ is not None and environ["REQUEST_METHOD"] == "GET"
        assert sio.transport(sid) in ("polling", "websocket")
        with pytest.raises(KeyError):
            await sio.get_session("unknown")
        assert sio.get_environ("unknown") is None
        assert sio.rooms("unknown") == []
        await sio.emit("x", namespace="/nowhere")  # no such namespace: nothing happens
        await sio.disconnect("unknown")  # nor here


async def test_server_disconnect_and_shutdown() -> None:
    sio = socketio.AsyncServer()
    client = await aiosio.testing.connect(sio.io)
    gone = asyncio.get_running_loop().create_future()
    client.on("disconnect", lambda reason, *_: gone.done() or gone.set_result(reason))
    assert client.id is not None
    await sio.disconnect(client.id)
    assert await asyncio.wait_for(gone, 5) == "io server disconnect"
    await sio.shutdown()
    assert not sio.io.accepting


async def test_background_tasks_run_and_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sio = socketio.AsyncServer()

    async def work(value: int) -> int:
        await sio.sleep(0)
        return value * 2

    async def fail() -> None:
        raise RuntimeError("boom")

    assert await sio.start_background_task(work, 21) == 42
    with caplog.at_level(logging.ERROR, logger="aiosio.compat"):
        task = sio.start_background_task(fail)
        with pytest.raises(RuntimeError):
            await task
        await asyncio.sleep(0)
    assert "background task failed" in caplog.text


async def test_a_connect_handler_that_suspends_still_defers_and_refuses() -> None:
    sio = socketio.AsyncServer()

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        await asyncio.sleep(0)  # a real suspension: the rest runs in a native task
        if auth == {"refuse": True}:
            raise socketio.ConnectionRefusedError("later", {"why": "suspended"})
        await sio.enter_room(sid, "lobby")
        await sio.emit("welcome", sio.rooms(sid), to=sid)
        return True

    @sio.event
    async def where(sid: str) -> list[str]:
        return sio.rooms(sid)

    async with aiosio.testing.serve(sio.io) as server:
        client = await server.connect()
        assert await client.emit_with_ack("where", timeout=5) == [client.id, "lobby"]
        with pytest.raises(aiosio.ConnectionError) as refused:
            await server.connect(auth={"refuse": True})
        assert (refused.value.message, refused.value.data) == ("later", {"why": "suspended"})


async def test_a_failing_connect_handler_refuses() -> None:
    sio = socketio.AsyncServer()

    @sio.event
    def connect(sid: str, environ: dict[str, Any]) -> None:
        raise KeyError("missing")

    with pytest.raises(aiosio.ConnectionError, match="missing"):
        await aiosio.testing.connect(sio.io)
    await sio.shutdown()
