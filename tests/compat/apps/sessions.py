"""Sessions: saved in connect, read and changed in events, the context manager."""

import socketio

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.event
async def connect(sid, environ, auth):
    await sio.save_session(sid, {"user": (auth or {}).get("user", "anonymous"), "visits": 0})


@sio.event
async def visit(sid):
    async with sio.session(sid) as session:
        session["visits"] += 1
    return await sio.get_session(sid)


@sio.event
async def rename(sid, name):
    session = await sio.get_session(sid)
    session["user"] = name
    await sio.save_session(sid, session)
    return session["user"]


SCRIPT = [
    {"do": "connect", "ns": "/", "auth": {"user": "ada"}},
    {"do": "call", "ev": "visit"},
    {"do": "call", "ev": "visit"},
    {"do": "call", "ev": "rename", "args": ["grace"]},
    {"do": "call", "ev": "visit"},
]
