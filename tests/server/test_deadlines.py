"""aiosio.server.deadlines: the connect deadlines of a server's connections, on one timer.

Connections opened close together share a batch; each session id is handed to the expiry
callback once, in the order the connections came, and nothing is handed over after
``cancel``. (That a connection without a namespace is closed, and a joined one spared,
is tested end to end in test_connection.py and tests/interop/sio/test_sio_wire.py.)
"""

from __future__ import annotations

import asyncio

from aiosio.server.deadlines import ConnectDeadlines


async def test_deadlines_expire_once_each_in_order() -> None:
    expired: list[str] = []
    done = asyncio.get_running_loop().create_future()

    def expire(sid: str) -> None:
        expired.append(sid)
        if len(expired) == 4:
            done.set_result(None)

    deadlines = ConnectDeadlines(expire)
    for sid in ("a", "b", "c"):
        deadlines.add(sid, 0.01)
    assert len(deadlines._batches) == 1  # opened together: one batch, one timer
    deadlines.add("d", 1.0)  # due well after the first batch: a batch of its own
    assert len(deadlines._batches) == 2
    await asyncio.wait_for(done, 10)
    assert expired == ["a", "b", "c", "d"]
    assert not deadlines._batches and deadlines._timer is None


async def test_nothing_expires_after_cancel() -> None:
    expired: list[str] = []
    deadlines = ConnectDeadlines(expired.append)
    deadlines.add("a", 0.01)
    deadlines.cancel()
    assert deadlines._timer is None and not deadlines._batches
    # A later deadline is still honoured, and the cancelled one never comes.
    later = asyncio.get_running_loop().create_future()
    deadlines._expire = lambda sid: later.set_result(sid)
    deadlines.add("b", 0.02)
    assert await asyncio.wait_for(later, 10) == "b"
    assert expired == []


def test_a_new_event_loop_gets_a_timer_of_its_own() -> None:
    # A server run again by a second asyncio.run: the first loop's timer never fires.
    expired: list[str] = []
    deadlines = ConnectDeadlines(expired.append)

    async def first() -> None:
        deadlines.add("old", 3600)

    async def second() -> None:
        done = asyncio.get_running_loop().create_future()
        deadlines._expire = lambda sid: done.set_result(sid)
        deadlines.add("new", 0.01)
        assert await asyncio.wait_for(done, 10) == "new"

    asyncio.run(first())
    asyncio.run(second())
