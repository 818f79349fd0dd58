"""Instructions per Socket.IO operation through the ASGI door under uvicorn (callgrind).

uvicorn's own protocols (httptools for HTTP, ``websockets-sansio`` for WebSocket, as
benchmarks/servers/under_uvicorn.py runs the ASGI apps) serve ``io.asgi_app()`` of
benchmarks/servers/aiosio_app.py, fed client bytes through an in-memory transport: no
sockets, no client in the count. Runs of ``n`` and ``3n`` operations are counted; the
difference divided by ``2n`` is one operation.

* ``polling``: one long-polling echo round, a POST carrying ``echo`` and the held GET
  that carries its ack (two connections, as a browser has them).
* ``echo``: one WebSocket ``echo`` with its ack.
* ``fanout``: one delivery of a ``broadcast`` event from one of 100 WebSockets, re-sent
  as ``msg`` to all of them.

``--app floor`` counts benchmarks/servers/asgi_floor.py instead of the door: the least
an ASGI app does for the same operations under the same uvicorn. ``--compare`` counts
both, with the standalone server's figure for the same operation (benchmarks.instructions)
beside them: the door's share above the floor is what is ours to take.

The clocks keep running while callgrind slows the process down fifty times, so no deadline
may stand between the client bytes and the answer: the server sends no PING (its session
would time out, the client here never answering), and uvicorn's WebSocket protocol sends
no pings (its sans-I/O protocol has no handshake deadline; the legacy one's, 10 s, expired
under callgrind before the app accepted). A transport closed
by the server fails the run at once instead, and ends its protocol as a socket would (so
the WebSocket's closing handshake does not wait out its timeouts at the end of a run).

Usage::

    python -m benchmarks.asgi_instructions                       # the door, a table (make bench)
    python -m benchmarks.asgi_instructions --record              # and into instructions.csv
    python -m benchmarks.asgi_instructions --compare             # door, floor, standalone
    python -m benchmarks.asgi_instructions --workload echo --ops 200   # one run, no valgrind
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
from typing import Any

from benchmarks.instructions import HISTORY, callgrind, record

ZERO_MASK = b"\x00\x00\x00\x00"


class MemoryTransport(asyncio.Transport):
    """A transport that keeps what the server writes and wakes a waiter on each write."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol: Any = None
        self.data = bytearray()
        self.event = asyncio.Event()
        self.closed = False
        self._extra = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 3000)}

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.data += data
        self.event.set()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    async def until(self, marker: bytes) -> bytes:
        """What was written up to and including ``marker`` (then forgotten)."""
        while (end := self.data.find(marker)) < 0:
            self._check_open()
            self.event.clear()
            await self.event.wait()
        end += len(marker)
        taken = bytes(self.data[:end])
        del self.data[:end]
        return taken

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"the server closed the connection; it wrote {bytes(self.data)!r}")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_reading(self) -> bool:
        return True

    def close(self) -> None:
        """As a socket's: the protocol learns of it in a later loop iteration."""
        if not self.closed:
            self.closed = True
            self.event.set()
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol  # type: ignore[no-any-return]


APPS = ("door", "floor")
app_name = "door"  # which app the workloads count: set by --app


def _app() -> Any:
    """The ASGI app counted: the door (``io.asgi_app()``) or the floor (asgi_floor.py)."""
    if app_name == "floor":
        from benchmarks.servers import asgi_floor

        return asgi_floor.app
    from benchmarks.servers import aiosio_app

    # No heartbeat: the client here never answers a PING, and a run under callgrind lasts
    # longer than ping_interval + ping_timeout (45 s): its session would be closed halfway
    # and the rest of the run would count refusals (or wait for an ack that never comes).
    engine = aiosio_app.io.engine
    engine.ping_interval = engine.ping_timeout = 3600.0
    return aiosio_app.io.asgi_app()


def _config() -> Any:
    from uvicorn.config import Config

    config = Config(
        _app(),
        http="httptools",
        ws="websockets-sansio",  # as benchmarks/servers/under_uvicorn.py runs the ASGI apps
        ws_per_message_deflate=False,
        ws_ping_interval=None,  # under callgrind a run outlasts the ping timeout
        lifespan="off",
        access_log=False,
        log_level="error",
    )
    config.load()
    return config


def _connection(config: Any, state: Any) -> tuple[Any, MemoryTransport]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    protocol = HttpToolsProtocol(config=config, server_state=state, app_state={})
    transport = MemoryTransport()
    transport.protocol = protocol
    protocol.connection_made(transport)
    return protocol, transport


