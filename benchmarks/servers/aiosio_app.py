"""aiosio under test, on either front door.

Standalone (``python benchmarks/servers/aiosio_app.py --port P``): aiosio's own server,
on uvloop when it is installed. ASGI (``--asgi``): ``io.asgi_app()`` under uvicorn with
uvloop, httptools and the ``websockets`` implementation, as the python-socketio peer.
Behaviour as every app under test: join "bench" on connection; "echo" and "binecho" ack
with their arguments; "broadcast" re-emits its arguments to the room as "msg".
"""

from __future__ import annotations

import argparse
import importlib.util
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--asgi", action="store_true", help="serve io.asgi_app() under uvicorn")
    args = parser.parse_args()
    if not args.asgi:
        io.run(host=args.host, port=args.port)
        return
    import uvicorn

    uvicorn.run(
        io.asgi_app(),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="websockets" if importlib.util.find_spec("websockets") else "wsproto",
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
