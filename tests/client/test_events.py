"""aiosio.client.events: the listeners of the client's objects.

:class:`Listeners` directly (on, once, off, take, fire, call, coroutine handlers and their
failures), then the same behaviour through :class:`aiosio.Client` connected in memory.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.client.events import Listeners
from tests.support.waits import within


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "aiosio.client" and r.levelno >= logging.ERROR]


# -- registering -------------------------------------------------------------------------------


def test_add_returns_the_handler_and_keeps_the_order() -> None:
    listeners = Listeners()

    def first() -> None: ...
    def second() -> None: ...

    assert listeners.on("e", first) is first
    assert listeners.once("e", second) is second
    assert listeners.on("e", first) is first  # twice is allowed: called twice
    assert listeners.listeners("e") == [first, second, first]
    assert listeners.listeners("other") == []


def test_add_refuses_what_cannot_be_called() -> None:
    listeners = Listeners()
    with pytest.raises(TypeError, match="must be callable"):
        listeners.on("e", 42)  # type: ignore[call-overload]

    def needs_keyword(value: int, *, token: str) -> None: ...

    with pytest.raises(TypeError, match="required keyword-only"):
        listeners.on("e", needs_keyword)
    assert listeners.listeners("e") == []


def test_remove_one_all_of_an_event_or_everything() -> None:
    listeners = Listeners()

    def a() -> None: ...
    def b() -> None: ...

    for handler in (a, b, a):
        listeners.on("x", handler)
    listeners.on("y", a)
    listeners.off("x", a)  # the first registration only
    assert listeners.listeners("x") == [b, a]
    listeners.off("x", lambda: None)  # unknown: nothing happens
    listeners.off("nothing", a)
    assert listeners.listeners("x") == [b, a]
    listeners.off("x")
    assert listeners.listeners("x") == [] and listeners.listeners("y") == [a]
    listeners.off("x")  # no handler left: nothing happens
    listeners.off()
    assert listeners.listeners("y") == []


def test_take_removes_once_handlers() -> None:
    listeners = Listeners()

    def always() -> None: ...
    def once() -> None: ...

    listeners.on("e", always)
    listeners.once("e", once)
    assert [spec.fn for spec in listeners.take("e")] == [always, once]
    assert [spec.fn for spec in listeners.take("e")] == [always]
    assert listeners.take("nothing") == []
    taken = listeners.take("e")
    taken.clear()  # a copy: the registered handlers stay
    assert listeners.listeners("e") == [always]


# -- calling -----------------------------------------------------------------------------------


def test_fire_fits_the_arguments_to_each_handler() -> None:
    listeners = Listeners()
    calls: list[tuple[Any, ...]] = []
    listeners.on("e", lambda: calls.append(()))
    listeners.on("e", lambda a: calls.append((a,)))
    listeners.on("e", lambda a, b, c: calls.append((a, b, c)))
    listeners.on("e", lambda *args: calls.append(args))
    listeners.fire("e", 1, 2)
    assert calls == [(), (1,), (1, 2, None), (1, 2)]
    listeners.fire("nobody-listens", 1)


def test_once_handlers_run_once() -> None:
    listeners = Listeners()
    calls: list[int] = []
    listeners.once("e", calls.append)
    listeners.fire("e", 1)
    listeners.fire("e", 2)
    assert calls == [1]
    assert listeners.listeners("e") == []


def test_call_passes_the_ack_and_the_result() -> None:
    listeners = Listeners()
    acks: list[Any] = []
    results: list[Any] = []

    def answers(value: int, *, ack: Any) -> str:
        ack(value + 1)
        return "returned"

    def doubles(value: int) -> int:
        return value * 2

    listeners.on("a", answers)
    listeners.on("d", doubles)
    (spec,) = listeners.take("a")
    listeners.call(spec, [1], acks.append, results.append)
    (plain,) = listeners.take("d")
    listeners.call(plain, (4,), acks.append, results.append)
    listeners.call(plain, (5,))  # no on_result: the value is dropped
    assert acks == [2] and results == ["returned", 8]


async def test_coroutine_handlers_run_eagerly_and_as_tasks_once_they_wait() -> None:
    listeners = Listeners()
    results: asyncio.Queue[Any] = asyncio.Queue()
    started: list[int] = []
    gate = asyncio.Event()

    async def handler(value: int) -> int:
        started.append(value)
        if value < 0:
            await gate.wait()
        return value * 10

    listeners.on("e", handler)
    (spec,) = listeners.take("e")
    listeners.call(spec, [3], None, results.put_nowait)
    assert started == [3] and results.get_nowait() == 30  # inside the call: no task
    listeners.call(spec, [-1], None, results.put_nowait)
    assert started == [3, -1] and results.empty()  # it waits: the rest is a task
    gate.set()
    assert await within(results.get()) == -10


async def test_failures_are_logged_and_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    listeners = Listeners()
    results: list[Any] = []
    done = asyncio.Event()

    def broken() -> None:
        raise RuntimeError("sync failure")

    async def broken_later() -> None:
        done.set()
        raise RuntimeError("async failure")

    def fine() -> str:
        return "ok"

    for handler in (broken, broken_later, fine):
        listeners.on("e", handler)
    with caplog.at_level(logging.ERROR, logger="aiosio.client"):
        for spec in listeners.take("e"):
            listeners.call(spec, [], None, results.append)
        # The task raises in the step that set the event, so it is logged by now.
        await within(done.wait())
    assert results == ["ok"]
    logged = errors(caplog)
    assert [str(record.exc_info[1]) for record in logged if record.exc_info] == [
        "sync failure",
        "async failure",
    ]
    assert all(record.getMessage().startswith("handler ") for record in logged)


# -- through a client ------------------------------------------------------------------------------


def echo_server() -> tuple[aiosio.Server, asyncio.Queue[aiosio.Socket]]:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: args[0] if len(args) == 1 else args)
        sockets.put_nowait(socket)

    return io, sockets


async def test_client_listeners_on_once_off() -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io) as client:
        socket = await within(sockets.get())
        got: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def every(value: Any) -> None:
            got.put_nowait(("every", value))

        client.on("news", every)
        client.once("news", lambda value: got.put_nowait(("once", value)))

        @client.on("other")
        def other(value: Any) -> None:
            got.put_nowait(("other", value))

        @client.event
        def named(value: Any) -> None:
            got.put_nowait(("named", value))

        assert client.listeners("news")[0] is every and len(client.listeners("news")) == 2
        assert client.listeners("named") == [named]
        socket.emit("news", 1)
        socket.emit("news", 2)
        socket.emit("other", 3)
        socket.emit("named", 4)
        assert [await within(got.get()) for _ in range(5)] == [
            ("every", 1),
            ("once", 1),
            ("every", 2),
            ("other", 3),
            ("named", 4),
        ]
        client.off("news", every)
        client.off("other")
        assert client.listeners("news") == [] and client.listeners("other") == []
        client.off()
        assert client.listeners("named") == []
        socket.emit("news", 5)
        socket.emit("named", 6)
        client.on("end", lambda: got.put_nowait(("end", None)))
        socket.emit("end")
        assert await within(got.get()) == ("end", None)  # nothing came before it


async def test_client_answers_with_the_first_handlers_value() -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io) as client:
        socket = await within(sockets.get())
        second: asyncio.Queue[int] = asyncio.Queue()
        client.on("add", lambda a, b: a + b)
        client.on("add", lambda a, b: second.put_nowait(a * b) or "ignored")
        assert await within(socket.timeout(1).emit_with_ack("add", 2, 3)) == 5
        assert await within(second.get()) == 6

        async def later(a: int, b: int) -> tuple[int, int]:
            return a, b

        client.on("pair", later)
        assert await within(socket.timeout(1).emit_with_ack("pair", 1, 2)) == (1, 2)

        def manual(value: int, *, ack: Any) -> str:
            ack("by hand", value)
            ack("twice")  # only the first call answers
            return "not the answer"

        client.on("manual", manual)
        assert await within(socket.timeout(1).emit_with_ack("manual", 7)) == ("by hand", 7)


async def test_client_any_listeners() -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io) as client:
        socket = await within(sockets.get())
        seen: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def first(event: str, *args: Any) -> None:
            seen.put_nowait(("first", (event, *args)))

        def zeroth(event: str, *args: Any) -> None:
            seen.put_nowait(("zeroth", (event, *args)))

        client.on_any(first)
        client.prepend_any(zeroth)
        assert client.listeners_any() == [zeroth, first]
        socket.emit("hi", 1)
        assert [await within(seen.get()) for _ in range(2)] == [
            ("zeroth", ("hi", 1)),
            ("first", ("hi", 1)),
        ]
        client.off_any(zeroth)
        assert client.listeners_any() == [first]
        client.off_any()
        assert client.listeners_any() == []

        outgoing: list[tuple[Any, ...]] = []
        client.on_any_outgoing(lambda *data: outgoing.append(("late", *data)))
        client.prepend_any_outgoing(lambda *data: outgoing.append(("early", *data)))
        assert len(client.listeners_any_outgoing()) == 2
        assert await within(client.emit_with_ack("echo", "x", timeout=1)) == "x"
        assert outgoing == [("early", "echo", "x"), ("late", "echo", "x")]
        client.off_any_outgoing()
        assert client.listeners_any_outgoing() == []


async def test_a_failing_client_handler_keeps_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io, sockets = echo_server()
    async with aiosio.testing.connect(io) as client:
        socket = await within(sockets.get())

        def broken(value: Any) -> None:
            raise ValueError("broken handler")

        client.on("boom", broken)
        with caplog.at_level(logging.ERROR, logger="aiosio.client"):
            socket.emit("boom", 1)
            assert await within(client.emit_with_ack("echo", "still here", timeout=1)) == (
                "still here"
            )
        assert client.connected
        assert [str(r.exc_info[1]) for r in errors(caplog) if r.exc_info] == ["broken handler"]
