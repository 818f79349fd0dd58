"""The sticky front's routing: request heads, and connections forwarded to their worker.

:class:`StickyBalancer` is what :mod:`aiosio.workers` runs in the front process (see there for
the rules); this module reads request heads (:func:`request_target`, :func:`request_sid`) and
pipes connections, and knows nothing of processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import parse_qs

from aiosio.serve.asgi_app import AppFront, AppOptions

__all__ = ["MAX_HEAD", "Rewrite", "StickyBalancer", "forwarding", "request_sid", "request_target"]

MAX_HEAD = 16 * 1024  # docs/limits.md: request line + headers
_SID_IN_ANSWER = re.compile(rb'"sid":"([A-Za-z0-9_\-]{1,128})"')
_CONNECTION = re.compile(rb"(?im)^connection:[^\r\n]*\r\n")


def request_target(head: bytes) -> tuple[str, dict[str, list[str]]]:
    """The path and the query parameters of a request head."""
    parts = head.partition(b"\r\n")[0].split(b" ")
    if len(parts) < 2:
        return "", {}
    path, _, query = parts[1].decode("latin-1").partition("?")
    return path, parse_qs(query)


def request_sid(head: bytes) -> str | None:
    """The Engine.IO session a request head names (``sid`` query parameter or ``io`` cookie)."""
    query = request_target(head)[1]
    if query.get("sid"):
        return query["sid"][0]
    headers = head.partition(b"\r\n")[2]
    for header in headers.split(b"\r\n"):
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"cookie":
            for cookie in value.split(b";"):
                key, _, sid = cookie.strip().partition(b"=")
                if key == b"io" and sid:
                    return sid.decode("latin-1")
    return None


def _is_upgrade(head: bytes) -> bool:
    return re.search(rb"(?im)^upgrade:\s*websocket", head) is not None


def _close_after(head: bytes) -> bytes:
    """The request head with ``Connection: close`` (one request per forwarded connection)."""
    head = _CONNECTION.sub(b"", head)
    return head[:-2] + b"Connection: close\r\n\r\n"


Available = Callable[[int], bool]
LocalAnswer = Callable[[bytes], Awaitable[bytes | None]]
Rewrite = Callable[[bytes, Any], bytes]  # (request head, client's peername) -> head to forward


class StickyBalancer:
    """Forwards connections to backends, keeping each Engine.IO session on its worker.

    ``available`` says whether a backend takes new sessions (a restarting worker does not);
    ``local`` may answer a request in the front (the health view) instead of forwarding it;
    ``rewrite`` edits a request head before it is forwarded (the client's address, for the
    worker's ``X-Forwarded-For``).
    """

    def __init__(
        self,
        backends: list[tuple[str, int]],
        *,
        max_sessions: int = 100_000,
        available: Available | None = None,
        local: LocalAnswer | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        self.backends = backends
        self.max_sessions = max_sessions
        self.owners: OrderedDict[str, int] = OrderedDict()
        self.available = available or (lambda index: True)
        self.local = local
        self.rewrite = rewrite
        self._turn = itertools.cycle(range(len(backends)))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._clients: set[asyncio.StreamWriter] = set()

    def owner(self, sid: str | None) -> tuple[int, bool]:
        """The backend for a session, and whether the answer must be read for a new sid."""
        if sid is not None:
            index = self.owners.get(sid)
            if index is not None:
                self.owners.move_to_end(sid)
                return index, False
        return self._next_available(), sid is None

    def _next_available(self) -> int:
        """The next backend in turn that takes new sessions (any, when none does: a 502)."""
        index = next(self._turn)
        for _ in range(len(self.backends)):
            if self.available(index):
                return index
            index = next(self._turn)
        return index

    def route(self, head: bytes) -> tuple[int, bool]:
        """``owner`` for a request head; ``worker=N`` in the query pins it to backend N."""
        pinned = request_target(head)[1].get("worker", [""])[0]
        if pinned.isdigit() and int(pinned) < len(self.backends):
            return int(pinned), False
        return self.owner(request_sid(head))

    def remember(self, sid: str, index: int) -> None:
        self.owners[sid] = index
        self.owners.move_to_end(sid)
        while len(self.owners) > self.max_sessions:
            self.owners.popitem(last=False)

    def forget(self, index: int) -> None:
        """Drop the sessions of a backend that exited: they died with it."""
        for sid in [sid for sid, owner in self.owners.items() if owner == index]:
            del self.owners[sid]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection (the ``asyncio.start_server`` callback).

        Cancellation (the front stopping) ends it quietly: asyncio 3.11's stream callback
        would otherwise log the cancelled task as an "Exception in callback" traceback.
        """
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._clients.add(writer)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            self._clients.discard(writer)
            writer.close()

    async def shutdown(self, grace: float) -> None:
        """Let open connections end for ``grace`` seconds, then close and cancel the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for writer in list(self._clients):
            writer.close()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(20):  # docs/limits.md: header read deadline
                head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            return
        if self.local is not None and (answer := await self.local(head)) is not None:
            writer.write(answer)
            with contextlib.suppress(OSError):
                await writer.drain()
            return
        if self.rewrite is not None:
            head = self.rewrite(head, writer.get_extra_info("peername"))
        index, learn = self.route(head)
        upgrade = _is_upgrade(head)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.backends[index])
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        if upgrade:
            up_writer.write(head)
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
            return
        # One request per connection: the answer tells the client to open a new one, which
        # is routed by its sid again.
        up_writer.write(_close_after(head))
        upload = asyncio.get_running_loop().create_task(self._pipe(reader, up_writer))
        try:
            await self._answer(up_reader, writer, index if learn else None)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
            pass
        finally:
            upload.cancel()
            up_writer.close()

    async def _answer(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, learn: int | None
    ) -> None:
        """Forward one HTTP answer with ``Connection: close``, remembering a new sid."""
        head = await source.readuntil(b"\r\n\r\n")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if found is None:  # no length: forward until the worker closes
            sink.write(head)
            await self._pipe(source, sink)
            return
        body = await source.readexactly(int(found.group(1)))
        if learn is not None:
            sid = _SID_IN_ANSWER.search(body)
            if sid is not None:
                self.remember(sid.group(1).decode(), learn)
        sink.write(_close_after(head) + body)
        await sink.drain()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if sink.can_write_eof():
                    sink.write_eof()
            sink.close()


_FORWARDED_HEADER = re.compile(rb"(?im)^x-forwarded-(for|proto):([^\r\n]*)\r\n")


def forwarding(args: argparse.Namespace, scheme: str) -> Rewrite:
    """The front's edit of a request head: the client's address goes in ``X-Forwarded-For``
    (and the scheme in ``X-Forwarded-Proto``), since the worker sees the front's address.

    What the client itself sent in those headers is kept only when ``--proxy-headers``
    and ``--forwarded-allow-ips`` trust the client (a proxy in front), as one process
    would; otherwise it is dropped, so that a client cannot pose as another address.
    """
    options = AppOptions(
        proxy_headers=getattr(args, "proxy_headers", True),
        forwarded_allow_ips=getattr(args, "forwarded_allow_ips", "127.0.0.1"),
    )
    judge = AppFront(cast(Any, None), options)  # only its rule of trust is used

    def rewrite(head: bytes, peer: Any) -> bytes:
        host = str(peer[0]) if isinstance(peer, tuple) and peer else None
        sent = {m.group(1).lower(): m.group(2).strip() for m in _FORWARDED_HEADER.finditer(head)}
        trusted = host is not None and judge.trusts(host)
        hops = [sent[b"for"]] if trusted and sent.get(b"for") else []
        proto = sent.get(b"proto") if trusted else None
        added = b""
        if host is not None:
            added += b"X-Forwarded-For: " + b", ".join([*hops, host.encode()]) + b"\r\n"
        added += b"X-Forwarded-Proto: " + (proto or scheme.encode()) + b"\r\n"
        return _FORWARDED_HEADER.sub(b"", head)[:-2] + added + b"\r\n"

    return rewrite


# -- processes ---------------------------------------------------------------------------
