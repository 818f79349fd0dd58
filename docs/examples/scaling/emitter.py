"""Reaching the cluster's clients from a process that is not a server (a job, a script)."""

import asyncio

from aiosio.adapters.redis import Emitter


async def announce(text: str, redis_url: str = "redis://127.0.0.1:6379") -> None:
    async with Emitter(redis_url) as emitter:
        emitter.emit("shout", text)  # every client of the main namespace
        emitter.to("lobby").emit("shout", "lobby only")


if __name__ == "__main__":
    asyncio.run(announce("maintenance in 5 minutes"))
