"""PresenceTable: who is in each room, per user, and what changed since the last flush.

A user with three tabs in a room is one member with three sockets: the table counts
sockets per user and reports a user as joined when the count leaves 0 and as left when it
comes back to 0. Changes are batched: :meth:`PresenceTable.flush` returns, per room that
changed, the users who joined and those who left since the previous flush, leaving out a
user who joined and left in between (a page reload): that is what lets a room of 10,000
members joining at once produce one diff instead of 10,000 x 10,000 messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypedDict

__all__ = ["Diff", "Member", "PresenceTable", "check_info"]

DEFAULT_MAX_INFO = 1024
"""Bytes of JSON a socket's ``presence_info`` may take by default."""


class Member(TypedDict):
    """One user present in a room: how many of its sockets are there, and its info."""

    user: str
    sockets: int
    info: Any


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed in one room between two flushes: members who joined (with their
    info) and the ids of the users who left."""

    room: str
    joined: list[Member]
    left: list[str]


def check_info(info: Any, limit: int) -> Any:
    """``info`` if it is JSON within ``limit`` bytes encoded.

    Raises:
        ValueError: When it is not JSON-serialisable or is larger than ``limit`` bytes.
    """
    try:
        size = len(json.dumps(info, separators=(",", ":")).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"presence_info must be JSON-serialisable: {exc}") from None
    if size > limit:
        raise ValueError(f"presence_info takes {size} bytes as JSON, over the limit of {limit}")
    return info


@dataclass(slots=True)
class _Room:
    counts: dict[str, int] = field(default_factory=dict)  # user -> sockets in the room
    before: dict[str, bool] = field(default_factory=dict)  # changed users: present at last flush?
    recount: set[str] = field(default_factory=set)  # users whose socket count changed


class PresenceTable:
    """The members of every room of one namespace on one server."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}
        self._info: dict[str, Any] = {}  # user -> its latest info, while it is in a room
        self._memberships: dict[str, int] = {}  # user -> how many rooms it is in
        self._dirty: set[str] = set()
        self._recounts: dict[str, dict[str, int]] = {}  # room -> user -> sockets, flushed

    def __len__(self) -> int:
        return len(self._rooms)

    @property
    def dirty(self) -> bool:
        """Whether some room changed since the last flush."""
        return bool(self._dirty)

    def set_info(self, user: str, info: Any) -> None:
        """The info shown for ``user`` (the last one set wins, across its sockets); kept
        while the user is in some room (the caller gives it again when it joins one)."""
        if info is None or user not in self._memberships:
            self._info.pop(user, None)
        else:
            self._info[user] = info

    def in_a_room(self, user: str) -> bool:
        return user in self._memberships

    def info(self, user: str) -> Any:
        return self._info.get(user)

    def join(self, room: str, user: str) -> bool:
        """One more socket of ``user`` in ``room``; True when the user was not there."""
        state = self._rooms.get(room)
        if state is None:
            state = self._rooms[room] = _Room()
        count = state.counts.get(user, 0)
        state.counts[user] = count + 1
        if count:
            self._recounted(room, state, user)
            return False
        self._memberships[user] = self._memberships.get(user, 0) + 1
        self._changed(room, state, user, present=False)
        return True

    def leave(self, room: str, user: str) -> bool:
        """One socket of ``user`` less in ``room``; True when it was the user's last."""
        state = self._rooms.get(room)
        count = 0 if state is None else state.counts.get(user, 0)
        if state is None or count == 0:
            return False
        if count > 1:
            state.counts[user] = count - 1
            self._recounted(room, state, user)
            return False
        del state.counts[user]
        left = self._memberships[user] - 1
        if left:
            self._memberships[user] = left
        else:  # in no room any more: nothing to show it with
            del self._memberships[user]
            self._info.pop(user, None)
        self._changed(room, state, user, present=True)
        if not state.counts and not state.before:
            del self._rooms[room]
        return True

    def _recounted(self, room: str, state: _Room, user: str) -> None:
        state.recount.add(user)
        self._dirty.add(room)

    def take_recounts(self) -> dict[str, dict[str, int]]:
        """Per room, the users who stayed but whose socket count changed, as of the last
        flush, with their counts (for a store: the diffs do not say it)."""
        recounts, self._recounts = self._recounts, {}
        return recounts

    def _changed(self, room: str, state: _Room, user: str, present: bool) -> None:
        if user not in state.before:
            state.before[user] = present
            self._dirty.add(room)

    def flush(self) -> list[Diff]:
        """The diffs of every room that changed since the last flush (empty ones left out)."""
        diffs: list[Diff] = []
        for room in sorted(self._dirty):
            state = self._rooms.get(room)
            if state is None:
                continue
            joined: list[Member] = []
            left: list[str] = []
            new: set[str] = set()
            for user, was_there in state.before.items():
                count = state.counts.get(user, 0)
                if count and not was_there:
                    joined.append(Member(user=user, sockets=count, info=self._info.get(user)))
                    new.add(user)
                elif not count and was_there:
                    left.append(user)
            state.before.clear()
            counts = {
                user: state.counts[user]
                for user in state.recount
                if user in state.counts and user not in new
            }
            state.recount.clear()
            if counts:
                self._recounts[room] = counts
            if not state.counts:
                del self._rooms[room]
            if joined or left:
                diffs.append(Diff(room, joined, left))
        self._dirty.clear()
        return diffs

    def members(self, room: str) -> list[Member]:
        """The users in ``room`` now, by id."""
        state = self._rooms.get(room)
        if state is None:
            return []
        return [
            Member(user=user, sockets=count, info=self._info.get(user))
            for user, count in sorted(state.counts.items())
        ]

    def count_users(self, room: str) -> int:
        state = self._rooms.get(room)
        return 0 if state is None else len(state.counts)

    def count_sockets(self, room: str) -> int:
        state = self._rooms.get(room)
        return 0 if state is None else sum(state.counts.values())

    def rooms_of(self, user: str) -> list[str]:
        """The rooms ``user`` is in."""
        return [room for room, state in self._rooms.items() if user in state.counts]
