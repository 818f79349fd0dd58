"""aiosio.server.acks: the helpers of acknowledgements, and how a handler's answer
reaches the client (one value, several, none, by hand, or one that cannot be encoded)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout
from aiosio.server.acks import Unencodable, ack_result, culprit, safe_call
from tests.support.waits import within

# -- ack_result ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "result"),
    [
        ((), None),
        ([], None),
        ((1,), 1),
        ((None,), None),
        (([1, 2],), [1, 2]),
        ((1, "b"), (1, "b")),
        ([1, "b", None], (1, "b", None)),
    ],
)
def test_ack_result(args: tuple[Any, ...] | list[Any], result: Any) -> None:
    assert ack_result(args) == result
    assert type(ack_result(args)) is type(result)


# -- culprit and Unencodable ---------------------------------------------------------------------


def test_culprit_names_the_first_part_that_does_not_encode() -> None:
    parser = aiosio.Server().parser
    assert culprit(parser, {1, 2}, 0) == ("set", "")
    assert culprit(parser, [1, "ok", {"deep": [object()]}], 0) == ("object", "")
    assert culprit(parser, {"a": 1, "b": {"c": {1}}}, 0) == ("set", "")
    assert culprit(parser, {object(): 1}, 0) == ("a dict key of type object", "")


def test_culprit_of_something_containing_itself() -> None:
    parser = aiosio.Server().parser
    looped: list[Any] = [1]
    looped.append(looped)
    assert culprit(parser, looped, 0) == ("list", " (nested too deep, or containing itself)")


def test_unencodable_says_what_the_parser_refused() -> None:
    parser = aiosio.Server().parser
    assert str(Unencodable(parser, [1, {"x": {1}}])) == "set is not JSON-serialisable"
    looped: dict[str, Any] = {}
    looped["self"] = looped
    assert str(Unencodable(parser, [looped])) == (
        "dict is not JSON-serialisable (nested too deep, or containing itself)"
    )


def test_unencodable_names_another_parser_by_its_name() -> None:
    pytest.importorskip("msgpack")
    parser = aiosio.Server(parser="msgpack").parser
    assert str(Unencodable(parser, [object()])) == "object is not msgpack-serialisable"


# -- safe_call ------------------------------------------------------------------------------------


async def test_safe_call_calls_and_runs_coroutines_as_tasks() -> None:
    calls: list[tuple[Any, ...]] = []
    done: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    async def later(*args: Any) -> None:
        done.set_result(args)

    safe_call(lambda *args: calls.append(args), 1, "two")
    assert calls == [(1, "two")]
    safe_call(later, 3)
    assert not done.done()  # a task: it runs later
    assert await within(done) == (3,)


def test_safe_call_logs_what_a_callback_raises(caplog: pytest.LogCaptureFixture) -> None:
    def broken(value: int) -> None:
        raise RuntimeError(f"bad {value}")

    with caplog.at_level(logging.ERROR, logger="aiosio"):
        safe_call(broken, 7)  # does not raise
    (record,) = [r for r in caplog.records if r.name == "aiosio.socket"]
    assert record.getMessage() == f"callback {broken!r} failed"
    assert record.exc_info is not None and str(record.exc_info[1]) == "bad 7"


# -- answers, end to end ------------------------------------------------------------------------


@asynccontextmanager
async def answering(**handlers: Any) -> AsyncIterator[aiosio.Client]:
    """A client of a server whose sockets have ``handlers`` (event name: handler)."""
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        for event, handler in handlers.items():
            socket.on(event, handler)

    async with aiosio.testing.serve(io) as served:
        yield await within(served.connect())


async def test_a_returned_tuple_is_several_arguments_and_none_is_no_argument() -> None:
    async def later(value: int) -> tuple[int, int]:
        await asyncio.sleep(0)
        return value, value * 2

    async with answering(
        one=lambda: 1,
        several=lambda: (1, [2], {"3": 3}),
        none=lambda: None,
        a_list=lambda: [1, 2],
        empty_tuple=lambda: (),
        nested=lambda: ((1, 2),),
        later=later,
    ) as client:
        answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        for event in ("one", "several", "none", "a_list", "empty_tuple", "nested"):
            client.emit(event, callback=lambda *args: answers.put_nowait(args))
        client.emit("later", 5, callback=lambda *args: answers.put_nowait(args))
        assert [await within(answers.get()) for _ in range(7)] == [
            (1,),
            (1, [2], {"3": 3}),
            (),
            ([1, 2],),
            (),
            ([1, 2],),  # a tuple inside is a JSON array
            (5, 10),
        ]


async def test_the_ack_callable_answers_once_with_its_arguments() -> None:
    def by_hand(value: int, *, ack: Any) -> str:
        ack(value, "first")
        ack("second")  # ignored
        return "the return value is not the answer"

    async def by_hand_later(*, ack: Any) -> None:
        await asyncio.sleep(0)
        ack()

    kept: asyncio.Queue[Any] = asyncio.Queue()

    def keep(*, ack: Any) -> None:
        kept.put_nowait(ack)

    async with answering(by_hand=by_hand, by_hand_later=by_hand_later, keep=keep) as client:
        assert await within(client.emit_with_ack("by_hand", 1, timeout=1)) == (1, "first")
        assert await within(client.emit_with_ack("by_hand_later", timeout=1)) is None
        pending = asyncio.ensure_future(client.emit_with_ack("keep", timeout=1))
        ack = await within(kept.get())  # kept by the handler: the answer waits for it
        assert not pending.done()
        ack("kept", 2)
        assert await within(pending) == ("kept", 2)


async def test_no_ack_callable_when_the_client_asked_for_none() -> None:
    seen: asyncio.Queue[Any] = asyncio.Queue()

    def record(*, ack: Any) -> None:
        seen.put_nowait(ack)

    async with answering(record=record) as client:
        client.emit("record")
        assert await within(seen.get()) is None


async def test_only_the_first_handler_answers() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("q", lambda: "first")
        socket.on("q", lambda: "second")

    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        assert await within(client.emit_with_ack("q", timeout=1)) == "first"


async def test_an_answer_that_cannot_be_encoded_is_not_sent_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with answering(bad=lambda: {"values": {1, 2}}, good=lambda: "ok") as client:
        with caplog.at_level(logging.WARNING, logger="aiosio"):
            for _ in range(2):
                with pytest.raises(AckTimeout):
                    await within(client.emit_with_ack("bad", timeout=0.01))
        messages = [r.getMessage() for r in caplog.records if r.name == "aiosio.socket"]
        assert messages == [
            "cannot answer the ack of event 'bad': set is not JSON-serialisable "
            "(logged once per connection)"
        ]
        assert await within(client.emit_with_ack("good", timeout=1)) == "ok"
