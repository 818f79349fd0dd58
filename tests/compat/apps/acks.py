"""Acknowledgements: a handler's return value, none, one, several (a tuple), a dict."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def nothing(sid):
    return None


@sio.event
async def one(sid, value):
    return value * 2


@sio.event
async def several(sid, a, b):
    return a, b, a + b


@sio.event
def sync_handler(sid, data):
    return {"sync": data}


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "nothing"},
    {"do": "call", "ev": "one", "args": [21]},
    {"do": "call", "ev": "several", "args": [1, 2]},
    {"do": "call", "ev": "sync_handler", "args": [["x"]]},
]
