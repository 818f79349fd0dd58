"""aiosio.adapters.redis.writing: the client, pipelines and the in-order writer of a link.

Against the real Redis at 127.0.0.1:6379 (keys and channels named after each test's
``key``). A pooled connection is killed with ``CLIENT KILL`` (from inside the pipeline
itself, so the failure comes at a known point) to see :func:`run_pipeline` try once more
on a fresh one. Waits are on events, never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from aiosio.adapters.redis.writing import BATCH, connect, run_pipeline, write_in_order
from tests.support.waits import within

pytestmark = pytest.mark.redis


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[aioredis.Redis]:
    client = connect(url)
    try:
        yield client
    finally:
        await client.aclose()


# -- connect ------------------------------------------------------------------------------


async def test_connect_gives_a_client_answering_in_bytes(redis_url: str, key: str) -> None:
    async with redis_client(redis_url) as client:
        assert await client.ping()
        await client.set(f"{key}:x", "é")
        assert await client.get(f"{key}:x") == "é".encode()
        await client.delete(f"{key}:x")


# -- run_pipeline ---------------------------------------------------------------------------


async def test_run_pipeline_runs_what_fill_queued_in_order(redis_url: str, key: str) -> None:
    async with redis_client(redis_url) as client:

        def fill(pipe: Any) -> None:
            pipe.rpush(key, b"a")
            pipe.rpush(key, b"b")
            pipe.lrange(key, 0, -1)
            pipe.delete(key)

        assert await run_pipeline(client, fill) == [1, 2, [b"a", b"b"], 1]


async def test_run_pipeline_tries_once_more_on_a_fresh_connection(redis_url: str) -> None:
    async with redis_client(redis_url) as client:
        killed = await client.client_id()  # the one pooled connection
        calls = 0

        def fill(pipe: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:  # Redis answers OK, then drops the connection: the rest is lost
                pipe.client_kill_filter(_id=killed, skipme=False)
            pipe.client_id()

        results = await run_pipeline(client, fill)
        assert calls == 2
        assert len(results) == 1 and results[0] != killed  # answered on a new connection
        assert await client.ping()


async def test_run_pipeline_gives_up_after_the_second_try(redis_url: str) -> None:
    async with redis_client(redis_url) as client:
        calls = 0

        def fill(pipe: Any) -> None:  # every try loses the connection it runs on
            nonlocal calls
            calls += 1
            pipe.execute_command("QUIT")  # Redis answers OK and closes the connection
            pipe.ping()

        with pytest.raises((RedisConnectionError, OSError)):
            await run_pipeline(client, fill)
        assert calls == 2
        assert await client.ping()  # the client itself is fine: next time, a new connection


async def test_run_pipeline_without_raising_returns_the_errors(redis_url: str, key: str) -> None:
    async with redis_client(redis_url) as client:

        def fill(pipe: Any) -> None:
            pipe.set(key, b"text")
            pipe.incr(key)  # not an integer
            pipe.delete(key)

        ok, error, deleted = await run_pipeline(client, fill, raise_on_error=False)
        assert ok is True and deleted == 1
        assert isinstance(error, Exception)


async def test_run_pipeline_on_a_dead_address_raises_after_two_tries() -> None:
    client = connect("redis://127.0.0.1:1")
    calls = 0

    def fill(pipe: Any) -> None:
        nonlocal calls
        calls += 1
        pipe.ping()

    try:
        with pytest.raises((RedisConnectionError, OSError)):
            await run_pipeline(client, fill)
        assert calls == 2
    finally:
        await client.aclose()


# -- write_in_order -------------------------------------------------------------------------


async def test_write_in_order_sends_oldest_first_in_batches_then_idles() -> None:
    wake = asyncio.Event()
    outbox: deque[int] = deque(range(BATCH * 2 + 10))
    batches: list[list[int]] = []
    idle = asyncio.Event()

    async def send(batch: list[int]) -> None:
        batches.append(batch)
        if len(batches) == 1:
            outbox.append(-1)  # queued while sending: goes out before idling

    task = asyncio.create_task(write_in_order(wake, outbox, send, idle.set))
    try:
        wake.set()
        await within(idle.wait())
        assert [len(batch) for batch in batches] == [BATCH, BATCH, 11]
        assert [item for batch in batches for item in batch] == [*range(BATCH * 2 + 10), -1]
        assert not outbox and not wake.is_set()
        idle.clear()
        outbox.extend([7, 8])
        wake.set()
        await within(idle.wait())
        assert batches[-1] == [7, 8]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_write_in_order_without_on_idle_waits_for_the_next_wake() -> None:
    wake = asyncio.Event()
    outbox: deque[str] = deque()
    sent: asyncio.Queue[list[str]] = asyncio.Queue()

    async def send(batch: list[str]) -> None:
        sent.put_nowait(batch)

    task = asyncio.create_task(write_in_order(wake, outbox, send))
    try:
        outbox.append("a")
        wake.set()
        assert await within(sent.get()) == ["a"]
        outbox.append("b")  # not woken: stays queued
        wake.set()
        assert await within(sent.get()) == ["b"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