def _request(method: str, target: str, body: bytes = b"") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def _answer(transport: MemoryTransport) -> bytes:
    head = await transport.until(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(transport.data) < length:
        transport._check_open()
        transport.event.clear()
        await transport.event.wait()
    body = bytes(transport.data[:length])
    del transport.data[:length]
    return body


async def polling(ops: int) -> None:
    from uvicorn.server import ServerState

    config, state = _config(), ServerState()
    gets, get_transport = _connection(config, state)
    posts, post_transport = _connection(config, state)
    base = "/socket.io/?EIO=4&transport=polling"
    gets.data_received(_request("GET", base))
    sid = json.loads((await _answer(get_transport))[1:])["sid"]
    target = f"{base}&sid={sid}"
    posts.data_received(_request("POST", target, b"40"))
    await _answer(post_transport)
    gets.data_received(_request("GET", target))
    await _answer(get_transport)  # 40{"sid":...}
    message = b'421["echo","hello from the benchmark"]'
    for _ in range(ops):
        gets.data_received(_request("GET", target))  # held until the ack comes
        posts.data_received(_request("POST", target, message))
        await _answer(post_transport)  # ok
        await _answer(get_transport)  # 431[...]


def _frame(payload: bytes) -> bytes:
    return bytes((0x81, 0x80 | len(payload))) + ZERO_MASK + payload


async def _websocket(config: Any, state: Any) -> tuple[Any, MemoryTransport]:
    """A WebSocket connected to the main namespace: its protocol and transport."""
    protocol, transport = _connection(config, state)
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    protocol.data_received(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: bench\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await transport.until(b"\r\n\r\n")  # 101
    await transport.until(b"}")  # the open packet
    ws = transport.protocol
    ws.data_received(_frame(b"40"))
    await transport.until(b"}")  # 40{"sid":...}
    return ws, transport


async def _close(sockets: list[tuple[Any, MemoryTransport]]) -> None:
    """The clients go (nothing is left to wait out at the end); returns once the app has
    seen every disconnect and returned."""
    for _, transport in sockets:
        transport.close()
    await asyncio.wait(sockets[0][0].tasks)  # the server's tasks: every connection's


async def echo(ops: int) -> None:
    from uvicorn.server import ServerState

    ws, transport = await _websocket(_config(), ServerState())
    message = _frame(b'421["echo","hello from the benchmark"]')
    for _ in range(ops):
        ws.data_received(message)
        await transport.until(b"]")
    await _close([(ws, transport)])


FANOUT = 100  # sockets in the room, the sender among them


async def fanout(ops: int) -> None:
    """A ``broadcast`` event from one of 100 sockets, re-sent as ``msg`` to all of them;
    an operation is one delivery (so ops/100 broadcasts)."""
    from uvicorn.server import ServerState

    config, state = _config(), ServerState()
    sockets = [await _websocket(config, state) for _ in range(FANOUT)]
    sender = sockets[0][0]
    message = _frame(b'42["broadcast","hello from the benchmark"]')
    for _ in range(ops // FANOUT):
        sender.data_received(message)
        for _, transport in sockets:
            await transport.until(b"]")
    await _close(sockets)


WORKLOADS = {"polling": polling, "echo": echo, "fanout": fanout}


def count(workload: str, ops: int, app: str = "door") -> int:
    return callgrind(
        "benchmarks.asgi_instructions", "--app", app, "--workload", workload, "--ops", str(ops)
    )


# Operations in the shorter of the two counted runs (the longer has three times as many).
OPS = {"polling": 200, "echo": 200, "fanout": 2000}
# The standalone server's workload for the same operation (benchmarks.instructions).
STANDALONE = {"polling": "polling", "echo": "echo-1", "fanout": "fanout"}


def per_operation(workload: str, app: str, n: int | None = None) -> float:
    """Instructions per operation of ``workload`` served by ``app`` (door or floor)."""
    n = n or OPS[workload]
    return (count(workload, 3 * n, app) - count(workload, n, app)) / (2 * n)


def compare(workloads: list[str], n: int | None) -> dict[str, float]:
    """Door, floor and standalone per operation, side by side: the door's share above
    the floor is what is ours to take under uvicorn."""
    from benchmarks import instructions

    print("instructions per operation (callgrind): door and floor under uvicorn, standalone")
    print(f"  {'workload':<8} {'door':>10} {'floor':>10} {'door-floor':>11} {'standalone':>11}")
    figures = {}
    for name in workloads:
        door, floor = per_operation(name, "door", n), per_operation(name, "floor", n)
        alone = instructions.per_operation(STANDALONE[name])
        figures[f"asgi-{name}"], figures[f"asgi-floor-{name}"] = door, floor
        print(f"  {name:<8} {door:>10,.0f} {floor:>10,.0f} {door - floor:>11,.0f} {alone:>11,.0f}")
    return figures


def main(argv: list[str] | None = None) -> int:
    global app_name
    parser = argparse.ArgumentParser(prog="python -m benchmarks.asgi_instructions")
    parser.add_argument("--workload", choices=tuple(WORKLOADS))
    parser.add_argument("--app", choices=APPS, default="door", help="the ASGI app counted")
    parser.add_argument(
        "--compare", action="store_true", help="door, floor and standalone side by side"
    )
    parser.add_argument("--ops", type=int, help="one run of this many operations, no valgrind")
    parser.add_argument("--n", type=int, help="operations of the shorter counted run")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"append to {HISTORY.name} (asgi-<workload>, asgi-floor-<workload>)",
    )
    args = parser.parse_args(argv)
    app_name = args.app
    if args.ops is not None:
        asyncio.run(WORKLOADS[args.workload or "echo"](args.ops))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no ASGI instruction counts", file=sys.stderr)
        return 0
    workloads = [args.workload] if args.workload else list(WORKLOADS)
    if args.compare:
        figures = compare(workloads, args.n)
    else:
        print(f"instructions per operation, ASGI {args.app} under uvicorn (callgrind):")
        prefix = "asgi-" if args.app == "door" else "asgi-floor-"
        figures = {}
        for name in workloads:
            figures[prefix + name] = per_operation(name, args.app, args.n)
            print(f"  {name:<8} {figures[prefix + name]:,.0f}")
    if args.record:
        record(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
