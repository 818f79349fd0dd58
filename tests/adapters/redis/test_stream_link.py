"""StreamLink with a real Redis and a recording stand-in for the adapters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

from aiosio.adapters.redis.entries import parse_offset
from aiosio.adapters.redis.link import LinkSettings
from aiosio.adapters.redis.stream_link import StreamLink
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import eventually
from tests.support.ports import free_port

pytestmark = pytest.mark.redis


@dataclass
class _Namespace:
    name: str


@dataclass
class Recorder:
    """What the link hands to the adapter of a namespace."""

    namespace: _Namespace
    entries: list[tuple[str, dict[bytes, bytes]]] = field(default_factory=list)

    def on_entry(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        self.entries.append((entry_id, fields))

    def warn(self, kind: str, text: str, *args: Any) -> None:
        pass


@pytest.fixture
async def stream(redis_url: str) -> AsyncIterator[str]:
    name = f"l-{uuid.uuid4().hex[:10]}"
    yield name
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(name)
    await client.aclose()


def link_for(url: str, stream: str) -> StreamLink:
    return StreamLink(
        LinkSettings(url), stream_name=stream, max_len=1000, read_count=10, block_time=0.5
    )


async def start(link: StreamLink, *recorders: Recorder, timeout: float = 2.0) -> bool:
    """Acquire the link for ``recorders``; True when it is ready. An adapter always
    subscribes its channels: so does this."""
    for recorder in recorders:
        link.acquire(recorder)  # type: ignore[arg-type]
    await link.pubsub.subscribe("channel", f"{link.stream_name}#", lambda channel, data: None)
    return await link.wait_ready(timeout)


async def test_writes_are_read_back_in_order(redis_url: str, stream: str) -> None:
    link = link_for(redis_url, stream)
    assert link.last_id is None
    with pytest.raises(ClusterError):
        link.add({"nsp": "/"})  # not started
    main, other = Recorder(_Namespace("/")), Recorder(_Namespace("/other"))
    assert await start(link, main, other)
    assert link.healthy and link.last_id == "0-0"
    for n in range(25):  # more than read_count: several XREADs
        link.add({"nsp": "/", "n": str(n)})
    link.add({"nsp": "/other", "n": "x"})
    link.add({"n": "no namespace"})  # skipped, as the reference does
    link.add({"nsp": "/nobody", "n": "y"})
    await eventually(lambda: len(main.entries) == 25 and len(other.entries) == 1)
    assert [fields[b"n"] for _, fields in main.entries] == [str(n).encode() for n in range(25)]
    ids = [parse_offset(entry_id) for entry_id, _ in main.entries]
    assert ids == sorted(ids)
    await eventually(lambda: link.position > parse_offset(other.entries[0][0]))  # type: ignore[operator]
    await link.release(other)  # type: ignore[arg-type]
    await link.release(main)  # type: ignore[arg-type]
    assert link.client is None and not link.healthy


async def test_sessions_are_written_before_the_link_closes(redis_url: str, stream: str) -> None:
    link = link_for(redis_url, stream)
    recorder = Recorder(_Namespace("/"))
    assert await start(link, recorder)
    key = f"{stream}:session"
    link.set(key, "value", 30.0)
    await link.release(recorder)  # type: ignore[arg-type]  # flushes the queue first
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.get(key) == b"value"
        assert 0 < await client.pttl(key) <= 30_000
    finally:
        await client.delete(key)
        await client.aclose()


async def test_failed_writes_call_back(stream: str) -> None:
    link = link_for(f"redis://127.0.0.1:{free_port()}", stream)
    recorder = Recorder(_Namespace("/"))
    assert not await start(link, recorder, timeout=0.2)
    failed: list[int] = []
    for n in range(3):
        link.add({"nsp": "/"}, on_error=lambda n=n: failed.append(n))
    await eventually(lambda: failed == [0, 1, 2])
    assert not link.healthy and link.last_id is None
    await link.release(recorder)  # type: ignore[arg-type]
