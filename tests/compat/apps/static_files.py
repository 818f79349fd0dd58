"""ASGIApp with static_files (a file at "/") and a custom socketio_path."""

import os

import socketio

HERE = os.path.dirname(os.path.abspath(__file__))

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(
    sio,
    static_files={"/": os.path.join(HERE, "static_index.html")},
    socketio_path="socket.io",
)


@sio.event
async def hello(sid):
    return "hi"


SCRIPT = [
    {"do": "http", "path": "/"},
    {"do": "connect", "ns": "/"},
    {"do": "call", "ev": "hello"},
]
