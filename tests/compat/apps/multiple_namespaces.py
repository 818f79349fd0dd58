"""Handlers in two namespaces on one connection, and emits addressed by namespace."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def hello(sid):
    await sio.emit("news", "to the main namespace")
    return "main"


@sio.on("hello", namespace="/admin")
async def admin_hello(sid):
    await sio.emit("news", "to admins", namespace="/admin")
    return "admin"


@sio.on("connect", namespace="/admin")
async def admin_connect(sid, environ, auth):
    if not auth or auth.get("role") != "admin":
        return False


SCRIPT = [
    {"c": "a", "do": "connect", "ns": ["/", "/admin"], "auth": {"role": "admin"}},
    {"c": "a", "do": "call", "ns": "/admin", "ev": "hello"},
    {"c": "a", "do": "wait", "ns": "/admin", "ev": "news"},
    {"c": "a", "do": "call", "ns": "/", "ev": "hello"},
    {"c": "a", "do": "wait", "ns": "/", "ev": "news"},
]
