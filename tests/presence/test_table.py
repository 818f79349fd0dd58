"""PresenceTable: counts per user, diffs between flushes, info checks."""

from __future__ import annotations

import pytest

from aiosio.presence.table import Diff, PresenceTable, check_info


def test_a_user_joins_once_and_leaves_with_its_last_socket() -> None:
    table = PresenceTable()
    assert table.join("r", "ann") is True
    assert table.join("r", "ann") is False
    table.set_info("ann", {"name": "Ann"})
    assert table.flush() == [
        Diff("r", [{"user": "ann", "sockets": 2, "info": {"name": "Ann"}}], [])
    ]
    assert table.leave("r", "ann") is False
    assert table.flush() == [] and not table.dirty
    assert table.leave("r", "ann") is True
    assert table.leave("r", "ann") is False  # no socket left: nothing more
    assert table.flush() == [Diff("r", [], ["ann"])]
    assert len(table) == 0


def test_join_and_leave_within_one_batch_cancel_out() -> None:
    table = PresenceTable()
    table.join("r", "a")
    table.leave("r", "a")
    table.join("r", "b")
    assert table.flush() == [Diff("r", [{"user": "b", "sockets": 1, "info": None}], [])]
    table.leave("r", "b")
    table.join("r", "b")  # a reload: left and came back
    assert table.flush() == []
    assert table.members("r") == [{"user": "b", "sockets": 1, "info": None}]
    assert table.count_users("r") == 1 and table.count_sockets("r") == 1
    assert table.rooms_of("b") == ["r"] and table.members("none") == []


def test_info_is_checked_and_forgotten_with_the_user() -> None:
    assert check_info({"a": 1}, 10) == {"a": 1}
    with pytest.raises(ValueError, match="over the limit"):
        check_info("x" * 20, 10)
    with pytest.raises(ValueError, match="JSON"):
        check_info({1j}, 100)
    table = PresenceTable()
    table.set_info("u", 1)  # in no room: nothing is kept for it
    assert table.info("u") is None and not table.in_a_room("u")
    table.join("a", "u")
    table.join("b", "u")
    table.set_info("u", 1)
    table.leave("a", "u")
    assert table.info("u") == 1  # still in b
    table.leave("b", "u")
    assert table.info("u") is None and not table.in_a_room("u")


def test_recounts_name_the_users_who_stayed_with_a_new_socket_count() -> None:
    table = PresenceTable()
    table.join("r", "ann")
    table.join("r", "ann")  # joined with two sockets: the diff says so, no recount
    assert table.flush()[0].joined == [{"user": "ann", "sockets": 2, "info": None}]
    assert table.take_recounts() == {}
    table.join("r", "ann")
    table.join("r", "bob")
    assert [d.joined for d in table.flush()] == [[{"user": "bob", "sockets": 1, "info": None}]]
    assert table.take_recounts() == {"r": {"ann": 3}}
    assert table.take_recounts() == {}
    table.leave("r", "ann")
    assert table.flush() == []
    assert table.take_recounts() == {"r": {"ann": 2}}
