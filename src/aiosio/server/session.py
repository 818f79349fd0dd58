"""A server-side Engine.IO session and what the engine talks to on either side of it.

:class:`ServerSession` is the sans-I/O :class:`~aiosio.engineio.session.EngineSession` with
its I/O attachments (the WebSocket or the held long-poll, its timer, its outbox's size);
:class:`WebSocketTransport` is what a front door gives the engine for a WebSocket, and
:class:`EngineHandler` what sits above the engine (the Socket.IO connection).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiosio.engineio.session import CloseReason, EngineSession, State
from aiosio.engineio.wire import Wire
from aiosio.server.http import HTTPRequest, HTTPResponse

if TYPE_CHECKING:
    from aiosio.server.backpressure import Flow
    from aiosio.server.engine import EngineServer

__all__ = ["EngineHandler", "ServerSession", "WebSocketTransport"]


class WebSocketTransport(Protocol):
    """A WebSocket as a front door provides it."""

    def send_items(self, items: list[object]) -> None:
        """Write engine packets (str, bytes or :class:`Wire`), in order, as frames."""

    def close(self, code: int = 1000) -> None:
        """Close the WebSocket (close handshake, then the connection)."""

    def buffered(self) -> int:
        """Bytes written but not yet sent to the peer."""


class EngineHandler(Protocol):
    """What sits above the engine (the Socket.IO server)."""

    def on_open(self, session: ServerSession, request: HTTPRequest) -> None: ...

    def on_message(self, session: ServerSession, data: str | bytes) -> None: ...

    def on_close(self, session: ServerSession, reason: str) -> None: ...


class ServerSession(EngineSession):
    """A server-side session with its I/O attachments."""

    __slots__ = (
        "answered",
        "dirty",
        "engine",
        "flow",
        "owner",
        "poll",
        "posting",
        "queued",
        "timer",
        "upgrade_ws",
        "ws",
    )

    def __init__(self, engine: EngineServer, sid: str, transport: str, now: float) -> None:
        super().__init__(
            sid,
            transport=transport,
            now=now,
            ping_interval=engine.ping_interval,
            ping_timeout=engine.ping_timeout,
            upgrade_timeout=engine.upgrade_timeout,
        )
        self.engine = engine
        self.ws: WebSocketTransport | None = None
        self.upgrade_ws: WebSocketTransport | None = None
        self.poll: Callable[[HTTPResponse], None] | None = None
        self.answered = now  # the monotonic clock at the last GET answered (the handshake)
        self.posting = False  # a POST's head has come and its body is being read
        self.timer: asyncio.TimerHandle | None = None
        self.owner: Any = None
        self.dirty = False
        self.queued = 0  # bytes in the outbox while polling (about: characters for text)
        self.flow: Flow | None = None  # backpressure, made when first needed

    def write(self, item: object) -> None:
        """Queue one encoded packet; it leaves with the next flush (this loop iteration)."""
        if self.state is State.CLOSED:
            return
        self.outbox.append(item)
        if self.ws is None:
            # A polling client that does not poll must not grow the outbox without bound.
            self.queued += len(item.data if type(item) is Wire else item)  # type: ignore[arg-type]
        if not self.dirty:  # schedule_flush(), inlined: this runs for every packet sent
            self.dirty = True
            self.engine.mark_dirty(self)

    # ``dirty`` says a flush of this session is scheduled. A front door may also set it for
    # a while (a hold), so that the replies to what it feeds in schedule no flush: it sends
    # them itself, sooner, and ends the hold with release_flush (the ASGI door does).

    def schedule_flush(self) -> None:
        """Have the engine's flush at the end of this loop iteration send the outbox (once,
        however often asked)."""
        if not self.dirty:
            self.dirty = True
            self.engine.mark_dirty(self)

    def hold_flush(self) -> bool:
        """Hold this session's flush while input is fed to it: its writes schedule none.
        False (nothing held) when a flush is scheduled already: that one carries them."""
        if self.dirty:
            return False
        self.dirty = True
        return True

    def release_flush(self, *, schedule: bool = True) -> None:
        """End a hold: writes schedule their flush again, and what the hold kept goes with
        this iteration's flush; with ``schedule`` False, the caller sends it itself."""
        self.dirty = False
        if schedule and self.outbox:
            self.dirty = True
            self.engine.mark_dirty(self)

    def take_outbox(self) -> list[object]:
        self.queued = 0
        items = super().take_outbox()
        if self.flow is not None and self.ws is None:
            self.flow.drained()  # a long-poll took the queue
        return items

    def close_transport(self, reason: str = CloseReason.FORCED_CLOSE) -> None:
        """Flush what is queued, then close the connection (server-initiated)."""
        self.engine.close_session(self, reason)
