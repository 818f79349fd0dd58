"""The Engine.IO v4 session state machines, without I/O: the server's and the client's.

One session per connection. Time comes in as ``now`` (seconds, any monotonic origin): the
I/O layer asks ``get_timer()`` when to call ``handle_timer(now)`` next, so a session costs
one timer handle and no task. Both sides share :class:`State`, :class:`CloseReason` and the
transport switch; they differ in who pings and who probes.

Heartbeat (engine.io-protocol, "Heartbeat"), server side (:class:`EngineSession`): the
server sends PING every ``ping_interval`` and closes the session when the PONG has not come
``ping_timeout`` after the PING was queued. A v4 client that sends PING is closed ("invalid
heartbeat direction"). As in engine.io 6.6, any other packet received while the PONG is
awaited extends the deadline to ``ping_timeout`` after that packet, once per ping cycle
(docs/protocol-notes.md, "Heartbeat"). Client side (:class:`ClientEngineSession`): each
PING is answered with PONG, and the server is taken for dead when no PING came within
``ping_interval + ping_timeout`` (engine.io-client's rule).

Upgrade (engine.io-protocol, "Upgrade"): while the session polls, the client opens a
WebSocket for the same sid and sends ``2probe``; the server answers ``3probe``; the client
pauses polling and sends ``5``; only then does the session switch transports. On the
server, no ``5`` within ``upgrade_timeout`` aborts (:meth:`EngineSession.upgrade_step`).
"""

from __future__ import annotations

import enum
from typing import NoReturn, cast

from aiosio.engineio.packets import (
    CLOSE_TEXT,
    MESSAGE,
    PING,
    PING_TEXT,
    PONG_TEXT,
    PROBE_PING,
    PROBE_PONG,
    UPGRADE_TEXT,
    Packet,
    PacketType,
    decode_open,
    decode_packet,
    payload_size,
)
from aiosio.exceptions import InvalidState, RemoteProtocolError

__all__ = [
    "ClientEngineSession",
    "CloseReason",
    "EngineSession",
    "State",
    "TimerEvent",
    "UpgradeEvent",
]

_INF = float("inf")


class State(enum.Enum):
    """Where a session is in its life.

    A server session starts OPEN. A client session starts NEW (no handshake yet) and is
    CLOSING while it flushes before closing from its own side. UPGRADING is the time
    between the probe and ``5``, on both sides.
    """

    NEW = "new"
    OPEN = "open"
    UPGRADING = "upgrading"
    CLOSING = "closing"
    CLOSED = "closed"


class TimerEvent(enum.Enum):
    """What :meth:`EngineSession.handle_timer` did."""

    NOTHING = "nothing"
    PING = "ping"
    TIMED_OUT = "timed out"
    UPGRADE_EXPIRED = "upgrade expired"


class UpgradeEvent(enum.Enum):
    """What :meth:`EngineSession.upgrade_step` decided about a packet on the new WebSocket."""

    PROBED = "probed"
    """Answer :data:`PROBE_PONG` on it; a held poll ends with NOOP (the client pauses)."""
    UPGRADED = "upgraded"
    """It carries every packet from now on."""
    ABORTED = "aborted"
    """Close it; the session goes on polling (or stays closed)."""
    CLOSED_UPGRADED = "closed upgraded"
    """``5`` for a session the server closed mid-upgrade: what was left goes over it."""


