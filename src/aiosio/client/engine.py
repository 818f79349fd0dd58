"""EngineClient: the client side of one Engine.IO v4 connection, under asyncio.

It opens the first transport of ``transports`` (the handshake's OPEN packet gives the
sid, the heartbeat and ``maxPayload``), then runs two tasks: a reader that takes packets
from the transport, and a writer that sends the buffered ones (one POST at a time over
polling, split to respect ``maxPayload``). From polling it upgrades to WebSocket as
engine.io-client does (engine.io-protocol, "Upgrade"): ``2probe``/``3probe`` on the new
socket, the polling transport is paused (the held GET returns, the POST in flight ends),
then ``5`` and every later packet go over the WebSocket.

Heartbeat, client side: the server pings every ``pingInterval``; we answer each ``2`` with
``3`` and close with "ping timeout" when no ping came within ``pingInterval +
pingTimeout`` (engine.io-client's rule).

The connection reports to its :class:`EngineHandler`: messages, pings, and a close that
it did not ask for, with engine.io-client's reasons: "transport close", "transport error",
"ping timeout", "parse error".
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

import orjson

from aiosio.client.tasks import spawn
from aiosio.client.transports import (
    TRANSPORT_ERRORS,
    Endpoint,
    Transport,
    TransportFactory,
    WebSocket,
    create,
)
from aiosio.engineio.packets import PacketType, decode_packet
from aiosio.exceptions import ConnectionError, InvalidState, RemoteProtocolError

__all__ = ["EngineClient", "EngineHandler", "State"]

logger = logging.getLogger("aiosio.client.engine")

TRANSPORT_CLOSE = "transport close"
TRANSPORT_ERROR = "transport error"
PING_TIMEOUT = "ping timeout"
PARSE_ERROR = "parse error"
_TRANSPORTS = ("polling", "websocket")


class State(enum.Enum):
    """Where an Engine.IO client connection is in its life."""

    NEW = "new"
    OPEN = "open"
    UPGRADING = "upgrading"  # the probe succeeded; polling is being paused
    CLOSING = "closing"  # we close: the buffer is flushed first
    CLOSED = "closed"


class EngineHandler(Protocol):
    """What an :class:`EngineClient` reports to its owner (the Manager)."""

    def on_message(self, data: str | bytes) -> None:
        """A MESSAGE packet's data arrived."""

    def on_ping(self) -> None:
        """The server pinged (and was answered)."""

    def on_upgrade(self, transport: str) -> None:
        """The connection moved to another transport."""

    def on_close(self, reason: str, error: BaseException | None) -> None:
        """The connection was lost; not called after :meth:`EngineClient.close`."""


