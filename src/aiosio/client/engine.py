"""EngineClient: the client side of one Engine.IO v4 connection, under asyncio.

It opens the first transport of ``transports`` (the handshake's OPEN packet gives the
sid, the heartbeat and ``maxPayload``), then runs two tasks: a reader that takes packets
from the transport, and a writer that sends the buffered ones (one POST at a time over
polling, split to respect ``maxPayload``). From polling it upgrades to WebSocket as
engine.io-client does (engine.io-protocol, "Upgrade"): ``2probe``/``3probe`` on the new
socket, the polling transport is paused (the held GET returns, the POST in flight ends),
then ``5`` and every later packet go over the WebSocket.

What the protocol says (the packets, the heartbeat deadline, the upgrade's steps, the
goodbye) is decided by the sans-I/O
:class:`~aiosio.engineio.session.ClientEngineSession`; this module moves its packets and
arms its one timer.

The connection reports to its :class:`EngineHandler`: messages, pings, and a close that
it did not ask for, with engine.io-client's reasons: "transport close", "transport error",
"ping timeout", "parse error".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from aiosio._forward import Forward
from aiosio._tasks import spawn
from aiosio.client.transports import TRANSPORT_ERRORS, Endpoint, Transport, TransportFactory, create
from aiosio.engineio.packets import MESSAGE, MESSAGE_TEXT
from aiosio.engineio.session import ClientEngineSession, CloseReason, State, TimerEvent
from aiosio.exceptions import ConnectionError, InvalidState, RemoteProtocolError

__all__ = ["EngineClient", "EngineHandler", "State"]

logger = logging.getLogger("aiosio.client.engine")

_TRANSPORTS = ("polling", "websocket", "webtransport")
_INF = float("inf")

_prior_websocket: dict[tuple[str, int, str], bool] = {}
"""Per server (host, port, path): whether the last WebSocket to it worked, for
``remember_upgrade`` (engine.io-client keeps one such flag for the whole process)."""


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
        remember_upgrade: bool = False,
        try_all_transports: bool = False,
    ) -> None:
        if not transports or any(name not in _TRANSPORTS for name in transports):
            raise ValueError(f"transports must be taken from {_TRANSPORTS}, got {transports!r}")
        self.endpoint = endpoint
        self.handler = handler
        self.transports = tuple(transports)
        self.upgrade = upgrade
        self.transport_factory = transport_factory
        self.remember_upgrade = remember_upgrade
        self.try_all_transports = try_all_transports
        self.session = ClientEngineSession()
        self._transport: Transport | None = None
        self._probing: Transport | None = None
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._read_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<EngineClient sid={self.sid} {self.transport} {self.state.value}>"

    state = Forward[State]("session", "Where the connection is in its life (the session's state).")

    @property
    def sid(self) -> str | None:
        """The session id the server gave; None before the handshake."""
        return self.session.sid or None

    upgrades = Forward[list[str]]("session")
    ping_interval = Forward[float]("session")
    ping_timeout = Forward[float]("session")
    max_payload = Forward[int]("session")

    @property
    def transport(self) -> str | None:
        """The name of the transport in use."""
        return None if self._transport is None else self._transport.name

    @property
    def writable(self) -> bool:
        """Whether a packet sent now goes out at once (nothing in flight, not upgrading)."""
        return self.session.state is State.OPEN and not self._send_lock.locked()

    # -- opening ----------------------------------------------------------------------

    @property
    def _server_key(self) -> tuple[str, int, str]:
        address = self.endpoint.address
        return (address.host, address.port, self.endpoint.path)

    def _first_transports(self) -> list[str]:
        """The transports to open with, in order: the first of ``transports`` (WebSocket
        if ``remember_upgrade`` and the last WebSocket to this server worked), then, with
        ``try_all_transports``, the others."""
        names = list(self.transports)
        if (
            self.remember_upgrade
            and "websocket" in names
            and _prior_websocket.get(self._server_key)
        ):
            names.remove("websocket")
            names.insert(0, "websocket")
        return names if self.try_all_transports else names[:1]

    async def connect(self) -> None:
        """Open the first transport and perform the handshake.

        With ``try_all_transports``, a transport that fails to open (refused, broken, or
        turned down by the server) is followed by the next one, as engine.io-client's
        ``tryAllTransports``.

        Raises:
            ConnectionError: The server could not be reached or refused the handshake.
            InvalidState: The connection was already opened once.
        """
        session = self.session
        if session.state is not State.NEW:
            raise InvalidState(f"cannot connect an engine that is {session.state.value}")
        names = self._first_transports()
        for index, name in enumerate(names):
            transport = self.transport_factory(name, self.endpoint, None)
            try:
                packets = await transport.open()
                loop = asyncio.get_running_loop()
                session.open(
                    packets[0] if packets else "", transport=transport.name, now=loop.time()
                )
                break
            except BaseException as exc:
                transport.close()
                _prior_websocket[self._server_key] = False  # as engine.io-client: any error
                if index + 1 < len(names) and isinstance(exc, TRANSPORT_ERRORS):
                    logger.debug("engine: %s failed (%s); trying the next transport", name, exc)
                    continue
                session.close(CloseReason.TRANSPORT_ERROR)  # an engine opens once
                if isinstance(exc, TRANSPORT_ERRORS) and not isinstance(exc, ConnectionError):
                    message = f"{transport.name} error: {exc or type(exc).__name__}"
                    raise ConnectionError(message) from exc
                raise
        # Opened over polling, the flag waits for the probe (engine.io-client's onOpen).
        _prior_websocket[self._server_key] = transport.name == "websocket"
        logger.debug("engine %s: open over %s", session.sid, transport.name)
        transport.sid = session.sid
        self._transport = transport
        self._arm_timer()
        self._read_task = self._spawn(self._read_loop(transport))
        self._spawn(self._write_loop())
        for raw in packets[1:]:
            self._on_raw(raw)
        if self.upgrade and session.can_upgrade(self.transports):
            self._spawn(self._probe())

    # -- receiving --------------------------------------------------------------------

    async def _read_loop(self, transport: Transport) -> None:
        session = self.session
        while True:
            try:
                packets = await transport.receive()
            except TRANSPORT_ERRORS as exc:
                closed = isinstance(exc, EOFError) and transport.name != "polling"
                reason = CloseReason.TRANSPORT_CLOSE if closed else CloseReason.TRANSPORT_ERROR
                self._lost(reason, exc)
                return
            for raw in packets:
                self._on_raw(raw)
                if session.state is State.CLOSED:
                    return
            if session.state is State.UPGRADING:
                return  # polling is paused: the probe takes over (see _probe)

    def _on_raw(self, raw: str | bytes) -> None:
        session = self.session
        try:
            packet = session.receive(raw, asyncio.get_running_loop().time())
        except RemoteProtocolError as exc:
            self._report(exc)
            return
        if packet is None:
            if session.state is State.CLOSED:
                self._report(None)  # the server sent CLOSE
        elif packet.type is MESSAGE:
            self.handler.on_message(packet.data)
        else:  # a PING: the session queued the PONG and moved its deadline
            if session.state is State.OPEN:
                self._wake.set()
            self._arm_timer()
            self.handler.on_ping()

    # -- heartbeat --------------------------------------------------------------------

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.session.get_timer()
        if when != _INF:
            self._timer = asyncio.get_running_loop().call_at(when, self._on_timer, when)

    def _on_timer(self, when: float) -> None:
        self._timer = None
        now = max(asyncio.get_running_loop().time(), when)
        if self.session.handle_timer(now) is TimerEvent.TIMED_OUT:
            self._report(None)
        else:
            self._arm_timer()

    def ping_expired(self) -> bool:
        """Whether the ping deadline has passed (the timer may lag, e.g. after a suspend).

        When it has, the connection closes with "ping timeout" on the next loop iteration.
        """
        if self.session.state is State.CLOSED:
            return True
        loop = asyncio.get_running_loop()
        if not self.session.expired(loop.time()):
            return False
        loop.call_soon(self._lost, CloseReason.PING_TIMEOUT, None)
        return True

    # -- sending ----------------------------------------------------------------------

    def send(self, data: str | bytes) -> None:
        """Queue one MESSAGE: ``str`` as a text packet, ``bytes`` as a binary one.

        Messages sent while the connection is closing or closed are dropped.
        """
        if self.session.send(MESSAGE_TEXT + data if isinstance(data, str) else data):
            self._wake.set()

    def send_encoded(self, packet: str | bytes) -> None:
        """Queue one MESSAGE already encoded by a parser (text with its ``4``, or bytes)."""
        if self.session.send(packet):
            self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except TRANSPORT_ERRORS as exc:
                self._lost(CloseReason.TRANSPORT_ERROR, exc)
                return

    async def _flush(self) -> None:
        session = self.session
        async with self._send_lock:
            while session.outbox and session.state in (State.OPEN, State.CLOSING):
                transport = self._transport
                assert transport is not None
                await transport.send(session.take_batch())

    # -- upgrading --------------------------------------------------------------------

    async def _probe(self) -> None:
        """Try the upgrades in turn (WebTransport, then WebSocket); on the first success
        pause polling and switch over."""
        for name in self.session.upgrade_targets(self.transports):
            ws = self._probing = self.transport_factory(name, self.endpoint, self.sid)
            try:
                probed = await self._try_upgrade(ws)
            finally:  # whatever happened, a transport that was not switched to is closed
                if self._probing is ws:
                    self._probing = None
                if self._transport is not ws:
                    ws.close()
            if name == "websocket":
                _prior_websocket[self._server_key] = probed
            if probed or not self._still(State.OPEN):
                return

    async def _try_upgrade(self, ws: Transport) -> bool:
        """Probe ``ws`` and switch to it; False when the probe failed (polling goes on)."""
        session = self.session
        try:
            await ws.open()
            await ws.send([session.probe()])
            session.check_probe(await ws.receive())
        except TRANSPORT_ERRORS as exc:
            logger.debug("engine %s: upgrade to %s failed: %s", self.sid, ws.name, exc)
            return False
        if session.state is not State.OPEN:
            return False
        session.pause()
        if self._read_task is not None:
            await asyncio.wait({self._read_task})  # the held GET returns (NOOP)
        async with self._send_lock:  # and the POST in flight ends
            if not self._still(State.UPGRADING):  # closed meanwhile
                return True
            self._switch(ws)
            try:
                await ws.send([session.upgrade(ws.name)])
            except TRANSPORT_ERRORS as exc:
                self._lost(CloseReason.TRANSPORT_ERROR, exc)
                return True
            self._read_task = self._spawn(self._read_loop(ws))
        self._wake.set()
        self.handler.on_upgrade(ws.name)
        return True

    def _still(self, state: State) -> bool:
        # A method, so that type checkers do not keep a narrowing across awaits.
        return self.session.state is state

    def _switch(self, ws: Transport) -> None:
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
        session = self.session
        if session.state is not State.OPEN and session.state is not State.UPGRADING:
            self._shutdown()
            return
        session.closing()
        self._cancel_probe()
        if self._transport is not None:
            with contextlib.suppress(*TRANSPORT_ERRORS, TimeoutError):
                async with asyncio.timeout(self.close_timeout):
                    await self._flush()
        self._shutdown()
        await self._wait_tasks()

    def abort(self) -> None:
        """Drop the connection at once, without flushing or telling the handler."""
        self._shutdown()

    def _lost(self, reason: str, error: BaseException | None) -> None:
        if reason == CloseReason.TRANSPORT_ERROR:
            _prior_websocket[self._server_key] = False
        if self.session.lost(reason):
            self._report(error)

    def _report(self, error: BaseException | None) -> None:
        """The session was lost (it says why): release everything, tell the handler."""
        reason = self.session.close_reason or CloseReason.TRANSPORT_CLOSE
        logger.debug("engine %s lost: %s (%s)", self.sid, reason, error)
        self._shutdown()
        self.handler.on_close(reason, error)

    def _cancel_probe(self) -> None:
        if self._probing is not None:
            self._probing.close()
            self._probing = None

    def _shutdown(self) -> None:
        self.session.close(CloseReason.FORCED_CLOSE)  # no-op once closed; empties the outbox
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._cancel_probe()
        if self._transport is not None:
            self._transport.close()

    async def _wait_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        if tasks:
            await asyncio.wait(tasks)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return spawn(coro, self._tasks, logger, "engine task failed")
