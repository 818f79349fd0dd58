"""aiosio._tasks.spawn, as the client uses it: a background task held in a set while it
runs, its failure logged once (with the traceback), never when it succeeds or is cancelled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aiosio._tasks import spawn
from tests.support.waits import within

LOG = logging.getLogger("aiosio.tests.tasks")


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOG.name]


async def test_the_task_is_held_while_it_runs() -> None:
    tasks: set[asyncio.Task[None]] = set()
    release = asyncio.Event()
    ran: list[str] = []

    async def work() -> None:
        await release.wait()
        ran.append("done")

    task = spawn(work(), tasks, LOG, "work failed")
    assert isinstance(task, asyncio.Task)
    assert tasks == {task}
    release.set()
    await within(task)
    assert ran == ["done"]
    assert tasks == set()  # discarded when it ended


async def test_a_success_is_not_logged_and_on_done_gets_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks: set[asyncio.Task[None]] = set()
    ended: asyncio.Queue[tuple[asyncio.Task[None], bool]] = asyncio.Queue()

    async def work() -> None:
        return None

    def on_done(task: asyncio.Task[None]) -> None:
        ended.put_nowait((task, task in tasks))

    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        task = spawn(work(), tasks, LOG, "work failed", on_done=on_done)
        done, held = await within(ended.get())
    assert done is task and held is False  # out of the set before on_done runs
    assert records(caplog) == []


async def test_a_failure_is_logged_once_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    tasks: set[asyncio.Task[None]] = set()
    ended = asyncio.Event()

    async def work() -> None:
        raise RuntimeError("it broke")

    with caplog.at_level(logging.DEBUG):
        task = spawn(work(), tasks, LOG, "reconnection of %s failed", on_done=lambda _: ended.set())
        await within(ended.wait())
    assert tasks == set()
    (record,) = records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "reconnection of %s failed"  # the text as given
    assert record.exc_info is not None
    assert record.exc_info[1] is task.exception()
    assert isinstance(record.exc_info[1], RuntimeError)
    # The exception was retrieved: asyncio reports no "exception was never retrieved".
    assert [r for r in caplog.records if r.name == "asyncio"] == []


async def test_a_cancelled_task_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks: set[asyncio.Task[None]] = set()
    ended: asyncio.Queue[asyncio.Task[None]] = asyncio.Queue()

    async def work() -> None:
        await asyncio.Event().wait()

    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        task = spawn(work(), tasks, LOG, "work failed", on_done=ended.put_nowait)
        task.cancel()
        assert await within(ended.get()) is task
    assert task.cancelled()
    assert tasks == set()
    assert records(caplog) == []


async def test_several_tasks_share_one_set() -> None:
    tasks: set[asyncio.Task[None]] = set()
    gates = [asyncio.Event() for _ in range(3)]

    async def wait_for(gate: asyncio.Event) -> None:
        await gate.wait()

    spawned = [spawn(wait_for(gate), tasks, LOG, "failed") for gate in gates]
    assert tasks == set(spawned)
    gates[1].set()
    await within(spawned[1])
    assert tasks == {spawned[0], spawned[2]}
    for gate in gates:
        gate.set()
    await within(asyncio.gather(*spawned))
    assert tasks == set()


async def test_on_done_runs_before_the_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``on_done`` runs before the failure is logged; the task left the set already."""
    tasks: set[asyncio.Task[None]] = set()
    order: list[str] = []
    ended = asyncio.Event()

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            order.append("logged")
            ended.set()

    async def work() -> None:
        raise ValueError("bad")

    handler = Recorder()
    LOG.addHandler(handler)
    try:
        spawn(work(), tasks, LOG, "failed", on_done=lambda task: order.append("on_done"))
        await within(ended.wait())
    finally:
        LOG.removeHandler(handler)
    assert order == ["on_done", "logged"]
    assert tasks == set()


def test_spawn_needs_a_running_loop() -> None:
    async def work() -> None:
        return None

    coro = work()
    try:
        with pytest.raises(RuntimeError):
            spawn(coro, set(), LOG, "failed")
    finally:
        coro.close()


async def test_a_failing_on_done_does_not_hide_the_failure_of_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks: set[asyncio.Task[None]] = set()

    async def work() -> None:
        raise ValueError("the task broke")

    def on_done(task: asyncio.Task[None]) -> None:
        raise RuntimeError("on_done broke")

    with caplog.at_level(logging.DEBUG):
        task = spawn(work(), tasks, LOG, "work failed", on_done=on_done)
        with pytest.raises(ValueError):
            await within(task)  # its done callbacks ran first (they were added first)
    logged = records(caplog)
    assert [type(record.exc_info[1]) for record in logged if record.exc_info] == [
        RuntimeError,
        ValueError,
    ]
    assert all(record.levelno == logging.ERROR for record in logged)
    assert logged[-1].getMessage() == "work failed"
    assert tasks == set()
    assert [r for r in caplog.records if r.name == "asyncio"] == []
