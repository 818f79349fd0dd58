"""Closing a server whose Redis adapter has just published: the close is prompt, what was
queued reaches Redis, and no connection of the adapter stays open.

On Python 3.11, ``asyncio.wait_for`` (which redis-py puts around every command it sends)
loses a cancel that lands in the loop iteration where what it waits for ends. A link's task
cancelled at that moment went on as if nothing happened, so the close waited for it until
the server's ``shutdown_timeout`` (10 s) and its Redis connections were never closed (a
``ResourceWarning`` in whichever test ran later). Where the writer is when the close
cancels it depends on how many loop iterations separate the publish from the close, so
each variant is closed after 0 to ``YIELDS - 1`` iterations.

Against the real Redis at 127.0.0.1:6379. A link names its connections (``RedisLink.name``),
and ``CLIENT LIST`` tells how many of them Redis still has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import aiosio
from aiosio.adapters.redis import connect, redis_adapter, streams_adapter
from tests.adapters.cluster_support import eventually_async
from tests.support.waits import within

pytestmark = pytest.mark.redis

YIELDS = 6

VARIANTS: dict[str, Callable[[str, str], Any]] = {
    "classic": lambda url, key: redis_adapter(url, key=key),
    "sharded": lambda url, key: redis_adapter(url, key=key, sharded=True),
    "streams": lambda url, key: streams_adapter(
        url, stream_name=key, channel_prefix=key, session_key_prefix=f"{key}:session:"
    ),
}


async def connections_named(admin: Any, name: str) -> int:
    return sum(1 for client in await admin.client_list() if client.get("name") == name)


async def listen(admin: Any, variant: str, key: str) -> Any:
    """A subscription of the test's own to where the server publishes its broadcasts."""
    pubsub = admin.pubsub(ignore_subscribe_messages=True)
    if variant == "sharded":
        await pubsub.ssubscribe(f"{key}#/#")
    else:
        await pubsub.psubscribe(f"{key}#*")
    return pubsub


async def published(pubsub: Any, variant: str) -> bytes:
    """The next message heard."""
    get = pubsub.get_sharded_message if variant == "sharded" else pubsub.get_message
    while True:
        message = await get(timeout=1.0)
        if message is not None:
            return bytes(message["data"])


@pytest.mark.parametrize("variant", list(VARIANTS))
async def test_a_close_right_after_a_broadcast_is_prompt_and_closes_every_connection(
    redis_url: str, key: str, variant: str
) -> None:
    admin = connect(redis_url)
    try:
        for yields in range(YIELDS):
            round_key = f"{key}:{yields}"
            pubsub = await listen(admin, variant, round_key)
            io = aiosio.Server(adapter=VARIANTS[variant](redis_url, round_key))
            try:
                await io.start(port=0)
                adapter: Any = io.of("/").adapter
                assert adapter.healthy
                link = adapter.link
                name = link.name if variant != "streams" else link.pubsub.name
                assert await connections_named(admin, name) >= 1  # the subscriber at least
                io.emit("news", f"round {yields}")
                for _ in range(yields):  # where the writer is when the close comes
                    await asyncio.sleep(0)  # one loop iteration, not a wait
            finally:
                await within(io.close(), 3)
            # What was queued before the close was written.
            if variant == "streams":
                entries = await admin.xrange(round_key)
                data = [fields.get(b"data", b"") for _, fields in entries]
                assert any(f"round {yields}".encode() in value for value in data), entries
                await admin.delete(round_key)
            else:
                message = await within(published(pubsub, variant))
                assert f"round {yields}".encode() in message
            await pubsub.aclose()
            # Redis sees a closed socket in its own time: a bounded wait for it.
            await eventually_async(_none_left(admin, name), timeout=3.0)
    finally:
        await admin.aclose()


def _none_left(admin: Any, name: str) -> Callable[[], Any]:
    async def check() -> bool:
        return await connections_named(admin, name) == 0

    return check
