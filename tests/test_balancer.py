"""aiosio.balancer: the sticky front's routing, without processes.

The head readers (:func:`request_target`, :func:`request_sid`) and the choices of
:class:`StickyBalancer` (which backend owns a session, round robin over the available
ones, ``worker=N`` pins) are pure; the forwarding (:meth:`StickyBalancer.handle`) runs
against small asyncio servers in this process standing in for workers.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from aiosio.balancer import MAX_HEAD, StickyBalancer, forwarding, request_sid, request_target
from aiosio.serve.options import add_app_options
from tests.support.ports import free_port
from tests.support.waits import within


def head(target: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: x", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- request heads ------------------------------------------------------------------------


def test_request_target_splits_path_and_query() -> None:
    path, query = request_target(head("/socket.io/?EIO=4&transport=polling&t=a&t=b"))
    assert path == "/socket.io/"
    assert query == {"EIO": ["4"], "transport": ["polling"], "t": ["a", "b"]}


def test_request_target_without_a_query_or_a_target() -> None:
    assert request_target(head("/health")) == ("/health", {})
    assert request_target(b"GARBAGE\r\n\r\n") == ("", {})
    assert request_target(b"") == ("", {})


def test_request_target_decodes_the_query() -> None:
    _, query = request_target(head("/p?name=a%20b&x=%C3%A9"))
    assert query == {"name": ["a b"], "x": ["é"]}


def test_request_sid_from_the_query() -> None:
    assert request_sid(head("/socket.io/?EIO=4&transport=polling&sid=abc_-1")) == "abc_-1"


def test_request_sid_from_the_io_cookie() -> None:
    cookie = "Cookie: theme=dark; io=S1d-from_cookie; other=1"
    assert request_sid(head("/socket.io/?EIO=4&transport=polling", cookie)) == "S1d-from_cookie"
    lower = "cookie:io=x"
    assert request_sid(head("/socket.io/?EIO=4", lower)) == "x"


def test_the_query_sid_wins_over_the_cookie() -> None:
    assert request_sid(head("/socket.io/?sid=query", "Cookie: io=cookie")) == "query"


@pytest.mark.parametrize(
    "request_head",
    [
        head("/socket.io/?EIO=4&transport=polling"),
        head("/socket.io/?sid="),  # empty: no session
        head("/", "Cookie: io="),
        head("/", "Cookie: ion=x; xio=y"),
        head("/", "X-Cookie: io=x"),
    ],
)
def test_no_sid(request_head: bytes) -> None:
    assert request_sid(request_head) is None


def test_max_head_is_16_kib() -> None:
    assert MAX_HEAD == 16 * 1024


# -- choosing a backend ---------------------------------------------------------------------


BACKENDS = [("127.0.0.1", 1), ("127.0.0.1", 2), ("127.0.0.1", 3)]


def test_new_sessions_go_round_robin_and_must_be_learnt() -> None:
    balancer = StickyBalancer(BACKENDS)
    assert [balancer.owner(None) for _ in range(4)] == [(0, True), (1, True), (2, True), (0, True)]


def test_a_known_sid_sticks_to_its_backend() -> None:
    balancer = StickyBalancer(BACKENDS)
    balancer.remember("s1", 2)
    assert balancer.owner("s1") == (2, False)
    assert balancer.route(head("/socket.io/?EIO=4&sid=s1")) == (2, False)
    assert balancer.route(head("/socket.io/?EIO=4", "Cookie: io=s1")) == (2, False)


def test_an_unknown_sid_goes_in_turn_without_learning() -> None:
    balancer = StickyBalancer(BACKENDS)
    assert balancer.owner("unknown") == (0, False)  # the worker answers "unknown sid"
    assert balancer.owner("unknown") == (1, False)


def test_unavailable_backends_are_skipped() -> None:
    down = {0, 2}
    balancer = StickyBalancer(BACKENDS, available=lambda index: index not in down)
    assert {balancer.owner(None)[0] for _ in range(5)} == {1}
    down.clear()
    chosen = [balancer.owner(None)[0] for _ in range(3)]
    assert sorted(chosen) == [0, 1, 2]


def test_when_none_is_available_one_is_chosen_anyway() -> None:
    balancer = StickyBalancer(BACKENDS, available=lambda index: False)
    index, learn = balancer.owner(None)
    assert index in range(3) and learn  # its connection fails: a 502


def test_a_known_sid_sticks_even_to_an_unavailable_backend() -> None:
    balancer = StickyBalancer(BACKENDS, available=lambda index: index != 1)
    balancer.remember("s", 1)
    assert balancer.owner("s") == (1, False)


def test_worker_pins_a_request_to_a_backend() -> None:
    balancer = StickyBalancer(BACKENDS)
    balancer.remember("s", 0)
    assert balancer.route(head("/socket.io/?EIO=4&worker=2&sid=s")) == (2, False)
    assert balancer.route(head("/health?worker=1")) == (1, False)
    # Out of range or not a number: ignored.
    assert balancer.route(head("/socket.io/?worker=3&sid=s")) == (0, False)
    assert balancer.route(head("/socket.io/?worker=-1&sid=s")) == (0, False)
    assert balancer.route(head("/socket.io/?worker=x&sid=s")) == (0, False)


def test_remembered_sessions_are_bounded_oldest_use_first_out() -> None:
    balancer = StickyBalancer(BACKENDS, max_sessions=3)
    for sid in ("a", "b", "c"):
        balancer.remember(sid, 0)
    balancer.owner("a")  # used: now the most recent
    balancer.remember("d", 1)
    assert list(balancer.owners) == ["c", "a", "d"]
    balancer.remember("c", 2)  # remembered again: moves to the end, new owner
    assert list(balancer.owners.items()) == [("a", 0), ("d", 1), ("c", 2)]


def test_forget_drops_the_sessions_of_one_backend() -> None:
    balancer = StickyBalancer(BACKENDS)
    for sid, index in (("a", 0), ("b", 1), ("c", 0), ("d", 2)):
        balancer.remember(sid, index)
    balancer.forget(0)
    assert dict(balancer.owners) == {"b": 1, "d": 2}
    assert balancer.owner("a")[1] is False  # unknown now: in turn, nothing to learn


# -- forwarding -----------------------------------------------------------------------------


class Worker:
    """A stand-in backend: answers each request with its name and, for a handshake,
    a fresh sid in an Engine.IO OPEN-like body; records the heads it got."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> Worker:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        self.heads.append(request)
        if b"Upgrade: websocket" in request:
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
            while data := await reader.read(1024):  # an echo, as a WebSocket would be
                writer.write(data)
                await writer.drain()
            writer.close()
            return
        if request_sid(request) is None:
            body = b'0{"sid":"sid-' + self.name.encode() + b'","upgrades":[]}'
        else:
            body = f"answer from {self.name}".encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()


