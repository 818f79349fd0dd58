"""The app the workers test runs in each worker process (Redis key from the environment)."""

from __future__ import annotations

import os

import aiosio
from aiosio.adapters.redis.pubsub import redis_adapter

io = aiosio.Server(
    adapter=redis_adapter(os.environ["AIOSIO_TEST_REDIS"], key=os.environ["AIOSIO_TEST_KEY"]),
    health_path="/healthz",
)


@io.on("connection")
def connection(socket: aiosio.Socket) -> None:
    @socket.on("whoami")
    def whoami() -> int:
        return os.getpid()

    @socket.on("shout")
    def shout(text: str) -> None:
        io.emit("news", text)
