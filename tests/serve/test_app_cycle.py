"""aiosio.serve.app_cycle.HTTPCycle on its own: the framing it chooses for what the app
sends, and the ASGI rules of receive/send. The owner records what the cycle writes
(the connection side is tested on real sockets in test_asgi_app.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aiosio.serve.app_cycle import ClientDisconnected, HTTPCycle

DATE = re.compile(rb"date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")


class Recorder:
    """The cycle's owner: what it writes (its Date line checked and taken out)."""

    def __init__(self) -> None:
        self.raw = b""
        self.written = b""
        self.done = 0
        self.aborted = False
        self.reads = 0

    def cycle_write(self, data: bytes) -> bool:
        self.raw += data
        self.written += DATE.sub(b"", data, count=1)
        return True

    def cycle_read(self) -> None:
        self.reads += 1

    def cycle_done(self, cycle: HTTPCycle) -> None:
        self.done += 1

    def cycle_abort(self) -> None:
        self.aborted = True


def cycle(method: str = "GET", version: str = "1.1") -> tuple[HTTPCycle, Recorder]:
    owner = Recorder()
    scope: dict[str, Any] = {"method": method, "http_version": version, "path": "/"}
    return HTTPCycle(owner, scope, keep_alive=True, expect_continue=False), owner


def start(status: int = 200, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http.response.start", "status": status, "headers": list(headers)}


def body(data: bytes = b"", more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def test_one_body_gets_a_content_length() -> None:
    c, owner = cycle()
    await c.send(start(200, (b"content-type", b"text/plain")))
    assert owner.written == b""  # the head waits for the body: one write for both
    await c.send(body(b"hello"))
    assert owner.written == (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello"
    )
    assert owner.done == 1


async def test_the_apps_own_length_and_no_body_statuses() -> None:
    c, owner = cycle()
    await c.send(start(200, (b"content-length", b"3")))
    await c.send(body(b"a", more=True))
    await c.send(body(b"bc"))
    assert owner.written == b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"
    c, owner = cycle()
    await c.send(start(204))
    await c.send(body(b""))
    assert owner.written == b"HTTP/1.1 204 No Content\r\n\r\n"


async def test_streams_are_chunked_and_connection_close_is_kept() -> None:
    c, owner = cycle()
    await c.send(start(200, (b"Connection", b"close")))
    await c.send(body(b"ab", more=True))
    await c.send(body(b"", more=True))  # nothing to write: no empty chunk (the end)
    await c.send(body(b"c"))
    assert owner.written == (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        b"2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
    )
    assert not c.keep_alive


async def test_head_writes_the_head_only() -> None:
    c, owner = cycle("HEAD")
    await c.send(start(200, (b"content-length", b"5")))
    await c.send(body(b"hello"))
    assert owner.written == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


async def test_receive_gives_the_body_then_the_disconnect() -> None:
    c, owner = cycle("POST")
    c.feed(b"ab")
    c.feed(b"c")
    assert await c.receive() == {"type": "http.request", "body": b"abc", "more_body": True}
    assert owner.reads == 1
    c.end()
    assert await c.receive() == {"type": "http.request", "body": b"", "more_body": False}
    await c.send(start(204))
    await c.send(body())
    assert await c.receive() == {"type": "http.disconnect"}


async def test_misuse_and_a_gone_client() -> None:
    c, _ = cycle()
    with pytest.raises(RuntimeError, match="before http"):
        await c.send(body(b"x"))
    await c.send(start())
    with pytest.raises(RuntimeError, match="twice"):
        await c.send(start())
    c.disconnect()
    with pytest.raises(ClientDisconnected):
        await c.send(body(b"x"))
    assert isinstance(ClientDisconnected(), OSError)
    assert await c.receive() == {"type": "http.disconnect"}


async def test_a_date_unless_the_app_gave_one() -> None:
    c, owner = cycle()
    await c.send(start(204))
    await c.send(body())
    assert DATE.search(owner.raw)
    c, owner = cycle()
    await c.send(start(204, (b"date", b"Thu, 01 Jan 1970 00:00:00 GMT")))
    await c.send(body())
    assert owner.raw == b"HTTP/1.1 204 No Content\r\ndate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n"
