"""RoomLog: bounded by length and age, trimming said, offsets with the epoch."""

from __future__ import annotations

import pytest

from aiosio.presence.history import RoomLog


def test_last_events_in_order_and_trimming_reported() -> None:
    log = RoomLog("r", max_len=3, ttl=None, epoch="e")
    for n in range(5):
        assert log.append(["m", n], now=0.0) == n + 1
    replay = log.last(2, now=0.0)
    assert replay.events == [["m", 3], ["m", 4]] and not replay.trimmed
    replay = log.last(10, now=0.0)
    assert replay.events == [["m", 2], ["m", 3], ["m", 4]]
    assert replay.trimmed and replay.first_offset == "e-3" and replay.epoch == "e"


def test_age_limit_and_an_empty_log() -> None:
    log = RoomLog("r", max_len=10, ttl=5.0)
    log.append(["old"], now=0.0)
    log.append(["new"], now=4.0)
    replay = log.last(10, now=6.0)
    assert replay.events == [["new"]] and replay.trimmed
    replay = log.last(10, now=100.0)
    assert replay.events == [] and replay.first_offset is None and replay.trimmed
    fresh = RoomLog("r", max_len=1, ttl=None)
    assert fresh.last(5, now=0.0).trimmed is False


def test_adopt_keeps_the_epoch_and_bounds() -> None:
    old = RoomLog("r", max_len=5, ttl=None, epoch="e")
    for n in range(5):
        old.append([n], now=0.0)
    new = RoomLog("r", max_len=2, ttl=None, epoch="e")
    new.adopt(old)
    assert new.last(5, now=0.0).events == [[3], [4]] and new.last_seq == 5
    with pytest.raises(ValueError):
        RoomLog("r", max_len=0, ttl=None)
    with pytest.raises(ValueError):
        RoomLog("r", max_len=1, ttl=-1)


def test_seed_puts_older_events_first_without_the_overlap() -> None:
    log = RoomLog("r", max_len=5, ttl=None, epoch="e")
    log.append(["c"], now=10.0)
    log.append(["d"], now=10.0)
    added = log.seed([(3.0, ["a"]), (2.0, ["b"]), (1.0, ["c"])], now=10.0)  # "c" is in both
    assert added == 2
    replay = log.last(10, now=10.0)
    assert replay.events == [["a"], ["b"], ["c"], ["d"]] and not replay.trimmed
    assert replay.first_offset == "e-1" and log.last_seq == 4
    full = RoomLog("r", max_len=2, ttl=None)
    full.seed([(1.0, ["x"]), (0.5, ["y"])], now=0.0)
    assert full.last(5, now=0.0).trimmed  # a full list may have lost older ones: said so
