"""Several worker processes on one port, with sticky routing by session id.

::

    python -m aiosio.workers myapp:io --workers 4 --host 0.0.0.0 --port 3000

``myapp:io`` names an :class:`aiosio.Server` (or a function returning one), normally with a
cluster adapter (``redis_adapter``) so that broadcasts reach the clients of every worker.
Each worker listens on a private port of 127.0.0.1; this front process accepts the public
connections, reads each request head and forwards the connection to a worker:

* a request that names a session (the ``sid`` query parameter, or the ``io`` cookie) goes to
  the worker that opened that session, so long-polling works;
* a request without one (a handshake) goes to the next worker in turn, and the session id in
  its answer is remembered (bounded, least recently used first out);
* polling requests are forwarded with ``Connection: close``, so that a kept-alive browser
  connection can never carry another session's request to the wrong worker; WebSocket
  connections are piped as they are.

Behind nginx on several machines, use ``ip_hash`` or a sticky cookie (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import logging
import re
import signal
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs

__all__ = ["StickyBalancer", "main", "run"]

logger = logging.getLogger("aiosio.workers")

MAX_HEAD = 16 * 1024  # LIMITS.md: request line + headers
_SID_IN_ANSWER = re.compile(rb'"sid":"([A-Za-z0-9_\-]{1,128})"')
_CONNECTION = re.compile(rb"(?im)^connection:[^\r\n]*\r\n")


def request_sid(head: bytes) -> str | None:
    """The Engine.IO session a request head names (``sid`` query parameter or ``io`` cookie)."""
    line, _, headers = head.partition(b"\r\n")
    parts = line.split(b" ")
    if len(parts) >= 2 and b"?" in parts[1]:
        query = parse_qs(parts[1].split(b"?", 1)[1].decode("latin-1"))
        if query.get("sid"):
            return query["sid"][0]
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


class StickyBalancer:
    """Forwards connections to backends, keeping each Engine.IO session on its worker."""

    def __init__(self, backends: list[tuple[str, int]], *, max_sessions: int = 100_000) -> None:
        self.backends = backends
        self.max_sessions = max_sessions
        self.owners: OrderedDict[str, int] = OrderedDict()
        self._turn = itertools.cycle(range(len(backends)))

    def owner(self, sid: str | None) -> tuple[int, bool]:
        """The backend for a session, and whether the answer must be read for a new sid."""
        if sid is not None:
            index = self.owners.get(sid)
            if index is not None:
                self.owners.move_to_end(sid)
                return index, False
        return next(self._turn), sid is None

    def remember(self, sid: str, index: int) -> None:
        self.owners[sid] = index
        self.owners.move_to_end(sid)
        while len(self.owners) > self.max_sessions:
            self.owners.popitem(last=False)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection (the ``asyncio.start_server`` callback)."""
        try:
            async with asyncio.timeout(20):  # LIMITS.md: header read deadline
                head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        index, learn = self.owner(request_sid(head))
        upgrade = _is_upgrade(head)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.backends[index])
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            writer.close()
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
            writer.close()

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


# -- processes ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"worker on port {port} did not start")


def load_server(target: str) -> Any:
    """``"pkg.mod:attr"`` -> the Server it names (calling it when it is a function)."""
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute or "io")
    return value() if callable(value) and not hasattr(value, "run") else value


def run(target: str, *, host: str = "127.0.0.1", port: int = 3000, workers: int = 2) -> None:
    """Start ``workers`` processes serving ``target`` and balance ``host:port`` over them."""
    ports = [_free_port() for _ in range(workers)]
    processes = [
        subprocess.Popen([sys.executable, "-m", "aiosio.workers", target, "--worker-port", str(p)])
        for p in ports
    ]
    try:
        for worker_port, process in zip(ports, processes, strict=True):
            _wait_listening(worker_port, process)
        asyncio.run(_front(host, port, [("127.0.0.1", p) for p in ports], processes))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


async def _front(
    host: str,
    port: int,
    backends: list[tuple[str, int]],
    processes: list[subprocess.Popen[bytes]],
) -> None:
    balancer = StickyBalancer(backends)
    server = await asyncio.start_server(balancer.handle, host, port, limit=MAX_HEAD)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    logger.info("balancing %s:%d over %d workers", host, port, len(backends))
    print(f"aiosio: {len(backends)} workers on http://{host}:{port}", flush=True)
    while not stop.is_set():
        if any(process.poll() is not None for process in processes):
            logger.error("a worker exited; stopping")
            break
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m aiosio.workers pkg.mod:io --workers N --host H --port P``."""
    parser = argparse.ArgumentParser(prog="python -m aiosio.workers", description=__doc__)
    parser.add_argument("target", help="pkg.module:attribute naming an aiosio.Server")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--worker-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.worker_port is not None:
        sys.path.insert(0, "")
        load_server(args.target).run(host="127.0.0.1", port=args.worker_port)
        return
    run(args.target, host=args.host, port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
