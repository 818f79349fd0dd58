"""Tasks owned by an object (a server, a cluster adapter, a client's engine or manager):
referenced until they end, and their failures logged.

The event loop keeps only weak references to tasks: one nobody holds may be collected
while it runs, and one that fails unawaited reports nothing. The owner keeps the set to
cancel what is left when it closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["spawn"]

Task = asyncio.Task[Any]


def spawn(
    coro: Coroutine[Any, Any, Any],
    tasks: set[Task],
    log: logging.Logger,
    failure: str,
    *,
    on_done: Callable[[Task], None] | None = None,
) -> Task:
    """Run ``coro`` as a task held in ``tasks`` until it ends.

    When it ends: it leaves ``tasks``, ``on_done`` is called with it, and an exception it
    raised is logged as ``failure`` (an error, with the traceback) on ``log``. An
    exception of ``on_done`` is logged too, before that failure, not instead of it.
    """
    task = asyncio.get_running_loop().create_task(coro)
    tasks.add(task)

    def done(task: Task) -> None:
        tasks.discard(task)
        if on_done is not None:
            try:
                on_done(task)
            except Exception:  # logged, and the task's own failure below still is
                log.exception("the end of task %r failed", task.get_name())
        if not task.cancelled() and task.exception() is not None:
            log.error(failure, exc_info=task.exception())

    task.add_done_callback(done)
    return task
