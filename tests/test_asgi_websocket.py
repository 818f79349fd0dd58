"""ASGIWebSocket: the engine's packets sent through an ASGI ``send``, in order, by one
coroutine at a time (the receiving one for its replies, else the writer task)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import MutableMapping
from typing import Any

from aiosio.asgi_websocket import ASGIWebSocket
from aiosio.engineio.wire import Wire


class RecordingSend:
    """An ASGI ``send`` that records messages; it can be made to block, or to fail."""

    def __init__(self) -> None:
        self.messages: list[MutableMapping[str, Any]] = []
        self.active = 0
        self.overlapped = False
        self.gate: asyncio.Event | None = None  # when set up, each send waits on it
        self.entered = asyncio.Event()
        self.error: OSError | None = None

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        self.active += 1
        self.overlapped |= self.active > 1
        try:
            self.entered.set()
            if self.error is not None:
                raise self.error
            if self.gate is not None:
                await self.gate.wait()
            self.messages.append(message)
        finally:
            self.active -= 1

    def texts(self) -> list[Any]:
        return [m.get("text", m.get("bytes", m.get("code"))) for m in self.messages]


def replies(*texts: str) -> list[object]:
    """What a flush queues: the engine's packets."""
    return list(texts)


async def test_the_writer_sends_in_order_then_the_close() -> None:
    send = RecordingSend()
    ws = ASGIWebSocket(send)
    writer = asyncio.create_task(ws.run())
    ws.send_items(["a", b"b", Wire("c")])
    ws.close(1001)
    ws.send_items(["after the close"])
    await asyncio.wait_for(writer, 5)
    assert send.texts() == ["a", b"b", "c", 1001]
    assert send.messages[-1]["type"] == "websocket.close"
    assert ws.buffered() == 0


async def test_send_now_sends_from_the_caller_without_the_writer() -> None:
    send = RecordingSend()
    ws = ASGIWebSocket(send)
    drained: list[bool] = []
    ws.drained = lambda: drained.append(True)
    await ws.send_now(ws.send_items, replies("reply 1", "reply 2"))  # no writer task runs at all
    assert send.texts() == ["reply 1", "reply 2"]
    assert drained == [True]
    assert ws.buffered() == 0


async def test_one_sender_at_a_time_and_the_order_kept() -> None:
    send = RecordingSend()
    ws = ASGIWebSocket(send)
    writer = asyncio.create_task(ws.run())
    await asyncio.sleep(0)  # the writer parks
    send.gate = asyncio.Event()
    pump = asyncio.create_task(ws.send_now(ws.send_items, replies("1")))
    await send.entered.wait()  # the receiving coroutine is inside send("1")
    ws.send_items(["2"])  # a broadcast meanwhile: the sender takes it, not the writer
    ws.close()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not send.overlapped
    send.gate.set()
    await asyncio.wait_for(pump, 5)
    await asyncio.wait_for(writer, 5)
    assert send.texts() == ["1", "2", 1000]
    assert not send.overlapped


async def test_a_broken_connection_under_send_now_closes_quietly() -> None:
    send = RecordingSend()
    send.error = ConnectionResetError("gone")
    ws = ASGIWebSocket(send)
    writer = asyncio.create_task(ws.run())
    await ws.send_now(ws.send_items, replies("lost"))  # does not raise into the receiving coroutine
    assert ws.closing
    ws.send_items(["dropped"])
    assert ws.buffered() == 0
    await asyncio.wait_for(writer, 5)  # the writer ends too (its send fails the same way)
    with contextlib.suppress(asyncio.CancelledError):
        writer.cancel()
    assert send.messages == []


async def parked(send: RecordingSend) -> tuple[ASGIWebSocket, asyncio.Task[None]]:
    """A WebSocket whose writer task has started and parked (nothing queued)."""
    ws = ASGIWebSocket(send)
    writer = asyncio.create_task(ws.run())
    while ws._waiter is None:  # noqa: ASYNC110 (the writer parks on its first step)
        await asyncio.sleep(0)
    return ws, writer


async def test_a_broadcast_to_a_parked_writer_is_sent_by_the_caller() -> None:
    # No task is woken: the messages are out when send_items returns (a broadcast to a
    # thousand sockets costs no thousand task steps).
    send = RecordingSend()
    ws, writer = await parked(send)
    drained: list[bool] = []
    ws.drained = lambda: drained.append(True)
    ws.send_items(["tick", b"\x01"])
    assert send.texts() == ["tick", b"\x01"]
    assert drained == []  # nothing was left queued: no flow can be waiting for it
    assert ws.buffered() == 0
    ws.close()
    await asyncio.wait_for(writer, 5)
    assert send.texts() == ["tick", b"\x01", 1000]


