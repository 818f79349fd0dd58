"""The server disconnects a client, which sees "io server disconnect"."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def kick_me(sid):
    await sio.emit("bye", "see you", to=sid)
    await sio.disconnect(sid)


@sio.event
async def disconnect(sid, reason):
    await sio.emit("left", "someone", skip_sid=sid)


SCRIPT = [
    {"c": "watcher", "do": "connect", "ns": "/"},
    {"c": "a", "do": "connect", "ns": "/"},
    {"c": "a", "do": "emit", "ev": "kick_me"},
    {"c": "a", "do": "wait_disconnect", "ns": "/"},
    {"c": "watcher", "do": "wait", "ev": "left"},
]
