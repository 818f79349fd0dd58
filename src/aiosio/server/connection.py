"""Connection: one Engine.IO session seen by Socket.IO (the reference's ``Client``).

It decodes packets (reassembling binary ones), routes them to the socket of their
namespace, handles CONNECT, and closes the session if no namespace is joined within
``connect_timeout``. Packets are handled in arrival order.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from aiosio.engineio.session import CloseReason, State
from aiosio.exceptions import RemoteProtocolError
from aiosio.limits.buckets import TokenBucket
from aiosio.server.http import shared_strings
from aiosio.server.socket import Handshake, Socket
from aiosio.socketio.packets import CONNECT_ERROR, Packet
from aiosio.socketio.session import Namespaces, Verdict

if TYPE_CHECKING:
    from aiosio.server.engine import ServerSession
    from aiosio.server.http import HTTPRequest
    from aiosio.server.server import BaseServer as Server

__all__ = ["Connection"]

logger = logging.getLogger("aiosio.connection")


class Connection:
    """The Socket.IO side of one Engine.IO session."""

    __slots__ = (
        "_joining",
        "_logged",
        "bucket",
        "decoder",
        "issued",
        "namespaces",
        "parser",
        "request",
        "server",
        "session",
    )

    def __init__(self, server: Server, session: ServerSession, request: HTTPRequest) -> None:
        self.server = server
        self.session = session
        # Kept for the connection's life (each namespace's socket copies its handshake
        # from it): its strings that every client repeats are held once for all.
        request.headers, request.query = (
            shared_strings(request.headers),
            shared_strings(request.query),
        )
        self.request = request
        self.issued = int(time.time() * 1000)
        self.parser = server.parser
        self.decoder = server.parser.decoder(
            max_attachments=server.max_attachments,
            max_depth=server.max_depth,
            max_attachment_size=server.engine.max_http_buffer_size,
        )
        self.namespaces: Namespaces[Socket] = Namespaces(server.max_namespaces)
        self._logged: set[object] | None = None
        self.bucket: TokenBucket | None = None  # the server's event rate (io.limit)
        self._joining = True  # no namespace joined yet: connect_timeout runs
        server.deadlines.add(session.sid, server.connect_timeout)

    @property
    def sockets(self) -> dict[str, Socket]:
        """The joined namespaces' sockets, by namespace name (read only)."""
        return self.namespaces.connected

    @property
    def open(self) -> bool:
        return self.session.state is not State.CLOSED

    def writable(self) -> bool:
        """Whether a packet written now leaves at once (volatile packets need this), and
        the overflow policy does not drop it (docs/limits.md, "Backpressure")."""
        session = self.session
        if session.ws is None and session.poll is None:
            return False
        flow = session.flow
        return flow is None or not flow.drops()

    def handshake(self, auth: dict[str, Any]) -> Handshake:
        """The ``handshake`` of a socket created on this connection (its own copies of the
        headers and query: a socket changing them does not change its siblings')."""
        request = self.request
        headers = dict(request.headers)
        client = request.client
        return Handshake(
            headers=headers,
            address=client[0] if client else None,
            xdomain="origin" in headers,
            secure=request.scheme in ("https", "wss"),
            issued=self.issued,
            url=request.path + ("?" + request.raw_query if request.raw_query else ""),
            query=dict(request.query),
            auth=auth,
        )

    # -- incoming -----------------------------------------------------------------------

    def receive(self, data: str | bytes) -> None:
        """One Engine.IO message.

        A packet that breaks Socket.IO v5 (it does not decode, or its namespace is not in
        the right state) closes the connection with "forced close", the reason the
        reference server gives; its "parse error" is for broken Engine.IO packets.
        """
        decoder = self.decoder
        try:
            packet = (
                decoder.receive_text(data) if type(data) is str else decoder.receive_binary(data)  # type: ignore[arg-type]
            )
        except RemoteProtocolError as exc:
            self._violation(str(exc))
            return
        if packet is None:
            return
        target = self.namespaces.receive(packet.type, packet.namespace)
        if not isinstance(target, Verdict):
            target.on_packet(packet)
        elif target is Verdict.CONNECT:
            self._connect(packet.namespace, packet.data or {})
        elif target is Verdict.REFUSE:
            self.refuse(packet.namespace, "Too many namespaces")
        elif target is Verdict.VIOLATION:
            state = self.namespaces.state(packet.namespace)
            where = "not joined" if state is None else state.value
            self._violation(f"{packet.type.name} for a namespace {where}")

    def log_once(
        self,
        log: logging.Logger,
        kind: object,
        message: str,
        *args: Any,
        level: int = logging.ERROR,
        exc_info: bool | None = None,
    ) -> None:
        """Log a problem this client's input caused, once per ``kind`` on this connection.

        A client that repeats the input (an event whose handler raises, say) must not be
        able to flood the log (docs/limits.md). The exception being handled, if any, is
        logged with its traceback unless ``exc_info`` is False; ``level`` is ERROR unless
        given.
        """
        logged = self._logged
        if logged is None:
            logged = self._logged = set()
        elif kind in logged:
            return
        logged.add(kind)
        log.log(
            level,
            message + " (logged once per connection)",
            *args,
            exc_info=sys.exc_info()[0] is not None if exc_info is None else exc_info,
        )

    def _violation(self, problem: str) -> None:
        logger.debug("closing %s: %s", self.session.sid, problem)
        self.close(CloseReason.FORCED_CLOSE)

    def _connect(self, name: str, auth: dict[str, Any]) -> None:
        """``name`` is now CONNECTING: its middlewares run (after finding a dynamic one)."""
        namespace = self.server.namespaces.get(name)
        if namespace is not None:
            namespace.add(self, auth)
            return
        self.spawn(self._connect_dynamic(name, auth))

    async def _connect_dynamic(self, name: str, auth: dict[str, Any]) -> None:
        try:
            namespace = await self.server.find_dynamic(name, auth)
        except Exception:
            # A matcher that fails on what this client sent (a missing auth key, say):
            # refused, not left pending for ever, and logged once.
            self.log_once(logger, "namespace matcher", "a namespace matcher failed on %r", name)
            namespace = None
        if not self.open:
            return
        if namespace is None:
            self.refuse(name, "Invalid namespace")
            return
        namespace.add(self, auth)

    def refuse(self, name: str, message: str, data: Any = None) -> None:
        """Answer a CONNECT with CONNECT_ERROR (the connection stays open)."""
        self.namespaces.cancel(name)
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        self.write_packet(Packet(CONNECT_ERROR, name, payload))

    def attach(self, socket: Socket) -> bool:
        """A socket finished connecting; False when the connection closed meanwhile."""
        if not self.open:
            self.namespaces.cancel(socket.nsp.name)
            return False
        self.namespaces.join(socket.nsp.name, socket)
        self._joining = False  # not restarted when every namespace is left later (reference)
        return True

    def remove(self, socket: Socket) -> None:
        self.namespaces.leave(socket.nsp.name, socket)
        flow = self.session.flow
        if flow is not None:  # its drain() fails with Disconnected
            flow.forget(socket)

    def connect_expired(self) -> None:
        """``connect_timeout`` passed (server/deadlines.py): closed unless a namespace
        was joined meanwhile."""
        if self._joining and not self.namespaces.connected and self.open:
            self.session.close_transport("forced close")

    # -- outgoing -----------------------------------------------------------------------

    def write_packet(self, packet: Packet) -> None:
        session = self.session
        for item in self.parser.encode(packet):
            session.write(item)

    def disconnect_all(self) -> None:
        """Disconnect every socket, then close the Engine.IO session."""
        for socket in list(self.namespaces.connected.values()):
            socket.disconnect()
        self.session.close_transport("forced server close")

    def close(self, reason: str) -> None:
        """Close the session from the server side."""
        self.session.close_transport(reason)

    def on_close(self, reason: str) -> None:
        """The Engine.IO session closed: every socket disconnects with ``reason``."""
        self._joining = False
        for socket in list(self.namespaces.connected.values()):
            socket.close(reason)
            # Handlers often close over their socket: a cycle that only a full collection
            # would find (never, for objects frozen by server/collector.py).
            socket._handlers.clear()
        self.namespaces.clear()
        self.decoder.reset()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.server.spawn(coro)
