"""The floor: the least a Python asyncio server does for each workload, with no Socket.IO.

A scenario's instructions per operation are only meaningful beside what any Python server
on the same event loop must spend: ``data_received`` called, the frames found in the
chunk, one reply queued per frame and one ``transport.write`` per connection per loop
iteration (a ``call_soon``). ``FloorProtocol`` does exactly that and nothing else: no
unmasking (the harness masks with a zero key), no JSON, no Engine.IO or Socket.IO state,
a reply of fixed bytes. The workloads of ``benchmarks.instructions`` run against it
unchanged through ``FloorHarness``, so ``<scenario>`` minus ``floor-<scenario>`` is what
aiosio adds above the interpreter, asyncio and the harness itself.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from benchmarks.instructions import Harness

_SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)
_OPEN = b'\x81\x0c0{"sid":"x"}'  # an open packet's frame, of fixed bytes
_CONNECTED = b'\x81\x0f40{"sid":"y12"}'
_ACK = b"\x81\x06430[0]"  # what an echo's ack looks like (a fixed one)
_TICK = b'\x81\x0e42["tick",123]'


class FloorServer:
    """The connections of the floor and the one flush per loop iteration."""

    def __init__(self) -> None:
        self.connections: list[FloorProtocol] = []
        self.dirty: list[FloorProtocol] = []
        self.loop = asyncio.get_running_loop()

    def mark(self, connection: FloorProtocol) -> None:
        """Queue ``connection``'s outbox for the flush of this loop iteration."""
        if not self.dirty:
            self.loop.call_soon(self.flush)
        self.dirty.append(connection)

    def flush(self) -> None:
        """One write per connection that has something to send."""
        dirty, self.dirty = self.dirty, []
        for connection in dirty:
            out = connection.outbox
            connection.outbox = []
            connection.transport.write(out[0] if len(out) == 1 else b"".join(out))


class FloorProtocol(asyncio.Protocol):
    """A WebSocket server reduced to finding frames and answering each with fixed bytes."""

    __slots__ = ("outbox", "server", "transport", "upgraded")

    def __init__(self, server: FloorServer) -> None:
        self.server = server
        self.transport: Any = None
        self.outbox: list[bytes] = []
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.server.connections.append(self)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded:  # the upgrade request: the 101, then the open packet
            self.upgraded = True
            self.transport.write(_SWITCH)
            self.transport.write(_OPEN)
            return
        at, end = 0, len(data)
        while at < end:
            opcode = data[at] & 0x0F
            size = data[at + 1] & 0x7F
            head = 2
            if size == 126:
                size, head = int.from_bytes(data[at + 2 : at + 4], "big"), 4
            elif size == 127:
                size, head = int.from_bytes(data[at + 2 : at + 10], "big"), 10
            start = at + head + 4  # past the masking key
            payload = data[start : start + size]
            at = start + size
            self.answer(opcode, payload)

    def answer(self, opcode: int, payload: bytes) -> None:
        """Queue the reply the real server would send for one frame."""
        if opcode == 2:  # a binary attachment: echoed as it came
            self.queue(self, b"\x82\x7f" + len(payload).to_bytes(8, "big") + payload)
        elif payload == b"40":
            self.queue(self, _CONNECTED)
        elif payload.startswith(b'42["fan'):
            for connection in self.server.connections:
                self.queue(connection, _TICK)
        elif not payload.startswith(b"451-"):  # an attachment's header waits for it
            self.queue(self, _ACK)

    def queue(self, connection: FloorProtocol, data: bytes) -> None:
        if not connection.outbox:
            self.server.mark(connection)
        connection.outbox.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.remove(self)


class FloorHarness(Harness):
    """``benchmarks.instructions.Harness`` with the floor in place of the front door: the
    same connections, upgrade and CONNECT bytes, answered by ``FloorProtocol``."""

    def __init__(self) -> None:
        self.server = server = FloorServer()
        self.io = SimpleNamespace(router=None)
        self._connection = lambda _router: FloorProtocol(server)  # type: ignore[assignment,return-value]
        self._ports = iter(range(40000, 65000))


FLOORS = ("echo", "echo-1", "fanout", "connect", "bin64k")  # the workloads with a floor


async def run_floor(name: str, ops: int) -> None:
    """Run the workload ``name`` against the floor."""
    from benchmarks.instructions import WORKLOADS

    await WORKLOADS[name][0](FloorHarness(), ops)
