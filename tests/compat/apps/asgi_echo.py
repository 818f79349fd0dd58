"""The smallest ASGI app: connect, an echo that answers its ack, disconnect."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ):
    pass


@sio.event
async def echo(sid, data):
    await sio.emit("echoed", data, to=sid)
    return data


@sio.event
async def disconnect(sid):
    pass


SCRIPT = [
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "echo", "args": [{"text": "hello", "n": [1, 2.5, None, True]}]},
    {"do": "emit", "ev": "echo", "args": ["again"]},
    {"do": "wait", "ev": "echoed", "n": 2},
]
