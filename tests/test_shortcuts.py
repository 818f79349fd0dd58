"""aiosio._shortcuts.Shortcuts: each shortcut forwards one call to a fresh operator (the
Namespace, the server and the Redis Emitter are built on it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiosio._shortcuts import Shortcuts
from aiosio.adapters.redis.emitter import Emitter
from aiosio.server.namespace import Namespace
from aiosio.server.server import BaseServer


class Recorder:
    def __init__(self, calls: list[tuple[Any, ...]]) -> None:
        self.calls = calls

    def to(self, *rooms: str | Iterable[str]) -> Recorder:
        self.calls.append(("to", rooms))
        return self

    def except_(self, *rooms: str | Iterable[str]) -> Recorder:
        self.calls.append(("except_", rooms))
        return self

    @property
    def volatile(self) -> Recorder:
        self.calls.append(("volatile",))
        return self

    def compress(self, compress: bool = True) -> Recorder:
        self.calls.append(("compress", compress))
        return self

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self.calls.append(("sockets_join", rooms))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self.calls.append(("sockets_leave", rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        self.calls.append(("disconnect_sockets", close))


class Source(Shortcuts[Recorder]):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.made = 0

    def _operator(self) -> Recorder:
        self.made += 1
        return Recorder(self.calls)


def test_every_shortcut_starts_a_fresh_operator_and_forwards_one_call() -> None:
    source = Source()
    assert isinstance(source.to("a", ["b"]), Recorder)
    source.in_("c")
    source.except_("d")
    source.volatile  # noqa: B018
    source.compress(False)
    source.sockets_join("r")
    source.sockets_leave(["r"])
    source.disconnect_sockets(True)
    assert source.made == 8
    assert source.calls == [
        ("to", ("a", ["b"])),
        ("to", ("c",)),
        ("except_", ("d",)),
        ("volatile",),
        ("compress", False),
        ("sockets_join", "r"),
        ("sockets_leave", ["r"]),
        ("disconnect_sockets", True),
    ]


def test_the_three_sources() -> None:
    for cls in (Namespace, BaseServer, Emitter):
        assert issubclass(cls, Shortcuts)
        assert cls.to is Shortcuts.to and cls.sockets_join is Shortcuts.sockets_join
