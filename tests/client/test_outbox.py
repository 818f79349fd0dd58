"""What a client sends and the acknowledgements it waits for (aiosio.client.outbox), as
seen through :class:`aiosio.Client` connected in memory: buffering while disconnected,
volatile emits, ack callbacks and timeouts, failures on disconnection, and the retry queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout, Disconnected, LocalProtocolError
from tests.support.waits import within


class App:
    """A server that records every event it receives, in order, with ``echo`` answered,
    ``hang`` never answered, ``drop-me`` answered by disconnecting the socket, and
    ``flaky`` answered from the ``answer_on``-th try on (each try counted)."""

    def __init__(self, answer_on: int = 1) -> None:
        self.io = aiosio.Server()
        self.received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
        self.tries: list[Any] = []
        self.held: list[Callable[..., None]] = []
        self.answer_on = answer_on
        self.io.on("connection", self.on_connection)

    def on_connection(self, socket: aiosio.Socket) -> None:
        socket.on_any(lambda event, *args: self.received.put_nowait((event, *args)))
        socket.on("echo", lambda *args: args[0] if len(args) == 1 else args)

        def drop_me() -> None:  # returns nothing: no answer, the socket is gone
            socket.disconnect()

        socket.on("drop-me", drop_me)
        socket.on("flaky", self.flaky)
        socket.on("hold", lambda value, *, ack: self.held.append(ack))
        self.sockets.put_nowait(socket)

    def flaky(self, value: Any, *, ack: Callable[..., None]) -> None:
        self.tries.append(value)
        if len(self.tries) >= self.answer_on:
            ack("done", len(self.tries))

    async def next_events(self, *names: str) -> list[tuple[Any, ...]]:
        """The events received up to and including the next one named ``names[-1]``."""
        got = [await within(self.received.get())]
        while got[-1][0] != names[-1]:
            got.append(await within(self.received.get()))
        return got


# -- connected -------------------------------------------------------------------------------------


async def test_emit_while_connected_goes_out_in_order() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        client.emit("a", 1)
        client.send("hello")
        client.emit("b", {"x": [1, 2]}, b"\x00")
        assert await app.next_events("b") == [
            ("a", 1),
            ("message", "hello"),
            ("b", {"x": [1, 2]}, b"\x00"),
        ]


async def test_reserved_names_and_unserialisable_arguments_are_refused() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        for name in ("connect", "connect_error", "disconnect", "disconnecting"):
            with pytest.raises(LocalProtocolError, match="reserved"):
                client.emit(name)
        with pytest.raises(LocalProtocolError):
            client.emit(1)  # type: ignore[arg-type]
        with pytest.raises(LocalProtocolError):
            client.emit("bad", object())
        client.emit("end")
        assert await app.next_events("end") == [("end",)]


async def test_ack_callbacks_plain_and_error_first() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.emit("echo", 1, 2, callback=lambda *answer: answers.put_nowait(answer))
        assert await within(answers.get()) == (1, 2)
        client.emit("echo", "one", callback=lambda *answer: answers.put_nowait(answer))
        assert await within(answers.get()) == ("one",)
        # With a timeout, the callback is error-first.
        client.timeout(1).emit("echo", "x", callback=lambda *answer: answers.put_nowait(answer))
        assert await within(answers.get()) == (None, "x")


async def test_emit_with_ack_shapes_the_answer() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        assert await within(client.emit_with_ack("echo", timeout=1)) is None
        assert await within(client.emit_with_ack("echo", 1, timeout=1)) == 1
        assert await within(client.emit_with_ack("echo", 1, 2, timeout=1)) == (1, 2)
        assert await within(client.timeout(1).emit_with_ack("echo", "t")) == "t"


async def test_an_async_ack_callback_runs_as_a_task() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        done: asyncio.Queue[Any] = asyncio.Queue()

        async def callback(answer: Any) -> None:
            done.put_nowait(answer)

        client.emit("echo", "async", callback=callback)
        assert await within(done.get()) == "async"


async def test_a_failing_ack_callback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        called = asyncio.Event()

        def callback(answer: Any) -> None:
            called.set()
            raise RuntimeError("callback failed")

        with caplog.at_level(logging.ERROR, logger="aiosio.client"):
            client.emit("echo", 1, callback=callback)
            await within(called.wait())
        assert await within(client.emit_with_ack("echo", "after", timeout=1)) == "after"
        failures = [r for r in caplog.records if r.exc_info and r.name == "aiosio.client"]
        assert [str(r.exc_info[1]) for r in failures if r.exc_info] == ["callback failed"]


# -- timeouts --------------------------------------------------------------------------------------


async def test_emit_with_ack_times_out() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        with pytest.raises(AckTimeout, match="operation has timed out"):
            await within(client.emit_with_ack("hold", 1, timeout=0.02))
        with pytest.raises(AckTimeout):
            await within(client.timeout(0.02).emit_with_ack("hold", 2))
        errors: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.timeout(0.02).emit("hold", 3, callback=lambda *args: errors.put_nowait(args))
        (error,) = await within(errors.get())
        assert isinstance(error, AckTimeout) and isinstance(error, TimeoutError)
        # A late answer to an expired ack is ignored.
        assert [(await app.next_events("hold"))[-1] for _ in range(3)] == [
            ("hold", 1),
            ("hold", 2),
            ("hold", 3),
        ]
        assert len(app.held) == 3
        for ack in app.held:
            ack("late")
        assert await within(client.emit_with_ack("echo", "alive", timeout=1)) == "alive"
        assert errors.empty()


async def test_ack_timeout_is_the_default_timeout() -> None:
    app = App()
    async with aiosio.testing.connect(app.io, ack_timeout=0.1) as client:
        assert client.ack_timeout == 0.1
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("hold", 1))
        # ack_timeout also makes plain callbacks error-first.
        answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.emit("echo", "v", callback=lambda *args: answers.put_nowait(args))
        assert await within(answers.get()) == (None, "v")
        # An explicit timeout wins over ack_timeout.
        assert await within(client.emit_with_ack("echo", "w", timeout=1)) == "w"


# -- disconnected: buffering, volatile, failures ---------------------------------------------------


async def test_emits_are_buffered_while_disconnected_and_sent_on_connect() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        await within(app.sockets.get())
        await client.disconnect()
        outgoing: list[tuple[Any, ...]] = []
        client.on_any_outgoing(lambda *data: outgoing.append(data))
        answers: asyncio.Queue[Any] = asyncio.Queue()
        client.emit("first", 1)
        client.emit("echo", "buffered", callback=answers.put_nowait)
        client.emit("second", 2)
        assert outgoing == []  # nothing was sent yet
        await within(client.connect())
        assert await within(answers.get()) == "buffered"
        assert await app.next_events("second") == [
            ("first", 1),
            ("echo", "buffered"),
            ("second", 2),
        ]
        assert outgoing == [("first", 1), ("echo", "buffered"), ("second", 2)]


async def test_volatile_emits_are_dropped_while_disconnected() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        client.volatile.emit("volatile-connected", 1)
        assert await app.next_events("volatile-connected") == [("volatile-connected", 1)]
        await client.disconnect()
        client.volatile.emit("dropped", 2)
        client.emit("kept", 3)
        await within(client.connect())
        client.emit("end")
        assert await app.next_events("end") == [("kept", 3), ("end",)]


async def test_a_buffered_emit_that_times_out_is_never_sent() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        await client.disconnect()
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("echo", "too late", timeout=0.02))
        client.emit("kept")
        await within(client.connect())
        client.emit("end")
        assert await app.next_events("end") == [("kept",), ("end",)]


async def test_pending_acks_fail_when_the_connection_is_lost() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        with pytest.raises(Disconnected, match="disconnected"):
            await within(client.emit_with_ack("drop-me"))
        assert not client.connected and not client.active


async def test_pending_acks_fail_when_the_client_disconnects() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        pending = asyncio.ensure_future(client.emit_with_ack("hold", 1))
        await within(app.next_events("hold"))
        plain: list[tuple[Any, ...]] = []
        client.emit("hold", 2, callback=lambda *args: plain.append(args))
        await within(app.next_events("hold"))
        await client.disconnect()
        with pytest.raises(Disconnected):
            await within(pending)
        assert plain == []  # a callback that is not error-first is dropped silently


async def test_acks_survive_a_dropped_connection_only_when_buffered() -> None:
    app = App()
    # Reconnection waits 50 ms: what is emitted right after the drop is buffered.
    async with aiosio.testing.connect(
        app.io, reconnection_delay=0.05, randomization_factor=0
    ) as client:
        first = await within(app.sockets.get())
        reasons: asyncio.Queue[str] = asyncio.Queue()
        client.on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        in_flight = asyncio.ensure_future(client.emit_with_ack("hold", 1))
        await within(app.next_events("hold"))
        aiosio.testing.drop(client)
        assert await within(reasons.get()) == "transport error"
        with pytest.raises(Disconnected):
            await within(in_flight)
        # Emitted while reconnecting: buffered, sent once connected again.
        assert client.active and not client.connected
        answer = await within(client.emit_with_ack("echo", "after the drop"))
        assert answer == "after the drop"
        second = await within(app.sockets.get())
        assert second.id != first.id


# -- the retry queue -------------------------------------------------------------------------------


async def test_retries_send_again_until_acknowledged() -> None:
    app = App(answer_on=3)
    async with aiosio.testing.connect(app.io, retries=2, ack_timeout=0.1) as client:
        assert client.retries == 2
        assert await within(client.emit_with_ack("flaky", "v")) == ("done", 3)
        assert app.tries == ["v", "v", "v"]


async def test_retries_give_up_after_the_last_try() -> None:
    app = App(answer_on=99)
    async with aiosio.testing.connect(app.io, retries=1, ack_timeout=0.02) as client:
        with pytest.raises(AckTimeout):
            await within(client.emit_with_ack("flaky", "v"))
        errors: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.emit("flaky", "w", callback=lambda *args: errors.put_nowait(args))
        (error,) = await within(errors.get())
        assert isinstance(error, AckTimeout)
        for _ in range(4):
            await app.next_events("flaky")
        assert app.tries == ["v", "v", "w", "w"]  # each: the first try and one retry


async def test_retry_queue_sends_one_at_a_time() -> None:
    app = App()
    async with aiosio.testing.connect(app.io, retries=3, ack_timeout=5) as client:
        socket = await within(app.sockets.get())
        results: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.emit("hold", "a", callback=lambda *args: results.put_nowait(("a", *args)))
        client.emit("echo", "b", callback=lambda *args: results.put_nowait(("b", *args)))
        client.emit("plain", "c")  # queued too (no callback), after the others
        assert await app.next_events("hold") == [("hold", "a")]
        # A round trip the other way: had "b" been sent, it would have arrived first.
        client.on("ping", lambda: "pong")
        assert await within(socket.timeout(1).emit_with_ack("ping")) == "pong"
        assert app.received.empty() and results.empty()
        app.held[0]("a done")
        # From the queue, callbacks are error-first.
        assert await within(results.get()) == ("a", None, "a done")
        assert await within(results.get()) == ("b", None, "b")
        assert await app.next_events("plain") == [("echo", "b"), ("plain", "c")]


async def test_volatile_emits_skip_the_retry_queue() -> None:
    app = App()
    async with aiosio.testing.connect(app.io, retries=3, ack_timeout=5) as client:
        held = asyncio.ensure_future(client.emit_with_ack("hold", "a"))
        await within(app.next_events("hold"))
        client.volatile.emit("volatile", 1)  # not behind the held one
        assert await app.next_events("volatile") == [("volatile", 1)]
        app.held[0]("ok")
        assert await within(held) == "ok"


async def test_retry_queue_waits_while_disconnected() -> None:
    app = App()
    async with aiosio.testing.connect(app.io, retries=1, ack_timeout=5) as client:
        await client.disconnect()
        answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        client.emit("echo", "queued", callback=lambda *args: answers.put_nowait(args))
        client.emit("plain", 1)
        await within(client.connect())
        assert await within(answers.get()) == (None, "queued")
        assert await app.next_events("plain") == [("echo", "queued"), ("plain", 1)]


async def test_an_event_name_that_is_not_a_string_is_refused_as_such() -> None:
    app = App()
    async with aiosio.testing.connect(app.io) as client:
        for name in (1, None, b"bytes"):
            with pytest.raises(LocalProtocolError) as info:
                client.emit(name)  # type: ignore[arg-type]
            assert str(info.value) == f"event names must be strings, not {type(name).__name__}"
            assert "reserved" not in str(info.value)