class CloseReason(enum.StrEnum):
    """Why a connection closed: the reference implementations' strings, as ``disconnect``
    handlers see them. A ``StrEnum``, so that each compares equal to its string."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTTING_DOWN = "server shutting down"
    BUFFER_FULL = "transport buffer full"


class _Session:
    """What both sides keep: transport, state, heartbeat durations, outgoing packets."""

    __slots__ = (
        "close_reason",
        "outbox",
        "ping_interval",
        "ping_timeout",
        "sid",
        "state",
        "transport",
    )

    def __init__(
        self, sid: str, transport: str, state: State, ping_interval: float, ping_timeout: float
    ) -> None:
        self.sid = sid
        self.transport = transport
        self.state = state
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.outbox: list[object] = []
        self.close_reason: str | None = None

    def take_outbox(self) -> list[object]:
        """Everything queued so far, in order; the outbox is left empty."""
        items = self.outbox
        self.outbox = []
        return items

    def _move(self, expected: State, to: State, action: str) -> None:
        """Go from ``expected`` to ``to``.

        Raises:
            InvalidState: From any other state.
        """
        if self.state is not expected:
            raise InvalidState(f"cannot {action} a session that is {self.state.value}")
        self.state = to

    def close(self, reason: str) -> bool:
        """Close the session; return False when it was already closed."""
        if self.state is State.CLOSED:
            return False
        self.state = State.CLOSED
        self.close_reason = reason
        self.outbox = []
        return True


class EngineSession(_Session):
    """The server's state of one Engine.IO connection: transport, heartbeat, upgrade,
    outgoing packets.

    ``outbox`` holds encoded packets not yet written: ``str`` for text packets (type digit
    included), ``bytes`` for binary messages, or any object the I/O layer knows how to
    write (a broadcast's shared frame). Sending appends; the I/O layer drains it.
    """

    __slots__ = (
        "_awaiting_pong",
        "_next_ping",
        "_pong_deadline",
        "_upgrade_deadline",
        "pong_extendable",
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
        super().__init__(sid, transport, State.OPEN, ping_interval, ping_timeout)
        self.upgrade_timeout = upgrade_timeout
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
        # The type digits are compared as literals: this is the hot path of every packet.
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
            self.send(PING_TEXT)
            return TimerEvent.PING
        return TimerEvent.NOTHING

    # -- upgrade ----------------------------------------------------------------------

    def upgrade_step(
        self, data: str | bytes, now: float, transport: str = "websocket"
    ) -> UpgradeEvent:
        """A packet came on the WebSocket (or WebTransport, ``transport``) that is upgrading
        this session: the next step.

        ``2probe`` on an open session starts the upgrade, ``5`` after it completes it;
        anything else aborts it (the session goes on polling). Once the server has closed
        the session, a ``5`` still earns what was left to send (the paused client polls no
        more), as in the reference server.
        """
        state = self.state
        if state is State.CLOSED:
            return UpgradeEvent.CLOSED_UPGRADED if data == UPGRADE_TEXT else UpgradeEvent.ABORTED
        if data == PROBE_PING and state is State.OPEN:
            self.probe(now)
            return UpgradeEvent.PROBED
        if data == UPGRADE_TEXT and state is State.UPGRADING:
            self.upgrade(transport)
            return UpgradeEvent.UPGRADED
        self.abort_upgrade()
        return UpgradeEvent.ABORTED

    def probe(self, now: float) -> None:
        """A WebSocket for this session sent ``2probe``: the upgrade begins.

        Raises:
            InvalidState: Unless the session is open on polling.
        """
        if self.state is not State.OPEN or self.transport != "polling":
            raise InvalidState(f"cannot probe a session that is {self.state.value}")
        self.state = State.UPGRADING
        self._upgrade_deadline = now + self.upgrade_timeout

    def upgrade(self, transport: str = "websocket") -> None:
        """The new transport (WebSocket or WebTransport) sent ``5``: from now on every
        packet goes over it.

        Raises:
            InvalidState: Unless a probe came first.
        """
        self._move(State.UPGRADING, State.OPEN, "upgrade")
        self.transport = transport
        self._upgrade_deadline = _INF

    def abort_upgrade(self) -> None:
        """Give up the upgrade and keep polling."""
        if self.state is State.UPGRADING:
            self.state = State.OPEN
        self._upgrade_deadline = _INF


class ClientEngineSession(_Session):
    """The client's state of one Engine.IO connection.

    It starts NEW and opens with the server's OPEN packet (:meth:`open`). ``outbox`` holds
    the encoded packets waiting to be written (``str`` with their type digit, ``bytes``
    for binary messages); :meth:`take_batch` hands them out as the transport takes them.
    """

    __slots__ = ("_deadline", "max_payload", "upgrades")

    def __init__(self) -> None:
        super().__init__("", "", State.NEW, 0.0, 0.0)
        self.upgrades: list[str] = []
        self.max_payload = 0
        self._deadline = _INF

    def open(self, data: str | bytes, *, transport: str, now: float) -> None:
        """Take the handshake's OPEN packet, received over ``transport`` at ``now``.

        Raises:
            InvalidState: Unless the session is NEW.
            RemoteProtocolError: For anything but a valid OPEN packet.
        """
        if self.state is not State.NEW:
            raise InvalidState(f"cannot open a session that is {self.state.value}")
        handshake = decode_open(data)
        self.sid = handshake.sid
        self.upgrades = handshake.upgrades
        self.ping_interval = handshake.ping_interval
        self.ping_timeout = handshake.ping_timeout
        self.max_payload = handshake.max_payload
        self.transport = transport
        self.state = State.OPEN
        self._deadline = now + self.ping_interval + self.ping_timeout

    # -- incoming ---------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> Packet | None:
        """Take one packet from the server; return it when the owner must act on it.

        A MESSAGE is returned for its data. A PING is answered (PONG queued), pushes the
        heartbeat deadline back, and is returned so that the owner can write the PONG and
        re-arm its timer. A CLOSE closes the session with "transport close" (None, and
        ``state`` is CLOSED); other packets are ignored. While CLOSING, a CLOSE or a bad
        packet changes nothing: the owner is already leaving.

        Raises:
            RemoteProtocolError: For a packet that cannot be decoded; the session is closed
                with "parse error" first.
        """
        try:
            packet = decode_packet(data)
        except RemoteProtocolError:
            if self.lost(CloseReason.PARSE_ERROR):
                raise
            return None
        kind = packet.type
        if kind is MESSAGE:
            return packet
        if kind is PING:
            self._deadline = now + self.ping_interval + self.ping_timeout
            self.send(PONG_TEXT)
            return packet
        if kind is PacketType.CLOSE:
            self.lost(CloseReason.TRANSPORT_CLOSE)
        return None  # NOOP ends a paused poll; stray PONG, OPEN or UPGRADE are ignored

    def lost(self, reason: str) -> bool:
        """The connection was lost (``reason``): close, and return whether the owner must
        report it, which it must not when it was closing the session itself."""
        if self.state is State.CLOSING or self.state is State.CLOSED:
            return False
        return self.close(reason)

    # -- outgoing ---------------------------------------------------------------------

    def send(self, packet: str | bytes) -> bool:
        """Queue one encoded packet; return whether it may be written now.

        Packets are kept while OPEN or UPGRADING (written once the upgrade is done) and
        dropped otherwise.
        """
        state = self.state
        if state is State.OPEN:
            self.outbox.append(packet)
            return True
        if state is State.UPGRADING:
            self.outbox.append(packet)
        return False

    def take_batch(self) -> list[str | bytes]:
        """The next packets to write: over polling, no more than ``maxPayload`` bytes.

        A packet bigger than ``maxPayload`` still goes alone: the server answers 413.
        """
        outbox = cast("list[str | bytes]", self.outbox)
        limit = self.max_payload
        if self.transport != "polling" or limit <= 0 or len(outbox) == 1:
            self.outbox = []
            return outbox
        size = -1  # no separator before the first packet
        for index, packet in enumerate(outbox):
            size += 1 + payload_size(packet)
            if index and size > limit:
                self.outbox = outbox[index:]  # type: ignore[assignment]
                return outbox[:index]
        self.outbox = []
        return outbox

    # -- timers -----------------------------------------------------------------------

    def get_timer(self) -> float:
        """When :meth:`handle_timer` must run next: the heartbeat deadline."""
        return _INF if self.state is State.CLOSED else self._deadline

    def handle_timer(self, now: float) -> TimerEvent:
        """TIMED_OUT when the deadline has passed without PING and the owner must report
        the loss ("ping timeout"); NOTHING otherwise."""
        if now >= self._deadline and self.lost(CloseReason.PING_TIMEOUT):
            return TimerEvent.TIMED_OUT
        return TimerEvent.NOTHING

    def expired(self, now: float) -> bool:
        """Whether the heartbeat deadline has passed at ``now`` (a timer may lag behind,
        e.g. after the process was suspended)."""
        return now > self._deadline

    # -- upgrade ----------------------------------------------------------------------

    def can_upgrade(self, transports: tuple[str, ...] | list[str]) -> bool:
        """Whether to try an upgrade: polling now, and both sides allow one."""
        return bool(self.upgrade_targets(transports))

    def upgrade_targets(self, transports: tuple[str, ...] | list[str]) -> list[str]:
        """The transports to try, in order, from polling: WebTransport first when both
        sides allow it (as engine.io-client favours it), then WebSocket."""
        if self.transport != "polling":
            return []
        return [
            name
            for name in ("webtransport", "websocket")
            if name in self.upgrades and name in transports
        ]

    def probe(self) -> str:
        """The first packet to write on the WebSocket being tried."""
        return PROBE_PING

    def check_probe(self, answer: list[str | bytes]) -> None:
        """The first packets read on that WebSocket must start with ``3probe``.

        Raises:
            RemoteProtocolError: When they do not; the upgrade fails (the session goes on).
        """
        if answer[:1] != [PROBE_PONG]:
            raise RemoteProtocolError(f"unexpected probe answer {answer[:1]!r}")

    def pause(self) -> None:
        """The probe succeeded: polling is paused; packets sent meanwhile are kept.

        Raises:
            InvalidState: Unless the session is OPEN.
        """
        self._move(State.OPEN, State.UPGRADING, "upgrade")

    def upgrade(self, transport: str = "websocket") -> str:
        """Polling is paused: switch to ``transport``; return the packet that says so.

        Raises:
            InvalidState: Unless :meth:`pause` came first.
        """
        self._move(State.UPGRADING, State.OPEN, "upgrade")
        self.transport = transport
        return UPGRADE_TEXT

    # -- closing ----------------------------------------------------------------------

    def closing(self) -> None:
        """Close from our side: what is queued is flushed first, then the goodbye, which
        over polling is a CLOSE packet (over WebSocket, the close frame), as engine.io-client
        says it."""
        if self.state is State.OPEN or self.state is State.UPGRADING:
            self.state = State.CLOSING
            if self.transport == "polling":
                self.outbox.append(CLOSE_TEXT)
