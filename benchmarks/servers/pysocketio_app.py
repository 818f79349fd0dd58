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

from typing import Any

import under_uvicorn  # a sibling module: this file runs as a script

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


if __name__ == "__main__":
    under_uvicorn.main(app, __doc__)
