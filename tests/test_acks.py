"""aiosio._acks.TimedAcks: one timer for the earliest deadline of an AckTable."""

from __future__ import annotations

import asyncio
from typing import Any

from aiosio._acks import TimedAcks, settle_future
from aiosio.socketio.session import PendingAck
from tests.support.waits import within


async def test_acks_past_their_deadline_go_to_on_expired_oldest_first() -> None:
    acks = TimedAcks()
    gone: list[int] = []
    done = asyncio.Event()

    def on_expired(expired: list[tuple[int, PendingAck]]) -> None:
        gone.extend(ack_id for ack_id, _ in expired)
        if len(gone) == 2:
            done.set()

    acks.add_timed(1, print, 0.02, on_expired)
    acks.add_timed(2, print, 0.001, on_expired)  # earlier: the one timer is re-armed
    acks.add(3, print, False)  # no deadline: never expires
    await within(done.wait())
    assert gone == [2, 1]
    assert len(acks) == 1 and 3 in acks
    assert acks.timer is None


async def test_an_answered_ack_does_not_expire_and_disarm_cancels_the_timer() -> None:
    acks = TimedAcks()
    expired: list[Any] = []
    acks.add_timed(0, print, 0.01, expired.extend)
    assert acks.timer is not None
    assert acks.settle(0) is not None
    acks.disarm()
    assert acks.timer is None
    acks.disarm()  # twice: nothing happens
    await asyncio.sleep(0.02)
    assert expired == []


async def test_a_callback_that_adds_an_earlier_ack_keeps_its_timer() -> None:
    acks = TimedAcks()
    seen: list[int] = []
    done = asyncio.Event()

    def on_expired(expired: list[tuple[int, PendingAck]]) -> None:
        seen.extend(ack_id for ack_id, _ in expired)
        if seen == [0]:
            acks.add_timed(2, print, 0.001, on_expired)
        if len(seen) == 3:
            done.set()

    acks.add_timed(0, print, 0.001, on_expired)
    acks.add_timed(1, print, 0.03, on_expired)
    await within(done.wait())
    assert seen == [0, 2, 1]


async def test_settle_future_gives_the_answer_or_the_error_once() -> None:
    loop = asyncio.get_running_loop()
    answers = [loop.create_future() for _ in range(4)]
    settle_future(answers[0], None)
    settle_future(answers[1], None, "one")
    settle_future(answers[2], None, 1, 2)
    settle_future(answers[3], TimeoutError("late"))
    settle_future(answers[3], None, "ignored")  # settled already
    assert [await answers[i] for i in range(3)] == [None, "one", (1, 2)]
    assert isinstance(answers[3].exception(), TimeoutError)
