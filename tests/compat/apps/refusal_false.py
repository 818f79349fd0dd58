"""Refusing in connect by returning False."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
def connect(sid, environ, auth):
    return bool(auth and auth.get("ok"))


@sio.event
def ping(sid):
    return "pong"


SCRIPT = [
    {"c": "a", "do": "connect", "ns": "/", "auth": {"ok": False}},
    {"c": "b", "do": "connect", "ns": "/", "auth": {"ok": True}},
    {"c": "b", "do": "call", "ev": "ping"},
]
