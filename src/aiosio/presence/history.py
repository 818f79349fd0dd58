"""RoomLog: the last events broadcast to one room, each with an offset.

Offsets are ``<epoch>-<seq>``, the shape connection state recovery uses: the epoch is
random per log, so an offset of another server or an earlier run is never taken for one of
this log. A log keeps at most ``max_len`` events for at most ``ttl`` seconds; what it
dropped is never silently skipped: :meth:`RoomLog.last` says whether the replay it returns
starts after dropped events (``trimmed``) and names the first offset still kept.
Time is passed in (``now``, in seconds of any monotonic clock).
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

__all__ = ["Replay", "RoomLog"]


@dataclass(frozen=True, slots=True)
class Replay:
    """What a rewind replayed: ``events`` (each ``[event, *args]``), the log's ``epoch``,
    the offset of the first event the log still keeps (None when it keeps none), and
    whether events older than the replay were dropped (``trimmed``): a client that asked
    for more than it got learns that it missed some, never silently."""

    room: str
    epoch: str
    events: list[list[Any]]
    first_offset: str | None
    trimmed: bool

    @property
    def count(self) -> int:
        return len(self.events)


@dataclass(slots=True)
class _Entry:
    seq: int
    time: float
    data: list[Any]


class RoomLog:
    """The kept events of one room on this server."""

    def __init__(
        self, room: str, max_len: int, ttl: float | None, epoch: str | None = None
    ) -> None:
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, not {max_len}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive, not {ttl}")
        self.room = room
        self.max_len = max_len
        self.ttl = ttl
        self.epoch = epoch or secrets.token_hex(4)
        self._entries: deque[_Entry] = deque()
        self._seq = 0
        self.dropped = 0  # the seq of the newest event no longer kept

    def __len__(self) -> int:
        return len(self._entries)

    def offset(self, seq: int) -> str:
        return f"{self.epoch}-{seq}"

    @property
    def last_seq(self) -> int:
        return self._seq

    def adopt(self, old: RoomLog) -> None:
        """Take over the events and counters of ``old`` (same room), within these bounds."""
        self._seq = old._seq
        self.dropped = old.dropped
        for entry in old._entries:
            self._entries.append(entry)
            if len(self._entries) > self.max_len:
                self.dropped = self._entries.popleft().seq

    def seed(self, events: list[tuple[float, list[Any]]], now: float) -> int:
        """Put events kept elsewhere (``(age in seconds, data)``, oldest first) before the
        ones this log holds, leaving out those it holds already (the overlap of the two),
        and number them all again from 1; returns how many were added. Meant for a server
        that starts: no client has seen its offsets yet."""
        mine = [entry.data for entry in self._entries]
        overlap = 0
        for size in range(min(len(events), len(mine)), 0, -1):
            if [data for _, data in events[-size:]] == mine[:size]:
                overlap = size
                break
        older = [_Entry(0, now - age, data) for age, data in events[: len(events) - overlap]]
        entries = [*older, *self._entries][-self.max_len :]
        self._entries = deque(entries)
        for seq, entry in enumerate(entries, start=1):
            entry.seq = seq
        self._seq = len(entries)
        # A full list elsewhere may have lost older events: say so (never a silent skip).
        self.dropped = 1 if self.dropped or len(events) >= self.max_len else 0
        return len(older)

    def append(self, data: list[Any], now: float) -> int:
        """Keep one event; returns its sequence number."""
        self._seq += 1
        entries = self._entries
        entries.append(_Entry(self._seq, now, data))
        if len(entries) > self.max_len:
            self.dropped = entries.popleft().seq
        return self._seq

    def expire(self, now: float) -> None:
        """Drop the events older than ``ttl``."""
        if self.ttl is None:
            return
        oldest = now - self.ttl
        entries = self._entries
        while entries and entries[0].time < oldest:
            self.dropped = entries.popleft().seq

    def last(self, count: int, now: float) -> Replay:
        """The last ``count`` kept events, oldest first (all there are if fewer)."""
        self.expire(now)
        entries = self._entries
        taken = list(entries)[-count:] if count > 0 else []
        first_kept = entries[0].seq if entries else None
        # Events the caller asked for but that are gone: some were dropped and the replay
        # reaches back to the oldest kept one.
        trimmed = self.dropped > 0 and len(taken) < count and len(taken) == len(entries)
        return Replay(
            self.room,
            self.epoch,
            [entry.data for entry in taken],
            None if first_kept is None else self.offset(first_kept),
            trimmed,
        )
