"""The FastAPI shape: the Socket.IO server wraps a FastAPI app, whose routes emit."""

from fastapi import FastAPI

import socketio

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
api = FastAPI()
app = socketio.ASGIApp(sio, other_asgi_app=api)


@api.get("/api/ping")
async def ping() -> dict[str, str]:
    return {"pong": "yes"}


@api.get("/api/announce")
async def announce() -> dict[str, int]:
    await sio.emit("announcement", {"text": "from an HTTP route"})
    return {"sent": 1}


@sio.event
async def connect(sid, environ, auth):
    pass


SCRIPT = [
    {"c": "web", "do": "http", "path": "/api/ping"},
    {"do": "connect", "ns": "/"},
    {"c": "web", "do": "http", "path": "/api/announce"},
    {"do": "wait", "ev": "announcement"},
]
