"""send() and the message event."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def message(sid, data):
    await sio.send("you said: " + data, to=sid)
    return len(data)


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "message", "args": ["hi there"]},
    {"do": "wait", "ev": "message"},
]