async def test_a_send_that_suspends_is_finished_by_the_writer_in_order() -> None:
    send = RecordingSend()
    ws, writer = await parked(send)
    send.gate = asyncio.Event()
    ws.send_items(["1"])  # its send waits (the client stopped reading): the writer's now
    assert send.active == 1 and send.messages == []
    drained: list[bool] = []
    ws.drained = lambda: drained.append(True)
    ws.send_items(["2"])  # queued behind it, not sent beside it
    assert ws.buffered() == 1  # what the engine sees: over its mark, it pauses the session
    ws.close()
    send.gate.set()
    await asyncio.wait_for(writer, 5)
    assert send.texts() == ["1", "2", 1000]
    assert not send.overlapped
    assert drained == [True]  # the writer emptied the queue: a paused session resumes


async def test_a_send_that_fails_in_the_caller_closes_this_websocket_only() -> None:
    send = RecordingSend()
    ws, writer = await parked(send)
    send.error = ConnectionResetError("gone")
    ws.send_items(["lost"])  # raises nothing into the engine's flush of every session
    assert ws.closing
    await asyncio.wait_for(writer, 5)
    assert send.messages == []


async def test_eager_flushes_one_after_another_share_one_sender() -> None:
    # The eager sender parks between flushes and takes the next one where it left off.
    send = RecordingSend()
    ws, writer = await parked(send)
    for n in range(5):
        ws.send_items([Wire(f"delivery {n}")])
    ws.send_items(["a", b"b"])
    assert send.texts() == [f"delivery {n}" for n in range(5)] + ["a", b"b"]
    assert ws.buffered() == 0
    ws.close()
    await asyncio.wait_for(writer, 5)


class FutureSend:
    """An ASGI ``send`` that returns a future, an awaitable that is no coroutine."""

    def __init__(self) -> None:
        self.messages: list[MutableMapping[str, Any]] = []
        self.pending: asyncio.Future[None] | None = None  # set: the next send waits on it

    def __call__(self, message: MutableMapping[str, Any]) -> asyncio.Future[None]:
        self.messages.append(message)
        future = self.pending or asyncio.get_running_loop().create_future()
        if self.pending is None:
            future.set_result(None)
        self.pending = None
        return future


async def test_a_send_that_returns_another_awaitable_is_awaited_in_order() -> None:
    send = FutureSend()
    ws, writer = await parked(send)  # type: ignore[arg-type]
    ws.send_items(["at once"])
    gate = send.pending = asyncio.get_running_loop().create_future()
    ws.send_items(["waits"])  # its future is not done: the writer finishes it
    ws.send_items(["behind it"])
    assert [m["text"] for m in send.messages] == ["at once", "waits"]
    gate.set_result(None)
    ws.close()
    await asyncio.wait_for(writer, 5)
    assert [m.get("text", m.get("code")) for m in send.messages] == [
        "at once",
        "waits",
        "behind it",
        1000,
    ]


async def test_a_suspended_send_that_then_fails_ends_the_writer_quietly() -> None:
    send = RecordingSend()
    ws, writer = await parked(send)
    send.gate = asyncio.Event()
    ws.send_items(["1"])  # suspends inside the eager sender: the writer finishes it
    ws.send_items(["2"])
    send.error = ConnectionResetError("gone")  # the next send fails
    send.gate.set()
    await asyncio.wait_for(writer, 5)  # "1" goes, "2" fails: the writer ends, no raise
    assert ws.closing
    assert send.texts() == ["1"]
    ws.send_items(["dropped"])
    assert send.texts() == ["1"]


async def test_cancelling_the_writer_ends_a_send_it_was_finishing() -> None:
    send = RecordingSend()
    ws, writer = await parked(send)
    send.gate = asyncio.Event()
    ws.send_items(["stuck"])  # suspends in the eager sender; the writer takes it over
    for _ in range(3):
        await asyncio.sleep(0)
    assert send.active == 1
    writer.cancel()  # the WebSocket's end (ASGIApp._websocket)
    with contextlib.suppress(asyncio.CancelledError):
        await writer
    assert writer.cancelled()
    assert send.active == 0  # the send was thrown the cancellation, not left hanging
    assert send.messages == []
