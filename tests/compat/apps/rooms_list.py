"""sio.rooms(sid): the client's own room (its sid) and the ones it entered."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def join(sid, *rooms):
    for room in rooms:
        await sio.enter_room(sid, room)
    rooms = sio.rooms(sid)
    return sid in rooms, sorted(room for room in rooms if room != sid)


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "join", "args": ["x", "y"]},
]
