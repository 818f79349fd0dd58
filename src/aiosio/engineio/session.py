"""The Engine.IO v4 session state machine, without I/O.

One :class:`EngineSession` per connection. Time comes in as ``now`` (seconds, any monotonic
origin): the I/O layer asks :meth:`EngineSession.get_timer` when to call
:meth:`EngineSession.handle_timer` next, so a session costs one timer handle and no task.

Heartbeat (engine.io-protocol, "Heartbeat"): the server sends PING every ``ping_interval``
and closes the session when the PONG has not come ``ping_timeout`` after the PING was
queued. A v4 client that sends PING is closed ("invalid heartbeat direction"). As in
engine.io 6.6, any other packet received while the PONG is awaited extends the deadline
to ``ping_timeout`` after that packet, once per ping cycle (docs/protocol-notes.md,
"Heartbeat").

Upgrade (engine.io-protocol, "Upgrade"): while the session polls, a WebSocket for the same
sid sends ``2probe`` (:meth:`probe`), gets ``3probe``, then sends ``5`` (:meth:`upgrade`);
only then does the session switch transports. No ``5`` within ``upgrade_timeout`` aborts.
"""

from __future__ import annotations

import enum
from typing import NoReturn

from aiosio.engineio.packets import decode_packet
from aiosio.exceptions import InvalidState, RemoteProtocolError

__all__ = ["CloseReason", "EngineSession", "State", "TimerEvent"]

_INF = float("inf")


class State(enum.Enum):
    """Where a session is in its life."""

    OPEN = "open"
    UPGRADING = "upgrading"
    CLOSED = "closed"


class TimerEvent(enum.Enum):
    """What :meth:`EngineSession.handle_timer` did."""

    NOTHING = "nothing"
    PING = "ping"
    TIMED_OUT = "timed out"
    UPGRADE_EXPIRED = "upgrade expired"


class CloseReason:
    """The reason strings of the reference server, as seen by ``disconnect`` handlers."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTTING_DOWN = "server shutting down"
    BUFFER_FULL = "transport buffer full"


class EngineSession:
    """State of one Engine.IO connection: transport, heartbeat, upgrade, outgoing packets.

    ``outbox`` holds encoded packets not yet written: ``str`` for text packets (type digit
    included), ``bytes`` for binary messages, or any object the I/O layer knows how to
    write (a broadcast's shared frame). Sending appends; the I/O layer drains it.
    """

    __slots__ = (
        "_awaiting_pong",
        "_next_ping",
        "_pong_deadline",
        "_upgrade_deadline",
        "close_reason",
        "outbox",
        "ping_interval",
        "ping_timeout",
        "pong_extendable",
        "sid",
        "state",
        "transport",
        "upgrade_timeout",
    )

    def __init__(
        self,
        sid: str,
        *,
        transport: str,
        now: float,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
    ) -> None:
        self.sid = sid
        self.transport = transport
        self.state = State.OPEN
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.upgrade_timeout = upgrade_timeout
        self.outbox: list[object] = []
        self.close_reason: str | None = None
        self._awaiting_pong = False
        # True while a pong is awaited and no packet has extended its deadline yet: only
        # then does :meth:`receive` need ``now`` (the I/O layer reads its clock then).
        self.pong_extendable = False
        self._next_ping = now + ping_interval
        self._pong_deadline = _INF
        self._upgrade_deadline = _INF

    # -- incoming ---------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float | None = None) -> str | bytes | None:
        """Take one packet from the transport; return a MESSAGE's data, else None.

        Control packets are handled here. After a CLOSE packet, or a packet that breaks the
        protocol, ``state`` is CLOSED and ``close_reason`` says why. ``now`` matters only
        while ``pong_extendable`` is True: the packet then extends the pong deadline.

        Raises:
            RemoteProtocolError: For a packet that is not valid Engine.IO v4; the session
                is closed with reason "parse error" first.
        """
        if self.pong_extendable and now is not None:
            self.pong_extendable = False
            self._pong_deadline = now + self.ping_timeout
        if type(data) is bytes:
            return data
        if not data:
            self._fail("empty packet")
        head = data[0]
        if head == "4":
            return data[1:]
        if head == "3":
            self._awaiting_pong = self.pong_extendable = False
            self._pong_deadline = _INF
            return None
        if head == "b":
            try:
                return decode_packet(data).data
            except RemoteProtocolError as exc:
                self._fail(str(exc))
        if head == "1":
            self.close(CloseReason.TRANSPORT_CLOSE)
            return None
        if head == "6":
            return None
        if head == "2":
            self._fail("invalid heartbeat direction")
        self._fail(f"unexpected packet type {head!r}")

    def _fail(self, message: str) -> NoReturn:
        self.close(CloseReason.PARSE_ERROR)
        raise RemoteProtocolError(message)

    # -- outgoing ---------------------------------------------------------------------

    def send(self, item: object) -> None:
        """Queue one encoded packet; ignored once the session is closed."""
        if self.state is not State.CLOSED:
            self.outbox.append(item)

    def take_outbox(self) -> list[object]:
        """Everything queued so far, in order; the outbox is left empty."""
        items = self.outbox
        self.outbox = []
        return items

    # -- timers -----------------------------------------------------------------------

    def get_timer(self) -> float:
        """When :meth:`handle_timer` must run next (``inf`` once closed)."""
        if self.state is State.CLOSED:
            return _INF
        due = self._pong_deadline if self._awaiting_pong else self._next_ping
        return min(due, self._upgrade_deadline)

    def handle_timer(self, now: float) -> TimerEvent:
        """Advance the heartbeat and upgrade clocks to ``now``."""
        if self.state is State.CLOSED:
            return TimerEvent.NOTHING
        if self._awaiting_pong and now >= self._pong_deadline:
            self.close(CloseReason.PING_TIMEOUT)
            return TimerEvent.TIMED_OUT
        if now >= self._upgrade_deadline:
            self.abort_upgrade()
            return TimerEvent.UPGRADE_EXPIRED
        if not self._awaiting_pong and now >= self._next_ping:
            self._awaiting_pong = self.pong_extendable = True
            self._pong_deadline = now + self.ping_timeout
            self._next_ping = now + self.ping_interval
            self.send("2")
            return TimerEvent.PING
        return TimerEvent.NOTHING

    # -- upgrade ----------------------------------------------------------------------

    def probe(self, now: float) -> None:
        """A WebSocket for this session sent ``2probe``: the upgrade begins.

        Raises:
            InvalidState: Unless the session is open on polling.
        """
        if self.state is not State.OPEN or self.transport != "polling":
            raise InvalidState(f"cannot probe a session that is {self.state.value}")
        self.state = State.UPGRADING
        self._upgrade_deadline = now + self.upgrade_timeout

    def upgrade(self) -> None:
        """The WebSocket sent ``5``: from now on every packet goes over it.

        Raises:
            InvalidState: Unless a probe came first.
        """
        if self.state is not State.UPGRADING:
            raise InvalidState(f"cannot upgrade a session that is {self.state.value}")
        self.state = State.OPEN
        self.transport = "websocket"
        self._upgrade_deadline = _INF

    def abort_upgrade(self) -> None:
        """Give up the upgrade and keep polling."""
        if self.state is State.UPGRADING:
            self.state = State.OPEN
        self._upgrade_deadline = _INF

    # -- closing ----------------------------------------------------------------------

    def close(self, reason: str) -> bool:
        """Close the session; return False when it was already closed."""
        if self.state is State.CLOSED:
            return False
        self.state = State.CLOSED
        self.close_reason = reason
        self.outbox = []
        return True
