"""The python-socketio peer: python-socketio 5.x as an ASGI app under uvicorn.

Its best realistic configuration: ``async_mode="asgi"`` under uvicorn with uvloop,
httptools and uvicorn's WebSocket protocol on ``websockets`` (what ``uvicorn[standard]``
installs and ``--ws auto`` picks: its sans-I/O one; uvicorn falls back to wsproto without
it), logging off, no access log and no
per-message deflate (as the Node peer). Behaviour as every app under test: join "bench"
on connection; "echo" and "binecho" ack with their arguments; "broadcast" re-emits its
arguments to the room as "msg".

Run: ``python benchmarks/servers/pysocketio_app.py --port P``.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

import uvicorn

import socketio

sio = socketio.AsyncServer(
    async_mode="asgi",
    cors_allowed_origins="*",
    max_http_buffer_size=1_000_000,
    logger=False,
    engineio_logger=False,
)
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    await sio.enter_room(sid, "bench")


@sio.event
async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
    return args


@sio.event
async def binecho(sid: str, *args: Any) -> tuple[Any, ...]:
    return args


@sio.event
async def broadcast(sid: str, *args: Any) -> None:
    await sio.emit("msg", args, to="bench")


def ws_implementation() -> str:
    """The fastest WebSocket implementation uvicorn can use here: its protocol on
    websockets' sans-I/O core where it has one (what ``--ws auto`` picks), about half the
    instructions per message of its deprecated ``websockets`` one; wsproto without it."""
    from uvicorn.config import WS_PROTOCOLS

    if importlib.util.find_spec("websockets") is None:
        return "wsproto"
    return "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws=ws_implementation(),
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
