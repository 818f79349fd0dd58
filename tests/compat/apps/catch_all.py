"""The "*" catch-all: events without a handler of their own, event name first."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def known(sid, value):
    return "known " + str(value)


@sio.on("*")
async def anything(event, sid, *args):
    await sio.emit("caught", {"event": event, "args": list(args)}, to=sid)
    return "caught " + event


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "known", "args": [1]},
    {"do": "call", "ev": "unknown", "args": [2, "three"]},
    {"do": "emit", "ev": "other"},
    {"do": "wait", "ev": "caught", "n": 2},
]
