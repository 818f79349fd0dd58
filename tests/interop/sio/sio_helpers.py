"""Running ``tests/interop/sio_driver.js`` and serving an aiosio server for it.

:class:`NodeDriver` runs one driver process as a subprocess of the test's event loop,
reads its JSON lines as they come (so a test can act on the server between two lines),
writes commands to its stdin, and is always killed at the end. :func:`serving` runs a
:class:`aiosio.Server` behind one of the two front doors, in the test's loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import aiosio
from tests.interop.sio.sio_app import Recorder
from tests.support.servers import running, start_uvicorn

INTEROP = Path(__file__).resolve().parent.parent
DRIVER = INTEROP / "sio_driver.js"
NODE = shutil.which("node")
FRONT_DOORS = ("standalone", "asgi")
MODES = ("polling", "websocket", "upgrade")

requires_node = pytest.mark.skipif(
    NODE is None or not (INTEROP / "node_modules" / "socket.io-client").is_dir(),
    reason="node or tests/interop/node_modules (npm ci) is missing",
)


@dataclass
class Served:
    """A running server: ``io``, what it recorded, its URL and front door."""

    io: aiosio.Server
    recorder: Recorder
    url: str
    front_door: str


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get("$bin"), str):
        return base64.b64decode(obj["$bin"])
    return obj


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"$bin": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value


def dumps(value: Any) -> str:
    """JSON for the driver, bytes as ``{"$bin": base64}``."""
    return json.dumps(_encode(value))


def _matches(line: dict[str, Any], ev: str, fields: dict[str, Any]) -> bool:
    return line["ev"] == ev and all(line.get(key) == value for key, value in fields.items())


class Observed(list[dict[str, Any]]):
    """The driver's lines, with a few ways to look at them."""

    def of(self, ev: str, **fields: Any) -> list[dict[str, Any]]:
        """Lines of kind ``ev`` whose fields include ``fields``."""
        return [line for line in self if _matches(line, ev, fields)]

    def one(self, ev: str, **fields: Any) -> dict[str, Any]:
        """The only line of kind ``ev`` matching ``fields``."""
        found = self.of(ev, **fields)
        assert len(found) == 1, f"expected one {ev} {fields}, got {found} in {list(self)}"
        return found[0]

    def events(self, client: str = "a", *, skip: tuple[str, ...] = ("welcome",)) -> list[Any]:
        """``[event, *args]`` of each event ``client`` received, in order."""
        return [
            [line["event"], *line["args"]]
            for line in self.of("event", client=client)
            if line["event"] not in skip
        ]

    def answers(self, event: str | None = None, client: str = "a") -> list[list[Any]]:
        """The acknowledgements ``client`` received (for ``event``), in order."""
        fields = {"client": client} if event is None else {"client": client, "event": event}
        return [line["answer"] for line in self.of("ack", **fields)]


class NodeDriver:
    """One running ``node sio_driver.js SCENARIO URL MODE PARAMS``."""

    def __init__(self, process: asyncio.subprocess.Process, argv: list[str]) -> None:
        self.process = process
        self.argv = argv
        self.lines = Observed()
        self._taken: set[int] = set()
        self._stderr = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def start(cls, scenario: str, url: str, mode: str, **params: Any) -> NodeDriver:
        assert NODE is not None
        argv = [str(DRIVER), scenario, url, mode, dumps(params)]
        process = await asyncio.create_subprocess_exec(
            NODE,
            *argv,
            cwd=INTEROP,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, argv)

    async def _read_stderr(self) -> bytes:
        assert self.process.stderr is not None
        return await self.process.stderr.read()

    def _detail(self) -> str:
        stderr = self._stderr.result().decode() if self._stderr.done() else "(still running)"
        lines = "\n".join(json.dumps(line, default=repr) for line in self.lines)
        return f"node {' '.join(self.argv[1:4])}\nstdout:\n{lines}\nstderr:\n{stderr}"

    async def _read_line(self) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        raw = await self.process.stdout.readline()
        if not raw:
            return None
        line: dict[str, Any] = json.loads(raw, object_hook=_decode)
        self.lines.append(line)
        if line["ev"] == "fail":
            raise AssertionError(f"the driver failed: {line['message']}\n{self._detail()}")
        return line

    async def expect(self, ev: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """The first line of kind ``ev`` (with ``fields``) that no ``expect`` returned yet,
        waiting for it if need be."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for index, line in enumerate(self.lines):
                        if index not in self._taken and _matches(line, ev, fields):
                            self._taken.add(index)
                            return line
                    if await self._read_line() is None:
                        break
        except TimeoutError:
            pass
        raise AssertionError(f"no {ev} {fields} within {timeout} s\n{self._detail()}")

    def send(self, **command: Any) -> None:
        """Write one command to the driver's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write((dumps(command) + "\n").encode())

    async def finish(self, timeout: float = 10.0) -> Observed:
        """Read to the end; the driver must print ``done`` and exit with status 0."""
        try:
            async with asyncio.timeout(timeout):
                while await self._read_line() is not None:
                    pass
                await self.process.wait()
                await self._stderr
        except TimeoutError:
            raise AssertionError(f"the driver ran over {timeout} s\n{self._detail()}") from None
        assert self.process.returncode == 0, f"exit {self.process.returncode}\n{self._detail()}"
        assert self.lines and self.lines[-1]["ev"] == "done", self._detail()
        return self.lines

    async def aclose(self) -> None:
        """Kill the process if it still runs and release its pipes."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()
        with contextlib.suppress(Exception):
            await self._stderr
        assert self.process.stdout is not None
        with contextlib.suppress(Exception):
            await self.process.stdout.read()


@contextlib.asynccontextmanager
async def node_driver(
    scenario: str, url: str, mode: str, **params: Any
) -> AsyncIterator[NodeDriver]:
    """A :class:`NodeDriver`, killed when the block ends."""
    driver = await NodeDriver.start(scenario, url, mode, **params)
    try:
        yield driver
    finally:
        await driver.aclose()


async def run_driver(
    scenario: str, url: str, mode: str, *, timeout: float = 10.0, **params: Any
) -> Observed:
    """Run a scenario to its end; return what the driver observed."""
    async with node_driver(scenario, url, mode, **params) as driver:
        return await driver.finish(timeout)


@contextlib.asynccontextmanager
async def serving(io: aiosio.Server, front_door: str) -> AsyncIterator[str]:
    """Serve ``io`` on a free port of 127.0.0.1 behind ``front_door``; yield its URL.

    ``asgi`` runs ``io.asgi_app()`` under a real uvicorn in the running loop. Either way
    ``io.close()`` ends it.
    """
    if front_door == "standalone":
        async with running(io) as url:
            yield url
        return
    # Sessions first: a held long-poll would keep uvicorn's graceful shutdown waiting.
    port, stop = await start_uvicorn(io.asgi_app(), before_stop=io.close)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop()
