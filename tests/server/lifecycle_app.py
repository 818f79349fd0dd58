"""``python lifecycle_app.py KEY [block]``: ``io.run()`` on a free port with the Redis
adapter; with ``block``, the adapter's close never ends (a graceful close that hangs).

The shutdown tests run it as a real process and signal it; it logs its URL on start
("running on http://127.0.0.1:PORT"), which is how they know it is ready.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiosio
from aiosio.adapters.base import Adapter
from aiosio.adapters.redis.pubsub import redis_adapter


def blocking(factory: Any) -> Any:
    """``factory``'s adapters, with a close() that waits forever (until cancelled)."""

    def make(namespace: aiosio.Namespace) -> Adapter:
        adapter: Adapter = factory(namespace)

        async def close() -> None:
            print("adapter close blocks", flush=True)
            await asyncio.Event().wait()

        adapter.close = close  # type: ignore[method-assign]
        return adapter

    return make


def main() -> None:
    factory = redis_adapter("redis://127.0.0.1:6379", key=sys.argv[1])
    if sys.argv[2:] == ["block"]:
        factory = blocking(factory)
    io = aiosio.Server(adapter=factory, shutdown_timeout=60)

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.join("everyone")

    io.run("127.0.0.1", 0)


if __name__ == "__main__":
    main()
