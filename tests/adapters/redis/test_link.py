"""aiosio.adapters.redis.link: the Redis connection shared by the adapters and the emitter.

Against the real Redis at 127.0.0.1:6379 (channels named after each test's ``key``). A
pooled connection is killed with ``CLIENT KILL`` (from inside the pipeline itself, so the
failure comes at a known point) to see :func:`run_pipeline` try once more on a fresh one;
a frozen Redis is a TCP proxy that stops forwarding Redis's answers. Waits are on events
(handlers, log records), never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from aiosio.adapters.redis import link as link_module
from aiosio.adapters.redis.link import (
    BATCH,
    LinkSettings,
    RedisLink,
    connect,
    publish_all,
    run_pipeline,
)
from aiosio.exceptions import ClusterError
from tests.support.waits import within

pytestmark = pytest.mark.redis


@asynccontextmanager
async def started(link: RedisLink) -> AsyncIterator[RedisLink]:
    link.acquire()
    try:
        yield link
    finally:
        await link.release()


class Inbox:
    """A subscription handler that queues ``(channel, payload)``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()

    def __call__(self, channel: bytes, payload: bytes) -> None:
        self.queue.put_nowait((channel, payload))

    async def get(self) -> tuple[bytes, bytes]:
        return await within(self.queue.get())


# -- publish_all ------------------------------------------------------------------------------


async def test_publish_all_publishes_and_spublishes_in_order(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url))
    plain, shard = Inbox(), Inbox()
    async with started(link):
        await link.subscribe("channel", f"{key}:plain", plain)
        await link.subscribe("shard", f"{key}:shard", shard)
        assert await link.wait_ready(5)
        batch = [
            (f"{key}:plain", b"1", False),
            (f"{key}:shard", b"2", True),
            (f"{key}:plain", b"3", False),
        ]
        client = connect(redis_url)
        try:
            results = await run_pipeline(client, lambda pipe: publish_all(pipe, batch))
        finally:
            await client.aclose()
        assert results == [1, 1, 1]  # one subscriber each
        assert await plain.get() == (f"{key}:plain".encode(), b"1")
        assert await plain.get() == (f"{key}:plain".encode(), b"3")
        assert await shard.get() == (f"{key}:shard".encode(), b"2")


# -- RedisLink ------------------------------------------------------------------------------


async def test_a_link_publishes_in_order_to_its_subscriptions(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url))
    inbox = Inbox()
    async with started(link):
        await link.subscribe("channel", key, inbox)
        assert await link.wait_ready(5)
        assert link.healthy and link.subscribed and link.responsive
        assert await link.numsub(key) == 1
        count = BATCH * 2 + 44  # several pipelines
        for n in range(count):
            link.publish(key, str(n).encode())
        got = [(await inbox.get())[1] for _ in range(count)]
        assert got == [str(n).encode() for n in range(count)]


async def test_pattern_and_shard_subscriptions(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url))
    pattern, shard = Inbox(), Inbox()
    async with started(link):
        await link.subscribe("pattern", f"{key}:*", pattern)
        await link.subscribe("shard", f"{key}-s", shard)
        assert await link.wait_ready(5)
        assert await link.numsub(f"{key}-s", shard=True) == 1
        link.publish(f"{key}:one", b"p")
        link.publish(f"{key}-s", b"s", shard=True)
        assert await pattern.get() == (f"{key}:one".encode(), b"p")
        assert await shard.get() == (f"{key}-s".encode(), b"s")


async def test_subscriptions_made_before_start_and_unsubscribing(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url))
    early, late = Inbox(), Inbox()
    await link.subscribe("channel", f"{key}:early", early)  # no connection yet: registered
    async with started(link):
        assert await link.wait_ready(5)
        await link.subscribe("channel", f"{key}:late", late)
        assert await link.numsub(f"{key}:early") == 1
        await link.unsubscribe("channel", f"{key}:early")
        await link.unsubscribe("channel", f"{key}:never")  # nothing to do
        assert await link.numsub(f"{key}:early") == 0
        link.publish(f"{key}:early", b"lost")
        link.publish(f"{key}:late", b"heard")
        assert await late.get() == (f"{key}:late".encode(), b"heard")
        assert early.queue.empty()


async def test_messages_over_the_size_limit_are_dropped(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url, max_message_size=8))
    inbox = Inbox()
    async with started(link):
        await link.subscribe("channel", key, inbox)
        assert await link.wait_ready(5)
        link.publish(key, b"x" * 9)
        link.publish(key, b"y" * 8)
        assert await inbox.get() == (key.encode(), b"y" * 8)


async def test_a_failing_handler_does_not_stop_the_reader(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url))
    inbox = Inbox()

    def handler(channel: bytes, payload: bytes) -> None:
        if payload == b"bad":
            raise RuntimeError("handler bug")
        inbox(channel, payload)

    async with started(link):
        await link.subscribe("channel", key, handler)
        assert await link.wait_ready(5)
        link.publish(key, b"bad")
        link.publish(key, b"good")
        assert await inbox.get() == (key.encode(), b"good")
        assert link.healthy


async def test_publishing_is_refused_when_the_outbox_is_full(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url, max_outbox=3))
    inbox = Inbox()
    async with started(link):
        await link.subscribe("channel", key, inbox)
        assert await link.wait_ready(5)
        for n in range(3):  # the writer runs only when this test yields
            link.publish(key, bytes([n]))
        with pytest.raises(ClusterError, match="too many"):
            link.publish(key, b"over")
        assert [(await inbox.get())[1] for _ in range(3)] == [b"\x00", b"\x01", b"\x02"]
        link.publish(key, b"room again")
        assert (await inbox.get())[1] == b"room again"


