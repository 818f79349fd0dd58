"""aiosio.adapters.sessions.SessionLog: offsets, kept broadcasts, sessions and replays."""

from __future__ import annotations

from aiosio.adapters.base import RecoveryLimits, Session
from aiosio.adapters.sessions import SessionLog
from aiosio.socketio.packets import ACK, EVENT, Packet

NO_ROOMS: frozenset[str] = frozenset()


def broadcast(log: SessionLog, *args: object, rooms: frozenset[str] = NO_ROOMS) -> list[object]:
    stamped = log.stamp(Packet(EVENT, "/", ["e", *args]), volatile=False)
    assert stamped is not None
    log.keep(stamped.data, rooms, NO_ROOMS, size=10)
    return stamped.data


async def test_events_get_increasing_offsets_and_others_none() -> None:
    log = SessionLog(RecoveryLimits())
    first = broadcast(log, 1)
    second = broadcast(log, 2)
    assert first[:-1] == ["e", 1] and second[:-1] == ["e", 2]
    assert isinstance(first[-1], str) and first[-1] != second[-1]
    assert log.offset() == second[-1]
    assert log.stamp(Packet(EVENT, "/", ["e"]), volatile=True) is None
    assert log.stamp(Packet(ACK, "/", ["x"], id=1), volatile=False) is None
    assert log.stamp(Packet(EVENT, "/", []), volatile=False) is None


async def test_a_session_is_restored_once_with_what_its_rooms_missed() -> None:
    log = SessionLog(RecoveryLimits())
    joined = log.offset()
    log.persist(Session("sid", "pid", ["sid", "a"], {"n": 1}, joined), ttl=60)
    to_a = broadcast(log, "a", rooms=frozenset({"a"}))
    broadcast(log, "b", rooms=frozenset({"b"}))
    to_all = broadcast(log, "all")
    session = log.restore("pid", None)  # no offset: from where it joined
    assert session is not None and session.data == {"n": 1}
    assert session.missed == [to_a, to_all]
    assert log.restore("pid", None) is None  # taken


async def test_an_unknown_or_dropped_offset_keeps_the_session() -> None:
    log = SessionLog(RecoveryLimits(max_packets=2))
    log.persist(Session("sid", "pid", ["sid"], None, log.offset()), ttl=60)
    for n in range(3):
        broadcast(log, n)  # the first is dropped
    assert log.restore("pid", "elsewhere-1") is None
    assert log.restore("pid", log.offset()[:-1] + "\u00b2") is None
    assert log.restore("pid", None) is None  # it missed a dropped packet
    last = log.offset()
    session = log.restore("pid", last)
    assert session is not None and session.missed == []


async def test_an_expired_session_is_gone() -> None:
    log = SessionLog(RecoveryLimits())
    log.persist(Session("sid", "pid", ["sid"], None, log.offset()), ttl=-1)
    assert log.restore("pid", None) is None
