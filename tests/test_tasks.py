"""aiosio._tasks.spawn: a task is held until it ends, and its failure is logged once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from aiosio._tasks import spawn
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