@asynccontextmanager
async def front(
    names: list[str], **options: object
) -> AsyncIterator[tuple[int, StickyBalancer, list[Worker]]]:
    workers = [await Worker(name).start() for name in names]
    backends = [("127.0.0.1", worker.port) for worker in workers]
    balancer = StickyBalancer(backends, **options)  # type: ignore[arg-type]
    server = await asyncio.start_server(balancer.handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], balancer, workers
    finally:
        server.close()
        await balancer.shutdown(1)
        for worker in workers:
            await worker.close()


async def exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` on a new connection; everything the front answers, to the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await within(reader.read(), 5)
    finally:
        writer.close()


async def test_a_handshake_is_learnt_and_later_requests_follow_it() -> None:
    async with front(["w0", "w1"]) as (port, balancer, workers):
        first = await exchange(port, head("/socket.io/?EIO=4&transport=polling"))
        assert b'"sid":"sid-w0"' in first
        assert b"Connection: close\r\n" in first and b"keep-alive" not in first
        assert balancer.owners == {"sid-w0": 0}
        second = await exchange(port, head("/socket.io/?EIO=4&transport=polling"))
        assert b'"sid":"sid-w1"' in second
        for _ in range(3):
            answer = await exchange(port, head("/socket.io/?EIO=4&transport=polling&sid=sid-w0"))
            assert answer.endswith(b"answer from w0")
        assert len(workers[0].heads) == 4 and len(workers[1].heads) == 1
        # Forwarded with Connection: close (one request per forwarded connection).
        assert all(h.endswith(b"Connection: close\r\n\r\n") for h in workers[0].heads)


async def test_an_upgrade_is_piped_both_ways() -> None:
    async with front(["w0", "w1"]) as (port, balancer, workers):
        balancer.remember("s", 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head("/socket.io/?EIO=4&transport=websocket&sid=s", "Upgrade: websocket"))
            answer = await within(reader.readuntil(b"\r\n\r\n"))
            assert answer.startswith(b"HTTP/1.1 101")
            writer.write(b"ping bytes")
            assert await within(reader.readexactly(10)) == b"ping bytes"
        finally:
            writer.close()
        assert workers[0].heads == []
        assert b"Connection: close" not in workers[1].heads[0]  # an upgrade is left alone


async def test_a_local_answer_is_not_forwarded() -> None:
    async def local(request: bytes) -> bytes | None:
        if request_target(request)[0] == "/health":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        return None

    async with front(["w0"], local=local) as (port, _, workers):
        assert (await exchange(port, head("/health"))).endswith(b"\r\n\r\nok")
        assert workers[0].heads == []
        assert b"sid-w0" in await exchange(port, head("/socket.io/?EIO=4"))


async def test_a_dead_backend_gets_a_502() -> None:
    balancer = StickyBalancer([("127.0.0.1", free_port())])
    server = await asyncio.start_server(balancer.handle, "127.0.0.1", 0)
    try:
        answer = await exchange(server.sockets[0].getsockname()[1], head("/socket.io/?EIO=4"))
        assert answer.startswith(b"HTTP/1.1 502 Bad Gateway")
    finally:
        server.close()
        await balancer.shutdown(1)


# -- the client's address, for the workers ------------------------------------------------


def _forward(*flags: str) -> Callable[[bytes, Any], bytes]:
    parser = argparse.ArgumentParser()
    add_app_options(parser)
    return forwarding(parser.parse_args(list(flags)), "http")


def test_forwarding_tells_the_worker_the_clients_address() -> None:
    rewrite = _forward()
    forwarded = rewrite(head("/pid"), ("10.1.2.3", 5000))
    assert forwarded == head("/pid", "X-Forwarded-For: 10.1.2.3", "X-Forwarded-Proto: http")


def test_forwarding_drops_what_an_untrusted_client_claims() -> None:
    rewrite = _forward()  # 127.0.0.1 only is trusted
    spoofed = head("/pid", "X-Forwarded-For: 6.6.6.6", "x-forwarded-proto: https")
    assert rewrite(spoofed, ("10.1.2.3", 5000)) == head(
        "/pid", "X-Forwarded-For: 10.1.2.3", "X-Forwarded-Proto: http"
    )
    assert _forward("--no-proxy-headers")(spoofed, ("127.0.0.1", 5000)) == head(
        "/pid", "X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: http"
    )


def test_forwarding_keeps_what_a_trusted_proxy_says() -> None:
    rewrite = _forward("--forwarded-allow-ips", "10.0.0.0/8")
    proxied = head("/pid", "X-Forwarded-For: 1.2.3.4", "X-Forwarded-Proto: https")
    assert rewrite(proxied, ("10.1.2.3", 5000)) == head(
        "/pid", "X-Forwarded-For: 1.2.3.4, 10.1.2.3", "X-Forwarded-Proto: https"
    )
    unix = rewrite(head("/pid"), "")  # a Unix socket has no address
    assert unix == head("/pid", "X-Forwarded-Proto: http")
