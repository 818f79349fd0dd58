"""aiosio._listeners: the on/once/off family shared by the server's Socket and the
client's Client, here on a bare class holding the three attributes."""

from __future__ import annotations

from typing import Any

import pytest

from aiosio._handlers import HandlerSpec
from aiosio._listeners import Listening, remove_handler


class Holder(Listening):
    __slots__ = ("_any", "_any_outgoing", "_handlers")

    def __init__(self) -> None:
        self._handlers: dict[str, list[HandlerSpec]] = {}
        self._any: list[HandlerSpec] = []
        self._any_outgoing: list[HandlerSpec] = []


def a(*args: Any) -> None: ...
def b(*args: Any) -> None: ...


def test_on_once_and_the_decorator_forms() -> None:
    holder = Holder()
    assert holder.on("x", a) is a
    assert holder.once("x", b) is b

    @holder.on("y")
    def c() -> None: ...

    @holder.once("y")
    def d() -> None: ...

    assert holder.listeners("x") == [a, b]
    assert holder.listeners("y") == [c, d]
    assert [spec.once for spec in holder._handlers["x"]] == [False, True]
    with pytest.raises(TypeError):
        holder.on("x", 42)  # type: ignore[call-overload]


def test_off_removes_the_first_registration_into_a_new_list() -> None:
    holder = Holder()
    holder.on("x", a)
    holder.on("x", b)
    holder.on("x", a)
    walked = holder._handlers["x"]
    holder.off("x", a)
    assert holder.listeners("x") == [b, a]
    assert [spec.fn for spec in walked] == [a, b, a]  # a dispatch walking it is undisturbed
    holder.off("x", lambda: None)  # unknown: nothing happens
    holder.off("nothing", a)
    holder.off("x")
    assert holder.listeners("x") == []
    holder.on("y", a)
    holder.off()
    assert holder._handlers == {}


def test_remove_handler_on_a_plain_table() -> None:
    table: dict[str, list[HandlerSpec]] = {}
    remove_handler(table, "x", a)
    remove_handler(table)
    assert table == {}


def test_the_catch_all_listeners() -> None:
    holder = Holder()
    holder.on_any(a)
    holder.prepend_any(b)
    assert holder.listeners_any() == [b, a]
    holder.off_any(b)
    assert holder.listeners_any() == [a]
    holder.off_any()
    assert holder.listeners_any() == []

    shared = holder._any_outgoing  # the client's outbox holds the same list
    holder.on_any_outgoing(a)
    holder.prepend_any_outgoing(b)
    assert holder.listeners_any_outgoing() == [b, a]
    holder.off_any_outgoing(a)
    assert [spec.fn for spec in shared] == [b]
    holder.off_any_outgoing()
    assert shared == [] and holder._any_outgoing is shared
