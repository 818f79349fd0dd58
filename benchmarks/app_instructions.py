"""Instructions per application request, counted by callgrind: ``aiosio serve`` against
uvicorn's own HTTP protocol (httptools), the same app, the same bytes.

Each server's HTTP protocol object is fed keep-alive GET requests, one at a time, through
an in-memory transport (no sockets, no client in the count); a run of ``n`` and one of
``3n`` requests are counted and the difference divided by ``2n`` is one request's cost,
start-up cancelled out. The apps are those of the HTTP benchmark
(benchmarks/servers/http_apps.py): a FastAPI JSON route and a Starlette plaintext route.

Usage::

    python -m benchmarks.app_instructions                        # both servers, both apps
    python -m benchmarks.app_instructions --server aiosio --app fastapi --ops 200  # one run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

APPS = {"fastapi": "/json", "starlette": "/plaintext"}
_COLLECTED = re.compile(rb"Collected : (\d+)")


class MemoryTransport(asyncio.Transport):
    """A transport that counts complete answers instead of sending them."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0
        self.waiter: asyncio.Future[None] | None = None
        self._extra = {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 3000)}

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.answers += bytes(data).count(b"HTTP/1.1 200")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        pass


def protocol_of(server: str, app_name: str) -> asyncio.Protocol:
    from benchmarks.servers import http_apps

    app = getattr(http_apps, f"{app_name}_app")
    if server == "aiosio":
        from aiosio.serve.asgi_app import AppFront, AppHTTPConnection, AppOptions

        return AppHTTPConnection(http_apps.io.router, AppFront(app, AppOptions(access_log=False)))
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    config = Config(app, http="httptools", lifespan="off", access_log=False, log_level="error")
    config.load()
    return HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})


async def workload(server: str, app_name: str, ops: int) -> None:
    protocol = protocol_of(server, app_name)
    transport = MemoryTransport()
    protocol.connection_made(transport)
    request = f"GET {APPS[app_name]} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    for done in range(1, ops + 1):
        transport.waiter = loop.create_future()
        protocol.data_received(request)
        while transport.answers < done:
            await transport.waiter
            transport.waiter = loop.create_future()
    protocol.connection_lost(None)


def count(server: str, app_name: str, ops: int) -> int:
    """Instructions of one run of ``ops`` requests under callgrind."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "callgrind.out")
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.app_instructions",
            *("--server", server, "--app", app_name, "--ops", str(ops)),
        ]
        done = subprocess.run(command, capture_output=True, check=True)
    found = _COLLECTED.search(done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_instructions")
    parser.add_argument("--server", choices=("aiosio", "uvicorn"))
    parser.add_argument("--app", choices=tuple(APPS))
    parser.add_argument("--ops", type=int, help="one run of this many requests, no valgrind")
    parser.add_argument("--n", type=int, default=200, help="requests of the short run (200)")
    args = parser.parse_args(argv)
    if args.ops is not None:
        asyncio.run(workload(args.server or "aiosio", args.app or "fastapi", args.ops))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 1
    servers = [args.server] if args.server else ["aiosio", "uvicorn"]
    apps = [args.app] if args.app else list(APPS)
    print("instructions per request (callgrind):")
    for app_name in apps:
        cells = []
        for server in servers:
            short, long = count(server, app_name, args.n), count(server, app_name, 3 * args.n)
            cells.append(f"{server} {(long - short) / (2 * args.n):,.0f}")
        print(f"  {app_name:<10} " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
