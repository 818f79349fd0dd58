"""An aiosio server with the Redis adapter and RedisPresence, for the tests that kill it:
``python presence_server.py <redis url> <key> <heartbeat>``; prints its port, then serves
until it is killed. Every socket is the user of its ``auth.user`` and joins ``room``; presence diffs
are pushed to the room as ``presence`` events."""

from __future__ import annotations

import asyncio
import sys

import aiosio
from aiosio.adapters.redis import redis_adapter
from aiosio.adapters.redis.presence import RedisPresence


async def main(url: str, key: str, heartbeat: float) -> None:
    store = RedisPresence(url, key=key, heartbeat=heartbeat)
    io = aiosio.Server(
        adapter=redis_adapter(url, key=key),
        presence={"interval": 0.05, "event": "presence", "store": store},
    )
    io.use(lambda socket: setattr(socket, "user", socket.handshake.auth["user"]))
    io.on("connection", lambda socket: socket.join("room"))
    port = await io.start(host="127.0.0.1", port=0)
    print(port, flush=True)
    await io.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
