"""close_room empties a room: a later emit to it reaches nobody."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    return room


@sio.event
async def close(sid, room):
    await sio.close_room(room)
    await sio.emit("room_news", "after close", room=room)
    await sio.emit("closed", room)


@sio.event
async def news(sid, room):
    await sio.emit("room_news", "before close", room=room)


SCRIPT = [
    {"c": "a", "do": "connect", "ns": "/"},
    {"c": "b", "do": "connect", "ns": "/"},
    {"c": "a", "do": "call", "ev": "join", "args": ["blue"]},
    {"c": "b", "do": "call", "ev": "join", "args": ["blue"]},
    {"c": "a", "do": "emit", "ev": "news", "args": ["blue"]},
    {"c": "a", "do": "wait", "ev": "room_news"},
    {"c": "b", "do": "wait", "ev": "room_news"},
    {"c": "a", "do": "emit", "ev": "close", "args": ["blue"]},
    {"c": "a", "do": "wait", "ev": "closed"},
    {"c": "b", "do": "wait", "ev": "closed"},
]
