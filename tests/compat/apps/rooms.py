"""Rooms: enter, leave, broadcast to a room, skip the sender."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    return "joined " + room


@sio.event
async def leave(sid, room):
    await sio.leave_room(sid, room)
    return "left " + room


@sio.event
async def shout(sid, room, text):
    await sio.emit("heard", text, room=room, skip_sid=sid)
    return "shouted"


@sio.event
async def tell_all(sid, room, text):
    await sio.emit("heard", text, to=room)
    return "told"


SCRIPT = [
    {"c": "a", "do": "connect", "ns": "/"},
    {"c": "b", "do": "connect", "ns": "/"},
    {"c": "a", "do": "call", "ev": "join", "args": ["red"]},
    {"c": "b", "do": "call", "ev": "join", "args": ["red"]},
    {"c": "a", "do": "call", "ev": "shout", "args": ["red", "one"]},
    {"c": "b", "do": "wait", "ev": "heard", "n": 1},
    {"c": "b", "do": "call", "ev": "tell_all", "args": ["red", "two"]},
    {"c": "a", "do": "wait", "ev": "heard", "n": 1},
    {"c": "b", "do": "wait", "ev": "heard", "n": 2},
    {"c": "b", "do": "call", "ev": "leave", "args": ["red"]},
    {"c": "a", "do": "call", "ev": "tell_all", "args": ["red", "three"]},
    {"c": "a", "do": "wait", "ev": "heard", "n": 2},
]
