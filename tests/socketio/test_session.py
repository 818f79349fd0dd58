"""aiosio.socketio.session: the ack table and the namespace table, without I/O.

Time is a number passed in (``now``), so expiry is tested without clocks or sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiosio.socketio.packets import (
    ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    PacketType,
)
from aiosio.socketio.session import AckTable, Namespaces, NamespaceState, Verdict


def callback(*args: Any) -> None:
    """A callback never called by the table itself."""


# -- ack ids --------------------------------------------------------------------------------


def test_ids_count_from_zero_and_next_id_peeks() -> None:
    table = AckTable()
    assert table.next_id == 0
    assert [table.allocate() for _ in range(3)] == [0, 1, 2]
    assert table.next_id == 3
    assert AckTable(first_id=7).allocate() == 7


def test_ids_given_by_the_caller_are_kept() -> None:
    table = AckTable()
    table.add(41, callback, False)
    assert 41 in table
    assert table.next_id == 0  # the server numbers acks per namespace, not per table


# -- settling -------------------------------------------------------------------------------


def test_settle_returns_the_pending_ack_once() -> None:
    table = AckTable()
    table.add(0, callback, True, deadline=5.0)
    pending = table.settle(0)
    assert pending == (callback, True, 5.0)
    assert table.settle(0) is None  # a duplicate answer
    assert table.settle(1) is None  # an unknown id
    assert table.settle(None) is None  # an ACK without id
    assert len(table) == 0


def test_a_settled_ack_never_expires() -> None:
    table = AckTable()
    table.add(0, callback, True, deadline=1.0)
    table.add(1, callback, True, deadline=2.0)
    table.settle(0)
    assert table.next_deadline() == 2.0
    assert [ack_id for ack_id, _ in table.expire(10.0)] == [1]
    assert table.next_deadline() is None


def test_settling_the_last_ack_empties_the_deadlines() -> None:
    table = AckTable()
    table.add(0, callback, True, deadline=1.0)
    table.settle(0)
    assert table.next_deadline() is None
    assert table.expire(5.0) == []


# -- deadlines ------------------------------------------------------------------------------


def test_add_says_when_the_timer_must_be_armed_again() -> None:
    table = AckTable()
    assert table.add(0, callback, False) is False  # no deadline
    assert table.add(1, callback, True, deadline=10.0) is True  # the first deadline
    assert table.add(2, callback, True, deadline=12.0) is False  # later: the timer holds
    assert table.add(3, callback, True, deadline=4.0) is True  # earlier: arm again
    assert table.add(4, callback, True, deadline=4.0) is False  # the same instant
    assert table.next_deadline() == 4.0


def test_expire_returns_due_acks_in_deadline_order() -> None:
    table = AckTable()
    table.add(0, callback, True, deadline=3.0)
    table.add(1, callback, True, deadline=1.0)
    table.add(2, callback, True, deadline=2.0)
    table.add(3, callback, False)  # no deadline: waits until answered or released
    assert table.expire(0.5) == []
    assert [ack_id for ack_id, _ in table.expire(2.0)] == [1, 2]  # a deadline equal to now
    assert table.next_deadline() == 3.0
    assert [ack_id for ack_id, _ in table.expire(100.0)] == [0]
    assert table.next_deadline() is None
    assert 3 in table
    assert table.settle(1) is None  # an answer after the timeout is ignored


def test_stale_deadlines_stay_bounded() -> None:
    table = AckTable()
    for ack_id in range(10_000):
        table.add(ack_id, callback, True, deadline=float(ack_id))
        table.add(ack_id + 1_000_000, callback, True, deadline=1e9)  # one stays pending
        table.settle(ack_id)
    assert len(table) == 10_000
    assert len(table._deadlines) <= 2 * len(table) + 65
    assert table.next_deadline() == 1e9


def test_compaction_keeps_every_live_deadline() -> None:
    table = AckTable()
    table.add(-1, callback, True, deadline=0.5)
    for ack_id in range(500):
        table.add(ack_id, callback, True, deadline=1.0 + ack_id)
        if ack_id % 2:
            table.settle(ack_id)
    expired = [ack_id for ack_id, _ in table.expire(1000.0)]
    assert expired == [-1, *range(0, 500, 2)]


# -- releasing ------------------------------------------------------------------------------


def test_release_all_gives_up_every_ack_in_order() -> None:
    table = AckTable()
    table.add(5, callback, True, deadline=1.0)
    table.add(3, callback, False)
    released = table.release_all()
    assert [(error_first, deadline) for _, error_first, deadline in released] == [
        (True, 1.0),
        (False, None),
    ]
    assert len(table) == 0
    assert table.next_deadline() is None
    assert table.expire(10.0) == []


def test_release_all_keeps_the_acks_asked_for() -> None:
    table = AckTable()
    table.add(0, callback, True, deadline=1.0)
    table.add(1, callback, True, deadline=2.0)
    table.add(2, callback, False)
    released = table.release_all(keep={1, None})
    assert [deadline for _, _, deadline in released] == [1.0, None]
    assert len(table) == 1
    assert table.next_deadline() == 2.0
    assert [ack_id for ack_id, _ in table.expire(2.0)] == [1]


# -- namespaces, as the server reads them ---------------------------------------------------


def test_connect_then_join_then_deliver() -> None:
    table: Namespaces[str] = Namespaces()
    assert table.state("/") is None
    assert table.receive(CONNECT, "/") is Verdict.CONNECT
    assert table.state("/") is NamespaceState.CONNECTING
    table.join("/", "socket")
    assert table.state("/") is NamespaceState.CONNECTED
    for kind in (EVENT, BINARY_EVENT, ACK, DISCONNECT):
        assert table.receive(kind, "/") == "socket"


@pytest.mark.parametrize("kind", [CONNECT, CONNECT_ERROR])
def test_connect_twice_is_a_violation(kind: PacketType) -> None:
    table: Namespaces[str] = Namespaces()
    table.receive(CONNECT, "/")
    table.join("/", "socket")
    assert table.receive(kind, "/") is Verdict.VIOLATION


def test_while_connecting_only_disconnect_is_tolerated() -> None:
    table: Namespaces[str] = Namespaces()
    table.receive(CONNECT, "/chat")
    assert table.receive(DISCONNECT, "/chat") is Verdict.IGNORE
    for kind in (CONNECT, EVENT, ACK, CONNECT_ERROR):
        assert table.receive(kind, "/chat") is Verdict.VIOLATION
    assert table.state("/chat") is NamespaceState.CONNECTING


@pytest.mark.parametrize("kind", [EVENT, ACK, DISCONNECT, CONNECT_ERROR])
def test_only_connect_opens_a_namespace(kind: PacketType) -> None:
    table: Namespaces[str] = Namespaces()
    assert table.receive(kind, "/") is Verdict.VIOLATION
    assert len(table) == 0


def test_the_limit_counts_connecting_and_connected() -> None:
    table: Namespaces[str] = Namespaces(limit=2)
    assert table.receive(CONNECT, "/a") is Verdict.CONNECT
    table.join("/a", "a")
    assert table.receive(CONNECT, "/b") is Verdict.CONNECT
    assert table.receive(CONNECT, "/c") is Verdict.REFUSE
    assert table.state("/c") is None  # a refused CONNECT leaves nothing behind
    table.cancel("/b")  # refused by a middleware
    assert table.receive(CONNECT, "/c") is Verdict.CONNECT


def test_cancel_leaves_a_joined_namespace_alone() -> None:
    table: Namespaces[str] = Namespaces()
    table.receive(CONNECT, "/")
    table.join("/", "socket")
    table.cancel("/")
    assert table.state("/") is NamespaceState.CONNECTED


def test_leave_with_a_socket_removes_only_that_socket() -> None:
    table: Namespaces[str] = Namespaces()
    table.receive(CONNECT, "/")
    table.join("/", "new")
    table.leave("/", "old")
    assert table.connected == {"/": "new"}
    table.leave("/", "new")
    assert table.state("/") is None
    assert table.receive(CONNECT, "/") is Verdict.CONNECT  # joinable again


def test_clear_forgets_every_namespace() -> None:
    table: Namespaces[str] = Namespaces()
    table.receive(CONNECT, "/a")
    table.receive(CONNECT, "/b")
    table.join("/b", "b")
    table.clear()
    assert len(table) == 0
    assert table.state("/a") is table.state("/b") is None


# -- namespaces, as the client reads them ---------------------------------------------------


def test_client_routes_only_namespaces_it_asked_for() -> None:
    table: Namespaces[str] = Namespaces()
    assert not table.route("/")
    table.request("/")
    assert table.route("/")
    assert table.state("/") is NamespaceState.CONNECTING
    table.join("/", "client")
    assert table.route("/")
    table.leave("/")
    assert not table.route("/")


def test_client_request_again_after_joining_is_connecting() -> None:
    table: Namespaces[str] = Namespaces()
    table.request("/")
    table.join("/", "client")
    table.request("/")  # CONNECT sent again (a reconnection on the same table)
    assert table.state("/") is NamespaceState.CONNECTING
    assert table.connected == {}


def test_namespaces_hold_no_set_of_their_own_when_none_is_connecting() -> None:
    # Most of a connection's life nothing is connecting: every connection shares one
    # empty frozenset instead of holding a set (216 bytes) of its own.
    first, second = Namespaces[str](), Namespaces[str]()
    assert first.receive(CONNECT, "/") is Verdict.CONNECT
    assert first.state("/") is NamespaceState.CONNECTING and len(first) == 1
    first.join("/", "socket")
    assert first.connecting is second.connecting and not first.connecting
    assert first.state("/") is NamespaceState.CONNECTED
    first.request("/chat")
    assert first.route("/chat") and first.connecting == {"/chat"}
    first.cancel("/chat")
    assert first.connecting is second.connecting
