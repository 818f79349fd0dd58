"""One server of a cluster: start as many as you like, on any machines, sharing one Redis.

``aiosio serve redis_app:io --workers 4`` runs four of them behind one port.
"""

import os

import aiosio
from aiosio.adapters.redis import redis_adapter

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")

# Classic pub/sub; sharded=True uses Redis 7's sharded pub/sub (SPUBLISH) instead, and
# streams_adapter(url=...) adds connection state recovery across the cluster.
io = aiosio.Server(adapter=redis_adapter(url=REDIS_URL))


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("shout")
    def shout(text: str) -> None:
        io.emit("shout", text)  # reaches the clients of every server of the cluster


if __name__ == "__main__":
    io.run(port=int(os.environ.get("PORT", "3000")))
