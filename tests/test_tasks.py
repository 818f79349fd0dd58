"""aiosio._tasks: spawn holds a task until it ends and logs its failure once; stop cancels
again a task that lost its cancel, and leaves one that refuses every cancel after its
patience."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest

from aiosio._tasks import spawn, stop
from tests.support.waits import within

log = logging.getLogger("aiosio.test_tasks")


async def test_a_task_is_held_until_it_ends() -> None:
    tasks: set[asyncio.Task[Any]] = set()
    release = asyncio.Event()
    task = spawn(release.wait(), tasks, log, "failed")
    assert tasks == {task}
    release.set()
    await within(task)  # the task's own done callback ran before this awaiter's
    assert tasks == set()


async def test_a_failure_is_logged_and_a_cancellation_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks: set[asyncio.Task[Any]] = set()

    async def fail() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="aiosio.test_tasks"):
        failing = spawn(fail(), tasks, log, "the task failed")
        waiting = spawn(asyncio.Event().wait(), tasks, log, "never logged")
        waiting.cancel()
        await within(asyncio.wait({failing, waiting}))
    assert tasks == set()
    records = [r for r in caplog.records if r.name == "aiosio.test_tasks"]
    assert [r.getMessage() for r in records] == ["the task failed"]
    assert records[0].exc_info is not None and isinstance(records[0].exc_info[1], RuntimeError)


async def test_stop_cancels_again_a_task_that_lost_its_cancel() -> None:
    lost = asyncio.Event()

    async def lossy() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            lost.set()  # what asyncio.wait_for does on 3.11 in a close race
        await asyncio.Event().wait()  # and the task goes on

    task = asyncio.get_running_loop().create_task(lossy())
    await asyncio.sleep(0)  # one loop iteration: the task starts waiting
    await within(stop([task], log))
    assert lost.is_set() and task.cancelled()


async def test_stop_leaves_a_task_that_refuses_every_cancel_after_its_patience(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deaf = True

    async def refusing() -> None:
        while deaf:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()

    task = asyncio.get_running_loop().create_task(refusing())
    await asyncio.sleep(0)  # one loop iteration: the task starts waiting
    caplog.set_level(logging.WARNING, log.name)
    await within(stop([task], log, patience=0.3))
    assert "1 tasks went on despite cancellation" in caplog.text and not task.done()
    deaf = False
    task.cancel()  # the loop ends now
    await within(asyncio.gather(task, return_exceptions=True))
    assert task.done()
