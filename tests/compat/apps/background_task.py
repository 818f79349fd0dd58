"""A background task started on request, emitting with sio.sleep between ticks."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


async def ticker(sid, count):
    for n in range(count):
        await sio.emit("tick", n, to=sid)
        await sio.sleep(0.01)
    await sio.emit("done", count, to=sid)


@sio.event
async def start(sid, count):
    sio.start_background_task(ticker, sid, count)
    return "started"


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "start", "args": [3]},
    {"do": "wait", "ev": "done"},
]
