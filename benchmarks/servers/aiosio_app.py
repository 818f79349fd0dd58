"""aiosio under test, on either front door.

Standalone (``python benchmarks/servers/aiosio_app.py --port P``): aiosio's own server,
on uvloop when it is installed. ``--fastapi``: ``aiosio serve main:app`` with a FastAPI
app that mounts ``io``. ASGI (``--asgi``): ``io.asgi_app()`` under uvicorn as the
python-socketio peer and the floor run (under_uvicorn.py: uvloop, httptools, uvicorn's
``websockets-sansio`` where it has it).
Behaviour as every app under test: join "bench" on connection; "echo" and "binecho" ack
with their arguments; "broadcast" re-emits its arguments to the room as "msg".
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import aiosio

io = aiosio.Server()


def echo(*args: Any) -> tuple[Any, ...]:
    """Ack with the event's arguments (also the "binecho" handler: bytes come back as bytes)."""
    return args


def broadcast(*args: Any) -> None:
    io.to("bench").emit("msg", *args)


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    # Module-level handlers, registered with the decorator form: no closure per connection.
    socket.join("bench")
    socket.on("echo")(echo)
    socket.on("binecho")(echo)
    socket.on("broadcast")(broadcast)


def serve_fastapi(host: str, port: int) -> None:
    """What ``aiosio serve main:app`` does with ``main.app``: a FastAPI app with a route,
    mounting ``io`` at /socket.io (Socket.IO found inside it, on the fast path)."""
    from fastapi import FastAPI

    from aiosio import cli

    app = FastAPI()

    @app.get("/json")
    async def json_route() -> dict[str, str]:
        return {"message": "Hello, World!"}

    app.mount("/socket.io", io.asgi_app())
    module = sys.modules[__name__]
    module.app = app  # type: ignore[attr-defined]
    sys.modules["aiosio_bench_main"] = module
    options = ["--no-access-log", "--log-level", "warning", "--host", host]
    sys.exit(cli.main(["serve", "aiosio_bench_main:app", "--port", str(port), *options]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--asgi", action="store_true", help="serve io.asgi_app() under uvicorn")
    parser.add_argument(
        "--fastapi",
        action="store_true",
        help="aiosio serve main:app, main:app being a FastAPI app that mounts io",
    )
    args = parser.parse_args()
    if args.fastapi:
        serve_fastapi(args.host, args.port)
        return
    if not args.asgi:
        io.run(host=args.host, port=args.port)
        return
    from under_uvicorn import serve  # a sibling module: this file runs as a script

    serve(io.asgi_app(), args.host, args.port)


if __name__ == "__main__":
    main()
