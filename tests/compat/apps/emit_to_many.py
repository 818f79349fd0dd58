"""emit to a list of rooms, to everyone, and with skip_sid as a list."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    return room


@sio.event
async def fan_out(sid):
    await sio.emit("to_rooms", "green or yellow", to=["green", "yellow"])
    await sio.emit("to_all_but_me", "hello", skip_sid=[sid])
    await sio.emit("to_all", "everyone")
    return "done"


SCRIPT = [
    {"c": "a", "do": "connect", "ns": "/"},
    {"c": "b", "do": "connect", "ns": "/"},
    {"c": "c", "do": "connect", "ns": "/"},
    {"c": "a", "do": "call", "ev": "join", "args": ["green"]},
    {"c": "b", "do": "call", "ev": "join", "args": ["yellow"]},
    {"c": "c", "do": "call", "ev": "fan_out"},
    {"c": "a", "do": "wait", "ev": "to_all"},
    {"c": "b", "do": "wait", "ev": "to_all"},
    {"c": "c", "do": "wait", "ev": "to_all"},
]
