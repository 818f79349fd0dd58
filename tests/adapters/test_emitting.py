"""EmitterOperator: the cluster messages each emitter operation makes."""

from __future__ import annotations

from typing import Any

import pytest

from aiosio.adapters.base import BroadcastFlags, BroadcastOptions
from aiosio.adapters.emitting import BatchPublisher, EmitterOperator
from aiosio.adapters.messages import MessageType


class Recorder:
    """A Sender that keeps what it is given."""

    namespace = "/chat"

    def __init__(self) -> None:
        self.sent: list[tuple[MessageType, dict[str, Any]]] = []

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        self.sent.append((type, data))


def operator() -> tuple[Recorder, EmitterOperator]:
    recorder = Recorder()
    return recorder, EmitterOperator(recorder, BroadcastOptions(flags=BroadcastFlags()))


def test_emit_writes_the_packet_and_options_as_node_does() -> None:
    recorder, op = operator()
    op.to("r1", ["r2"]).except_("x").volatile.compress(False).emit("news", 1, b"\x00")
    [(kind, data)] = recorder.sent
    assert kind is MessageType.BROADCAST
    assert data["packet"] == {"type": 2, "data": ["news", 1, b"\x00"], "nsp": "/chat"}
    opts = data["opts"]
    assert sorted(opts["rooms"]) == ["r1", "r2"] and opts["except"] == ["x"]
    assert opts["flags"] == {"volatile": True, "compress": False}


def test_operators_are_immutable_and_room_operations_are_messages() -> None:
    recorder, op = operator()
    op.to("a")
    op.in_("b").sockets_join(["c", "d"])
    op.sockets_leave("e")
    op.disconnect_sockets(close=True)
    kinds = [kind for kind, _ in recorder.sent]
    assert kinds == [
        MessageType.SOCKETS_JOIN,
        MessageType.SOCKETS_LEAVE,
        MessageType.DISCONNECT_SOCKETS,
    ]
    assert recorder.sent[0][1]["opts"]["rooms"] == ["b"]  # not "a": to() returned a copy
    assert recorder.sent[0][1]["rooms"] == ["c", "d"]
    assert recorder.sent[2][1]["close"] is True


@pytest.mark.parametrize("event", ["connect", "disconnect", "disconnecting"])
def test_reserved_events_are_refused(event: str) -> None:
    recorder, op = operator()
    with pytest.raises(ValueError, match="reserved"):
        op.emit(event)
    assert recorder.sent == []


class ListPublisher(BatchPublisher[int]):
    """A BatchPublisher whose backend is a list; a batch holding 0 fails."""

    backend = "the list"
    errors = (ValueError,)

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []
        self.disconnected = False

    async def publish(self, batch: list[int]) -> None:
        if 0 in batch:
            raise ValueError("zero")
        self.batches.append(batch)

    async def disconnect(self) -> None:
        self.disconnected = True


async def test_a_failed_batch_is_logged_and_dropped_and_the_next_is_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = ListPublisher()
    for item in (1, 2):
        publisher.put(item)
    await publisher.queue.join()
    for item in (0, 3):
        publisher.put(item)
    await publisher.queue.join()
    publisher.put(4)
    await publisher.queue.join()
    assert publisher.batches == [[1, 2], [4]]
    assert "dropped 2 messages to the list: zero" in caplog.text
    await publisher.close()
    assert publisher.disconnected and publisher.task is not None and publisher.task.done()