async def test_a_link_is_shared_and_closed_by_its_last_user(redis_url: str, key: str) -> None:
    link = RedisLink(LinkSettings(redis_url))
    link.acquire()
    link.acquire()
    client = link.client
    await link.subscribe("channel", key, Inbox())
    assert await link.wait_ready(5)
    await link.release()
    assert link.client is client and link.healthy  # one user left
    await link.release()
    assert link.client is None and not link.healthy
    with pytest.raises(ClusterError):
        link.publish(key, b"x")
    with pytest.raises(ClusterError):
        await link.numsub(key)


async def test_an_unreachable_redis_is_not_ready_and_refuses_publishing(key: str) -> None:
    link = RedisLink(LinkSettings("redis://127.0.0.1:1", max_retry_delay=0.05))
    async with started(link):
        assert await link.wait_ready(0.2) is False
        assert not link.healthy
        with pytest.raises(ClusterError, match="unreachable"):
            link.publish(key, b"x")


# -- health ---------------------------------------------------------------------------------


class FreezingProxy:
    """A TCP proxy to Redis that can stop passing Redis's answers on (a frozen Redis:
    connections stay open, nothing comes back)."""

    def __init__(self) -> None:
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> FreezingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        loop = asyncio.get_running_loop()
        tasks = {
            loop.create_task(self._pipe(reader, up_writer, gated=False)),
            loop.create_task(self._pipe(up_reader, writer, gated=True)),
        }
        self._tasks |= tasks
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            up_writer.close()
            writer.close()

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, gated: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if gated:
                    await self.flowing.wait()
                sink.write(data)
                await sink.drain()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class LogEvents(logging.Handler):
    """Sets an event when a record of ``aiosio.redis`` contains a given text."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.waiting: dict[str, asyncio.Event] = {}

    def expect(self, text: str) -> asyncio.Event:
        event = self.waiting[text] = asyncio.Event()
        return event

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for text, event in self.waiting.items():
            if text in message:
                event.set()


@pytest.fixture
def redis_log() -> Iterator[LogEvents]:
    logger = logging.getLogger("aiosio.redis")
    handler, level = LogEvents(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_health_follows_the_answers_to_ping(
    redis_url: str, key: str, redis_log: LogEvents
) -> None:
    proxy = await FreezingProxy().start()
    link = RedisLink(LinkSettings(proxy.url, health_timeout=0.4))
    try:
        async with started(link):
            await link.subscribe("channel", key, Inbox())
            assert await link.wait_ready(5)
            assert await link._answers(1.0)  # a PING on both connections, answered
            assert link.healthy
            silent = redis_log.expect("did not answer a PING")
            proxy.flowing.clear()
            await within(silent.wait(), 3)
            assert link.subscribed and not link.responsive and not link.healthy
            with pytest.raises(ClusterError):
                link.publish(key, b"x")
            back = redis_log.expect("answers again")
            proxy.flowing.set()
            await within(back.wait(), 3)
            assert link.healthy
    finally:
        await proxy.close()


# -- closing --------------------------------------------------------------------------------


async def test_a_close_drops_clearly_what_a_frozen_redis_did_not_confirm(
    key: str, redis_log: LogEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(link_module, "FLUSH_TIMEOUT", 0.3)  # the test's patience
    proxy = await FreezingProxy().start()
    link = RedisLink(LinkSettings(proxy.url))
    try:
        link.acquire()
        await link.subscribe("channel", key, Inbox())
        assert await link.wait_ready(5)
        proxy.flowing.clear()  # Redis takes the publications but answers nothing
        link.publish(key, b"1")
        link.publish(key, b"2")
        warned = redis_log.expect("not sent (or not confirmed) by Redis at close")
        await within(link.release(), 3)
        assert warned.is_set() and link.dropped == 2
        assert link.client is None
        with pytest.raises(ClusterError):
            link.publish(key, b"3")
    finally:
        await proxy.close()


async def test_a_subscription_returns_once_redis_confirmed_it(redis_url: str, key: str) -> None:
    """``subscribe`` returns when Redis has answered the SUBSCRIBE, not when it was sent:
    a broadcast another server makes after it is heard. Redis's answers are held back:
    the subscription waits for them (it returned at once before)."""
    proxy = await FreezingProxy().start()
    link = RedisLink(LinkSettings(proxy.url))
    inbox = Inbox()
    try:
        link.acquire()
        await link.subscribe("channel", key, inbox)
        assert await link.wait_ready(5)
        proxy.flowing.clear()
        subscribing = asyncio.ensure_future(link.subscribe("channel", key + "-b", inbox))
        done, _ = await asyncio.wait([subscribing], timeout=0.3)
        assert not done  # no answer, no subscription yet
        proxy.flowing.set()
        await within(subscribing, 5)
        client = connect(redis_url)
        try:
            assert await client.pubsub_numsub(key + "-b") == [((key + "-b").encode(), 1)]
            await client.publish(key + "-b", b"heard")
        finally:
            await client.aclose()
        assert await within(inbox.get(), 5) == ((key + "-b").encode(), b"heard")
    finally:
        await link.release()
        await proxy.close()
