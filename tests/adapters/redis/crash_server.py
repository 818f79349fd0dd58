"""An aiosio server on the streams adapter with live sessions, in a process of its own so
that a test can kill it outright (SIGKILL)::

    python -m tests.adapters.redis.crash_server REDIS_URL STREAM PREFIX

Prints its port, then serves until killed.
"""

from __future__ import annotations

import asyncio
import sys

from tests.adapters.streams_support import PyStreamsServer


async def main(url: str, stream: str, prefix: str) -> None:
    server = await PyStreamsServer.start(url, stream, prefix, "crash", live_sessions=True)
    print(server.port, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
