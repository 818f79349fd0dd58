"""Handler signatures read once; connect/disconnect arguments fitted."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from aiosio.compat.handlers import Handler, in_namespace, message_of, run_eagerly, settle


def two(sid: str, environ: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return sid, environ


async def three(sid: str, environ: dict[str, Any], auth: Any) -> Any:
    return auth


def variadic(*args: Any) -> tuple[Any, ...]:
    return args


class Callable:
    async def __call__(self, sid: str) -> str:
        return sid


async def test_arity_and_kind_are_read() -> None:
    assert Handler.of(two) == Handler(two, False, 2)
    assert Handler.of(three).is_async and Handler.of(three).max_args == 3
    assert Handler.of(variadic).max_args is None
    instance = Callable()
    assert Handler.of(instance).is_async


async def test_fitted_drops_what_the_handler_does_not_take() -> None:
    assert Handler.of(two).fitted("sid", {"a": 1}, {"auth": 1}) == ("sid", {"a": 1})
    assert await settle(Handler.of(three).fitted("sid", {}, {"token": "t"})) == {"token": "t"}
    assert Handler.of(variadic).fitted(1, 2, 3) == (1, 2, 3)


async def test_settle_awaits_only_awaitables() -> None:
    assert await settle(5) == 5
    assert await settle(three("s", {}, 7)) == 7


def test_not_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        Handler.of(42)  # type: ignore[arg-type]


async def test_run_eagerly_says_whether_the_coroutine_finished() -> None:
    assert run_eagerly(three("s", {}, 1)) == (True, 1)
    gate = asyncio.Event()

    async def waits() -> str:
        await gate.wait()
        return "later"

    done, rest = run_eagerly(waits())
    assert not done
    task = asyncio.create_task(_await(rest))
    gate.set()
    assert await task == "later"


async def _await(awaitable: Any) -> Any:
    return await awaitable


class _Owner:
    """Records the calls it gets, as a server would act on them."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def emit(self, event: str, data: Any = None, namespace: str | None = None) -> str:
        self.calls.append((event, data, namespace))
        return "sent"

    send = message_of(emit)

    def close(self, now: bool = False) -> None:
        self.calls.append(("close", now))


class _Loud(_Owner):
    def emit(self, event: str, data: Any = None, namespace: str | None = None) -> str:
        return "loud " + super().emit(event.upper(), data, namespace)


class _Room:
    namespace = "/room"

    def __init__(self, owner: _Owner) -> None:
        self.owner = owner

    emit = in_namespace("owner", _Owner.emit)
    send = in_namespace("owner", _Owner.send)
    close = in_namespace("owner", _Owner.close)


def test_message_of_is_emit_of_message_with_emits_parameters() -> None:
    owner = _Owner()
    assert owner.send(1, namespace="/x") == "sent"
    assert owner.send() == "sent"
    assert owner.calls == [("message", 1, "/x"), ("message", None, None)]
    assert list(inspect.signature(_Owner.send).parameters) == ["self", "data", "namespace"]
    loud = _Loud()  # an override of emit applies to send
    assert loud.send(2) == "loud sent"
    assert loud.calls == [("MESSAGE", 2, None)]


def test_message_of_documents_emits_arguments_but_the_event() -> None:
    def emit(event: str, data: Any = None) -> None:
        """Send an event.

        Args:
            event: The event name,
                on two lines.
            data: What goes with it.

        Raises:
            ValueError: Never.
        """

    doc = message_of(emit).__doc__ or ""
    assert doc.startswith("Emit a ``message`` event")
    assert "    event:" not in doc and "two lines" not in doc and "Send an event" not in doc
    assert "    data: What goes with it." in doc and "ValueError: Never." in doc


def test_in_namespace_defaults_the_namespace_and_keeps_the_signature() -> None:
    owner = _Owner()
    room = _Room(owner)
    assert room.emit("a", 1) == "sent"
    assert room.emit("b", namespace="/other") == "sent"
    assert room.emit("c", None, None) == "sent"
    assert room.send(3) == "sent"
    room.close(True)
    assert owner.calls == [
        ("a", 1, "/room"),
        ("b", None, "/other"),
        ("c", None, "/room"),
        ("message", 3, "/room"),
        ("close", True),
    ]
    assert inspect.signature(_Room.emit) == inspect.signature(_Owner.emit)
    with pytest.raises(TypeError):
        room.emit("d", bogus=1)  # type: ignore[call-arg]
