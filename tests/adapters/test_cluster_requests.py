"""aiosio.adapters.cluster_requests: how a cluster adapter names the answers it gathers.

The collector here is a small recording one (the server's is tested with the broadcasts,
tests/adapters/test_cluster.py); what is checked is the naming of the recipients.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiosio.adapters.cluster_requests import ANONYMOUS, PendingAcks, new_request_id


class Recording:
    """An AckCollector that keeps what it is told."""

    def __init__(self) -> None:
        self.counts: list[tuple[int, list[str]]] = []
        self.answers: list[tuple[str, list[Any] | None]] = []

    def add_count(self, count: int, sids: Iterable[str] = ()) -> None:
        self.counts.append((count, list(sids)))

    def add_answer(self, sid: str, answer: list[Any] | None) -> None:
        self.answers.append((sid, answer))

    def counted(self) -> None:
        pass


def test_a_server_that_names_its_recipients_is_taken_at_its_word() -> None:
    collector = Recording()
    pending = PendingAcks(collector, servers=1)
    pending.count(2, ["a", "b"])
    pending.answer("b", "late")
    assert collector.counts == [(2, ["a", "b"])]
    assert collector.answers == [("b", ["late"])]


def test_recipients_no_server_named_get_names_of_their_own_across_servers() -> None:
    # A Node server counts its recipients and answers without socket ids: each count
    # takes the next anonymous names, and each unnamed answer the next one of those.
    collector = Recording()
    pending = PendingAcks(collector, servers=2)
    pending.count(2, None)
    pending.count(1, ["x", 7])  # not a list of ids: counted as anonymous too
    pending.count(1, ["named"] * 2)  # as many ids as the count, or anonymous
    for packet in ("one", "two", "three"):
        pending.answer(None, packet)
    names = [f"{ANONYMOUS}{n}" for n in (1, 2, 3, 4)]
    assert collector.counts == [(2, names[:2]), (1, names[2:3]), (1, names[3:])]
    assert collector.answers == [(names[0], ["one"]), (names[1], ["two"]), (names[2], ["three"])]


def test_request_ids_are_fresh() -> None:
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
