"""SessionLog: the memory of connection state recovery on one server (socket.io 4.6+).

The reference keeps it in its "session-aware adapter": the adapter that delivers the
broadcasts is the one that knows which packet went where. For each namespace it holds
the broadcast EVENTs with the offset appended as their last argument (for
``max_age`` seconds, and at most ``max_packets`` of them and ``max_bytes`` encoded), and
the sessions of sockets lost for a recoverable reason until they expire. A session
restored here comes with every kept packet it missed after its offset, in order.

Offsets are ``<prefix>-<seq>``: the prefix is random per log, so an offset of another
server (or of an earlier run) is never taken for one of ours.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from aiosio.adapters.base import RecoveryLimits, Session
from aiosio.socketio.packets import EVENT, Packet

__all__ = ["SessionLog"]


@dataclass(slots=True)
class _Kept:
    seq: int
    rooms: frozenset[str]
    except_: frozenset[str]
    data: list[Any]
    size: int
    time: float


@dataclass(slots=True)
class _Stored:
    session: Session
    expires: float


class SessionLog:
    """Kept broadcasts and disconnected sessions of one namespace on this server."""

    def __init__(self, limits: RecoveryLimits) -> None:
        self.limits = limits
        self._prefix = secrets.token_hex(4) + "-"
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._kept: deque[_Kept] = deque()
        self._kept_bytes = 0
        self._dropped = 0  # the newest seq no longer kept
        self._sessions: OrderedDict[str, _Stored] = OrderedDict()  # by pid, in expiry order
        self._expiry: asyncio.TimerHandle | None = None  # for the oldest session

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # -- broadcasts ---------------------------------------------------------------------

    def offset(self) -> str:
        """The offset of the newest broadcast: a socket joining now replays what follows."""
        return self._prefix + str(self._last_seq)

    def stamp(self, packet: Packet, volatile: bool) -> Packet | None:
        """``packet`` with the next offset appended, or None for a packet that takes none
        (not an EVENT, volatile, or without data)."""
        if packet.type is not EVENT or volatile or not packet.data:
            return None
        seq = next(self._seq)
        self._last_seq = seq
        return Packet(EVENT, packet.namespace, [*packet.data, self._prefix + str(seq)])

    def keep(
        self, data: list[Any], rooms: frozenset[str], except_: frozenset[str], size: int
    ) -> None:
        """Keep a stamped broadcast (``size``: its encoded length), dropping the oldest
        ones beyond the limits."""
        now = self._now()
        kept = self._kept
        kept.append(_Kept(self._last_seq, rooms, except_, data, size, now))
        total = self._kept_bytes + size
        oldest = now - self.limits.max_age
        while kept and (
            len(kept) > self.limits.max_packets
            or total > self.limits.max_bytes
            or kept[0].time < oldest
        ):
            dropped = kept.popleft()
            total -= dropped.size
            self._dropped = dropped.seq
        self._kept_bytes = total

    # -- sessions -----------------------------------------------------------------------

    def persist(self, session: Session, ttl: float) -> None:
        """Keep ``session`` for ``ttl`` seconds; ``session.offset`` is where it joined."""
        self._expire()
        self._sessions[session.pid] = _Stored(session, self._now() + ttl)
        if self._expiry is None:
            self._arm_expiry()

    def restore(self, pid: str, offset: str | None) -> Session | None:
        """Take the session ``pid`` with the packets it missed after ``offset`` (after
        where it joined when None); None, and the session stays, when what it missed is
        no longer kept or the offset is not one of ours."""
        self._expire()
        stored = self._sessions.get(pid)
        if stored is None:
            return None
        session = stored.session
        start = self._start_seq(offset if offset is not None else session.offset)
        if start is None or start <= self._dropped:
            return None  # what it missed is no longer kept: a fresh session instead
        del self._sessions[pid]
        rooms = set(session.rooms)
        session.missed = [
            item.data
            for item in self._kept
            if item.seq >= start
            and (not item.rooms or not item.rooms.isdisjoint(rooms))
            and item.except_.isdisjoint(rooms)
        ]
        return session

    def _start_seq(self, offset: str | None) -> int | None:
        if offset is None or not offset.startswith(self._prefix):
            return None
        digits = offset[len(self._prefix) :]
        # ASCII and short: "²".isdigit() is true and int() refuses it, as it refuses
        # more than 4,300 digits; both come from the client.
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 20:
            return None
        return int(digits) + 1

    # -- expiry -------------------------------------------------------------------------

    def bind(self) -> None:
        """Arm the expiry timer in the running loop (the server starts, perhaps again in
        a new loop: a timer of a closed loop never fires)."""
        if self._expiry is not None:
            self._expiry.cancel()
        self._arm_expiry()

    def _arm_expiry(self) -> None:
        """One timer for every kept session: without it, sessions would outlive their
        expiry until the next disconnect or recovery (docs/limits.md: released on expiry).
        Sessions are kept in expiry order, so the first one is the next to go."""
        self._expiry = None
        if self._sessions:
            first = next(iter(self._sessions.values()))
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(first.expires, self._on_expiry)

    def _on_expiry(self) -> None:
        self._expire()
        self._arm_expiry()

    def _expire(self) -> None:
        now = self._now()
        sessions = self._sessions
        while sessions:
            pid, stored = next(iter(sessions.items()))
            if stored.expires > now:
                break
            del sessions[pid]
