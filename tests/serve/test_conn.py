"""aiosio.serve.conn.Connection: the counted write both standalone protocols inherit."""

from __future__ import annotations

import asyncio

from aiosio.serve.conn import Connection
from aiosio.serve.http import HTTPConnection
from aiosio.serve.websocket import WebSocketConnection
from aiosio.server.stats import Counters


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_writes_are_counted_and_dropped_once_closing() -> None:
    conn = Connection()
    conn.stats = Counters()
    transport = FakeTransport()
    conn.transport = transport  # type: ignore[assignment]
    conn._write(b"abc")
    transport.closing = True
    conn._write(b"lost")
    conn.transport = None
    conn._write(b"lost too")
    assert transport.written == [b"abc"]
    assert conn.stats.bytes_out == 3


def test_both_protocols_share_it() -> None:
    for cls in (HTTPConnection, WebSocketConnection):
        assert issubclass(cls, Connection) and issubclass(cls, asyncio.Protocol)
        assert cls._write is Connection._write
        assert not {"stats", "transport"} & set(cls.__slots__)  # the base's slots
