"""Refusing in connect with ConnectionRefusedError, with and without data."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    token = (auth or {}).get("token")
    if token == "bad":
        raise socketio.exceptions.ConnectionRefusedError("authentication failed")
    if token == "worse":
        raise ConnectionRefusedError("the built-in one")
    if token == "data":
        raise socketio.exceptions.ConnectionRefusedError("not allowed", {"retry": False})
    if token == "several":
        raise socketio.exceptions.ConnectionRefusedError("no", 1, 2)
    if token == "empty":
        raise socketio.exceptions.ConnectionRefusedError()


SCRIPT = [
    {"c": "a", "do": "connect", "ns": "/", "auth": {"token": "bad"}},
    {"c": "b", "do": "connect", "ns": "/", "auth": {"token": "worse"}},
    {"c": "c", "do": "connect", "ns": "/", "auth": {"token": "data"}},
    {"c": "d", "do": "connect", "ns": "/", "auth": {"token": "several"}},
    {"c": "e", "do": "connect", "ns": "/", "auth": {"token": "empty"}},
    {"c": "f", "do": "connect", "ns": "/", "auth": {"token": "good"}},
]
