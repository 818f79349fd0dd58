"""A TCP proxy that makes the network fail, between a server and its Redis (or PostgreSQL).

``FaultProxy(target_port)`` listens on a free port of 127.0.0.1 and forwards both ways.
Its mode decides what the link does:

* ``"pass"``: forwards (with ``delay`` seconds added to every chunk, each way, in order);
* ``"cut"``: closes every connection and refuses new ones at once (a reset link, a dead
  host that answers with RST);
* ``"blackhole"``: keeps connections open and accepts new ones, but nothing goes through
  (a partition: a silent network that only timeouts reveal). Leaving it drops the
  connections it held, as their peers would after their TCP timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

Mode = Literal["pass", "cut", "blackhole"]


class FaultProxy:
    """See the module's docstring; run in the test's event loop."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode: Mode = "pass"
        self.delay = 0.0
        self.port = 0
        self.connections = 0  # accepted in all
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, scheme: str = "redis") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def set(self, mode: Mode, *, delay: float = 0.0) -> None:
        """Change the mode; ``"cut"`` and leaving ``"blackhole"`` drop the connections."""
        leaving_blackhole = self.mode == "blackhole" and mode != "blackhole"
        self.mode, self.delay = mode, delay
        if mode == "cut" or leaving_blackhole:
            self._drop_all()

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            _abort(writer)
        self._writers.clear()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._drop_all()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "cut":
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(writer)
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy ``source`` to ``sink`` chunk by chunk, as the mode says, then close both."""
        try:
            while chunk := await source.read(65536):
                if self.mode == "blackhole":
                    continue  # swallowed
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.mode != "pass":
                    continue
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            _abort(sink)
            self._writers.discard(sink)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Reset the connection (RST, no goodbye) and let its writer go."""
    with contextlib.suppress(Exception):
        writer.transport.abort()
        writer.close()
