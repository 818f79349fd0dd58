"""Tasks owned by an object (a server, a cluster adapter, a client's engine or manager):
referenced until they end, and their failures logged; and how an owner stops them.

The event loop keeps only weak references to tasks: one nobody holds may be collected
while it runs, and one that fails unawaited reports nothing. The owner keeps the set to
cancel what is left when it closes (:func:`stop`, which cancels again a task that lost
its cancel; :func:`wind_down` for a link to a backend).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

__all__ = ["spawn", "stop", "wind_down"]

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


async def stop(tasks: Iterable[Task], log: logging.Logger, *, patience: float = 2.0) -> None:
    """Cancel ``tasks`` and wait until every one has ended, cancelling again those that
    go on.

    One cancel is not enough on Python 3.11: ``asyncio.wait_for`` (which redis-py puts
    around every command it sends) returns normally when the cancel comes in the loop
    iteration where what it waits for finishes (CPython issue 86296, fixed in 3.12). The
    task then goes on as if never cancelled, and a close that waited for it hung, its
    connections never closed. A task that outlives ``patience`` seconds of cancels is
    left behind (a warning on ``log``) rather than hold the close. Exceptions the tasks
    end with are consumed, as ``gather(return_exceptions=True)`` did.
    """
    tasks = list(tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        # A lost cancel shows only as a task still running: look again soon.
        _, pending = await asyncio.wait(pending, timeout=0.1)
        if pending and loop.time() >= deadline:
            log.warning("%d tasks went on despite cancellation", len(pending))
            break
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()


async def wind_down(
    idle: asyncio.Event,
    tasks: Iterable[Task],
    close: Callable[[], Awaitable[None]],
    log: logging.Logger,
    *,
    flush_timeout: float,
) -> None:
    """How a link to a backend closes: wait up to ``flush_timeout`` seconds for ``idle``
    (its writer has sent what was queued), :func:`stop` ``tasks``, then ``close()`` (what
    is still queued fails there, and the connections close); the last two even when this
    is cancelled (a server's close forced), so that no connection is left open."""
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_timeout):
                await idle.wait()
    finally:
        try:
            await stop(tasks, log)
        finally:
            await close()
