"""The bookkeeping of a cluster adapter's requests to the other servers.

A :class:`~aiosio.adapters.cluster.ClusterAdapter` asks the other servers for something
(their sockets, their count, an answer to a server-side emit) with a
:class:`PendingRequest` per request id, and gathers a broadcast with acknowledgements
with a :class:`PendingAcks`; when it is the one asked, a :class:`Requester` reports its
share of another server's broadcast back to it. Answers that name no socket (a Node
server counts its recipients without naming them) get names of their own, ``anonymous#n``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiosio.adapters.host import AckCollector
from aiosio.adapters.messages import MessageType

if TYPE_CHECKING:
    from aiosio.adapters.cluster import ClusterAdapter

__all__ = ["ANONYMOUS", "PendingAcks", "PendingRequest", "Requester", "new_request_id"]

ANONYMOUS = "anonymous#"  # the key prefix of answers that name no socket (a '#' no sid has)


def new_request_id() -> str:
    """A fresh request id: random, so that the servers of a cluster never share one."""
    return secrets.token_hex(8)


@dataclass(slots=True)
class PendingRequest:
    """A request waiting for ``expected`` responses."""

    future: asyncio.Future[list[Any]]
    expected: int
    current: int = 0
    responses: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class PendingAcks:
    """A broadcast with acknowledgements waiting for the other servers' counts."""

    collector: AckCollector
    servers: int
    anonymous_asked: int = 0  # recipients counted by servers that named none
    anonymous_answers: int = 0
    timer: asyncio.TimerHandle | None = None

    def count(self, count: int, sids: Any) -> None:
        """One server's count: its socket ids, or as many anonymous names."""
        if isinstance(sids, list) and len(sids) == count and all(isinstance(s, str) for s in sids):
            self.collector.add_count(count, sids)
            return
        first = self.anonymous_asked + 1
        self.anonymous_asked += count
        self.collector.add_count(count, [f"{ANONYMOUS}{n}" for n in range(first, first + count)])

    def answer(self, sid: Any, packet: Any) -> None:
        """One socket's answer, by its id or by the next anonymous name."""
        if not isinstance(sid, str):
            self.anonymous_answers += 1
            sid = f"{ANONYMOUS}{self.anonymous_answers}"
        self.collector.add_answer(sid, [packet])


@dataclass(frozen=True, slots=True)
class Requester:
    """Reports this server's share of another server's broadcast with acks to it."""

    adapter: ClusterAdapter
    requester: str
    request_id: str

    def add_count(self, count: int, sids: Iterable[str] = ()) -> None:
        # "sids" is our extension: Node requesters read clientCount only.
        data = {"requestId": self.request_id, "clientCount": count, "sids": list(sids)}
        self._send(MessageType.BROADCAST_CLIENT_COUNT, data)

    def add_answer(self, sid: str, answer: list[Any] | None) -> None:
        if answer is None:
            return  # the socket left without answering: the reference sends nothing either
        data = {"requestId": self.request_id, "packet": answer[0] if answer else None, "sid": sid}
        self._send(MessageType.BROADCAST_ACK, data)

    def counted(self) -> None:
        """The requester counts the servers itself."""

    def _send(self, type: MessageType, data: dict[str, Any]) -> None:
        adapter = self.adapter
        adapter._try_publish(adapter.message(type, data), to=self.requester)
