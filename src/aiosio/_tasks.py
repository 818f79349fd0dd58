"""Tasks owned by an object (a server, a cluster adapter): referenced until they end, and
their failures logged.

The event loop keeps only weak references to tasks: one nobody holds may be collected
while it runs, and one that fails unawaited reports nothing. The owner keeps the set to
cancel what is left when it closes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["spawn"]


def spawn(
    tasks: set[asyncio.Task[Any]],
    coro: Coroutine[Any, Any, Any],
    log: logging.Logger,
    failure: str,
) -> asyncio.Task[Any]:
    """Run ``coro`` as a task held in ``tasks`` until it ends; if it fails, log
    ``failure`` with the error on ``log``."""
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)
    task.add_done_callback(functools.partial(_done, tasks, log, failure))
    return task


def _done(
    tasks: set[asyncio.Task[Any]], log: logging.Logger, failure: str, task: asyncio.Task[Any]
) -> None:
    tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error(failure, exc_info=task.exception())