class EngineClient:
    """One Engine.IO v4 connection, from the client side."""

    close_timeout = 3.0
    """Seconds :meth:`close` spends flushing the buffer before dropping the connection."""

    def __init__(
        self,
        endpoint: Endpoint,
        handler: EngineHandler,
        *,
        transports: Sequence[str] = _TRANSPORTS,
        upgrade: bool = True,
        transport_factory: TransportFactory = create,
    ) -> None:
        if not transports or any(name not in _TRANSPORTS for name in transports):
            raise ValueError(f"transports must be taken from {_TRANSPORTS}, got {transports!r}")
        self.endpoint = endpoint
        self.handler = handler
        self.transports = tuple(transports)
        self.upgrade = upgrade
        self.transport_factory = transport_factory
        self.state = State.NEW
        self.sid: str | None = None
        self.upgrades: list[str] = []
        self.ping_interval = 0.0
        self.ping_timeout = 0.0
        self.max_payload = 0
        self._transport: Transport | None = None
        self._probing: WebSocket | None = None
        self._buffer: list[str | bytes] = []
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._read_task: asyncio.Task[None] | None = None
        self._ping_handle: asyncio.TimerHandle | None = None
        self._ping_deadline = float("inf")

    def __repr__(self) -> str:
        return f"<EngineClient sid={self.sid} {self.transport} {self.state.value}>"

    @property
    def transport(self) -> str | None:
        """The name of the transport in use."""
        return None if self._transport is None else self._transport.name

    @property
    def writable(self) -> bool:
        """Whether a packet sent now goes out at once (nothing in flight, not upgrading)."""
        return self.state is State.OPEN and not self._send_lock.locked()

    def _set_state(self, state: State) -> None:
        logger.debug("engine %s: %s -> %s", self.sid, self.state.value, state.value)
        self.state = state

    # -- opening ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the first transport and perform the handshake.

        Raises:
            ConnectionError: The server could not be reached or refused the handshake.
            InvalidState: The connection was already opened once.
        """
        if self.state is not State.NEW:
            raise InvalidState(f"cannot connect an engine that is {self.state.value}")
        transport = self.transport_factory(self.transports[0], self.endpoint, None)
        try:
            packets = await transport.open()
            self._handshake(packets[0] if packets else "")
        except BaseException as exc:
            transport.close()
            self._set_state(State.CLOSED)  # an engine opens once
            if isinstance(exc, TRANSPORT_ERRORS) and not isinstance(exc, ConnectionError):
                message = f"{transport.name} error: {exc or type(exc).__name__}"
                raise ConnectionError(message) from exc
            raise
        transport.sid = self.sid
        self._transport = transport
        self._set_state(State.OPEN)
        self._reset_ping_timer()
        self._read_task = self._spawn(self._read_loop(transport))
        self._spawn(self._write_loop())
        for raw in packets[1:]:
            self._on_raw(raw)
        if self._can_upgrade(transport):
            self._spawn(self._probe())

    def _handshake(self, raw: str | bytes) -> None:
        """Read the OPEN packet (engine.io-protocol, "Handshake")."""
        packet = decode_packet(raw)
        if packet.type is not PacketType.OPEN:
            raise RemoteProtocolError(f"expected an OPEN packet, got {packet.type.name}")
        try:
            data: Any = orjson.loads(packet.data)
            sid, upgrades = data["sid"], data["upgrades"]
            interval, timeout = data["pingInterval"], data["pingTimeout"]
            max_payload = data.get("maxPayload", 0)
        except (orjson.JSONDecodeError, TypeError, KeyError):
            raise RemoteProtocolError("invalid OPEN packet") from None
        numbers = (interval, timeout, max_payload)
        if not isinstance(sid, str) or not all(type(n) in (int, float) for n in numbers):
            raise RemoteProtocolError("invalid OPEN packet")
        self.sid = sid
        self.upgrades = [name for name in upgrades if isinstance(name, str)]
        self.ping_interval = interval / 1000
        self.ping_timeout = timeout / 1000
        self.max_payload = int(max_payload)

    def _can_upgrade(self, transport: Transport) -> bool:
        return (
            self.upgrade
            and transport.name == "polling"
            and "websocket" in self.upgrades
            and "websocket" in self.transports
        )

    # -- receiving --------------------------------------------------------------------

    async def _read_loop(self, transport: Transport) -> None:
        while True:
            try:
                packets = await transport.receive()
            except TRANSPORT_ERRORS as exc:
                closed = isinstance(exc, EOFError) and transport.name == "websocket"
                self._lost(TRANSPORT_CLOSE if closed else TRANSPORT_ERROR, exc)
                return
            for raw in packets:
                self._on_raw(raw)
                if self.state is State.CLOSED:
                    return
            if self.state is State.UPGRADING:
                return  # polling is paused: the probe takes over (see _probe)

    def _on_raw(self, raw: str | bytes) -> None:
        try:
            packet = decode_packet(raw)
        except RemoteProtocolError as exc:
            self._lost(PARSE_ERROR, exc)
            return
        match packet.type:
            case PacketType.MESSAGE:
                self.handler.on_message(packet.data)
            case PacketType.PING:
                self._reset_ping_timer()
                self._queue("3")
                self.handler.on_ping()
            case PacketType.CLOSE:
                self._lost(TRANSPORT_CLOSE, None)
            case _:
                pass  # NOOP ends a paused poll; stray PONG, OPEN or UPGRADE are ignored

    # -- heartbeat --------------------------------------------------------------------

    def _reset_ping_timer(self) -> None:
        if self._ping_handle is not None:
            self._ping_handle.cancel()
        loop = asyncio.get_running_loop()
        delay = self.ping_interval + self.ping_timeout
        self._ping_deadline = loop.time() + delay
        self._ping_handle = loop.call_later(delay, self._lost, PING_TIMEOUT, None)

    def ping_expired(self) -> bool:
        """Whether the ping deadline has passed (the timer may lag, e.g. after a suspend).

        When it has, the connection closes with "ping timeout" on the next loop iteration.
        """
        if self.state is State.CLOSED:
            return True
        loop = asyncio.get_running_loop()
        if loop.time() <= self._ping_deadline:
            return False
        loop.call_soon(self._lost, PING_TIMEOUT, None)
        return True

    # -- sending ----------------------------------------------------------------------

    def send(self, data: str | bytes) -> None:
        """Queue one MESSAGE: ``str`` as a text packet, ``bytes`` as a binary one.

        Messages sent while the connection is closing or closed are dropped.
        """
        self._queue("4" + data if isinstance(data, str) else data)

    def send_encoded(self, packet: str | bytes) -> None:
        """Queue one MESSAGE already encoded by a parser (text with its ``4``, or bytes)."""
        self._queue(packet)

    def _queue(self, packet: str | bytes) -> None:
        if self.state is State.OPEN or self.state is State.UPGRADING:
            self._buffer.append(packet)
            if self.state is State.OPEN:
                self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except TRANSPORT_ERRORS as exc:
                self._lost(TRANSPORT_ERROR, exc)
                return

    async def _flush(self) -> None:
        async with self._send_lock:
            while self._buffer and self.state in (State.OPEN, State.CLOSING):
                transport = self._transport
                assert transport is not None
                await transport.send(self._take_batch(transport))

    def _take_batch(self, transport: Transport) -> list[str | bytes]:
        """The next packets to write: over polling, no more than ``maxPayload`` bytes.

        A packet bigger than ``maxPayload`` still goes alone: the server answers 413.
        """
        buffer = self._buffer
        limit = self.max_payload
        if transport.name != "polling" or limit <= 0 or len(buffer) == 1:
            self._buffer = []
            return buffer
        size = -1  # no separator before the first packet
        for index, packet in enumerate(buffer):
            size += 1 + _payload_size(packet)
            if index and size > limit:
                self._buffer = buffer[index:]
                return buffer[:index]
        self._buffer = []
        return buffer

    # -- upgrading --------------------------------------------------------------------

    async def _probe(self) -> None:
        """Try the WebSocket; on success pause polling and switch over."""
        ws = self._probing = WebSocket(self.endpoint, self.sid)
        try:
            await self._try_upgrade(ws)
        finally:  # whatever happened, a WebSocket that was not switched to is closed
            if self._probing is ws:
                self._probing = None
            if self._transport is not ws:
                ws.close()

    async def _try_upgrade(self, ws: WebSocket) -> None:
        try:
            await ws.open()
            await ws.send(["2probe"])
            answer = await ws.receive()
            if answer[:1] != ["3probe"]:
                raise RemoteProtocolError(f"unexpected probe answer {answer[:1]!r}")
        except TRANSPORT_ERRORS as exc:
            logger.debug("engine %s: upgrade failed: %s", self.sid, exc)
            return
        if self.state is not State.OPEN:
            return
        self._set_state(State.UPGRADING)
        if self._read_task is not None:
            await asyncio.wait({self._read_task})  # the held GET returns (NOOP)
        async with self._send_lock:  # and the POST in flight ends
            if not self._still(State.UPGRADING):  # closed meanwhile
                return
            self._switch(ws)
            try:
                await ws.send(["5"])
            except TRANSPORT_ERRORS as exc:
                self._lost(TRANSPORT_ERROR, exc)
                return
            self._set_state(State.OPEN)
            self._read_task = self._spawn(self._read_loop(ws))
        self._wake.set()
        self.handler.on_upgrade(ws.name)

    def _still(self, state: State) -> bool:
        # A method, so that type checkers do not keep a narrowing across awaits.
        return self.state is state

    def _switch(self, ws: WebSocket) -> None:
        old = self._transport
        self._transport = ws
        self._probing = None
        if old is not None:
            old.close()

    # -- closing ----------------------------------------------------------------------

    async def close(self) -> None:
        """Close from our side: flush what is buffered, say goodbye, drop the transport.

        Over polling the goodbye is a CLOSE packet; over WebSocket it is the close frame,
        as engine.io-client does. The handler's ``on_close`` is not called.
        """
        if self.state in (State.NEW, State.CLOSING, State.CLOSED):
            self._shutdown()
            return
        self._set_state(State.CLOSING)
        self._cancel_probe()
        transport = self._transport
        if transport is not None:
            if transport.name == "polling":
                self._buffer.append("1")
            with contextlib.suppress(*TRANSPORT_ERRORS, TimeoutError):
                async with asyncio.timeout(self.close_timeout):
                    await self._flush()
        self._shutdown()
        await self._wait_tasks()

    def abort(self) -> None:
        """Drop the connection at once, without flushing or telling the handler."""
        self._shutdown()

    def _lost(self, reason: str, error: BaseException | None) -> None:
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return
        logger.debug("engine %s lost: %s (%s)", self.sid, reason, error)
        self._shutdown()
        self.handler.on_close(reason, error)

    def _cancel_probe(self) -> None:
        if self._probing is not None:
            self._probing.close()
            self._probing = None

    def _shutdown(self) -> None:
        if self.state is not State.CLOSED:
            self._set_state(State.CLOSED)
        if self._ping_handle is not None:
            self._ping_handle.cancel()
            self._ping_handle = None
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._cancel_probe()
        if self._transport is not None:
            self._transport.close()
        self._buffer = []

    async def _wait_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        if tasks:
            await asyncio.wait(tasks)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return spawn(coro, self._tasks, logger, "engine task failed")


def _payload_size(packet: str | bytes) -> int:
    """The bytes a packet takes in a polling payload (binary: ``b`` + base64)."""
    if isinstance(packet, bytes):
        return 1 + 4 * ((len(packet) + 2) // 3)
    return len(packet.encode())
