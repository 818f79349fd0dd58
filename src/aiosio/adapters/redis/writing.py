"""How the Redis links write: the client, pipelines sent once more on a fresh connection
when the pooled one is dead, and the one writer task that keeps a link's order.

:mod:`.link` (and the stream link, the emitter, histories and presence) build on these;
they are re-exported there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError

from aiosio.adapters.redis import topology

__all__ = ["BATCH", "connect", "publish_all", "run_pipeline", "write_in_order"]


def connect(url: str, *, cluster: bool = False, **options: Any) -> Any:
    """A ``redis.asyncio`` client for ``url`` that returns bytes (for the emitter too).

    Args:
        url: ``redis://host:port/db``, several hosts (``redis://h1:p1,h2:p2``) for a
            Redis Cluster, or ``redis+sentinel://h1:p1,h2:p2/service`` (:mod:`.topology`).
        cluster: Take a one-host ``url`` for a Redis Cluster.
        **options: Passed to the client (``client_name``...).

    Returns:
        A ``Redis``, a ``RedisCluster``, or the primary the Sentinel service names.
    """
    return topology.connect(url, cluster=cluster, **options)


async def run_pipeline(
    client: Any, fill: Callable[[Any], None], *, raise_on_error: bool = True
) -> list[Any]:
    """Run the commands ``fill`` puts in a pipeline, once more on a fresh connection when the
    pooled one turns out dead.

    After a Redis restart the pool still holds the old connection, and only using it tells
    it is closed: without the second try the first batch after every restart is lost. (When
    a connection dies after Redis received the batch, the retry repeats it: a lost message
    would be worse than a duplicate.)

    Args:
        client: A ``Redis`` or ``RedisCluster`` client.
        fill: Puts the commands in the pipeline (or a cluster's batch) it is given.
        raise_on_error: False returns a command's error among the results instead of
            raising it.

    Returns:
        The commands' results, in order.

    Raises:
        RedisError: On a Redis error, or when the second try fails too.
        OSError: When the second try cannot reach Redis either.
    """
    for attempt in (1, 2):
        try:
            if topology.is_cluster(client):
                batch = topology.ClusterBatch()
                fill(batch)
                return await topology.run_cluster_batch(
                    client, batch, raise_on_error=raise_on_error
                )
            pipe = client.pipeline(transaction=False)
            fill(pipe)
            results: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
        except (RedisConnectionError, OSError):
            if attempt == 2:
                raise
            await topology.refresh(client)
        else:
            return results
    raise AssertionError("unreachable")


T = TypeVar("T")

BATCH = 256
"""The most queued writes sent in one pipeline."""


async def write_in_order(
    wake: asyncio.Event,
    outbox: deque[T],
    send: Callable[[list[T]], Awaitable[None]],
    on_idle: Callable[[], None] | None = None,
) -> None:
    """The writer task of a link: each time ``wake`` is set, ``send`` what ``outbox``
    holds, oldest first, in batches of at most :data:`BATCH` (one pipeline each), then
    call ``on_idle``. One task sends, so the order of the queue is the order in Redis;
    ``send`` handles its own failures.
    """
    while True:
        await wake.wait()
        wake.clear()
        while outbox:
            await send([outbox.popleft() for _ in range(min(len(outbox), BATCH))])
        if on_idle is not None:
            on_idle()


def publish_all(pipe: Any, batch: list[tuple[str, bytes, bool]]) -> None:
    """Queue publications in a pipeline.

    Args:
        pipe: The pipeline (or a cluster's batch).
        batch: ``(channel, payload, sharded)`` for each message, in order.
    """
    for channel, payload, shard in batch:
        if shard:
            pipe.spublish(channel, payload)
        else:
            pipe.publish(channel, payload)
